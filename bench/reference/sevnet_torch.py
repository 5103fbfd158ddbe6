"""Canonical PyTorch SEVNet (ARCHITECTURE.md section 2).

The module tree is named so that ``model.state_dict()`` keys and shapes are exactly the ones the Java
implementation (``dev.sevnet.nn``) uses, e.g. ``stem.conv_s.weight [4g,3,1,7,7]``,
``stages.0.blocks.0.conv2.weight [Cin,g,1,3,3]``, ``stages.0.blocks.0.shortcut.conv.weight``,
``stages.3.blocks.2.se.fc1.weight``, ``head.fc.weight [K,64g]``.

    g      group width (channels per group of every grouped conv)
    K      number of classes
    se     add a squeeze-and-excitation module (reduction 4) on every residual branch
    dropout  dropout probability before head.fc

Only the "sevnet-g<g>" and "sevnet-se-g<g>" variants are defined here; the R(2+1)D / R3D ablations
are not needed for parity.
"""
import re

import torch
import torch.nn.functional as F
from torch import nn

DEPTHS = (3, 4, 6, 3)
BN_EPS = 1e-5
BN_MOMENTUM = 0.1


def bn(c):
    return nn.BatchNorm3d(c, eps=BN_EPS, momentum=BN_MOMENTUM)


class SE(nn.Module):
    """mean over T,H,W -> fc1 (C -> C/4) -> ReLU -> fc2 (C/4 -> C) -> sigmoid -> scale."""

    def __init__(self, c, reduction=4):
        super().__init__()
        self.fc1 = nn.Linear(c, c // reduction)
        self.fc2 = nn.Linear(c // reduction, c)

    def forward(self, x):
        s = x.mean(dim=(2, 3, 4))
        s = torch.sigmoid(self.fc2(torch.relu(self.fc1(s))))
        return x * s[:, :, None, None, None]


class Stem(nn.Module):
    def __init__(self, g):
        super().__init__()
        c = 4 * g
        self.conv_s = nn.Conv3d(3, c, (1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False)
        self.bn_s = bn(c)
        self.conv_t = nn.Conv3d(c, c, (3, 1, 1), padding=(1, 0, 0), bias=False)
        self.bn_t = bn(c)

    def forward(self, x):
        x = torch.relu(self.bn_s(self.conv_s(x)))
        return torch.relu(self.bn_t(self.conv_t(x)))


class Shortcut(nn.Module):
    """AvgPool3d(k=(1,3,3), s=(1,2,2), p=(0,1,1), count_include_pad=True) -> conv -> bn.

    The pool is written as an explicit zero pad followed by an unpadded average pool: that is the same
    arithmetic (every window lies inside the padded input, the divisor is always 9), but PyTorch's CPU
    avg_pool3d refuses inputs smaller than the kernel *before* padding (2x2 at stage 3 of a 32x32 clip),
    which the padded form does not."""

    def __init__(self, c):
        super().__init__()
        self.pool = nn.AvgPool3d((1, 3, 3), stride=(1, 2, 2), padding=0)
        self.conv = nn.Conv3d(c, c, 1, bias=False)
        self.bn = bn(c)

    def forward(self, x):
        x = F.pad(x, (1, 1, 1, 1, 0, 0))
        return self.bn(self.conv(self.pool(x)))


class Block(nn.Module):
    """downsample=True: stride-2 main branch (width Cin) concatenated with the pooled shortcut (Cin);
    downsample=False: standard residual block of width C."""

    def __init__(self, c, g, downsample, se):
        super().__init__()
        self.downsample = downsample
        s = (1, 2, 2) if downsample else (1, 1, 1)
        self.conv1 = nn.Conv3d(c, c, 1, bias=False)
        self.bn1 = bn(c)
        self.conv2 = nn.Conv3d(c, c, (1, 3, 3), stride=s, padding=(0, 1, 1), groups=c // g, bias=False)
        self.bn2 = bn(c)
        self.conv3 = nn.Conv3d(c, c, (3, 1, 1), padding=(1, 0, 0), bias=False)
        self.bn3 = bn(c)
        if se:
            self.se = SE(c)
        else:
            self.se = None
        if downsample:
            self.shortcut = Shortcut(c)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = torch.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        if self.se is not None:
            y = self.se(y)
        if self.downsample:
            return torch.relu(torch.cat([y, self.shortcut(x)], dim=1))
        return torch.relu(y + x)


class Stage(nn.Module):
    def __init__(self, c, depth, g, se):
        super().__init__()
        blocks = [Block(c // 2, g, True, se)] + [Block(c, g, False, se) for _ in range(depth - 1)]
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return x


class Head(nn.Module):
    def __init__(self, c, classes, dropout):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        x = x.mean(dim=(2, 3, 4))
        return self.fc(self.dropout(x))


class SEVNet(nn.Module):
    def __init__(self, g, classes, dropout=0.5, se=False, depths=DEPTHS):
        super().__init__()
        self.g = g
        self.stem = Stem(g)
        self.stages = nn.ModuleList([Stage(8 * g * 2 ** s, d, g, se) for s, d in enumerate(depths)])
        self.head = Head(64 * g, classes, dropout)

    def forward(self, x):
        x = self.stem(x)
        for s in self.stages:
            x = s(x)
        return self.head(x)


def build(name, classes, dropout=0.5):
    """``sevnet-g<g>`` or ``sevnet-se-g<g>``."""
    m = re.fullmatch(r"sevnet-(se-)?g(\d+)", name)
    if not m:
        raise ValueError(f"unsupported model name {name!r} (sevnet-g<g> or sevnet-se-g<g>)")
    return SEVNet(int(m.group(2)), classes, dropout=dropout, se=m.group(1) is not None)


# --- minimal file writers (the `safetensors` package is not needed) --------------------------------

_ST_DTYPES = {  # torch dtype -> (safetensors name, rank in the library's Dtype enum)
    torch.float32: ("F32", 11),
    torch.int64: ("I64", 13),
    torch.float16: ("F16", 7),
    torch.bfloat16: ("BF16", 8),
}


def save_safetensors(path, tensors, metadata=None):
    """Writes ``tensors`` byte-for-byte like ``safetensors.torch.save_file(tensors, path, metadata)``:
    tensors ordered by descending dtype (I64, F32, BF16, F16) then name (UTF-8 bytes), header JSON
    without spaces, ``__metadata__`` first, padded with spaces to a multiple of 8 bytes."""
    import json
    import struct

    items = []
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        st, rank = _ST_DTYPES[t.dtype]
        items.append((name, t, st, rank))
    items.sort(key=lambda it: (-it[3], it[0].encode("utf-8")))
    header = {}
    if metadata is not None:
        header["__metadata__"] = dict(sorted(metadata.items()))
    blobs = []
    off = 0
    for name, t, st, _ in items:
        if t.dtype == torch.bfloat16:
            raw = t.view(torch.int16).numpy().astype("<i2").tobytes()
        else:
            raw = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": st, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        blobs.append(raw)
    hb = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    """Reads a safetensors file into a dict of torch tensors (offset order)."""
    import json
    import struct

    import numpy as np

    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    body = data[8 + n:]
    np_types = {"F32": "<f4", "I64": "<i8", "F16": "<f2", "BF16": "<i2"}
    out = {}
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        b, e = info["data_offsets"]
        a = np.frombuffer(body[b:e], dtype=np_types[info["dtype"]]).reshape(info["shape"]).copy()
        t = torch.from_numpy(a)
        if info["dtype"] == "BF16":
            t = t.view(torch.bfloat16)
        out[name] = t
    return out
