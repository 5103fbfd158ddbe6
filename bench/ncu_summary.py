#!/usr/bin/env python3
"""Where one step's GPU time goes, kernel by kernel: sums an Nsight Compute CSV log per kernel and per kind.

The logs come from one timed iteration inside cudaProfilerStart/Stop (`sevnet bench --cuda-profiler-range`, the
PyTorch peer's `bench_torch_gpu.py --cuda-profiler-range`) under

    ncu --profile-from-start off --metrics gpu__time_duration.sum --csv --print-units base --log-file LOG.csv CMD

(bench/device_session.sh profile). ncu serialises the kernels, so the sum is the step's kernel time without overlap
or launch gaps: compare it with the step's wall time to see what the host costs.

    python3 bench/ncu_summary.py sevnet=LOG1.csv pytorch=LOG2.csv [--top 25]

prints, per log, the kernel count and total, a table by kind (conv/GEMM, batch norm, element-wise, layout, reduce,
other) side by side, and each log's top kernels.
"""
import argparse
import csv
import re
import sys
from collections import defaultdict

UNITS = {"nsecond": 1e-6, "ns": 1e-6, "usecond": 1e-3, "us": 1e-3, "msecond": 1.0, "ms": 1.0, "second": 1e3, "s": 1e3}

# sevnet's own kernels (kernels/*.cu, in an anonymous namespace: "<unnamed>::" or "(anonymous namespace)::"), by
# their name's prefix, before the generic words below (which put e.g. "avgpool3d_ndhwc" under layout and "bnl_" nowhere)
SEVNET_KINDS = [
    ("conv / GEMM", re.compile(r"^(tt|gcl|gc|tcl|cbr|temporal_conv3|grouped_conv|pointwise|conv)_")),
    ("batch norm", re.compile(r"^(bnl|bnx|bn|half_bn)_")),
    ("reduce / pool / loss", re.compile(r"^(half_)?(avgpool3d|global_avgpool|gap|xent|bce|softmax|sum|cl_finalize)")),
    ("layout (reorder, transpose, copy)", re.compile(r"^(cl_transpose|concat|split|half_concat|half_split|half_to_f32|"
                                                     r"half_from_f32)")),
]

# kinds, first match wins; checked against the lower-cased kernel name
KINDS = [
    ("conv / GEMM", re.compile(r"gemm|conv|xmma|cutlass|implicit|wgrad|dgrad|fprop|cudnn::.*engine|sm\d+_|matmul|"
                               r"cublas|winograd|fft")),
    ("batch norm", re.compile(r"batch_?norm|bn_|_bn|welford")),
    ("layout (reorder, transpose, copy)", re.compile(r"ndhwc|nhwc|nchw|transpose|reorder|copy|cast|convert|"
                                                     r"nchwtonhwc|nhwctonchw")),
    ("reduce / pool / loss", re.compile(r"reduce|pool|softmax|cross_?entropy|nll|sum|mean|norm")),
    ("element-wise / optimizer", re.compile(r"elementwise|vectorized|relu|add|mul|axpby|fill|scale|sgd|"
                                            r"momentum|foreach|dropout|sigmoid|bias")),
]


def kind(name):
    low = name.lower()
    own = re.match(r"^(?:void )?(?:<unnamed>|\(anonymous namespace\)|\{anon\})::(\w+)", low)
    if own:
        for k, rx in SEVNET_KINDS:
            if rx.search(own.group(1)):
                return k
    for k, rx in KINDS:
        if rx.search(low):
            return k
    return "other"


def short(name, width=100):
    """The kernel's name without its return type and parameter list."""
    n = re.sub(r"^void ", "", name).replace("(anonymous namespace)", "{anon}").split("(", 1)[0].strip()
    return n if len(n) <= width else n[: width - 1] + "…"


def read(path):
    """{kernel name: [calls, ms]} from an ncu CSV log (ncu's own '==PROF==' lines and text before the header skipped)."""
    with open(path, newline="", errors="replace") as f:
        lines = [l for l in f if not l.startswith("==")]
    start = next((i for i, l in enumerate(lines) if l.lstrip('"').startswith("ID")), None)
    if start is None:
        raise SystemExit(f"{path}: no ncu CSV header (\"ID\",...) found: was ncu run with --csv --log-file?")
    kernels = defaultdict(lambda: [0, 0.0])
    for row in csv.DictReader(lines[start:]):
        if row.get("Metric Name") != "gpu__time_duration.sum":
            continue
        unit = (row.get("Metric Unit") or "nsecond").strip()
        if unit not in UNITS:
            raise SystemExit(f"{path}: unknown time unit {unit!r}")
        value = float((row.get("Metric Value") or "0").replace(",", ""))
        k = kernels[row.get("Kernel Name") or row.get("Function Name") or "?"]
        k[0] += 1
        k[1] += value * UNITS[unit]
    return kernels


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("logs", nargs="+", help="LABEL=PATH (or PATH: the file name is the label)")
    ap.add_argument("--top", type=int, default=25)
    a = ap.parse_args(argv)
    runs = []
    for spec in a.logs:
        label, _, path = spec.partition("=") if "=" in spec else (spec, "", spec)
        runs.append((label, read(path)))
    pair = len(runs) == 2  # a ratio column: the first log's time over the second's
    print("| | " + " | ".join(f"{l} ms" for l, _ in runs) + (f" | {runs[0][0]}/{runs[1][0]}" if pair else "") + " |")
    print("|---|" + "---|" * (len(runs) + pair))
    totals = [sum(ms for _, ms in k.values()) for _, k in runs]
    counts = [sum(c for c, _ in k.values()) for _, k in runs]

    def ratio(*ab):
        if not pair:
            return ""
        a, b = ab
        return f" | {a / b:.2f}x" if b else " | -"

    print("| kernels launched | " + " | ".join(str(c) for c in counts) + ratio(*counts[:2]) + " |")
    print("| kernel time, total | " + " | ".join(f"{t:.3f}" for t in totals) + ratio(*totals[:2]) + " |")
    for kd in [k for k, _ in KINDS] + ["other"]:
        cells, ms_by_run = [], []
        for (_, ks), tot in zip(runs, totals):
            ms = sum(v[1] for n, v in ks.items() if kind(n) == kd)
            ms_by_run.append(ms)
            cells.append(f"{ms:.3f} ({100 * ms / tot:.0f}%)" if tot else "-")
        print(f"| {kd} | " + " | ".join(cells) + ratio(*ms_by_run[:2]) + " |")
    for label, ks in runs:
        print(f"\n{label}: top {a.top} kernels by time")
        print("| kernel | kind | calls | ms | % |")
        print("|---|---|---|---|---|")
        tot = sum(v[1] for v in ks.values()) or 1
        for n, (c, ms) in sorted(ks.items(), key=lambda kv: -kv[1][1])[: a.top]:
            print(f"| `{short(n)}` | {kind(n)} | {c} | {ms:.3f} | {100 * ms / tot:.1f} |")


if __name__ == "__main__":
    sys.exit(main())
