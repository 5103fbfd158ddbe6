"""PyTorch peer for the GPU throughput harness (bench/gpu_throughput.sh): SEVNet on one CUDA device.

For each (mode, batch, precision, layout) it prints one JSON line: steady-state clips/s (median of
--iters timed steps after --warmup, timed with CUDA events around each step) and peak device memory.
PyTorch runs eagerly with cudnn.benchmark on; precision bf16/fp16 is autocast with fp32 master
weights (fp16 adds a GradScaler), the same contract as `sevnet bench --device cuda --precision`.

    python bench_torch_gpu.py --g 8 --frames 16 --size 224 --modes infer,train \
        --infer-batches 1,8,32 --train-batches 8,32 --precisions fp32,bf16 --layouts ncdhw,cl

--streams N (inference): N threads each run one forward pass per iteration on a torch.cuda.Stream of its own, the
peer of `sevnet bench --mode infer --streams N`; the iteration is timed on the host until every stream is done, and
clips/s counts all N passes.

--cuda-profiler-range: the first timed iteration runs inside cudaProfilerStart/Stop, for `ncu --profile-from-start off`
(the peer of `sevnet bench --cuda-profiler-range`; bench/device_session.sh profile, bench/ncu_summary.py).
"""
import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sevnet_torch import SEVNet  # noqa: E402

DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
# inference only: the whole model and the clip cast to 16 bits (model.to(dtype)), no autocast -- the same
# contract as `sevnet bench --mode infer --precision bf16|fp16` (16-bit weights and activations; sevnet keeps
# BN folded, biases and the classifier in fp32)
PURE = {"bf16-pure": torch.bfloat16, "fp16-pure": torch.float16}


def run_one(a, mode, batch, precision, layout):
    torch.manual_seed(0)
    dev = torch.device("cuda")
    model = SEVNet(g=a.g, classes=a.classes, dropout=0.5).to(dev)
    x = torch.randn(batch, 3, a.frames, a.size, a.size, device=dev)
    labels = torch.randint(0, a.classes, (batch,), device=dev)
    if layout == "cl":
        model = model.to(memory_format=torch.channels_last_3d)
        x = x.contiguous(memory_format=torch.channels_last_3d)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    if precision in PURE:
        if mode != "infer":
            raise SystemExit(f"--precisions {precision} is inference only")
        model = model.to(PURE[precision])
        x = x.to(PURE[precision])
        amp = None
    else:
        amp = DTYPES[precision]
    scaler = torch.amp.GradScaler("cuda", enabled=precision == "fp16")

    def step():
        with torch.autocast("cuda", dtype=amp or torch.float32, enabled=amp is not None):
            if mode == "infer":
                with torch.inference_mode():
                    model(x)
                return
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(model(x), labels)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    model.train(mode == "train")
    n = a.streams if mode == "infer" else 1
    pool = None
    if n > 1:
        streams = [torch.cuda.Stream() for _ in range(n)]
        pool = ThreadPoolExecutor(n)

        def on_stream(s):
            with torch.cuda.stream(s):
                step()
            s.synchronize()

        def timed():
            t0 = time.perf_counter()
            list(pool.map(on_stream, streams))
            return (time.perf_counter() - t0) * 1e3
    else:
        def timed():
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            step()
            end.record()
            end.synchronize()
            return start.elapsed_time(end)
    torch.cuda.synchronize()
    for _ in range(a.warmup):
        timed()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    times = []
    for i in range(a.iters):
        if a.cuda_profiler_range and i == 0:
            torch.cuda.profiler.start()
            times.append(timed())
            torch.cuda.synchronize()
            torch.cuda.profiler.stop()
        else:
            times.append(timed())
    times.sort()
    if pool is not None:
        pool.shutdown()
    median = times[len(times) // 2]
    out = {
        "impl": "pytorch " + torch.__version__, "device": torch.cuda.get_device_name(),
        "model": f"sevnet-g{a.g}", "mode": mode, "batch": batch, "frames": a.frames, "size": a.size,
        "precision": precision, "layout": layout, **({"streams": n} if mode == "infer" else {}),
        "clips_per_s": batch * n / (median / 1e3), "ms_per_iter_median": median, "ms_per_iter_min": times[0],
        "peak_device_mb": torch.cuda.max_memory_allocated() / 2**20,
        "peak_device_reserved_mb": torch.cuda.max_memory_reserved() / 2**20,
    }
    del model, x, opt
    torch.cuda.empty_cache()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--g", type=int, default=8)
    ap.add_argument("--classes", type=int, default=174)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--modes", default="infer,train")
    ap.add_argument("--infer-batches", default="1,8,32")
    ap.add_argument("--train-batches", default="8,32")
    ap.add_argument("--precisions", default="fp32,bf16")
    ap.add_argument("--layouts", default="cl")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--streams", type=int, default=1, help="inference: concurrent threads, a CUDA stream each")
    ap.add_argument("--cuda-profiler-range", action="store_true",
                    help="the first timed iteration inside cudaProfilerStart/Stop (ncu --profile-from-start off)")
    a = ap.parse_args()
    torch.backends.cudnn.benchmark = True
    # PyTorch's default fp32 conv path on Hopper: TF32 off for matmul, on for cuDNN convs
    for mode in a.modes.split(","):
        batches = a.infer_batches if mode == "infer" else a.train_batches
        for batch in [int(b) for b in batches.split(",")]:
            for precision in a.precisions.split(","):
                for layout in a.layouts.split(","):
                    print(json.dumps(run_one(a, mode, batch, precision, layout)), flush=True)


if __name__ == "__main__":
    main()
