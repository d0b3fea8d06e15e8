#!/usr/bin/env bash
# Compiled-step throughput on a lent GPU, kmgan on TensorFlow and JAX beside the PyTorch
# eager peer, one table in $OUT (at most 8 minutes of device time).
#
#   bash recipes/gpu_check.sh            # in the repository root, on the device machine
#   TINY=1 OUT=/tmp/gc bash recipes/gpu_check.sh   # the same path on this CPU, tiny
#
# Games: DCGAN, GMAN-5 (a list of discriminators, and stacked with grouped and im2col
# convolutions), MGAN-10 and MAD-GAN-10; 32x32x3 images, batch 64, float32 and
# mixed_bfloat16, XLA on. Never needed (CI runs on CPUs); run it when a task is lent a
# GPU and copy the table into the README's Performance section.
#
# Settings (environment): STEPS (default 50), REPEATS (3), BUDGET_S (per backend, 200),
# TINY (1: the smoke configuration, for a CPU).
set -euo pipefail

OUT=${OUT:?"run this on the device machine, which sets \$OUT (or set OUT)"}
cd "$(dirname "$0")/.."
mkdir -p "$OUT"

STEPS=${STEPS:-50}
REPEATS=${REPEATS:-3}
BUDGET_S=${BUDGET_S:-200}
if [[ "${TINY:-0}" == 1 ]]; then
  common=(--tiny --no-torch --quiet)
  conv=(auto)
else
  common=(--games gan,gman-5,mgan-10,madgan-10 --stacked --image-size 32 --channels 3
          --batch-size 64 --steps "$STEPS" --repeats "$REPEATS" --jit on
          --precision float32,mixed_bfloat16 --quiet)
  conv=(grouped im2col)
fi

python -c "import kmgan" || { echo "kmgan does not import here: install it first" >&2; exit 2; }
jsons=()
for backend in tensorflow jax; do
  for c in "${conv[@]}"; do
    json="$OUT/gpu-$backend-$c.json"
    torch=()
    # The PyTorch peer once, beside the first TensorFlow run.
    [[ "$backend" == tensorflow && "$c" == "${conv[0]}" ]] || torch=(--no-torch)
    if KERAS_BACKEND=$backend timeout "$BUDGET_S" python recipes/benchmark.py --backend-run \
        "${common[@]}" "${torch[@]}" --stacked-conv "$c" --json "$json"; then
      jsons+=("$json")
    else
      echo "$backend ($c): stopped or failed (rc $?); its rows are left out" >&2
    fi
  done
done
[[ ${#jsons[@]} -gt 0 ]] || { echo "no backend run finished" >&2; exit 1; }
python recipes/benchmark.py --merge "${jsons[@]}" --out "$OUT/gpu_check.md"
cat "$OUT/gpu_check.md"
