"""PyTorch serving peer of `sevnet serve` for bench/serve_load.sh.

The same checkpoint (state.json + model.safetensors, loaded into the reference PyTorch SEVNet of
sevnet_torch.py, eval mode), the same HTTP contract for decoded clips (POST /v1/predict with a float32
.npy body [3, T, H, W] -> {"top": [{"label", "index", "prob"}, ...], "logits": [...]}; GET /healthz),
and the same serving scheme as sevnet's Predictor: handler threads put requests on a queue, one
batching thread runs up to --max-batch clips per forward pass, waiting at most --max-delay-ms for a
batch to fill. Python's standard library only, plus torch and numpy (no TorchServe here: nothing can
be installed from PyPI on these machines).

--device cuda runs the model on the GPU (each batch copied there, the logits copied back, which waits for
the forward pass), with cudnn.benchmark on and one warm-up pass per batch size 1..--max-batch at the
checkpoint's clip shape before the server listens (the convolution algorithms chosen before the first
request, as sevnet's Predictor warms up at load). --precision bf16|fp16 (cuda only) is autocast with fp32
weights, the contract of `sevnet bench --device cuda --precision`; --channels-last stores the model and
each batch channels-last (3d) on either device.

    python serve_torch.py --checkpoint RUN_OR_CHECKPOINT_DIR --port 18182 --threads 2
    python serve_torch.py --checkpoint RUN_OR_CHECKPOINT_DIR --device cuda --precision bf16 --channels-last
"""
import argparse
import contextlib
import io
import json
import os
import queue
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sevnet_torch import build, load_safetensors  # noqa: E402


AUTOCAST = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def load(checkpoint, device):
    d = checkpoint
    if not os.path.exists(os.path.join(d, "state.json")):
        d = os.path.join(d, "checkpoints", "last")
    with open(os.path.join(d, "state.json")) as f:
        state = json.load(f)
    labels = state.get("labels") or []
    classes = state.get("config", {}).get("numClasses") or len(labels)
    if len(labels) != classes:
        labels = [str(i) for i in range(classes)]
    model = build(state["model"], classes)
    model.load_state_dict(load_safetensors(os.path.join(d, "model.safetensors")), strict=False)
    model.eval()
    model.to(device)
    config = state.get("config", {})
    return model, labels, state["model"], (config.get("frames"), config.get("size"))


class Batcher:
    """Dynamic batching: one thread, up to max_batch clips per pass, max_delay seconds to fill."""

    def __init__(self, model, max_batch, max_delay, channels_last, device=torch.device("cpu"), amp=None):
        self.model = model
        self.max_batch = max_batch
        self.max_delay = max_delay
        self.channels_last = channels_last
        self.device = device
        self.amp = amp
        self.q = queue.Queue(maxsize=256)
        self.batch_sizes = {}
        threading.Thread(target=self.loop, daemon=True).start()

    def submit(self, clip):
        done = threading.Event()
        slot = {"clip": clip, "done": done}
        self.q.put(slot)
        done.wait()
        if "error" in slot:
            raise slot["error"]
        return slot["logits"]

    def loop(self):
        torch.set_grad_enabled(False)
        while True:
            batch = [self.q.get()]
            deadline = time.monotonic() + self.max_delay
            while len(batch) < self.max_batch:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    batch.append(self.q.get(timeout=left))
                except queue.Empty:
                    break
            try:
                y = self.forward(torch.from_numpy(np.stack([s["clip"] for s in batch])))
                for i, s in enumerate(batch):
                    s["logits"] = y[i]
            except Exception as e:  # noqa: BLE001 - answered to the client as a 500
                for s in batch:
                    s["error"] = e
            self.batch_sizes[len(batch)] = self.batch_sizes.get(len(batch), 0) + 1
            for s in batch:
                s["done"].set()

    def forward(self, x):
        """Logits of a float32 [N, 3, T, H, W] host batch as a float32 numpy array."""
        if self.device.type == "cpu":
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last_3d)
            with torch.inference_mode():
                return self.model(x).float().numpy()
        # the copy back to the host (.cpu()) waits for the forward pass on the device's stream
        with torch.inference_mode():
            x = x.to(self.device)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last_3d)
            with torch.autocast(self.device.type, dtype=self.amp) if self.amp else contextlib.nullcontext():
                y = self.model(x)
            return y.float().cpu().numpy()

    def warm_up(self, frames, size):
        """One forward pass per batch size 1..max_batch (before the first request), then a device sync."""
        for n in range(1, self.max_batch + 1):
            self.forward(torch.zeros(n, 3, frames, size, size))
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=18182)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--max-batch", type=int, default=8)
    ap.add_argument("--max-delay-ms", type=float, default=5)
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--precision", choices=list(AUTOCAST), default="fp32",
                    help="bf16/fp16: autocast on the GPU (--device cuda only)")
    a = ap.parse_args()
    if a.precision != "fp32" and a.device != "cuda":
        ap.error("--precision %s needs --device cuda" % a.precision)
    if a.device == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda: torch.cuda.is_available() is False")
    torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    model, labels, name, (frames, size) = load(a.checkpoint, device)
    if a.channels_last:
        model = model.to(memory_format=torch.channels_last_3d)
    batcher = Batcher(model, a.max_batch, a.max_delay_ms / 1000.0, a.channels_last, device, AUTOCAST[a.precision])
    if device.type == "cuda" and frames and size:
        batcher.warm_up(frames, size)
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # headers and body are two writes: without TCP_NODELAY, Nagle + delayed ACK add ~40 ms per answer
        disable_nagle_algorithm = True

        def reply(self, code, obj):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.path == "/healthz":
                self.reply(200, {"status": "ok", "model": name, "torch": torch.__version__, "device": a.device,
                                 "precision": a.precision, "batch_sizes": batcher.batch_sizes})
            else:
                self.reply(404, {"error": "unknown path " + self.path})

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n)
            if self.path != "/v1/predict":
                self.reply(404, {"error": "unknown path " + self.path})
                return
            try:
                clip = np.load(io.BytesIO(body), allow_pickle=False).astype(np.float32, copy=False)
            except Exception as e:  # noqa: BLE001
                self.reply(422, {"error": "not a .npy array: %s" % e})
                return
            if clip.ndim != 4 or clip.shape[0] != 3:
                self.reply(422, {"error": "clip must be [3, T, H, W], got %s" % (clip.shape,)})
                return
            logits = batcher.submit(clip)
            p = np.exp(logits - logits.max())
            p /= p.sum()
            top = np.argsort(-p)[:5]
            self.reply(200, {"top": [{"label": labels[i], "index": int(i), "prob": float(p[i])} for i in top],
                             "logits": [float(v) for v in logits], "views": 1})

    server = ThreadingHTTPServer((a.host, a.port), Handler)
    server.daemon_threads = True
    print(json.dumps({"serving": name, "port": a.port, "torch": torch.__version__, "threads": a.threads,
                      "device": a.device, "gpu": gpu, "precision": a.precision,
                      "channels_last": a.channels_last}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
