package dev.sevnet.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.backend.Backend;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.MemoryFormat;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link Backend#axpbyAll} on the CPU ({@code sev_axpby_all}: one parallel pass over chunks of all the tensors)
 * bit for bit {@link Backend#axpby} per pair — beta 0 (old values, NaN included, not read), 1 and other, sizes
 * across the vector widths, the 65536-element chunk and the parallel threshold, empty tensors, ~200 tensors — and
 * its argument checks, which reject a bad list before anything is written.
 */
class AxpbyAllTest {
    static final CpuBackend CPU = CpuBackend.get();
    static final long[] SIZES = {0, 1, 3, 7, 16, 17, 100, 4097, 65535, 65536, 65537, 200_003, 0, 5};

    static Tensor rand(Random r, long n) {
        float[] d = new float[Math.toIntExact(n)];
        for (int i = 0; i < d.length; i++) {
            d[i] = (float) r.nextGaussian();
        }
        return Tensor.of(d, Shape.of(n));
    }

    static Tensor cl(Tensor t) {
        return CPU.toMemoryFormat(t, MemoryFormat.CHANNELS_LAST);
    }

    @Test
    void isAxpbyPerPairBitForBit() {
        Random r = new Random(3);
        for (float[] ab : new float[][] {{1f, 0f}, {1f, 1f}, {-0.37f, 0.9f}, {2.5f, -1f}}) {
            try (TensorScope scope = TensorScope.open()) {
                List<Tensor> xs = new ArrayList<>();
                List<Tensor> ys = new ArrayList<>();
                List<Tensor> expected = new ArrayList<>();
                for (int rep = 0; rep < 15; rep++) { // ~200 tensors
                    for (long n : SIZES) {
                        Tensor x = rand(r, n);
                        Tensor y = rand(r, n);
                        if (ab[1] == 0f && n > 0) {
                            y.setFloat(n - 1, Float.NaN); // beta 0 must not read y
                        }
                        Tensor e = y.copy();
                        CPU.axpby(ab[0], x, ab[1], e);
                        xs.add(x);
                        ys.add(y);
                        expected.add(e);
                    }
                }
                CPU.axpbyAll(ab[0], xs, ab[1], ys);
                for (int i = 0; i < ys.size(); i++) {
                    assertArrayEquals(expected.get(i).toFloatArray(), ys.get(i).toFloatArray(),
                            "alpha " + ab[0] + " beta " + ab[1] + " tensor " + i);
                }
            }
        }
    }

    @Test
    void xsMaySharePairsInEitherByteOrder() {
        try (TensorScope scope = TensorScope.open()) {
            Random r = new Random(5);
            Tensor shared = rand(r, 96);
            Tensor x2 = shared.reshape(Shape.of(96)); // a second handle on one storage: read twice, fine
            Tensor y1 = rand(r, 96);
            Tensor y2 = rand(r, 96);
            Tensor e1 = y1.copy();
            Tensor e2 = y2.copy();
            CPU.axpby(0.5f, shared, 1f, e1);
            CPU.axpby(0.5f, x2, 1f, e2);
            CPU.axpbyAll(0.5f, List.of(shared, x2), 1f, List.of(y1, y2));
            assertArrayEquals(e1.toFloatArray(), y1.toFloatArray());
            assertArrayEquals(e2.toFloatArray(), y2.toFloatArray());

            Tensor xc = cl(rand(r, 24).reshape(Shape.of(1, 3, 2, 2, 2)));
            Tensor yc = cl(rand(r, 24).reshape(Shape.of(1, 3, 2, 2, 2)));
            Tensor ec = yc.copy();
            CPU.axpby(1f, xc, 1f, ec);
            CPU.axpbyAll(1f, List.of(xc), 1f, List.of(yc));
            assertEquals(MemoryFormat.CHANNELS_LAST, yc.memoryFormat());
            assertArrayEquals(ec.toFloatArray(), yc.toFloatArray());
            CPU.axpbyAll(1f, List.of(), 0f, List.of()); // nothing to do
        }
    }

    @Test
    void badListsAreRejectedBeforeAnythingIsWritten() {
        try (TensorScope scope = TensorScope.open()) {
            Random r = new Random(9);
            Tensor a = rand(r, 8);
            Tensor b = rand(r, 8);
            Tensor c = rand(r, 8);
            float[] before = c.toFloatArray();
            Tensor big = rand(r, 16);
            Tensor bigAgain = big.reshape(Shape.of(16)); // same storage as big
            List<Runnable> bad = List.of(
                    () -> CPU.axpbyAll(1f, List.of(a), 1f, List.of(c, b)), // counts differ
                    () -> CPU.axpbyAll(1f, List.of(a, big), 1f, List.of(c, b)), // sizes differ (second pair)
                    () -> CPU.axpbyAll(1f, List.of(a, b), 1f, List.of(c, c)), // ys overlap
                    () -> CPU.axpbyAll(1f, List.of(a, big), 1f, List.of(c, bigAgain)), // x shares memory with a y
                    () -> CPU.axpbyAll(1f, List.of(a, Tensor.zeros(Shape.of(8), DType.BFLOAT16)), 1f, List.of(c, b)),
                    () -> CPU.axpbyAll(1f, null, 1f, List.of(c)),
                    () -> CPU.axpbyAll(1f, java.util.Arrays.asList(a, null), 1f, List.of(c, b)));
            for (Runnable call : bad) {
                assertThrows(IllegalArgumentException.class, call::run);
                assertArrayEquals(before, c.toFloatArray(), "nothing written");
            }
            Tensor closed = rand(r, 8);
            closed.close();
            assertThrows(IllegalArgumentException.class, () -> CPU.axpbyAll(1f, List.of(closed), 1f, List.of(c)));
            Tensor xc = cl(rand(r, 24).reshape(Shape.of(1, 3, 2, 2, 2)));
            Tensor yn = rand(r, 24).reshape(Shape.of(1, 3, 2, 2, 2));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> CPU.axpbyAll(1f, List.of(xc), 1f, List.of(yn)));
            assertTrue(e.getMessage().contains("channels-last") || e.getMessage().contains("contiguous"),
                    e.getMessage());
        }
    }
}
