#!/usr/bin/env bash
# Runs the whole test suite the way CI does: builds if needed, fetches the real models and the
# ONNX Runtime reference (npm registry and local torchvision exports only), then ctest; then the
# sanitizer stage: the fast unit suites (ctest label `fast`, target autosplit_fast_tests, listed in
# tests/CMakeLists.txt) built with the `asan` preset (Debug, AddressSanitizer + UBSan) into
# build-asan/ and run there. Every sanitizer report fails its suite, except the third-party leaks
# of tests/sanitizers/lsan.supp. Tests whose model or reference is still absent skip with the reason.
#   scripts/test.sh                    everything (what CI runs: .ci/run)
#   scripts/test.sh -R tst_units       extra arguments go to the main ctest
#   SKIP_ASAN=1 scripts/test.sh        without the sanitizer stage (ignored when CI is set)
#   ASAN_BUILD_DIR=out, CTEST_JOBS=N (main ctest, default 1), ASAN_CTEST_JOBS=N (default: cores)
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

if [ -n "${SKIP_ASAN:-}" ] && [ -z "${CI:-}" ]; then
  echo "==> sanitizer stage skipped (SKIP_ASAN is set)"
  exit 0
fi
asan="${ASAN_BUILD_DIR:-$here/build-asan}"
echo "==> ASan + UBSan: building the fast unit suites in $asan"
started=$SECONDS
(cd "$here" && cmake --preset asan -B "$asan" >/dev/null)
cmake --build "$asan" --target autosplit_fast_tests -j"$(nproc)"
built=$SECONDS
echo "==> ASan + UBSan: ctest -L fast"
ctest --test-dir "$asan" -L fast --output-on-failure -j"${ASAN_CTEST_JOBS:-$(nproc)}"
echo "==> sanitizer stage: build $((built - started)) s, tests $((SECONDS - built)) s"
