#!/usr/bin/env bash
# GPU throughput harness: SEVNet-G8 at 16x224x224 through `sevnet bench --device cuda` and the same
# model in PyTorch eager (cudnn.benchmark on) on the same GPU, in one run.
#
# On a GPU machine with Java (or, without Java, inside the devpack: see ../shared/device/README.md):
#   bash .devpack/run.sh bash bench/gpu_throughput.sh          # devpack: java and $CP come from run.sh
#   SEVNET="java -jar target/sevnet.jar" bench/gpu_throughput.sh  # a machine with Java and the jar
#
# Prints one JSON line per measurement and a Markdown table at the end (paste into bench/RESULTS.md).
# ITERS / WARMUP / PY / MODES override the defaults; QUICK=1 a short run (STREAMS=1 adds the worker-streams rows).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
SEVNET=${SEVNET:-java -cp $CP dev.sevnet.cli.Main}
ITERS=${ITERS:-10}
WARMUP=${WARMUP:-3}
out=${OUT_JSONL:-$(mktemp)}
run() {
  echo ">> $*" >&2
  "$@" 2>&2 | grep '^{' | tail -1 | tee -a "$out"
}
run_py() { echo ">> pytorch $*" >&2; "$PY" bench/reference/bench_torch_gpu.py --warmup "$WARMUP" --iters "$ITERS" "$@" | tee -a "$out"; }
# worker streams (last: the tables' other rows are one stream): 1 and 4 forward passes at once, each on a stream of
# its own (what `serve --in-flight 4` does), folded fp32, at the batch sizes given
streams() {
  for b in "$@"; do
    for n in 1 4; do
      run_py --modes infer --infer-batches "$b" --precisions fp32 --layouts cl --streams "$n"
      run $SEVNET bench --json --device cuda --fold --model sevnet-g8 --mode infer --batch "$b" --streams "$n" --frames 16 --size 224 --warmup "$WARMUP" --iters "$ITERS"
    done
  done
}
if [[ ${QUICK:-0} == 1 ]]; then
  # QUICK=1: batch 8 only, every precision, for a device call with a few minutes left (PyTorch first)
  run_py --modes infer,train --infer-batches 8 --train-batches 8 --precisions fp32,bf16 --layouts cl
  run_py --modes infer --infer-batches 8 --precisions bf16-pure,fp16-pure --layouts cl
  for p in fp32 bf16 fp16; do
    run $SEVNET bench --json --device cuda --fold --precision "$p" --model sevnet-g8 --mode infer --batch 8 --frames 16 --size 224 --warmup "$WARMUP" --iters "$ITERS"
  done
  for p in fp32 bf16 fp16; do
    run $SEVNET bench --json --device cuda --kernels auto --precision "$p" --model sevnet-g8 --mode train --batch 8 --frames 16 --size 224 --warmup "$WARMUP" --iters "$ITERS"
  done
  # the fifth session's fixed rules (no measurement; 16-bit grouped convs widened) against the measured default
  # above, fp32 and bf16 batch 8
  for m in infer train; do
    f=""; [[ $m == infer ]] && f=--fold
    for p in fp32 bf16; do
      JAVA_TOOL_OPTIONS="-Dsevnet.measure=false -Dsevnet.halfGrouped=widen" run $SEVNET bench --json --device cuda --kernels auto $f --precision "$p" --model sevnet-g8 --mode "$m" --batch 8 --frames 16 --size 224 --warmup "$WARMUP" --iters "$ITERS"
    done
  done
  # CUDA graphs (GraphedInference): the folded fp32 model replayed, batch 1 (launch-bound) and 8
  for b in 1 8; do
    run $SEVNET bench --json --device cuda --fold --cuda-graphs --model sevnet-g8 --mode infer --batch "$b" --frames 16 --size 224 --warmup "$WARMUP" --iters "$ITERS"
  done
  # the training step as a CUDA graph (GraphedTrainStep) against eager: G8 at batch 8, and the main job's model and
  # clips (sevnet-g2, 8x32x32, launch-bound)
  for p in fp32 bf16; do
    run $SEVNET bench --json --device cuda --cuda-graphs --precision "$p" --model sevnet-g8 --mode train --batch 8 --frames 16 --size 224 --warmup "$WARMUP" --iters "$ITERS"
  done
  for g in "" --cuda-graphs; do
    run $SEVNET bench --json --device cuda $g --model sevnet-g2 --mode train --batch 8 --frames 8 --size 32 --warmup "$WARMUP" --iters "$ITERS"
  done
  # STREAMS=1: also 1 vs 4 worker streams at batch 1 (about a minute more)
  if [[ ${STREAMS:-0} == 1 ]]; then streams 1; fi
