package dev.sevnet.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.sevnet.backend.ConvSpec;
import dev.sevnet.backend.cpu.CpuBackend.Fp32Precision;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * A convolution's weight gradient is the same bits call after call on the same thread count: the paths that sum
 * per-thread partials (pointwise, temporal, im2col) give each thread a fixed share of the work, so a resumed training
 * run retraces an uninterrupted one at every shape, not only at the small ones a single thread computes. (With
 * dynamic scheduling, the shares — and the last bit of dW — followed the threads' timing.) In both fp32 precisions.
 */
class ConvDeterminismTest {
    static final CpuBackend CPU = CpuBackend.get();

    static Tensor random(Random r, Shape s) {
        float[] a = new float[Math.toIntExact(s.size())];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return Tensor.of(a, s);
    }

    @Test
    void weightGradientsRepeatBitForBit() {
        Object[][] cases = {
            {Shape.of(2, 64, 4, 28, 28), 64, ConvSpec.of(1)},
            {Shape.of(1, 64, 8, 28, 28), 64, ConvSpec.builder().kernel(3, 1, 1).padding(1, 0, 0).build()},
            {Shape.of(3, 32, 4, 14, 14), 48, ConvSpec.builder().kernel(3, 1, 1).padding(1, 0, 0).build()},
            {Shape.of(2, 3, 4, 40, 40), 32, ConvSpec.builder().kernel(1, 7, 7).stride(1, 2, 2).padding(0, 3, 3).build()},
            {Shape.of(1, 8, 6, 12, 12), 8, ConvSpec.builder().kernel(3, 3, 3).padding(1, 1, 1).build()},
            {Shape.of(2, 64, 8, 14, 14), 64, ConvSpec.builder().kernel(1, 3, 3).padding(0, 1, 1).groups(8).build()}};
        try {
            for (Fp32Precision precision : Fp32Precision.values()) {
                CpuBackend.setFp32Precision(precision);
                Random r = new Random(5);
                for (Object[] c : cases) {
                    Shape xs = (Shape) c[0];
                    int cout = (int) c[1];
                    ConvSpec spec = (ConvSpec) c[2];
                    try (TensorScope scope = TensorScope.open()) {
                        Tensor x = random(r, xs);
                        Shape ws = Shape.of(cout, xs.get(1) / spec.groups(), spec.kT(), spec.kH(), spec.kW());
                        Tensor dy = random(r, spec.outputShape(xs, cout));
                        float[] first = CPU.conv3dBackwardWeight(x, dy, spec, ws).toFloatArray();
                        for (int rep = 0; rep < 6; rep++) {
                            assertArrayEquals(first, CPU.conv3dBackwardWeight(x, dy, spec, ws).toFloatArray(), 0f,
                                    precision + " " + xs + " " + spec + ", call " + (rep + 2));
                        }
                    }
                }
            }
        } finally {
            CpuBackend.setFp32Precision(Fp32Precision.IEEE);
        }
    }
}
