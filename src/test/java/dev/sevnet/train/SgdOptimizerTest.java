package dev.sevnet.train;

import dev.sevnet.autograd.F;
import dev.sevnet.autograd.Var;
import dev.sevnet.nn.MacCounter;
import dev.sevnet.nn.Module;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class SgdOptimizerTest {
    /** One weight row [1, 3]: forward(x) = x w^T, so the gradient of the output is x itself. */
    static final class Row extends Module {
        final dev.sevnet.nn.Parameter w;

        Row(float[] init) {
            w = registerParameter("weight", Tensor.of(init, 1, init.length));
        }

        @Override
        public Var forward(Var x) {
            return F.linear(x, w.var(), null);
        }

        @Override
        public Shape outputShape(Shape input, MacCounter macs) {
            return Shape.of(input.get(0), 1);
        }
    }

    private static void backwardWithGrad(Row m, float[] g) {
        try (TensorScope s = TensorScope.open()) {
            Var y = m.forward(Var.of(Tensor.of(g, 1, g.length)));
            y.backward();
        }
    }

    @Test
    void matchesAHandComputationOfPyTorchSgd() {
        float[] w0 = {1.0f, -2.0f, 0.5f};
        double lr = 0.1;
        double mom = 0.9;
        double wd = 0.01;
        float[][] grads = {{0.5f, 0.25f, -1f}, {-0.5f, 1f, 2f}, {0.1f, 0.2f, 0.3f}};
        double[] w = {w0[0], w0[1], w0[2]};
        double[] v = new double[3];
        try (Row m = new Row(w0); SgdOptimizer opt = new SgdOptimizer(m.namedParameters(), mom, wd)) {
            for (int step = 0; step < grads.length; step++) {
                backwardWithGrad(m, grads[step]);
                opt.step(lr);
                opt.zeroGrad();
                for (int i = 0; i < 3; i++) {
                    double d = grads[step][i] + wd * w[i];
                    v[i] = step == 0 ? d : mom * v[i] + d;
                    w[i] -= lr * v[i];
                }
                float[] got = m.w.data().toFloatArray();
                for (int i = 0; i < 3; i++) {
                    assertEquals(w[i], got[i], 1e-6, "step " + step + " weight " + i);
                }
            }
            Map<String, Tensor> st = opt.stateDict();
            assertEquals(java.util.Set.of("weight.momentum_buffer"), st.keySet());
            float[] vb = st.get("weight.momentum_buffer").toFloatArray();
            for (int i = 0; i < 3; i++) {
                assertEquals(v[i], vb[i], 1e-6);
            }
        }
    }

    @Test
    void stateRoundTripContinuesIdentically() {
        float[] w0 = {0.3f, 0.2f, 0.1f};
        float[] g = {1f, -1f, 0.5f};
        try (Row a = new Row(w0); Row b = new Row(w0);
                SgdOptimizer oa = new SgdOptimizer(a.namedParameters(), 0.9, 1e-4);
                SgdOptimizer ob = new SgdOptimizer(b.namedParameters(), 0.9, 1e-4)) {
            backwardWithGrad(a, g);
            oa.step(0.05);
            oa.zeroGrad();
            // b gets a's weights and optimizer state, then both take the same step
            b.loadStateDict(a.stateDict(), true);
            ob.loadStateDict(oa.stateDict());
            backwardWithGrad(a, g);
            backwardWithGrad(b, g);
            oa.step(0.05);
            ob.step(0.05);
            assertArrayEquals(a.w.data().toFloatArray(), b.w.data().toFloatArray());
        }
    }

    @Test
    void badStateIsRejected() {
        try (Row a = new Row(new float[] {1, 2, 3}); SgdOptimizer o = new SgdOptimizer(a.namedParameters(), 0.9, 0);
                Tensor t = Tensor.zeros(Shape.of(2))) {
            assertThrows(IllegalArgumentException.class, () -> o.loadStateDict(Map.of("weight.momentum_buffer", t)));
            assertThrows(IllegalArgumentException.class, () -> o.loadStateDict(Map.of("nope.momentum_buffer", t)));
        }
    }

    @Test
    void parametersWithoutGradientsAreLeftAlone() {
        try (Row a = new Row(new float[] {1, 2, 3}); SgdOptimizer o = new SgdOptimizer(a.namedParameters(), 0.9, 0.1)) {
            o.step(1.0);
            assertArrayEquals(new float[] {1, 2, 3}, a.w.data().toFloatArray());
            assertEquals(0, o.stateDict().size());
        }
    }
}
