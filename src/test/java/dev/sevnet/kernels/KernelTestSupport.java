package dev.sevnet.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Half;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import java.nio.ByteBuffer;
import java.util.Random;

/**
 * Helpers of the host-run kernel tests: host tensors of random data, and comparisons of a kernel body's
 * result (run on the host, {@code NativeCore.sev_hostrun_*}) with the CPU op's. Every tensor is made inside
 * the caller's {@code TensorScope}.
 */
final class KernelTestSupport {
    private KernelTestSupport() {
    }

    static Tensor randn(Random r, long... dims) {
        return randn(r, 1.0, dims);
    }

    static Tensor randn(Random r, double scale, long... dims) {
        Shape s = Shape.of(dims);
        float[] d = new float[Math.toIntExact(s.size())];
        for (int i = 0; i < d.length; i++) {
            d[i] = (float) (scale * r.nextGaussian());
        }
        return Tensor.of(d, s);
    }

    static Tensor uniform(Random r, double lo, double hi, long... dims) {
        Shape s = Shape.of(dims);
        float[] d = new float[Math.toIntExact(s.size())];
        for (int i = 0; i < d.length; i++) {
            d[i] = (float) (lo + (hi - lo) * r.nextDouble());
        }
        return Tensor.of(d, s);
    }

    /** Random values rounded to 16 bits (raw bits, dtype BFLOAT16 or FLOAT16). */
    static Tensor randn16(Random r, DType dt, long... dims) {
        Shape s = Shape.of(dims);
        Tensor t = Tensor.empty(s, dt);
        ByteBuffer b = t.hostBuffer();
        for (int i = 0; i < s.size(); i++) {
            float v = (float) r.nextGaussian();
            b.putShort(2 * i, dt == DType.BFLOAT16 ? Half.floatToBf16(v) : Half.fromFloat(v));
        }
        return t;
    }

    /** A 16-bit tensor of NaN bits: an element left unwritten shows up. */
    static Tensor nan16(DType dt, long... dims) {
        Shape s = Shape.of(dims);
        Tensor t = Tensor.empty(s, dt);
        ByteBuffer b = t.hostBuffer();
        for (int i = 0; i < s.size(); i++) {
            b.putShort(2 * i, dt == DType.BFLOAT16 ? (short) 0x7fc0 : (short) 0x7e00);
        }
        return t;
    }

    /** A tensor of NaN: an output element the code under test forgets to write shows up. */
    static Tensor nan(long... dims) {
        return Tensor.full(Shape.of(dims), Float.NaN);
    }

    static void ok(int rc, String what) {
        assertEquals(0, rc, what + " returned " + rc);
    }

    /** |expected - actual| <= atol + rtol |expected| element by element (NaN never passes, equal values always do). */
    static void assertClose(float[] expected, float[] actual, double rtol, double atol, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            double err = Math.abs((double) expected[i] - actual[i]);
            double tol = atol + rtol * Math.abs(expected[i]);
            if (!(err <= tol) && Float.compare(expected[i], actual[i]) != 0) {
                fail(what + "[" + i + "]: expected " + expected[i] + ", got " + actual[i] + " (error " + err
                        + " > tolerance " + tol + ")");
            }
        }
    }

    static void assertClose(Tensor expected, Tensor actual, double rtol, double atol, String what) {
        assertClose(expected.toFloatArray(), actual.toFloatArray(), rtol, atol, what);
    }

    /** Bit-for-bit equality (the same body, the same order of operations). */
    static void assertBitwise(Tensor expected, Tensor actual, String what) {
        assertClose(expected.toFloatArray(), actual.toFloatArray(), 0, 0, what);
    }

    /** The 19-int parameter block of sevnet.h for a pool or conv (Cout = Cin, groups = 1). */
    static int[] params(int n, int c, int t, int h, int w, int[] k, int[] s, int[] p) {
        int to = (t + 2 * p[0] - k[0]) / s[0] + 1;
        int ho = (h + 2 * p[1] - k[1]) / s[1] + 1;
        int wo = (w + 2 * p[2] - k[2]) / s[2] + 1;
        return new int[] {n, c, t, h, w, c, k[0], k[1], k[2], s[0], s[1], s[2], p[0], p[1], p[2], 1, to, ho, wo};
    }
}
