package dev.sevnet.autograd;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.sevnet.backend.Backends;
import dev.sevnet.backend.ConvSpec;
import dev.sevnet.tensor.MemoryStats;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Every op's backward against central finite differences, on small random shapes. */
class FGradientTest {
    private final List<Tensor> owned = new ArrayList<>();
    private long liveAtStart;
    private final SplittableRandom rng = new SplittableRandom(7);

    @BeforeEach
    void start() {
        liveAtStart = MemoryStats.liveHostBytes();
    }

    @AfterEach
    void freeAndCheckLeaks() {
        owned.forEach(Tensor::close);
        owned.clear();
        assertEquals(liveAtStart, MemoryStats.liveHostBytes(), "host memory leaked by the test");
    }

    private Tensor rand(long... dims) {
        Shape s = Shape.of(dims);
        float[] v = new float[Math.toIntExact(s.size())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (rng.nextDouble() * 2 - 1);
        }
        Tensor t = Tensor.of(v, s);
        owned.add(t);
        return t;
    }

    /** Random values kept at least 0.1 away from 0, so ReLU kinks stay out of reach of the finite step. */
    private Tensor randAwayFromZero(long... dims) {
        Tensor t = rand(dims);
        for (long i = 0; i < t.size(); i++) {
            float v = t.getFloat(i);
            t.setFloat(i, Math.copySign(0.1f + Math.abs(v), v));
        }
        return t;
    }

    private Tensor constant(Tensor t) {
        owned.add(t);
        return t;
    }

    private static void check(Function<List<Var>, Var> f, Tensor... inputs) {
        GradCheck.assertGradients(f, List.of(inputs), GradCheck.Options.defaults());
    }

    private void checkConv(long[] xShape, long[] wShape, ConvSpec spec) {
        check(v -> F.conv3d(v.get(0), v.get(1), spec), rand(xShape), rand(wShape));
    }

    @Test
    void conv1x1x1() {
        checkConv(new long[] {2, 3, 2, 3, 3}, new long[] {4, 3, 1, 1, 1}, ConvSpec.of(1));
    }

    @Test
    void conv3x1x1Padded() {
        checkConv(new long[] {2, 3, 4, 3, 2}, new long[] {4, 3, 3, 1, 1},
                ConvSpec.builder().kernel(3, 1, 1).padding(1, 0, 0).build());
    }

    @Test
    void groupedConv1x3x3Stride2() {
        checkConv(new long[] {2, 4, 2, 5, 5}, new long[] {4, 2, 1, 3, 3},
                ConvSpec.builder().kernel(1, 3, 3).stride(1, 2, 2).padding(0, 1, 1).groups(2).build());
    }

    @Test
    void stemConv1x7x7Stride2() {
        checkConv(new long[] {1, 3, 2, 9, 9}, new long[] {4, 3, 1, 7, 7},
                ConvSpec.builder().kernel(1, 7, 7).stride(1, 2, 2).padding(0, 3, 3).build());
    }

    @Test
    void conv3x3x3PaddedWithBias() {
        ConvSpec spec = ConvSpec.builder().kernel(3, 3, 3).stride(1, 2, 2).padding(1, 1, 1).build();
        check(v -> F.conv3d(v.get(0), v.get(1), v.get(2), spec), rand(2, 2, 3, 4, 4), rand(3, 2, 3, 3, 3), rand(3));
    }

    /** t reordered to channels-last (NDHWC activations, KTRSC weights) on the host: the CPU reference layout. */
    private Tensor channelsLast(Tensor t) {
        return constant(Backends.cpu().toMemoryFormat(t, dev.sevnet.tensor.MemoryFormat.CHANNELS_LAST));
    }

    /**
     * Channels-last inputs: GradCheck perturbs and reads elements in the logical order (Tensor.getFloat/setFloat
     * find them in the NDHWC bytes), so a block's ops check with x and the weights channels-last as they do
     * contiguous: pointwise conv, grouped 1x3x3, temporal 3x1x1, batch norm with residual, the global pool.
     */
    @Test
    void channelsLastInputsCheckThroughABlock() {
        ConvSpec grouped = ConvSpec.builder().kernel(1, 3, 3).padding(0, 1, 1).groups(2).build();
        ConvSpec temporal = ConvSpec.builder().kernel(3, 1, 1).padding(1, 0, 0).build();
        Tensor mean = constant(Tensor.zeros(Shape.of(4)));
        Tensor var = constant(Tensor.full(Shape.of(4), 1f));
        Tensor x = channelsLast(rand(2, 4, 3, 3, 3));
        Tensor w1 = channelsLast(rand(4, 4, 1, 1, 1));
        Tensor w2 = channelsLast(rand(4, 2, 1, 3, 3));
        Tensor w3 = channelsLast(rand(4, 4, 3, 1, 1));
        check(v -> {
            Var y = F.conv3d(F.conv3d(F.conv3d(v.get(0), v.get(1), ConvSpec.of(1)), v.get(2), grouped), v.get(3),
                    temporal);
            Var bn = F.batchNorm(y, v.get(4), v.get(5), mean, var, true, 0.1, 1e-5);
            return F.globalAvgPool(F.add(bn, v.get(0)));
        }, x, w1, w2, w3, rand(4), rand(4));
        org.junit.jupiter.api.Assertions.assertTrue(x.isChannelsLast() && w3.isChannelsLast());
    }

