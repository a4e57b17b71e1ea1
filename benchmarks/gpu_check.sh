#!/usr/bin/env bash
# The checks that need a GPU, in under 5 minutes, for the day a GPU machine is available
# (CI has none; nothing else in the project needs one):
#   1. the throughput benchmarks on the GPU (XLA is on by default there), float32 and
#      mixed_bfloat16, one JSON line each in $OUT (default gpu_check.jsonl);
#   2. the two-replica equivalence tests (every method, NT-Xent / InfoNCE gathers, uneven
#      batches, synchronised batch norm) on two logical GPUs carved out of GPU 0
#      (TFSSL_TEST_DEVICES=gpu, see tests/conftest.py) instead of two logical CPUs.
# Usage: bash benchmarks/gpu_check.sh [OUT]   (from the checkout, tfssl installed)
# Status: written without a GPU to run it on; the first run on a GPU machine is its test.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-gpu_check.jsonl}"
PY="${PYTHON:-python}"
LOG="${OUT%.jsonl}.log"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total \
  --format=csv,noheader | tee -a "$LOG" >&2
"$PY" -c "import tensorflow as tf, sys; g = tf.config.list_physical_devices('GPU'); \
print('GPUs:', g, file=sys.stderr); sys.exit(0 if g else 2)" || {
  echo "gpu_check: TensorFlow sees no GPU" >&2; exit 2; }
status=0
run() {
  echo "+ $*" >&2
  timeout 150 "$@" 2>>"$LOG" | tail -n 1 | tee -a "$OUT"
  [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "gpu_check: failed: $*" >&2; status=1; }
}
for prec in float32 mixed_bfloat16; do
  run "$PY" benchmarks/simclr_throughput.py --encoder=resnet18 --batch_size=256 --steps=20 \
    --precision=$prec
  run "$PY" benchmarks/mlm_throughput.py --encoder=bert_mini --batch_size=32 --steps=20 \
    --jit_compile --precision=$prec
done
run "$PY" benchmarks/ntxent_throughput.py --steps=20
run "$PY" benchmarks/ntxent_throughput.py --steps=20 --jit_compile
echo "+ two-replica equivalence tests on two logical GPUs" >&2
TFSSL_TEST_DEVICES=gpu timeout 240 "$PY" -m pytest -q -p no:cacheprovider \
  tests/losses tests/methods/test_registry_methods.py tests/methods/test_simclr.py \
  tests/methods/test_masked_lm.py -k "replica or mirrored or gather or strategy" \
  || status=1
exit $status
