package dev.sevnet.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.backend.ConvSpec;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

/**
 * {@code conv3dResidual} (the shortcut added in the conv's epilogue) equals conv3d followed by
 * add / addRelu bit for bit, on every conv path: pointwise and temporal (GEMM tiles), direct grouped (flat planes
 * and stride-2 rows), the stem's wide direct forward and the general im2col path.
 */
class ConvResidualTest {
    static final CpuBackend CPU = CpuBackend.get();

    static Stream<Arguments> shapes() {
        return Stream.of(
                Arguments.of("pointwise", Shape.of(2, 12, 3, 7, 9), 20, ConvSpec.of(1)),
                Arguments.of("temporal", Shape.of(2, 16, 5, 6, 7), 16,
                        ConvSpec.builder().kernel(3, 1, 1).padding(1, 0, 0).build()),
                Arguments.of("temporal, model-sized", Shape.of(1, 64, 8, 28, 28), 64,
                        ConvSpec.builder().kernel(3, 1, 1).padding(1, 0, 0).build()),
                Arguments.of("temporal, large plane (frame-ordered)", Shape.of(1, 8, 3, 40, 41), 12,
                        ConvSpec.builder().kernel(3, 1, 1).padding(1, 0, 0).build()),
                Arguments.of("grouped 1x3x3", Shape.of(2, 16, 3, 9, 11), 16,
                        ConvSpec.builder().kernel(1, 3, 3).padding(0, 1, 1).groups(4).build()),
                Arguments.of("grouped 1x3x3 stride 2 rows", Shape.of(2, 16, 2, 11, 70), 16,
                        ConvSpec.builder().kernel(1, 3, 3).stride(1, 2, 2).padding(0, 1, 1).groups(4).build()),
                Arguments.of("stem 1x7x7 stride 2, 32 outputs", Shape.of(1, 3, 2, 13, 40), 32,
                        ConvSpec.builder().kernel(1, 7, 7).stride(1, 2, 2).padding(0, 3, 3).build()),
                Arguments.of("general 3x3x3", Shape.of(1, 5, 4, 6, 6), 7,
                        ConvSpec.builder().kernel(3, 3, 3).padding(1, 1, 1).build()));
    }

    static Tensor random(Random r, Shape s) {
        float[] a = new float[Math.toIntExact(s.size())];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return Tensor.of(a, s);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void equalsConvThenAddBitForBit(String name, Shape xs, int cout, ConvSpec spec) {
        Random r = new Random(name.hashCode());
        try (TensorScope scope = TensorScope.open()) {
            Tensor x = random(r, xs);
            Tensor w = random(r, Shape.of(cout, xs.get(1) / spec.groups(), spec.kT(), spec.kH(),
                    spec.kW()));
            Tensor b = random(r, Shape.of(cout));
            Tensor res = random(r, spec.outputShape(xs, cout));
            for (boolean relu : new boolean[] {true, false}) {
                for (Tensor bias : new Tensor[] {b, null}) {
                    Tensor conv = CPU.conv3d(x, w, bias, spec, false);
                    Tensor expected = relu ? CPU.addRelu(conv, res) : CPU.add(conv, res);
                    Tensor got = CPU.conv3dResidual(x, w, bias, spec, res, relu);
                    assertArrayEquals(expected.toFloatArray(), got.toFloatArray(),
                            name + " relu=" + relu + " bias=" + (bias != null));
                }
            }
        }
    }

    @Test
    void aResidualOfTheWrongShapeIsAnErrorBeforeAnyNativeCall() {
        try (TensorScope scope = TensorScope.open()) {
            Tensor x = Tensor.zeros(Shape.of(1, 4, 2, 3, 3));
            Tensor w = Tensor.zeros(Shape.of(4, 4, 1, 1, 1));
            Tensor bad = Tensor.zeros(Shape.of(1, 4, 2, 3, 4));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> CPU.conv3dResidual(x, w, null, ConvSpec.of(1), bad, true));
            assertTrue(e.getMessage().contains("residual"), e.getMessage());
        }
    }
}