    @Test
    void batchNormTraining() {
        Tensor mean = constant(Tensor.zeros(Shape.of(3)));
        Tensor var = constant(Tensor.full(Shape.of(3), 1f));
        check(v -> F.batchNorm(v.get(0), v.get(1), v.get(2), mean, var, true, 0.1, 1e-5),
                rand(2, 3, 2, 2, 3), rand(3), rand(3));
    }

    @Test
    void batchNormEvaluation() {
        Tensor mean = constant(Tensor.of(new float[] {0.1f, -0.2f, 0.3f}, 3));
        Tensor var = constant(Tensor.of(new float[] {0.5f, 1.5f, 2f}, 3));
        check(v -> F.batchNorm(v.get(0), v.get(1), v.get(2), mean, var, false, 0.1, 1e-5),
                rand(2, 3, 2, 2, 2), rand(3), rand(3));
    }

    @Test
    void batchNormReluTraining() {
        Tensor mean = constant(Tensor.zeros(Shape.of(2)));
        Tensor var = constant(Tensor.full(Shape.of(2), 1f));
        // beta shifts the normalized values away from the ReLU kink
        Tensor beta = constant(Tensor.of(new float[] {3f, -3f}, 2));
        check(v -> F.batchNormRelu(v.get(0), v.get(1), Var.of(beta), mean, var, true, 0.1, 1e-5),
                rand(2, 2, 1, 2, 2), constant(Tensor.of(new float[] {0.5f, 0.7f}, 2)));
    }

    @Test
    void convBatchNormReluTraining() {
        // the block's grouped 1x3x3 conv, stride 2; beta keeps the normalized values away from the ReLU kink
        ConvSpec spec = ConvSpec.builder().kernel(1, 3, 3).stride(1, 2, 2).padding(0, 1, 1).groups(2).build();
        Tensor mean = constant(Tensor.zeros(Shape.of(4)));
        Tensor var = constant(Tensor.full(Shape.of(4), 1f));
        Tensor beta = constant(Tensor.of(new float[] {3f, -3f, 2.5f, 3.5f}, 4));
        check(v -> F.convBatchNormRelu(v.get(0), v.get(1), spec, v.get(2), Var.of(beta), mean, var, true, 0.1, 1e-5),
                rand(2, 4, 1, 4, 5), rand(4, 2, 1, 3, 3), constant(Tensor.of(new float[] {0.5f, 0.7f, -0.6f, 0.4f}, 4)));
    }

    @Test
    void convBatchNormReluEvaluation() {
        Tensor mean = constant(Tensor.of(new float[] {0.1f, -0.2f, 0.3f}, 3));
        Tensor var = constant(Tensor.of(new float[] {0.5f, 1.5f, 2f}, 3));
        Tensor beta = constant(Tensor.of(new float[] {3f, 2f, -3f}, 3));
        check(v -> F.convBatchNormRelu(v.get(0), v.get(1), ConvSpec.of(1), v.get(2), Var.of(beta), mean, var, false, 0.1,
                1e-5), rand(2, 2, 1, 2, 3), rand(3, 2, 1, 1, 1), constant(Tensor.of(new float[] {0.5f, 0.7f, 0.2f}, 3)));
    }

    @Test
    void batchNormAddReluTraining() {
        Tensor mean = constant(Tensor.zeros(Shape.of(2)));
        Tensor var = constant(Tensor.full(Shape.of(2), 1f));
        Tensor beta = constant(Tensor.of(new float[] {3f, -3f}, 2));
        Tensor residual = rand(2, 2, 1, 2, 2);
        for (long i = 0; i < residual.size(); i++) {
            residual.setFloat(i, residual.getFloat(i) * 0.05f);
        }
        check(v -> F.batchNormAddRelu(v.get(0), v.get(1), Var.of(beta), mean, var, v.get(2), true, 0.1, 1e-5),
                rand(2, 2, 1, 2, 2), constant(Tensor.of(new float[] {0.5f, 0.7f}, 2)), residual);
    }

    @Test
    void relu() {
        check(v -> F.relu(v.get(0)), randAwayFromZero(2, 3, 4));
    }

    @Test
    void add() {
        check(v -> F.add(v.get(0), v.get(1)), rand(2, 3, 1, 2, 2), rand(2, 3, 1, 2, 2));
    }

