#!/usr/bin/env bash
# gpu-check.sh: the GPU checks, in one go, on a machine with an NVIDIA GPU (Node not needed): builds
# the engine with its CUDA backend for this GPU, runs every native test (the GPU parity tests
# test_cuda_* compare each CUDA kernel with its CPU twin) and the GPU benchmark, and prints a final
# table. Logs go to the build folder; when $OUT is set (the device tool's output folder) one combined
# report, gpu-check.txt, is copied there (the tool brings back only a few files).
#   native/test/gpu-check.sh            # from the repository root or anywhere
#   BUILD=/tmp/b JOBS=16 native/test/gpu-check.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build-gpu}
JOBS=${JOBS:-$(nproc)}
LOGS=$BUILD/gpu-check-logs
mkdir -p "$LOGS"
t0=$(date +%s)

nvidia-smi --query-gpu=name,compute_cap,memory.total,driver_version --format=csv,noheader | tee "$LOGS/gpu.txt"
cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d ' .')
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)

echo "== build (sm_${cap}, $JOBS jobs)"
if ! cmake -S . -B "$BUILD" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DELECTRA_CUDA=ON \
      -DCMAKE_CUDA_ARCHITECTURES="$cap" >"$LOGS/configure.log" 2>&1 ||
   ! cmake --build "$BUILD" -j "$JOBS" >"$LOGS/build.log" 2>&1; then
  tail -40 "$LOGS/configure.log" "$LOGS/build.log" 2>/dev/null
  echo "BUILD FAILED (logs: $LOGS)"
  [ -n "${OUT:-}" ] && cat "$LOGS/configure.log" "$LOGS/build.log" > "$OUT/gpu-check.txt"
  exit 1
fi
t_build=$(( $(date +%s) - t0 ))

echo "== tests"
declare -a rows
fail=0
for t in "$BUILD"/test_cuda_* "$BUILD"/test_golden "$BUILD"/test_gradcheck; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  s=$(date +%s.%N)
  if timeout 300 "$t" >"$LOGS/$name.log" 2>&1; then status=pass; else status=FAIL; fail=1; fi
  secs=$(awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  summary=$(tail -1 "$LOGS/$name.log")
  rows+=("$(printf '%-24s %-5s %6ss  %s' "$name" "$status" "$secs" "$summary")")
  grep -E "^FAIL|CHECK|exception|error|skipped" "$LOGS/$name.log" | head -20
done

echo "== benchmark"
if [ -x "$BUILD/bench_cuda" ]; then
  timeout 300 "$BUILD/bench_cuda" 2>&1 | tee "$LOGS/bench_cuda.txt" || fail=1
fi

echo "== PyTorch reference (Hugging Face's ELECTRA, bf16 autocast, same GPU)"
if python3 -c "import torch, transformers" 2>/dev/null; then
  timeout 300 python3 native/bench/torch_gpu_reference.py 2>&1 | tee "$LOGS/torch_gpu_reference.txt"
else
  echo "skipped: python3 with torch and transformers not found" | tee "$LOGS/torch_gpu_reference.txt"
fi

echo
echo "== summary (build ${t_build}s, total $(( $(date +%s) - t0 ))s)"
printf '%s\n' "${rows[@]}"
[ -f "$LOGS/bench_cuda.txt" ] && grep -E "^\|" "$LOGS/bench_cuda.txt"
[ -f "$LOGS/torch_gpu_reference.txt" ] && grep -E "^\|" "$LOGS/torch_gpu_reference.txt"
if [ -n "${OUT:-}" ]; then  # one report: every log, in order
  for f in "$LOGS"/gpu.txt "$LOGS"/test_*.log "$LOGS"/bench_cuda.txt "$LOGS"/torch_gpu_reference.txt; do
    [ -f "$f" ] && { echo "===== $(basename "$f")"; cat "$f"; }
  done > "$OUT/gpu-check.txt"
fi
exit $fail
