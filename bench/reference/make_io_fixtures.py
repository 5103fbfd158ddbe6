"""Makes the small file-format fixtures in src/test/resources/fixtures/io/ (safetensors and .npy files
written by Python exactly as `safetensors.torch.save_file` and `numpy.save` write them), which the
Java tests read and compare their own writers against byte for byte.

    python bench/reference/make_io_fixtures.py [OUT_DIR]
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sevnet_torch  # noqa: E402


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join("src", "test", "resources", "fixtures", "io")
    os.makedirs(out, exist_ok=True)
    tensors = {
        "a.weight": torch.arange(6, dtype=torch.float32).reshape(2, 3) * 0.5 - 1.0,
        "z.bias": torch.tensor([1.5, -2.25, 3.0e-8, 1.0e30], dtype=torch.float32),
        "step": torch.tensor(123456789012, dtype=torch.int64),  # rank 0
        "bn.num_batches_tracked": torch.tensor(7, dtype=torch.int64),
        "ids": torch.tensor([[-1, 0, 2**40]], dtype=torch.int64),
        "h": torch.tensor([0.5, -2.0, 65504.0], dtype=torch.float16),
        "b": torch.tensor([[1.0, -0.5], [3.140625, 1e-3]], dtype=torch.bfloat16),
        "empty": torch.zeros((0, 3), dtype=torch.float32),
    }
    sevnet_torch.save_safetensors(os.path.join(out, "mixed.safetensors"), tensors,
                                  metadata={"format": "pt", "note": "caf\u00e9 \"q\"\n"})
    sevnet_torch.save_safetensors(os.path.join(out, "nometa.safetensors"),
                                  {"x": torch.tensor([1.0, 2.0], dtype=torch.float32)})

    np.save(os.path.join(out, "f32.npy"), (np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 5) / 4)
    np.save(os.path.join(out, "i64.npy"), np.array([3, -1, 2**40, 0, 7], dtype=np.int64))
    np.save(os.path.join(out, "scalar.npy"), np.array(2.5, dtype=np.float32))
    with open(os.path.join(out, "v2.npy"), "wb") as f:
        np.lib.format.write_array(f, np.arange(6, dtype=np.float32).reshape(3, 2), version=(2, 0))
    np.save(os.path.join(out, "fortran.npy"), np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
    np.save(os.path.join(out, "f64.npy"), np.arange(3, dtype=np.float64))
    print("wrote", sorted(os.listdir(out)))


if __name__ == "__main__":
    main()
