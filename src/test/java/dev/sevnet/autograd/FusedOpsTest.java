package dev.sevnet.autograd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.sevnet.backend.ConvSpec;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * The fused ops {@link F#convBatchNormRelu}, {@link F#batchNormRelu} and {@link F#batchNormAddRelu} on the CPU
 * are the separate ops they replace, bit for bit: output, every gradient, running statistics, in training and evaluation (the
 * CPU backend runs the Backend interface's default compositions — or, for batch norm with its activation, native
 * forms that are those compositions bit for bit, which this test holds them to — so moving SevBlock onto the fused ops
 * changes nothing there).
 */
class FusedOpsTest {
    private static final ConvSpec[] SPECS = {ConvSpec.of(1),
        ConvSpec.builder().kernel(1, 3, 3).padding(0, 1, 1).groups(4).build(),
        ConvSpec.builder().kernel(1, 3, 3).stride(1, 2, 2).padding(0, 1, 1).groups(2).build()};

    private static Tensor rand(Random r, long... dims) {
        Shape s = Shape.of(dims);
        float[] a = new float[Math.toIntExact(s.size())];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return Tensor.of(a, s);
    }

    /** One run: output, input gradients, running stats after. */
    private record Run(float[] y, float[][] grads, float[] rm, float[] rv) {
    }

    private static Run run(Function<Var[], Var> op, Tensor[] inputs, Tensor rm0, Tensor rv0, Tensor[] stats,
            boolean grad) {
        try (TensorScope scope = TensorScope.open()) {
            Var[] vs = new Var[inputs.length];
            for (int i = 0; i < vs.length; i++) {
                vs[i] = grad ? Var.leaf(inputs[i]) : Var.of(inputs[i]);
            }
            Tensor rm = rm0.copy();
            Tensor rv = rv0.copy();
            stats[0] = rm;
            stats[1] = rv;
            Var y = op.apply(vs);
            float[][] g = new float[vs.length][];
            if (grad) {
                Random r = new Random(5);
                y.backward(rand(r, y.shape().dims()));
                for (int i = 0; i < vs.length; i++) {
                    g[i] = vs[i].grad() == null ? null : vs[i].grad().toFloatArray();
                }
            }
            return new Run(y.value().toFloatArray(), g, rm.toFloatArray(), rv.toFloatArray());
        }
    }

    private static void compare(Run a, Run b, String what) {
        assertArrayEquals(a.y(), b.y(), 0f, "y " + what);
        assertArrayEquals(a.rm(), b.rm(), 0f, "running mean " + what);
        assertArrayEquals(a.rv(), b.rv(), 0f, "running var " + what);
        for (int i = 0; i < a.grads().length; i++) {
            assertArrayEquals(a.grads()[i], b.grads()[i], 0f, "grad " + i + " " + what);
        }
    }

    @Test
    void convBatchNormReluIsConvThenBatchNormRelu() {
        Random r = new Random(11);
        for (ConvSpec spec : SPECS) {
            for (boolean training : new boolean[] {true, false}) {
                for (boolean grad : new boolean[] {true, false}) {
                    try (TensorScope scope = TensorScope.open()) {
                        int c = 8;
                        Tensor x = rand(r, 2, c, 3, 7, 6);
                        Tensor w = rand(r, c, c / spec.groups(), spec.kT(), spec.kH(), spec.kW());
                        Tensor gamma = rand(r, c);
                        Tensor beta = rand(r, c);
                        Tensor rm0 = rand(r, c);
                        Tensor rv0 = Tensor.full(Shape.of(c), 1.3f);
                        Tensor[] stats = new Tensor[2];
                        Tensor[] in = {x, w, gamma, beta};
                        Run fused = run(v -> F.convBatchNormRelu(v[0], v[1], spec, v[2], v[3], stats[0], stats[1],
                                training, 0.1, 1e-5), in, rm0, rv0, stats, grad);
                        Run apart = run(v -> F.relu(F.batchNorm(F.conv3d(v[0], v[1], spec), v[2], v[3], stats[0],
                                stats[1], training, 0.1, 1e-5)), in, rm0, rv0, stats, grad);
                        compare(apart, fused, spec + " training=" + training + " grad=" + grad);
                    }
                }
            }
        }
    }

    @Test
    void batchNormReluIsBatchNormThenRelu() {
        Random r = new Random(13);
        for (boolean training : new boolean[] {true, false}) {
            for (boolean grad : new boolean[] {true, false}) {
                try (TensorScope scope = TensorScope.open()) {
                    int c = 6;
                    Tensor x = rand(r, 2, c, 3, 5, 4);
                    Tensor gamma = rand(r, c);
                    Tensor beta = rand(r, c);
                    Tensor rm0 = rand(r, c);
                    Tensor rv0 = Tensor.full(Shape.of(c), 1.2f);
                    Tensor[] stats = new Tensor[2];
                    Tensor[] in = {x, gamma, beta};
                    Run fused = run(v -> F.batchNormRelu(v[0], v[1], v[2], stats[0], stats[1], training, 0.1, 1e-5), in,
                            rm0, rv0, stats, grad);
                    Run apart = run(v -> F.relu(F.batchNorm(v[0], v[1], v[2], stats[0], stats[1], training, 0.1, 1e-5)),
                            in, rm0, rv0, stats, grad);
                    compare(apart, fused, "training=" + training + " grad=" + grad);
                }
            }
        }
    }

    @Test
    void batchNormAddReluIsBatchNormThenAddRelu() {
        Random r = new Random(12);
        for (boolean training : new boolean[] {true, false}) {
            for (boolean grad : new boolean[] {true, false}) {
                try (TensorScope scope = TensorScope.open()) {
                    int c = 5;
                    Tensor x = rand(r, 3, c, 2, 4, 5);
                    Tensor res = rand(r, 3, c, 2, 4, 5);
                    Tensor gamma = rand(r, c);
                    Tensor beta = rand(r, c);
                    Tensor rm0 = rand(r, c);
                    Tensor rv0 = Tensor.full(Shape.of(c), 0.8f);
                    Tensor[] stats = new Tensor[2];
                    Tensor[] in = {x, gamma, beta, res};
                    Run fused = run(v -> F.batchNormAddRelu(v[0], v[1], v[2], stats[0], stats[1], v[3], training, 0.1,
                            1e-5), in, rm0, rv0, stats, grad);
                    Run apart = run(v -> F.addRelu(F.batchNorm(v[0], v[1], v[2], stats[0], stats[1], training, 0.1,
                            1e-5), v[3]), in, rm0, rv0, stats, grad);
                    compare(apart, fused, "training=" + training + " grad=" + grad);
                }
            }
        }
    }
}
