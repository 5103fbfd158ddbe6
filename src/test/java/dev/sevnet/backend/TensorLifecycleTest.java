package dev.sevnet.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Half;
import dev.sevnet.tensor.MemoryStats;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/** Ownership (scopes, keep, reshape sharing, close) and dtype conversions of {@link Tensor}. */
class TensorLifecycleTest {

    @Test
    void nestedScopesCloseTheirOwnTensors() {
        long before = MemoryStats.liveHostBytes();
        try (TensorScope outer = TensorScope.open()) {
            Tensor a = Tensor.zeros(Shape.of(16));
            Tensor b;
            try (TensorScope inner = TensorScope.open()) {
                b = Tensor.zeros(Shape.of(8));
                assertEquals(1, inner.ownedCount());
                assertEquals(1, outer.ownedCount());
            }
            assertTrue(b.isClosed(), "the inner scope closed its tensor");
            assertFalse(a.isClosed(), "the outer tensor survives the inner scope");
            assertEquals(before + 16 * 4, MemoryStats.liveHostBytes());
        }
        assertEquals(before, MemoryStats.liveHostBytes());
    }

    @Test
    void keepMovesATensorToTheEnclosingScope() {
        long before = MemoryStats.liveHostBytes();
        Tensor kept;
        try (TensorScope outer = TensorScope.open()) {
            try (TensorScope inner = TensorScope.open()) {
                kept = inner.keep(Tensor.zeros(Shape.of(4)));
                assertEquals(0, inner.ownedCount());
                assertEquals(1, outer.ownedCount());
            }
            assertFalse(kept.isClosed(), "kept tensor survives the inner scope");
        }
        assertTrue(kept.isClosed(), "the outer scope owns the kept tensor and closes it");
        assertEquals(before, MemoryStats.liveHostBytes());

        // keep from the outermost scope: nobody owns it, the caller closes it
        Tensor free;
        try (TensorScope only = TensorScope.open()) {
            free = only.keep(Tensor.zeros(Shape.of(4)));
        }
        assertFalse(free.isClosed());
        free.close();
        assertEquals(before, MemoryStats.liveHostBytes());
    }

    @Test
    void reshapeSharesStorageAndFreesWhenBothAreClosed() {
        long before = MemoryStats.liveHostBytes();
        Tensor a = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        Tensor b = a.reshape(3, 2);
        assertEquals(Shape.of(3, 2), b.shape());
        assertEquals(a.address(), b.address(), "reshape is a view");
        b.setFloat(5, 42f);
        assertEquals(42f, a.getFloat(5), "a write through the view shows in the original");
        assertEquals(before + 24, MemoryStats.liveHostBytes(), "one block for both");

        a.close();
        assertEquals(before + 24, MemoryStats.liveHostBytes(), "the view keeps the memory alive");
        assertArrayEquals(new float[] {1, 2, 3, 4, 5, 42}, b.toFloatArray());
        b.close();
        assertEquals(before, MemoryStats.liveHostBytes(), "freed once both are closed");

        Tensor c = Tensor.zeros(Shape.of(6));
        assertThrows(IllegalArgumentException.class, () -> c.reshape(4));
        c.close();
    }

    @Test
    void doubleCloseIsHarmless() {
        long before = MemoryStats.liveHostBytes();
        Tensor t = Tensor.zeros(Shape.of(10));
        Tensor v = t.reshape(2, 5);
        t.close();
        assertDoesNotThrow(t::close);
        assertEquals(before + 40, MemoryStats.liveHostBytes(), "a second close must not release the view's reference");
        v.close();
        assertDoesNotThrow(v::close);
        assertEquals(before, MemoryStats.liveHostBytes());

        TensorScope s = TensorScope.open();
        Tensor owned = Tensor.zeros(Shape.of(3));
        owned.close();  // closed by hand inside the scope, then by the scope: harmless
        s.close();
        assertDoesNotThrow(s::close);
        assertEquals(before, MemoryStats.liveHostBytes());
    }

    @Test
    void useAfterCloseThrowsIllegalState() {
        Tensor t = Tensor.of(new float[] {1, 2, 3}, 3);
        t.close();
        assertTrue(t.isClosed());
        assertThrows(IllegalStateException.class, t::address);
        assertThrows(IllegalStateException.class, t::floatBuffer);
        assertThrows(IllegalStateException.class, t::toFloatArray);
        assertThrows(IllegalStateException.class, () -> t.getFloat(0));
        assertThrows(IllegalStateException.class, () -> t.setFloat(0, 1f));
        assertThrows(IllegalStateException.class, () -> t.reshape(3, 1));
        assertThrows(IllegalStateException.class, t::copy);
        assertThrows(IllegalStateException.class, t::toFloat32);
        assertThrows(IllegalStateException.class, t::storage);
        try (Tensor dst = Tensor.zeros(Shape.of(3))) {
            assertThrows(IllegalStateException.class, () -> dst.copyFrom(t));
        }
        // a backend reports a closed argument as a bad argument
        assertThrows(IllegalArgumentException.class, () -> Backends.cpu().relu(t));
    }

    @Test
    void copyIsIndependent() {
        try (TensorScope s = TensorScope.open()) {
            Tensor a = Tensor.of(new float[] {1, 2}, 2);
            Tensor b = a.copy();
            b.setFloat(0, 9f);
            assertEquals(1f, a.getFloat(0));
            assertTrue(a.address() != b.address());
            Tensor d = Backends.cpu().toDevice(a);
            assertArrayEquals(a.toFloatArray(), d.toFloatArray());
        }
    }

