package dev.sevnet.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.sevnet.backend.ConvSpec;
import dev.sevnet.backend.cpu.CpuBackend;
import dev.sevnet.backend.cpu.NativeCore;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The CUDA temporal-conv kernel's per-element body, run on the host, against the CPU conv3d. */
class TemporalConvHostRunTest {
    @Test
    void hostRunMatchesCpuConv() {
        int[][] shapes = {{1, 4, 3, 5, 7}, {2, 6, 8, 4, 4}, {1, 3, 1, 2, 3}};
        Random r = new Random(7);
        for (int[] s : shapes) {
            int n = s[0], c = s[1], t = s[2], h = s[3], w = s[4];
            try (TensorScope scope = TensorScope.open()) {
                Tensor x = random(r, Shape.of(n, c, t, h, w));
                Tensor k = random(r, Shape.of(c, c, 3, 1, 1));
                ConvSpec spec = ConvSpec.builder().kernel(3, 1, 1).padding(1, 0, 0).build();
                Tensor ref = CpuBackend.get().conv3d(x, k, spec);
                Tensor y = Tensor.empty(ref.shape());
                NativeCore.sev_hostrun_temporal_conv3_forward(x.address(), k.address(), y.address(), n, c, t,
                        (long) h * w);
                float[] a = y.toFloatArray();
                float[] b = ref.toFloatArray();
                for (int i = 0; i < a.length; i++) {
                    assertEquals(b[i], a[i], 1e-4f * (1 + Math.abs(b[i])), "element " + i + " of " + ref.shape());
                }
            }
        }
    }

    private static Tensor random(Random r, Shape s) {
        float[] d = new float[(int) s.size()];
        for (int i = 0; i < d.length; i++) {
            d[i] = (float) r.nextGaussian();
        }
        return Tensor.of(d, s);
    }
}
