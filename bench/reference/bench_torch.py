"""PyTorch peer for the CPU throughput harness (bench/cpu_throughput.sh).

Measures the same thing as `sevnet bench`: steady-state clips/s after warm-up and peak RSS, for
SEVNet inference (eval, no grad) or a training step (forward + CE backward + SGD step), and prints
one JSON line. PyTorch runs eagerly with its default CPU path (oneDNN for conv3d), float32, NCDHW; --bf16 under
bf16 autocast, --channels-last in channels_last_3d (PyTorch's fastest CPU inference here: both).

    python bench_torch.py --g 8 --mode infer --batch 1 --frames 16 --size 224 --threads 2
"""
import argparse
import json
import os
import resource
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sevnet_torch import SEVNet  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--g", type=int, default=8)
    ap.add_argument("--classes", type=int, default=174)
    ap.add_argument("--mode", choices=["infer", "train"], default="infer")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--channels-last", action="store_true", help="torch.channels_last_3d memory format")
    ap.add_argument("--bf16", action="store_true",
                    help="torch.autocast('cpu', bfloat16): oneDNN's bf16 convolutions (AMX where the CPU has it)")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = SEVNet(g=a.g, classes=a.classes, dropout=0.5)
    x = torch.randn(a.batch, 3, a.frames, a.size, a.size)
    labels = torch.randint(0, a.classes, (a.batch,))
    if a.channels_last:
        model = model.to(memory_format=torch.channels_last_3d)
        x = x.to(memory_format=torch.channels_last_3d)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)

    def autocast():
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16)

    def step():
        if a.mode == "infer":
            with torch.inference_mode(), autocast():
                model(x)
        else:
            opt.zero_grad(set_to_none=True)
            with autocast():
                loss = torch.nn.functional.cross_entropy(model(x), labels)
            loss.backward()
            opt.step()

    model.train(a.mode == "train")
    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.iters):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    times.sort()
    median = times[len(times) // 2]
    print(json.dumps({
        "impl": "pytorch " + torch.__version__,
        "model": f"sevnet-g{a.g}", "mode": a.mode, "batch": a.batch, "frames": a.frames, "size": a.size,
        "threads": a.threads,
        "precision": ("bf16 autocast" if a.bf16 else "fp32") + (" channels-last" if a.channels_last else ""),
        "clips_per_s": a.batch / median,
        "ms_per_iter_median": median * 1e3, "ms_per_iter_min": times[0] * 1e3,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }))


if __name__ == "__main__":
    main()
