#!/usr/bin/env bash
# Fuzzes the deployment wire's frame reader (tests/fuzz/fuzz_frame_reader.cpp) with libFuzzer,
# AddressSanitizer and UBSan for N seconds (default 60). Configures its own build directory with
# clang-14 and -DAUTOSPLIT_FUZZ=ON (just the fuzz target and the frame sources it needs), writes
# a seed corpus of good frames, runs, and prints libFuzzer's final statistics. A crash leaves its
# input in build-fuzz/artifacts/ and makes the script fail.
#   scripts/fuzz.sh [SECONDS]
#   FUZZ_BUILD_DIR=dir, FUZZ_JOBS=N (parallel fuzzing processes, default 1)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-60}"
build="${FUZZ_BUILD_DIR:-$here/build-fuzz}"
for tool in clang-14 clang++-14; do
  command -v "$tool" >/dev/null || { echo "error: $tool is missing (apt-get install clang-14 libclang-rt-14-dev)" >&2; exit 1; }
done

echo "==> configuring $build (clang-14, AUTOSPLIT_FUZZ=ON)"
CC=clang-14 CXX=clang++-14 cmake -S "$here" -B "$build" -G Ninja -DAUTOSPLIT_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target fuzz_frame_reader make_frame_seeds -j2

corpus="$build/corpus/frame_reader"
mkdir -p "$corpus" "$build/artifacts"
"$build/tests/fuzz/make_frame_seeds" "$corpus" 32

echo "==> fuzzing FrameReader / decodeFrame for ${seconds} s"
jobs=()
[ "${FUZZ_JOBS:-1}" -gt 1 ] && jobs=(-jobs="$FUZZ_JOBS" -workers="$FUZZ_JOBS")
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  "$build/tests/fuzz/fuzz_frame_reader" "${jobs[@]}" -max_total_time="$seconds" -max_len=8192 -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$build/artifacts/" "$corpus"