else
# PyTorch first (the peer in the same run): fp32 in both layouts, bf16 channels-last
run_py --modes infer,train --infer-batches 1,8,32 --train-batches 8,32 --precisions fp32 --layouts cl,ncdhw
run_py --modes infer,train --infer-batches 1,8,32 --train-batches 8,32 --precisions bf16 --layouts cl
# 16-bit inference peers: autocast fp16, and the whole model cast to bf16 / fp16 (sevnet's contract)
run_py --modes infer --infer-batches 1,8,32 --precisions fp16,bf16-pure,fp16-pure --layouts cl
# the default path (auto: per op whichever kernel measured faster) at every size; library-only and
# custom-only at batch 8 for comparison
for b in 1 8 32; do
  run $SEVNET bench --json --device cuda --kernels auto --model sevnet-g8 --mode infer --batch "$b" --frames 16 --size 224 --warmup "$WARMUP" --iters "$ITERS"
done
run $SEVNET bench --json --device cuda --kernels custom --model sevnet-g8 --mode infer --batch 8 --frames 16 --size 224 --warmup "$WARMUP" --iters "$ITERS"
# 16-bit inference (issue 6): the folded graph in fp32, bf16 and fp16 (what Predictor runs)
for b in 1 8 32; do
  for p in fp32 bf16 fp16; do
    run $SEVNET bench --json --device cuda --fold --precision "$p" --model sevnet-g8 --mode infer --batch "$b" --frames 16 --size 224 --warmup "$WARMUP" --iters "$ITERS"
  done
done
# CUDA graphs: the folded model replayed from one launch per call (GraphedInference), fp32 and bf16
for b in 1 8 32; do
  for p in fp32 bf16; do
    run $SEVNET bench --json --device cuda --fold --cuda-graphs --precision "$p" --model sevnet-g8 --mode infer --batch "$b" --frames 16 --size 224 --warmup "$WARMUP" --iters "$ITERS"
  done
done
for b in 8 32; do
  for k in auto library; do
    run $SEVNET bench --json --device cuda --kernels "$k" --model sevnet-g8 --mode train --batch "$b" --frames 16 --size 224 --warmup "$WARMUP" --iters "$ITERS"
  done
done
run $SEVNET bench --json --device cuda --kernels custom --model sevnet-g8 --mode train --batch 8 --frames 16 --size 224 --warmup "$WARMUP" --iters "$ITERS"
streams 1 8
fi
"$PY" - "$out" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
def find(impl, mode, batch, **kw):
    if mode == "infer":
        kw.setdefault("streams", 1)
    if impl == "sevnet":
        kw.setdefault("memory_format", "contiguous")  # channels-last rows come from `device_session.sh channels-last`
    absent = {"streams": 1, "memory_format": "contiguous"}
    for r in rows:
        if r["impl"].startswith(impl) and r["mode"] == mode and r["batch"] == batch and all(r.get(k, absent.get(k)) == v for k, v in kw.items()):
            return r
    return None
print("| workload | sevnet fp32 auto (default) | sevnet fp32 library | pytorch fp32 NCDHW | pytorch fp32 channels-last | pytorch bf16 channels-last | sevnet / best pytorch fp32 |")
print("|---|---|---|---|---|---|---|")
for mode, batches in (("infer", (1, 8, 32)), ("train", (8, 32))):
    for b in batches:
        sc = find("sevnet", mode, b, kernels="auto"); sl = find("sevnet", mode, b, kernels="library")
        pn = find("pytorch", mode, b, precision="fp32", layout="ncdhw"); pc = find("pytorch", mode, b, precision="fp32", layout="cl")
        pb = find("pytorch", mode, b, precision="bf16", layout="cl")
        f = lambda r: f"{r['clips_per_s']:.1f}" if r else "-"
        best_s = max([r["clips_per_s"] for r in (sc, sl) if r] or [0])
        best_p = max([r["clips_per_s"] for r in (pn, pc) if r] or [0])
        ratio = f"{best_s / best_p:.2f}x" if best_p else "-"
        print(f"| {mode} batch {b} | {f(sc)} | {f(sl)} | {f(pn)} | {f(pc)} | {f(pb)} | {ratio} |")