    // ---------------------------------------------------------------- f16 / bf16

    @Test
    void halfKnownValues() {
        assertEquals(1f, Half.toFloat((short) 0x3c00));
        assertEquals(-2f, Half.toFloat((short) 0xc000));
        assertEquals(65504f, Half.toFloat((short) 0x7bff));
        assertEquals(0x1p-24f, Half.toFloat((short) 0x0001));
        assertEquals(0x1p-14f, Half.toFloat((short) 0x0400));
        assertEquals(Float.POSITIVE_INFINITY, Half.toFloat((short) 0x7c00));
        assertTrue(Float.isNaN(Half.toFloat((short) 0x7e00)));
        assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(Half.toFloat((short) 0x8000)));
        assertEquals((short) 0x3c00, Half.fromFloat(1f));
        assertEquals((short) 0x7c00, Half.fromFloat(65520f), "65520 rounds to +inf");
        assertEquals((short) 0x7bff, Half.fromFloat(65519f));
        assertEquals((short) 0x0000, Half.fromFloat(0x1p-25f), "tie between 0 and the smallest subnormal: even");
        assertEquals((short) 0x0001, Half.fromFloat(Math.nextUp(0x1p-25f)));
        assertEquals((short) 0x3555, Half.fromFloat(1f / 3f));
        assertEquals(1f, Half.bf16ToFloat((short) 0x3f80));
        assertEquals((short) 0x3f80, Half.floatToBf16(1f));
        assertEquals((short) 0x7f80, Half.floatToBf16(Float.MAX_VALUE), "rounds up to +inf");
        assertTrue(Float.isNaN(Half.bf16ToFloat(Half.floatToBf16(Float.NaN))));
    }

    @Test
    void halfRoundTripsEveryBitPattern() {
        for (int bits = 0; bits < 0x10000; bits++) {
            short h = (short) bits;
            float f = Half.toFloat(h);
            if (Float.isNaN(f)) {
                assertTrue(Float.isNaN(Half.toFloat(Half.fromFloat(f))), "f16 NaN " + Integer.toHexString(bits));
                continue;
            }
            if (Half.fromFloat(f) != h) {
                assertEquals(Integer.toHexString(bits), Integer.toHexString(Half.fromFloat(f) & 0xffff), "f16 round trip");
            }
            float bf = Half.bf16ToFloat(h);
            if (Float.isNaN(bf)) {
                assertTrue(Float.isNaN(Half.bf16ToFloat(Half.floatToBf16(bf))));
            } else if (Half.floatToBf16(bf) != h) {
                assertEquals(Integer.toHexString(bits), Integer.toHexString(Half.floatToBf16(bf) & 0xffff), "bf16 round trip");
            }
        }
    }

    @Test
    void halfRoundsToNearestEven() {
        // for each pair of adjacent finite positive f16 values: the midpoint goes to the even one,
        // a float just either side of it goes to the nearer one
        for (int bits = 0; bits < 0x7bff; bits++) {
            float lo = Half.toFloat((short) bits);
            float hi = Half.toFloat((short) (bits + 1));
            float mid = (float) (((double) lo + hi) / 2);  // exact: f16 has 11 bits, float 24
            short even = (short) ((bits & 1) == 0 ? bits : bits + 1);
            assertEquals(even, Half.fromFloat(mid), "midpoint of " + lo + " and " + hi);
            assertEquals((short) bits, Half.fromFloat(Math.nextDown(mid)), "below the midpoint of " + lo);
            assertEquals((short) (bits + 1), Half.fromFloat(Math.nextUp(mid)), "above the midpoint of " + lo);
            assertEquals((short) (bits | 0x8000), Half.fromFloat(-Math.nextDown(mid)), "negative side");
        }
    }

    @Test
    void toFloat32ConvertsF16Bf16AndInt64() {
        float[] values = {0f, 1f, -2.5f, 0.1f, 1000f, -65504f, 0x1p-20f};
        int n = values.length;
        try (TensorScope s = TensorScope.open()) {
            Tensor h = Tensor.empty(Shape.of(n), DType.FLOAT16);
            Tensor b = Tensor.empty(Shape.of(n), DType.BFLOAT16);
            ByteBuffer hb = h.hostBuffer();
            ByteBuffer bb = b.hostBuffer();
            for (int i = 0; i < n; i++) {
                hb.putShort(2 * i, Half.fromFloat(values[i]));
                bb.putShort(2 * i, Half.floatToBf16(values[i]));
            }
            float[] hf = h.toFloat32().toFloatArray();
            float[] bf = b.toFloatArray();  // converts through toFloat32
            for (int i = 0; i < n; i++) {
                assertEquals(Half.toFloat(Half.fromFloat(values[i])), hf[i], "f16 element " + i);
                assertEquals(values[i], hf[i], Math.abs(values[i]) * 0x1p-11f, "f16 keeps 11 bits");
                assertEquals(Half.bf16ToFloat(Half.floatToBf16(values[i])), bf[i], "bf16 element " + i);
                assertEquals(values[i], bf[i], Math.abs(values[i]) * 0x1p-8f, "bf16 keeps 8 bits");
            }
            Tensor l = Tensor.ofLongs(new long[] {3, -7, 1L << 40}, 3);
            assertArrayEquals(new float[] {3f, -7f, (float) (1L << 40)}, l.toFloat32().toFloatArray());
            assertEquals(DType.FLOAT32, h.toFloat32().dtype());
            assertEquals(Shape.of(n), h.toFloat32().shape());
        }
    }
}
