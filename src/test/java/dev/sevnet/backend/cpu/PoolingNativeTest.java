package dev.sevnet.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The CPU's vectorized 3-d average pooling against its plain loops ({@code sev_avgpool3d_*_reference}), bit for
 * bit: the fast loops promise the same additions per element in the same order (the GPU body, tested against the
 * CPU op in {@code PoolingHostRunTest}, relies on that order too). Values span many binades so that any change of
 * order shows up in the low bits; NaN, infinities, -0 and the extremes are among them.
 */
class PoolingNativeTest {

    /** {n, c, t, h, w}, kernel, stride, padding. */
    private record Case(int[] dims, int[] k, int[] s, int[] p) {
        int[] params() {
            int to = (dims[2] + 2 * p[0] - k[0]) / s[0] + 1;
            int ho = (dims[3] + 2 * p[1] - k[1]) / s[1] + 1;
            int wo = (dims[4] + 2 * p[2] - k[2]) / s[2] + 1;
            int c = dims[1];
            return new int[] {dims[0], c, dims[2], dims[3], dims[4], c, k[0], k[1], k[2], s[0], s[1], s[2], p[0], p[1],
                p[2], c, to, ho, wo};
        }

        @Override
        public String toString() {
            return "x " + java.util.Arrays.toString(dims) + " k " + java.util.Arrays.toString(k) + " s "
                    + java.util.Arrays.toString(s) + " p " + java.util.Arrays.toString(p);
        }
    }

    private static List<Case> cases() {
        List<Case> cases = new ArrayList<>();
        // the model's shortcut pool at SEVNet-G8 sizes (stage 1 to 3 inputs at 8x56x56, batch 1, a few channels)
        int[] k133 = {1, 3, 3}, s122 = {1, 2, 2}, p011 = {0, 1, 1};
        cases.add(new Case(new int[] {1, 3, 8, 56, 56}, k133, s122, p011));
        cases.add(new Case(new int[] {2, 2, 8, 28, 28}, k133, s122, p011));
        cases.add(new Case(new int[] {1, 4, 8, 7, 7}, k133, s122, p011));
        cases.add(new Case(new int[] {1, 2, 3, 57, 35}, k133, s122, p011));
        // the shortcut pool's own path on every small plane: odd and even sides 1..9, one-pixel rows and columns
        for (int h = 1; h <= 9; h++) {
            for (int w = 1; w <= 9; w += (h % 2 == 0 ? 1 : 2)) {
                cases.add(new Case(new int[] {1, 2, 2, h, w}, k133, s122, p011));
            }
        }
        // every kernel 1..3, stride 1..3 and padding 0..k/2 per axis over small ragged sizes
        Random r = new Random(7);
        for (int i = 0; i < 120; i++) {
            int[] k = new int[3], s = new int[3], p = new int[3], d = new int[5];
            d[0] = 1 + r.nextInt(2);
            d[1] = 1 + r.nextInt(3);
            for (int a = 0; a < 3; a++) {
                k[a] = 1 + r.nextInt(3);
                s[a] = 1 + r.nextInt(3);
                p[a] = r.nextInt(k[a] / 2 + 1);
                d[2 + a] = Math.max(k[a] - 2 * p[a], 1) + r.nextInt(a == 2 ? 40 : 9);
            }
            cases.add(new Case(d, k, s, p));
        }
        return cases;
    }

    private static final float[] SPECIALS = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, -0f,
        Float.MIN_VALUE, -Float.MAX_VALUE, Float.MAX_VALUE};

    /** Gaussian values over 24 binades; one element in 97 a special value (NaN, infinities, -0, extremes). */
    private static float[] wideRange(Random r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = r.nextInt(97) == 0 ? SPECIALS[r.nextInt(SPECIALS.length)]
                    : (float) (r.nextGaussian() * Math.scalb(1.0, r.nextInt(24) - 12));
        }
        return v;
    }

    private static void assertSameBits(Tensor want, Tensor got, String what) {
        float[] a = want.toFloatArray();
        float[] b = got.toFloatArray();
        assertEquals(a.length, b.length, what);
        for (int i = 0; i < a.length; i++) {
            // any NaN matches any NaN: x86 returns the first operand's NaN, and a vector add may take its operands
            // either way round
            boolean bothNaN = Float.isNaN(a[i]) && Float.isNaN(b[i]);
            if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i]) && !bothNaN) {
                throw new AssertionError(what + ": element " + i + " is " + b[i] + ", the reference " + a[i]);
            }
        }
    }

    @Test
    void theVectorizedLoopsAreThePlainLoopsBitForBit() {
        Random r = new Random(11);
        int outputsChecked = 0;
        for (Case c : cases()) {
            int[] p = c.params();
            int in = p[0] * p[1] * p[2] * p[3] * p[4];
            int out = p[0] * p[1] * p[16] * p[17] * p[18];
            try (Tensor x = Tensor.of(wideRange(r, in), Shape.of(in));
                    Tensor dy = Tensor.of(wideRange(r, out), Shape.of(out));
                    Tensor yRef = Tensor.full(Shape.of(out), Float.NaN);
                    Tensor y = Tensor.full(Shape.of(out), Float.NaN);
                    Tensor dxRef = Tensor.full(Shape.of(in), Float.NaN);
                    Tensor dx = Tensor.full(Shape.of(in), Float.NaN)) {
                assertEquals(0, NativeCore.sev_avgpool3d_forward_reference(x.address(), yRef.address(), p));
                assertEquals(0, NativeCore.sev_avgpool3d_forward(x.address(), y.address(), p));
                assertSameBits(yRef, y, "forward " + c);
                assertEquals(0, NativeCore.sev_avgpool3d_backward_reference(dy.address(), dxRef.address(), p));
                assertEquals(0, NativeCore.sev_avgpool3d_backward(dy.address(), dx.address(), p));
                assertSameBits(dxRef, dx, "backward " + c);
                outputsChecked += out;
            }
        }
        assertTrue(outputsChecked > 10_000, "cases too small: " + outputsChecked);
    }
}