print()
print("| inference (folded) | sevnet fp32 | sevnet fp32 CUDA graphs | sevnet bf16 | sevnet fp16 | pytorch bf16 autocast CL | pytorch fp16 autocast CL | pytorch bf16 cast CL | pytorch fp16 cast CL | sevnet bf16 / best pytorch bf16 |")
print("|---|---|---|---|---|---|---|---|---|---|")
for b in (1, 8, 32):
    s32, sb, sh = (find("sevnet", "infer", b, folded=True, precision=p, cuda_graphs=False) for p in ("fp32", "bf16", "fp16"))
    g32 = find("sevnet", "infer", b, folded=True, precision="fp32", cuda_graphs=True)
    pa, ph, pbp, php = (find("pytorch", "infer", b, precision=p, layout="cl") for p in ("bf16", "fp16", "bf16-pure", "fp16-pure"))
    f = lambda r: f"{r['clips_per_s']:.1f}" if r else "-"
    best = max([r["clips_per_s"] for r in (pa, pbp) if r] or [0])
    ratio = f"{sb['clips_per_s'] / best:.2f}x" if sb and best else "-"
    print(f"| batch {b} | {f(s32)} | {f(g32)} | {f(sb)} | {f(sh)} | {f(pa)} | {f(ph)} | {f(pbp)} | {f(php)} | {ratio} |")
print()
print("| batch 8 | measured (default) | fixed rules (-Dsevnet.measure=false, grouped 16-bit widened) | problems per measured route |")
print("|---|---|---|---|")
for mode in ("infer", "train"):
    for p in ("fp32", "bf16"):
        kw = {"folded": True, "cuda_graphs": False} if mode == "infer" else {"kernels": "auto"}
        ms = find("sevnet", mode, 8, precision=p, measured=True, **kw)
        fx = find("sevnet", mode, 8, precision=p, measured=False, **kw)
        f = lambda r: f"{r['clips_per_s']:.1f}" if r else "-"
        print(f"| {mode} {p} | {f(ms)} | {f(fx)} | {ms.get('routes_measured') if ms else '-'} |")
print()
print("| training step | eager | CUDA graph (train --cuda-graphs) |")
print("|---|---|---|")
def findm(model, **kw):
    for r in rows:
        if r["impl"].startswith("sevnet") and r.get("model") == model and r["mode"] == "train" and all(r.get(k) == v for k, v in kw.items()):
            return r
    return None
for model, b, p in (("sevnet-g8", 8, "fp32"), ("sevnet-g8", 8, "bf16"), ("sevnet-g2", 8, "fp32")):
    e = findm(model, batch=b, precision=p, cuda_graphs=False); g = findm(model, batch=b, precision=p, cuda_graphs=True)
    f = lambda r: f"{r['clips_per_s']:.1f}" if r else "-"
    print(f"| {model} batch {b} {p} | {f(e)} | {f(g)} |")
print()
print("| inference, folded fp32 CL | sevnet 1 stream | sevnet 4 streams | pytorch 1 stream | pytorch 4 streams | sevnet 4 / 1 | pytorch 4 / 1 |")
print("|---|---|---|---|---|---|---|")
for b in (1, 8):
    s1, s4 = (find("sevnet", "infer", b, folded=True, precision="fp32", cuda_graphs=False, streams=n) for n in (1, 4))
    p1, p4 = (find("pytorch", "infer", b, precision="fp32", layout="cl", streams=n) for n in (1, 4))
    if not (s4 or p4):
        continue
    f = lambda r: f"{r['clips_per_s']:.1f}" if r else "-"
    q = lambda a, c: f"{c['clips_per_s'] / a['clips_per_s']:.2f}x" if a and c else "-"
    print(f"| batch {b} | {f(s1)} | {f(s4)} | {f(p1)} | {f(p4)} | {q(s1, s4)} | {q(p1, p4)} |")
print()
print("| training step, peak device MiB allocated / reserved | sevnet fp32 auto | sevnet bf16 auto | pytorch fp32 NCDHW | pytorch fp32 CL | pytorch bf16 CL |")
print("|---|---|---|---|---|---|")
for b in (8, 32):
    cells = [find("sevnet", "train", b, kernels="auto", precision="fp32"), find("sevnet", "train", b, kernels="auto", precision="bf16"),
             find("pytorch", "train", b, precision="fp32", layout="ncdhw"), find("pytorch", "train", b, precision="fp32", layout="cl"),
             find("pytorch", "train", b, precision="bf16", layout="cl")]
    m = lambda r: f"{r.get('peak_device_mb', 0):.0f} / {r.get('peak_device_reserved_mb', 0):.0f}" if r else "-"
    print(f"| batch {b} | " + " | ".join(m(r) for r in cells) + " |")
PYEOF
