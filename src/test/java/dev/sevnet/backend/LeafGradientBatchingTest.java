package dev.sevnet.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.autograd.F;
import dev.sevnet.autograd.Var;
import dev.sevnet.backend.cpu.CpuBackend;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * A backward on a backend that {@link Backend#batchesLeafGradients batches the leaves' gradients} (the GPU's) adds
 * them at its end in one {@code axpbyAll} per kind — written (a pending zeroGrad) or added — bit for bit what adding
 * them leaf by leaf gives (run here on the CPU through a view of it that asks for batching); the first backward, which
 * allocates each gradient, still goes leaf by leaf; the CPU itself keeps the per-leaf add.
 */
class LeafGradientBatchingTest {
    static final CpuBackend CPU = CpuBackend.get();

    private static Tensor ramp(long... dims) {
        Shape s = Shape.of(dims);
        float[] v = new float[Math.toIntExact(s.size())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) Math.sin(0.7 * i + 0.3);
        }
        return Tensor.of(v, s);
    }

    /** conv -> relu -> pool -> linear (with bias) -> CE, and backward, in a scope of its own. */
    private static void step(Tensor xs, Var w, Var fc, Var bias, Tensor labels) {
        try (TensorScope scope = TensorScope.open()) {
            Var h = F.relu(F.conv3d(Var.of(xs), w, ConvSpec.builder().kernel(1, 3, 3).padding(0, 1, 1).build()));
            F.softmaxCrossEntropy(F.linear(F.globalAvgPool(h), fc, bias), labels).backward();
        }
    }

    /** Runs r with the calling thread's backend lookups returning the CPU seen as batching, counting its calls. */
    private static Map<String, Integer> batching(boolean batches, Runnable r) {
        Map<String, Integer> calls = new TreeMap<>();
        InvocationHandler h = (proxy, m, args) -> {
            if (m.getName().equals("batchesLeafGradients")) {
                return batches;
            }
            calls.merge(m.getName(), 1, Integer::sum);
            try {
                return m.invoke(CPU, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        };
        Backend view = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class},
                h);
        try (AutoCloseable undo = Backends.interpose(b -> b == CPU ? view : b)) {
            r.run();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        return calls;
    }

    @Test
    void batchedLeafGradientsAreThePerLeafOnesBitForBit() {
        long live = dev.sevnet.tensor.MemoryStats.liveHostBytes();
        try (Tensor xs = ramp(2, 3, 2, 4, 4); Tensor ws = ramp(4, 3, 1, 3, 3); Tensor fcs = ramp(5, 4);
                Tensor bs = ramp(5); Tensor labels = Tensor.ofLongs(new long[] {1, 4}, 2)) {
            // the reference: leaf by leaf, three steps (allocate, add, zero + write)
            Var w0 = Var.parameter(ws);
            Var fc0 = Var.parameter(fcs);
            Var b0 = Var.parameter(bs);
            List<float[]> ref = new ArrayList<>();
            Map<String, Integer> perLeaf = batching(false, () -> {
                step(xs, w0, fc0, b0, labels);
                step(xs, w0, fc0, b0, labels);
                w0.zeroGrad();
                step(xs, w0, fc0, b0, labels);
            });
            assertFalse(perLeaf.containsKey("axpbyAll"), perLeaf.toString());
            assertEquals(6, perLeaf.get("axpby"), "two steps after the first, three leaves each: " + perLeaf);
            for (Var v : new Var[] {w0, fc0, b0}) {
                ref.add(v.grad().toFloatArray());
                v.releaseGrad();
            }

            Var w = Var.parameter(ws);
            Var fc = Var.parameter(fcs);
            Var b = Var.parameter(bs);
            Map<String, Integer> first = batching(true, () -> step(xs, w, fc, b, labels));
            assertFalse(first.containsKey("axpbyAll"), "the first backward allocates the gradients: " + first);
            Map<String, Integer> second = batching(true, () -> step(xs, w, fc, b, labels));
            assertEquals(1, second.get("axpbyAll"), "all three added in one call: " + second);
            assertFalse(second.containsKey("axpby"), second.toString());
            w.zeroGrad(); // w written, fc and b added: two calls
            assertTrue(w.gradPendingZero());
            CPU.fill(w.grad(), Float.NaN); // not read by the write
            w.zeroGrad();
            Map<String, Integer> third = batching(true, () -> step(xs, w, fc, b, labels));
            assertEquals(2, third.get("axpbyAll"), third.toString());
            assertFalse(w.gradPendingZero());
            Var[] leaves = {w, fc, b};
            for (int i = 0; i < leaves.length; i++) {
                assertArrayEquals(ref.get(i), leaves[i].grad().toFloatArray(), 0f, "leaf " + i);
                leaves[i].releaseGrad();
            }
        }
        assertEquals(live, dev.sevnet.tensor.MemoryStats.liveHostBytes(), "the deferred gradients are all freed");
    }

    /**
     * A seed that is a leaf's own gradient reaches the leaves through add's backward (which hands dy itself to both
     * inputs): the batch refuses x sharing memory with y, and the group is added leaf by leaf — the same values as the
     * per-leaf path, no error.
     */
    @Test
    void aSeedThatIsALeafsGradientFallsBackToThePerLeafAdd() {
        float[][] results = new float[2][];
        for (int run = 0; run < 2; run++) {
            boolean batches = run == 1;
            try (Tensor xs = ramp(6); Tensor zs = ramp(6)) {
                Var x = Var.parameter(xs);
                Var z = Var.parameter(zs);
                batching(batches, () -> {
                    try (TensorScope scope = TensorScope.open(); Tensor ones = Tensor.full(Shape.of(6), 1f)) {
                        Var y = F.add(x, z);
                        y.backward(ones); // allocates both gradients
                        y.backward(x.grad()); // the seed is x's own gradient
                    }
                });
                results[run] = concat(x.grad().toFloatArray(), z.grad().toFloatArray());
                x.releaseGrad();
                z.releaseGrad();
            }
        }
        assertArrayEquals(results[0], results[1], 0f);
    }

    private static float[] concat(float[] a, float[] b) {
        float[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
