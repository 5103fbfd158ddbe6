#!/usr/bin/env bash
# CPU throughput harness: SEVNet-G8 through `sevnet bench` and the same model in PyTorch, side by
# side in one run on the same machine, alternating so background load hits both alike.
#
#   bench/cpu_throughput.sh [PYTHON]      # PYTHON: an interpreter with torch (default: python3)
#
# Prints one JSON line per measurement and a Markdown table at the end (paste into bench/RESULTS.md):
# three alternating rounds, each implementation's best median kept — this shared 2-vCPU machine swings
# by up to 2x between runs, for PyTorch and for us alike. BF16=1 (default) adds inference and training in bf16
# compute: sevnet --fp32-precision bf16 (AMX or AVX512-BF16 where the CPU has one, else the same as fp32) against PyTorch
# under bf16 autocast (channels_last_3d for inference, contiguous for training: its fastest of each here); BF16=0
# leaves them out.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-python3}
JAR=${SEVNET_JAR:-target/sevnet.jar}
[[ -f $JAR ]] || mvn -B -q package -DskipTests
THREADS=${THREADS:-$(nproc)}
out=$(mktemp)
run() {  # name, args...
  local what=$1; shift
  echo ">> $what $*" >&2
  "$@" | tail -1 | tee -a "$out"
}
for rep in 1 2 3; do
  run sevnet java -jar "$JAR" bench --json --model sevnet-g8 --mode infer --batch 1 --frames 16 --size 224 --warmup 1 --iters 5 --threads "$THREADS"
  run pytorch "$PY" bench/reference/bench_torch.py --g 8 --mode infer --batch 1 --frames 16 --size 224 --warmup 1 --iters 5 --threads "$THREADS"
  if [[ ${BF16:-1} == 1 ]]; then  # bf16 compute: sevnet's bf16 kernels against PyTorch's best, autocast + channels-last
    run sevnet java -jar "$JAR" bench --json --model sevnet-g8 --mode infer --batch 1 --frames 16 --size 224 --warmup 1 --iters 5 --threads "$THREADS" --fp32-precision bf16
    run pytorch "$PY" bench/reference/bench_torch.py --g 8 --mode infer --batch 1 --frames 16 --size 224 --warmup 1 --iters 5 --threads "$THREADS" --bf16 --channels-last
  fi
  run sevnet java -jar "$JAR" bench --json --model sevnet-g8 --mode train --batch 8 --frames 8 --size 112 --warmup 1 --iters 5 --threads "$THREADS"
  run pytorch "$PY" bench/reference/bench_torch.py --g 8 --mode train --batch 8 --frames 8 --size 112 --warmup 1 --iters 5 --threads "$THREADS"
  if [[ ${BF16:-1} == 1 ]]; then  # training: PyTorch's bf16 autocast contiguous (faster than channels-last here)
    run sevnet java -jar "$JAR" bench --json --model sevnet-g8 --mode train --batch 8 --frames 8 --size 112 --warmup 1 --iters 5 --threads "$THREADS" --fp32-precision bf16
    run pytorch "$PY" bench/reference/bench_torch.py --g 8 --mode train --batch 8 --frames 8 --size 112 --warmup 1 --iters 5 --threads "$THREADS" --bf16
  fi
done
"$PY" - "$out" <<'PYEOF'
import json, sys, statistics
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
best = {}
for r in rows:
    bf16 = r.get("fp32_precision", "ieee") == "bf16" or r.get("precision", "fp32").startswith("bf16")
    key = (r["mode"] + ("-bf16" if bf16 else ""), r["impl"].split()[0])
    best[key] = max(best.get(key, (0, 0)), (r["clips_per_s"], r["peak_rss_mb"]))
print("| workload | sevnet clips/s | pytorch clips/s | ratio | sevnet peak RSS MiB | pytorch peak RSS MiB |")
print("|---|---|---|---|---|---|")
for mode, label in (("infer", "inference, batch 1, 16x224x224"),
                    ("infer-bf16", "inference in bf16 (sevnet --fp32-precision bf16 / PyTorch bf16 autocast, "
                                   "channels-last), batch 1, 16x224x224"),
                    ("train", "training step, batch 8, 8x112x112"),
                    ("train-bf16", "training step in bf16 (sevnet --fp32-precision bf16 / PyTorch bf16 autocast), "
                                   "batch 8, 8x112x112")):
    if (mode, "sevnet") not in best:
        continue
    s, p = best.get((mode, "sevnet"), (0, 0)), best.get((mode, "pytorch"), (0, 0))
    ratio = s[0] / p[0] if p[0] else float("nan")
    print(f"| {label} | {s[0]:.3f} | {p[0]:.3f} | {ratio:.2f}x | {s[1]:.0f} | {p[1]:.0f} |")
PYEOF
rm -f "$out"
