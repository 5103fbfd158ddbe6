package dev.sevnet.autograd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.backend.ConvSpec;
import dev.sevnet.tensor.MemoryStats;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import org.junit.jupiter.api.Test;

class VarTest {
    private static Tensor ramp(long... dims) {
        Shape s = Shape.of(dims);
        float[] v = new float[Math.toIntExact(s.size())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) Math.sin(0.7 * i + 0.3);
        }
        return Tensor.of(v, s);
    }

    /** One forward (conv -> relu -> pool -> linear -> CE) and backward, inside the caller's scope. */
    private static void step(Var x, Var w, Var fc, Tensor labels) {
        Var h = F.relu(F.conv3d(x, w, ConvSpec.builder().kernel(1, 3, 3).padding(0, 1, 1).build()));
        Var loss = F.softmaxCrossEntropy(F.linear(F.globalAvgPool(h), fc, null), labels);
        loss.backward();
    }

    /** {@link #step} inside a scope of its own; w's gradient after it. */
    private static float[] scopedStep(Tensor xs, Var w, Var fc, Tensor labels) {
        try (TensorScope scope = TensorScope.open()) {
            step(Var.of(xs), w, fc, labels);
            return w.grad().toFloatArray();
        }
    }

    @Test
    void gradientsAccumulateAcrossBackwardCalls() {
        long start = MemoryStats.liveHostBytes();
        try (Tensor xs = ramp(2, 3, 2, 4, 4); Tensor ws = ramp(4, 3, 1, 3, 3); Tensor fcs = ramp(5, 4);
                Tensor labels = Tensor.ofLongs(new long[] {1, 4}, 2)) {
            Var w = Var.parameter(ws);
            Var fc = Var.parameter(fcs);
            float[] once = scopedStep(xs, w, fc, labels);
            float[] twice = scopedStep(xs, w, fc, labels);
            for (int i = 0; i < once.length; i++) {
                assertEquals(2 * once[i], twice[i], 1e-5 + 1e-5 * Math.abs(once[i]), "element " + i);
            }
            w.zeroGrad();
            assertEquals(0.0, dev.sevnet.backend.Backends.cpu().sum(w.grad()));
            w.releaseGrad();
            fc.releaseGrad();
            assertNull(w.grad());
        }
        assertEquals(start, MemoryStats.liveHostBytes(), "persistent gradients or graph tensors leaked");
    }

    /**
     * zeroGrad is lazy (PyTorch's set_to_none spares the fill the same way): the next backward writes each gradient
     * in one pass — no fill, one axpby with beta 0 that does not read the old values, NaN included — and a gradient
     * read before any backward reads as zero.
     */
    @Test
    void aZeroedGradientIsWrittenByTheNextBackwardNotFilledAndAdded() {
        try (Tensor xs = ramp(2, 3, 2, 4, 4); Tensor ws = ramp(4, 3, 1, 3, 3); Tensor fcs = ramp(5, 4);
                Tensor labels = Tensor.ofLongs(new long[] {1, 4}, 2)) {
            Var w = Var.parameter(ws);
            Var fc = Var.parameter(fcs);
            float[] once = scopedStep(xs, w, fc, labels);
            dev.sevnet.backend.Backend cpu = dev.sevnet.backend.Backends.cpu();
            cpu.fill(w.grad(), Float.NaN); // what an overflowed fp16 step can leave behind
            w.zeroGrad();
            fc.zeroGrad();
            assertTrue(w.gradPendingZero() && fc.gradPendingZero());
            java.util.Map<String, Long> calls;
            try (TensorScope scope = TensorScope.open();
                    dev.sevnet.backend.OpProfiler prof = dev.sevnet.backend.OpProfiler.start(cpu)) {
                step(Var.of(xs), w, fc, labels);
                calls = prof.stop().rows().stream().collect(java.util.stream.Collectors.toMap(
                        dev.sevnet.backend.OpProfiler.Row::op, dev.sevnet.backend.OpProfiler.Row::calls, Long::sum));
            }
            assertFalse(calls.containsKey("fill"), calls.toString());
            assertEquals(2L, calls.get("axpby"), calls.toString());
            assertFalse(w.gradPendingZero());
            assertArrayEquals(once, w.grad().toFloatArray(), 0f, "the second step's gradient is the first's, bit for bit");

            // read before any backward: zero, filled on the read
            fc.zeroGrad();
            assertEquals(0.0, cpu.sum(fc.grad()));
            assertFalse(fc.gradPendingZero());
            // written by other means (a CUDA graph's replay): the pending zero is dropped, the values stay
            w.zeroGrad();
            w.markGradWritten();
            assertArrayEquals(once, w.grad().toFloatArray(), 0f);
            w.zeroGrad();
            w.releaseGrad();
            fc.releaseGrad();
            assertFalse(w.gradPendingZero(), "a released gradient has nothing pending");
            assertThrows(IllegalStateException.class, w::markGradWritten);
        }
    }

    @Test
    void backwardTwiceOnOneGraphAddsGradients() {
        try (TensorScope scope = TensorScope.open(); Tensor xs = ramp(3, 4)) {
            Var x = Var.leaf(xs);
            Var y = F.sigmoid(F.add(x, x));
            try (Tensor seed = Tensor.full(y.shape(), 1f)) {
                y.backward(seed);
                float[] once = x.grad().toFloatArray();
                y.backward(seed);
                assertArrayEquals(scaled(once, 2), x.grad().toFloatArray(), 1e-6f);
            }
        }
    }

    private static float[] scaled(float[] a, float s) {
        float[] r = a.clone();
        for (int i = 0; i < r.length; i++) {
            r[i] *= s;
        }
        return r;
    }

    @Test
    void noGradRecordsAndSavesNothing() {
        try (Tensor xs = ramp(2, 3, 1, 2, 2); Tensor g = Tensor.full(Shape.of(3), 1f); Tensor b = Tensor.zeros(Shape.of(3));
                Tensor mean = Tensor.zeros(Shape.of(3)); Tensor var = Tensor.full(Shape.of(3), 1f)) {
            Var x = Var.leaf(xs);
            try (TensorScope scope = TensorScope.open(); GradMode.Guard guard = GradMode.noGrad()) {
                assertFalse(GradMode.isEnabled());
                Var y = F.batchNorm(x, Var.leaf(g), Var.leaf(b), mean, var, true, 0.1, 1e-5);
                assertFalse(y.requiresGrad());
                assertNull(y.op());
                assertEquals(1, scope.ownedCount(), "only the output is allocated; batch statistics are not saved");
                Var d = F.dropout(y, 0.5, 3L, true);
                assertEquals(2, scope.ownedCount(), "the dropout mask is not saved");
                assertThrows(IllegalStateException.class, () -> F.softmaxCrossEntropy(F.flatten(d),
                        scope.keep(Tensor.ofLongs(new long[] {0, 1}, 2))).backward());
            }
            assertTrue(GradMode.isEnabled());
            try (TensorScope scope = TensorScope.open()) {
                Var y = F.batchNorm(x, Var.leaf(g), Var.leaf(b), mean, var, true, 0.1, 1e-5);
                assertTrue(y.requiresGrad());
                assertEquals("batch_norm", y.op());
                assertEquals(3, scope.ownedCount(), "output plus saved mean and inverse std");
            }
        }
    }

    @Test
    void constantsGetNoGradient() {
        try (TensorScope scope = TensorScope.open()) {
            Var a = Var.of(ramp(2, 2));
            Var b = Var.leaf(ramp(2, 2));
            F.sigmoid(F.add(a, b)).backward(Tensor.full(Shape.of(2, 2), 1f));
            assertNull(a.grad());
            assertEquals(Shape.of(2, 2), b.grad().shape());
        }
    }

    @Test
    void scopeFreesGraphAndGradients() {
        long start = MemoryStats.liveHostBytes();
        try (TensorScope scope = TensorScope.open()) {
            Var x = Var.leaf(ramp(2, 3, 2, 4, 4));
            Var w = Var.leaf(ramp(4, 3, 3, 1, 1));
            Var y = F.globalAvgPool(F.relu(F.conv3d(x, w, ConvSpec.builder().kernel(3, 1, 1).padding(1, 0, 0).build())));
            Var loss = F.bceWithLogits(y, Tensor.full(Shape.of(2, 4), 1f));
            loss.backward();
            assertTrue(loss.item() > 0);
        }
        assertEquals(start, MemoryStats.liveHostBytes());
    }

    @Test
    void backwardNeedsAScalarOrASeed() {
        try (TensorScope scope = TensorScope.open()) {
            Var y = F.relu(Var.leaf(ramp(2, 2)));
            assertThrows(IllegalStateException.class, y::backward);
            assertThrows(IllegalArgumentException.class, () -> y.backward(Tensor.full(Shape.of(4), 1f)));
        }
    }
}
