package dev.sevnet.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.backend.ConvSpec;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The eval batch norm (+ residual) (+ ReLU) in the conv's epilogue ({@code convBatchNormEval},
 * {@code convBatchNormAddReluEval}) equals the separate ops bit for bit on every conv path ({@link ConvResidualTest}'s
 * shapes: pointwise and temporal GEMM tiles, the direct grouped conv on flat planes and on phase-split rows, the
 * stem's wide direct forward, the general im2col path). In the AVX2 and baseline builds too (pom's ISA reruns).
 */
class ConvBatchNormEvalTest {
    static final CpuBackend CPU = CpuBackend.get();

    static Tensor positive(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = 0.2f + 2f * r.nextFloat();
        }
        return Tensor.of(a, Shape.of(n));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.sevnet.backend.cpu.ConvResidualTest#shapes")
    void equalsConvThenBatchNormBitForBit(String name, Shape xs, int cout, ConvSpec spec) {
        Random r = new Random(name.hashCode());
        try (TensorScope scope = TensorScope.open()) {
            Tensor x = ConvResidualTest.random(r, xs);
            Tensor w = ConvResidualTest.random(r,
                    Shape.of(cout, xs.get(1) / spec.groups(), spec.kT(), spec.kH(), spec.kW()));
            Tensor gamma = ConvResidualTest.random(r, Shape.of(cout));
            Tensor beta = ConvResidualTest.random(r, Shape.of(cout));
            Tensor mean = ConvResidualTest.random(r, Shape.of(cout));
            Tensor var = positive(r, cout);
            Tensor res = ConvResidualTest.random(r, spec.outputShape(xs, cout));
            Tensor conv = CPU.conv3d(x, w, spec);
            for (boolean relu : new boolean[] {true, false}) {
                for (boolean affine : new boolean[] {true, false}) {
                    Tensor g = affine ? gamma : null;
                    Tensor b = affine ? beta : null;
                    Tensor expected = CPU.batchNormEval(conv, g, b, mean, var, 1e-5, relu);
                    Tensor got = CPU.convBatchNormEval(x, w, spec, g, b, mean, var, 1e-5, relu);
                    assertArrayEquals(expected.toFloatArray(), got.toFloatArray(),
                            name + " relu=" + relu + " affine=" + affine);
                }
            }
            Tensor expected = CPU.addRelu(CPU.batchNormEval(conv, gamma, beta, mean, var, 1e-3, false), res);
            Tensor got = CPU.convBatchNormAddReluEval(x, w, spec, gamma, beta, mean, var, 1e-3, res);
            assertArrayEquals(expected.toFloatArray(), got.toFloatArray(), name + " + residual + ReLU");
        }
    }

    @Test
    void badStatisticsOrResidualAreErrorsBeforeAnyNativeCall() {
        try (TensorScope scope = TensorScope.open()) {
            Tensor x = Tensor.zeros(Shape.of(1, 4, 2, 3, 3));
            Tensor w = Tensor.zeros(Shape.of(6, 4, 1, 1, 1));
            Tensor ok = Tensor.of(new float[] {1, 1, 1, 1, 1, 1}, Shape.of(6));
            Tensor four = Tensor.of(new float[] {1, 1, 1, 1}, Shape.of(4));
            ConvSpec spec = ConvSpec.of(1);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> CPU.convBatchNormEval(x, w, spec, four, ok, ok, ok, 1e-5, true));
            assertTrue(e.getMessage().contains("gamma"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> CPU.convBatchNormEval(x, w, spec, ok, ok, null, ok, 1e-5, true));
            assertTrue(e.getMessage().contains("running_mean"), e.getMessage());
            Tensor badRes = Tensor.zeros(Shape.of(1, 6, 2, 3, 4));
            e = assertThrows(IllegalArgumentException.class,
                    () -> CPU.convBatchNormAddReluEval(x, w, spec, ok, ok, ok, ok, 1e-5, badRes));
            assertTrue(e.getMessage().contains("residual"), e.getMessage());
            Tensor badW = Tensor.zeros(Shape.of(6, 3, 1, 1, 1));
            assertThrows(IllegalArgumentException.class,
                    () -> CPU.convBatchNormEval(x, badW, spec, ok, ok, ok, ok, 1e-5, true));
        }
    }
}