    @Test
    void addRelu() {
        Tensor a = randAwayFromZero(2, 3, 1, 2, 2);
        Tensor b = rand(2, 3, 1, 2, 2);
        for (long i = 0; i < b.size(); i++) {
            b.setFloat(i, b.getFloat(i) * 0.05f);
        }
        check(v -> F.addRelu(v.get(0), v.get(1)), a, b);
    }

    @Test
    void addSameInputTwice() {
        check(v -> F.add(v.get(0), v.get(0)), rand(2, 3));
    }

    @Test
    void sigmoid() {
        check(v -> F.sigmoid(v.get(0)), rand(3, 5));
    }

    @Test
    void concatChannels() {
        check(v -> F.concatChannels(v.get(0), v.get(1)), rand(2, 2, 1, 2, 3), rand(2, 3, 1, 2, 3));
    }

    @Test
    void avgPool3d() {
        ConvSpec window = ConvSpec.builder().kernel(1, 3, 3).stride(1, 2, 2).padding(0, 1, 1).build();
        check(v -> F.avgPool3d(v.get(0), window), rand(2, 2, 2, 5, 5));
    }

    @Test
    void globalAvgPool() {
        check(v -> F.globalAvgPool(v.get(0)), rand(2, 3, 2, 3, 3));
    }

    @Test
    void dropoutWithFixedSeed() {
        check(v -> F.dropout(v.get(0), 0.3, 1234L, true), rand(4, 8));
    }

    @Test
    void dropoutWithAGivenMask() {
        Tensor mask;
        try (Tensor ones = Tensor.of(new float[32], 4, 8)) {
            Backends.cpu().fill(ones, 1f);
            Tensor[] ym = Backends.cpu().dropout(ones, 0.3f, 1234L);
            ym[0].close();
            mask = constant(ym[1]);
        }
        check(v -> F.dropoutWithMask(v.get(0), mask), rand(4, 8));
    }

    /** A mask drawn from the seed the eager op uses gives the eager op's output and gradient, bit for bit. */
    @Test
    void dropoutWithTheSameMaskIsDropout() {
        Tensor x = rand(4, 8);
        Tensor[] ym;
        try (Tensor ones = Tensor.of(new float[32], 4, 8)) {
            Backends.cpu().fill(ones, 1f);
            ym = Backends.cpu().dropout(ones, 0.3f, 99L);
        }
        try (TensorScope s = TensorScope.open()) {
            Var a = Var.leaf(x.copy());
            Var b = Var.leaf(x.copy());
            Var ya = F.dropout(a, 0.3, 99L, true);
            Var yb = F.dropoutWithMask(b, ym[1]);
            org.junit.jupiter.api.Assertions.assertArrayEquals(ya.value().toFloatArray(), yb.value().toFloatArray());
            try (Tensor g = rand(4, 8)) {
                ya.backward(g);
                yb.backward(g);
            }
            org.junit.jupiter.api.Assertions.assertArrayEquals(a.grad().toFloatArray(), b.grad().toFloatArray());
        } finally {
            ym[0].close();
            ym[1].close();
        }
    }

    @Test
    void linear() {
        check(v -> F.linear(v.get(0), v.get(1), v.get(2)), rand(3, 5), rand(4, 5), rand(4));
    }

    @Test
    void linearWithoutBias() {
        check(v -> F.linear(v.get(0), v.get(1), null), rand(3, 5), rand(4, 5));
    }

    @Test
    void squeezeExciteChannelScale() {
        check(v -> F.channelScale(v.get(0), F.sigmoid(v.get(1))), rand(2, 3, 2, 2, 2), rand(2, 3));
    }

    @Test
    void softmaxCrossEntropy() {
        Tensor labels = constant(Tensor.ofLongs(new long[] {0, 3, 1}, 3));
        check(v -> F.softmaxCrossEntropy(v.get(0), labels), rand(3, 4));
    }

    @Test
    void bceWithLogits() {
        Tensor targets = constant(Tensor.of(new float[] {1, 0, 0, 1, 1, 0}, 2, 3));
        check(v -> F.bceWithLogits(v.get(0), targets), rand(2, 3));
    }

    @Test
    void reshapeAndFlatten() {
        check(v -> F.linear(F.flatten(v.get(0)), v.get(1), null), rand(2, 3, 1, 2, 1), rand(2, 6));
    }

    @Test
    void squeezeExciteBlockComposite() {
        // pool -> fc -> relu -> fc -> sigmoid -> scale, the SE unit end to end
        check(v -> {
            Var s = F.globalAvgPool(v.get(0));
            s = F.sigmoid(F.linear(F.relu(F.linear(s, v.get(1), v.get(2))), v.get(3), v.get(4)));
            return F.channelScale(v.get(0), s);
        }, rand(2, 4, 1, 2, 2), rand(2, 4), constant(Tensor.full(Shape.of(2), 0.5f)), rand(4, 2), rand(4));
    }
}
