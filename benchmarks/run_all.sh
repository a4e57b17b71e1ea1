#!/usr/bin/env bash
# Runs every tfssl benchmark next to its peer, one after the other, and collects the JSON
# lines in $OUT (default benchmarks.jsonl). Peers need ../shared/bench/setup_peers.sh first:
#   bash ../shared/bench/setup_peers.sh /tmp/tfssl-peers
# Usage: bash benchmarks/run_all.sh [OUT] ; QUICK=1 skips the long quality runs.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-benchmarks.jsonl}"
PY="${PYTHON:-python}"
PEERS="${PEERS_PY:-/tmp/tfssl-peers/bin/python}"
BENCH=../shared/bench
run() { echo "+ $*" >&2; "$@" 2>>"${OUT%.jsonl}.log" | tail -n 1 | tee -a "$OUT"; }
if [ -x "$PEERS" ] && [ -d "$BENCH" ]; then
  run "$PEERS" "$BENCH/peer_lightly_simclr.py"
fi
run "$PY" benchmarks/simclr_throughput.py --encoder=resnet18 --batch_size=128 --steps=5
run "$PY" benchmarks/simclr_throughput.py --encoder=resnet18 --batch_size=128 --steps=5 --precision=mixed_bfloat16
run "$PY" benchmarks/conv_gradients.py
if [ -x "$PEERS" ] && [ -d "$BENCH" ]; then
  run "$PEERS" "$BENCH/peer_ntxent.py"
fi
run "$PY" benchmarks/ntxent_throughput.py
run "$PY" benchmarks/ntxent_throughput.py --jit_compile
if [ -d "$BENCH" ]; then
  PEER=kerashub run "$PY" "$BENCH/peer_mlm.py"
  [ -x "$PEERS" ] && PEER=hf run "$PEERS" "$BENCH/peer_mlm.py"
  run "$PY" "$BENCH/matmul_peak.py"
fi
run "$PY" benchmarks/mlm_throughput.py --encoder=bert_mini --batch_size=32 --max_length=128 --vocab_size=8192
if [ -z "${QUICK:-}" ]; then
  run "$PY" benchmarks/simclr_cifar10.py --minutes=15
  run "$PY" benchmarks/mlm_wikitext2.py
fi
