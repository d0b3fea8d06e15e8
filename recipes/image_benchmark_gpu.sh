#!/usr/bin/env bash
# The image benchmark table (recipes/image_benchmark.py) on a lent GPU machine, results in $OUT.
#
#   bash recipes/image_benchmark_gpu.sh        # in the repository root, on the device machine
#
# Never needed: the table is built on the CPU across sessions (the recipe resumes). This is
# the same command, same budget and settings, for a task that happens to be lent a GPU.
#
# Needs on that machine (nothing outside it can be reached):
#   - Python with kmgan's dependencies (TensorFlow with CUDA); checked first.
#   - DATA_DIR (default shared/data, else ../shared/data) with mnist.npz and fashion_mnist.npz.
#   - the 2015 Inception weights: KMGAN_INCEPTION_2015, default
#     $DATA_DIR/inception_2015/fid_inception_2015_torchscript.pt (87 MB: more than a device
#     call carries, so put it there by other means), or FEATURES=domain (fast, not comparable
#     to papers).
#
# One device command may run 10 minutes: training stops itself at the first epoch end after
# TIME_LIMIT minutes (default 6), evaluation of the run in hand finishes, and what is done is
# packed into $OUT (results.md, results.json, results.tar.gz with every run's result, run.json
# and sample grid). The same command again on the same warm machine resumes from the backups
# in WORK (default runs/image_benchmark_gpu); a fresh machine starts over.
#
# Settings (environment): STEPS (default: the recipe's), VARIANTS (all), NUM (10000),
# FEATURES (inception2015), TIME_LIMIT (6), EXTRA (more recipe options).
set -euo pipefail

OUT=${OUT:?"run this on the device machine, which sets \$OUT"}
cd "$(dirname "$0")/.."

if [[ -z "${DATA_DIR:-}" ]]; then
  DATA_DIR=shared/data
  [[ -d "$DATA_DIR" ]] || DATA_DIR=../shared/data
fi
for f in mnist.npz fashion_mnist.npz; do
  [[ -f "$DATA_DIR/$f" ]] || { echo "missing $DATA_DIR/$f (set DATA_DIR)" >&2; exit 2; }
done

FEATURES=${FEATURES:-inception2015}
if [[ "$FEATURES" == inception2015 ]]; then
  export KMGAN_INCEPTION_2015=${KMGAN_INCEPTION_2015:-$DATA_DIR/inception_2015/fid_inception_2015_torchscript.pt}
  [[ -f "$KMGAN_INCEPTION_2015" ]] || {
    echo "missing the 2015 Inception weights $KMGAN_INCEPTION_2015 (or FEATURES=domain)" >&2
    exit 2
  }
fi

export KERAS_BACKEND=tensorflow TF_CPP_MIN_LOG_LEVEL=2 TF_FORCE_GPU_ALLOW_GROWTH=true
python - <<'EOF'
import tensorflow as tf
gpus = tf.config.list_physical_devices("GPU")
print("TensorFlow", tf.__version__, "GPUs:", gpus)
if not gpus:
    raise SystemExit("TensorFlow sees no GPU here; run the recipe on the CPU instead.")
EOF
nvidia-smi --query-gpu=name,memory.total,utilization.gpu --format=csv || true

WORK=${WORK:-runs/image_benchmark_gpu}
args=(--data "$DATA_DIR/mnist.npz" "$DATA_DIR/fashion_mnist.npz" --out "$WORK"
      --features "$FEATURES" --num "${NUM:-10000}" --variants "${VARIANTS:-all}"
      --time-limit "${TIME_LIMIT:-6}")
[[ -n "${STEPS:-}" ]] && args+=(--steps "$STEPS")
# shellcheck disable=SC2206  # EXTRA is a list of options on purpose
[[ -n "${EXTRA:-}" ]] && args+=($EXTRA)

status=0
python recipes/image_benchmark.py "${args[@]}" 2>&1 | tee "$OUT/log.txt" || status=$?
python recipes/image_benchmark.py "${args[@]}" --report >"$OUT/report.txt" 2>&1 || true

for f in results.md results.json; do
  [[ -f "$WORK/$f" ]] && cp "$WORK/$f" "$OUT/"
done
(cd "$WORK" && find . \( -name 'result-*.json' -o -name run.json -o -name samples.png \) -print0 \
  | tar --null -czf "$OUT/results.tar.gz" --files-from=-) || true
exit "$status"
