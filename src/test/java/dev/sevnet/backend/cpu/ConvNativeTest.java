package dev.sevnet.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.backend.cpu.CpuBackend.Fp32Precision;
import dev.sevnet.tensor.Tensor;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Native 3-D convolution (every fast path and the im2col fallback) against naive Java loops, plus a
 * finite-difference check of both gradients.
 */
class ConvNativeTest {

    /** Shape of one convolution; the output extents are derived. */
    record Conv(String name, int n, int cin, int t, int h, int w, int cout, int kt, int kh, int kw, int st, int sh,
            int sw, int pt, int ph, int pw, int groups) {
        int to() {
            return (t + 2 * pt - kt) / st + 1;
        }

        int ho() {
            return (h + 2 * ph - kh) / sh + 1;
        }

        int wo() {
            return (w + 2 * pw - kw) / sw + 1;
        }

        int cig() {
            return cin / groups;
        }

        int cog() {
            return cout / groups;
        }

        int[] params() {
            return new int[] {n, cin, t, h, w, cout, kt, kh, kw, st, sh, sw, pt, ph, pw, groups, to(), ho(), wo()};
        }

        int xSize() {
            return n * cin * t * h * w;
        }

        int ySize() {
            return n * cout * to() * ho() * wo();
        }

        int wSize() {
            return cout * cig() * kt * kh * kw;
        }

        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Arguments> shapes() {
        return Stream.of(
                new Conv("1x1x1 N=1", 1, 8, 3, 5, 6, 12, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1),
                new Conv("1x1x1 N=3", 3, 16, 2, 7, 5, 8, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1),
                new Conv("3x1x1 temporal pad 1 N=3", 3, 6, 5, 4, 7, 10, 3, 1, 1, 1, 1, 1, 1, 0, 0, 1),
                new Conv("3x1x1 temporal N=1 groups 2", 1, 8, 4, 3, 5, 6, 3, 1, 1, 1, 1, 1, 1, 0, 0, 2),
                // planes of two column blocks and more (H*W >= 1536) take the frame-ordered units: chunks of the plane,
                // frames in order (forward and backward-data); a chunk count rounded up to the threads at N = 1
                new Conv("3x1x1 temporal large plane N=1", 1, 8, 3, 40, 41, 6, 3, 1, 1, 1, 1, 1, 1, 0, 0, 1),
                new Conv("3x1x1 temporal large plane N=2 groups 2 no pad", 2, 4, 4, 39, 40, 6, 3, 1, 1, 1, 1, 1, 0, 0, 0, 2),
                // fp32's ring of packed frames (forward and backward-data): five taps (slots mod 5, two padded frames
                // each side), a 575-position plane (frame-ordered for the ring alone), K = 88 * 3 (each tap's segment
                // past a 64-row multiple), and K = 260 * 3 past the ring's limit (the shifted GEMM per frame)
                new Conv("5x1x1 temporal large plane pad 2", 1, 3, 7, 40, 40, 13, 5, 1, 1, 1, 1, 1, 2, 0, 0, 1),
                new Conv("3x1x1 temporal ring from 512 positions N=2 groups 2", 2, 6, 4, 23, 25, 10, 3, 1, 1, 1, 1, 1,
                        1, 0, 0, 2),
                new Conv("3x1x1 temporal large plane K 264", 1, 88, 3, 40, 40, 8, 3, 1, 1, 1, 1, 1, 1, 0, 0, 1),
                new Conv("3x1x1 temporal 575 positions K 780", 1, 260, 3, 23, 25, 4, 3, 1, 1, 1, 1, 1, 1, 0, 0, 1),
                // past 2 MFLOP the GEMM convs run on every core: the weight gradients' per-thread partial sums are
                // added and (temporal) transposed in tiles, here off the 32-wide tile (60 x 35 per group)
                new Conv("3x1x1 temporal threaded N=3 groups 2", 3, 40, 4, 5, 6, 70, 3, 1, 1, 1, 1, 1, 1, 0, 0, 2),
                new Conv("1x1x1 threaded N=3 groups 3", 3, 60, 4, 8, 9, 90, 1, 1, 1, 1, 1, 1, 0, 0, 0, 3),
                new Conv("grouped 1x3x3 s1 g2 odd", 2, 8, 3, 7, 9, 8, 1, 3, 3, 1, 1, 1, 0, 1, 1, 4),
                new Conv("grouped 1x3x3 s1 g4 N=1", 1, 16, 2, 9, 11, 16, 1, 3, 3, 1, 1, 1, 0, 1, 1, 4),
                new Conv("grouped 1x3x3 s2 g2 odd N=3", 3, 8, 2, 7, 9, 8, 1, 3, 3, 1, 2, 2, 0, 1, 1, 4),
                new Conv("grouped 1x3x3 s2 g4 odd", 1, 16, 2, 11, 13, 16, 1, 3, 3, 1, 2, 2, 0, 1, 1, 4),
                new Conv("grouped 1x3x3 s2 g4 wide", 1, 8, 1, 5, 75, 8, 1, 3, 3, 1, 2, 2, 0, 1, 1, 2),
                // rows 2..8 vectors wide: every register-blocked width of the backward-weight kernel
                new Conv("grouped 1x3x3 s1 g8 W=30", 2, 16, 1, 3, 30, 16, 1, 3, 3, 1, 1, 1, 0, 1, 1, 2),
                new Conv("grouped 1x3x3 s1 g8 W=56", 1, 16, 2, 3, 56, 16, 1, 3, 3, 1, 1, 1, 0, 1, 1, 2),
                new Conv("grouped 1x3x3 s1 g8 W=70", 1, 16, 1, 4, 70, 16, 1, 3, 3, 1, 1, 1, 0, 1, 1, 2),
                new Conv("grouped 1x3x3 s1 g8 W=90", 1, 16, 1, 3, 90, 16, 1, 3, 3, 1, 1, 1, 0, 1, 1, 2),
                new Conv("grouped 1x3x3 s1 g8 W=112", 1, 16, 1, 3, 112, 16, 1, 3, 3, 1, 1, 1, 0, 1, 1, 2),
                new Conv("grouped 1x3x3 s1 g8 W=130", 1, 16, 1, 2, 130, 16, 1, 3, 3, 1, 1, 1, 0, 1, 1, 2),
                // planes up to 64 wide at stride 1 take the flat-plane path (every stride-1 grouped conv of the model)
                new Conv("grouped 1x3x3 s1 g8 7x7 flat", 2, 64, 2, 7, 7, 64, 1, 3, 3, 1, 1, 1, 0, 1, 1, 8),
                new Conv("grouped 1x3x3 s1 cg16 4x4 flat", 1, 32, 3, 4, 4, 32, 1, 3, 3, 1, 1, 1, 0, 1, 1, 2),
                new Conv("grouped 1x3x3 s1 14x14 flat", 2, 16, 1, 14, 14, 16, 1, 3, 3, 1, 1, 1, 0, 1, 1, 2),
                new Conv("grouped 1x3x3 s1 W=64 flat edge", 1, 16, 1, 3, 64, 16, 1, 3, 3, 1, 1, 1, 0, 1, 1, 2),
                new Conv("grouped 1x3x3 s1 W=65 rows", 1, 16, 1, 3, 65, 16, 1, 3, 3, 1, 1, 1, 0, 1, 1, 2),
                new Conv("grouped 1x5x5 s1 p2 flat", 1, 8, 2, 6, 9, 8, 1, 5, 5, 1, 1, 1, 0, 2, 2, 2),
                new Conv("grouped 1x3x3 s1 p0 flat", 1, 8, 1, 6, 7, 8, 1, 3, 3, 1, 1, 1, 0, 0, 0, 2),
                new Conv("grouped 1x3x2 s1 p(0,1,0) flat", 2, 6, 2, 5, 6, 6, 1, 3, 2, 1, 1, 1, 0, 1, 0, 3),
                new Conv("grouped 1x3x3 s1 cin 2 cout 4 per group flat", 1, 8, 1, 6, 6, 16, 1, 3, 3, 1, 1, 1, 0, 1, 1, 4),
                new Conv("grouped 1x1x3 s1 one row flat", 1, 4, 2, 1, 9, 4, 1, 1, 3, 1, 1, 1, 0, 0, 1, 2),
                // small planes stack frames into one tall plane per item (flat_frames): all of T, or blocks of
                // frames with a short last one (7x7: 6 + 2, 14x14: 2 + 1), the main job's 2x2 and 1x1 planes
                new Conv("grouped 1x3x3 s1 7x7 T=8 stacked 6+2", 2, 16, 8, 7, 7, 16, 1, 3, 3, 1, 1, 1, 0, 1, 1, 4),
                new Conv("grouped 1x3x3 s1 14x14 T=3 stacked 2+1", 1, 8, 3, 14, 14, 8, 1, 3, 3, 1, 1, 1, 0, 1, 1, 2),
                new Conv("grouped 1x3x3 s1 2x2 T=8 stacked", 3, 16, 8, 2, 2, 16, 1, 3, 3, 1, 1, 1, 0, 1, 1, 8),
                new Conv("grouped 1x3x3 s1 1x1 T=5 stacked", 3, 8, 5, 1, 1, 8, 1, 3, 3, 1, 1, 1, 0, 1, 1, 4),
                new Conv("grouped 1x5x5 s1 p2 3x3 T=4 stacked", 2, 8, 4, 3, 3, 8, 1, 5, 5, 1, 1, 1, 0, 2, 2, 2),
                new Conv("grouped 1x3x3 s1 p0 4x5 T=6 stacked", 1, 6, 6, 4, 5, 6, 1, 3, 3, 1, 1, 1, 0, 0, 0, 3),
                // strided convs on the main job's small planes (the row path: phase-split rows, one vector a row)
                new Conv("grouped 1x3x3 s2 8x8", 3, 16, 4, 8, 8, 16, 1, 3, 3, 1, 2, 2, 0, 1, 1, 4),
                new Conv("grouped 1x3x3 s2 2x2", 4, 32, 3, 2, 2, 32, 1, 3, 3, 1, 2, 2, 0, 1, 1, 16),
                new Conv("grouped 1x3x3 s2 1x1 N=1", 1, 8, 2, 1, 1, 8, 1, 3, 3, 1, 2, 2, 0, 1, 1, 4),
                new Conv("grouped 1x3x3 s(1,2) 5x7", 2, 6, 2, 5, 7, 6, 1, 3, 3, 1, 1, 2, 0, 1, 1, 3),
                new Conv("grouped 1x5x5 s2 p2 6x6 cout 4 per group", 2, 4, 3, 6, 6, 8, 1, 5, 5, 1, 2, 2, 0, 2, 2, 2),
                new Conv("grouped 1x3x3 s3 p0 7x9", 1, 8, 2, 7, 9, 8, 1, 3, 3, 1, 3, 3, 0, 0, 0, 2),
                new Conv("stem 1x7x7 s2 p3", 2, 3, 2, 15, 17, 8, 1, 7, 7, 1, 2, 2, 0, 3, 3, 1),
                // the forward's direct path takes up to 64 output channels a group (so does the fp32 weight gradient;
                // backward-data: 16): the model's stem (3 -> 32), a channel count off the 4-channel register block and
                // outputs past one 64-wide chunk (Wo = 75), and a stride-1 flat plane with 24 output channels a group
                new Conv("stem 1x7x7 s2 p3 cout 32", 1, 3, 3, 13, 22, 32, 1, 7, 7, 1, 2, 2, 0, 3, 3, 1),
                new Conv("stem 1x7x7 s2 p3 cout 37 Wo=75", 2, 3, 1, 9, 150, 37, 1, 7, 7, 1, 2, 2, 0, 3, 3, 1),
                new Conv("grouped 1x3x3 s1 cout 24 per group flat", 1, 8, 2, 6, 9, 48, 1, 3, 3, 1, 1, 1, 0, 1, 1, 2),
                new Conv("grouped 1x3x3 s2 cout 64 per group", 2, 16, 2, 7, 9, 128, 1, 3, 3, 1, 2, 2, 0, 1, 1, 2),
                new Conv("dense 3x3x3 pad 1", 2, 4, 4, 5, 6, 5, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1),
                // im2col column chunks: So in [256, 384) with one (sample, group) makes two chunks at any thread
                // count, and 153 output columns is not a whole number of rows of 18: a cut mid-row
                new Conv("im2col stride 3 in W, rows cut mid-row", 1, 3, 1, 17, 53, 4, 1, 3, 5, 1, 1, 3, 0, 1, 2, 1),
                // padding past the kernel: a chunk can end before a row's first in-bounds column (So 522, 2+ chunks)
                new Conv("im2col pad >= kernel, rows cut mid-row", 1, 1, 1, 6, 83, 1, 1, 1, 1, 1, 1, 1, 0, 0, 2, 1),
                // cig * kT = 15 and 5 rows: the AVX-512 build's 8 x 48 tiles (shifted A, 48-wide B^T panels: 100 = 48 + 48 + 4)
                new Conv("temporal on 8x48 tiles Cin 5 Cout 100", 2, 5, 5, 4, 6, 100, 3, 1, 1, 1, 1, 1, 1, 0, 0, 1),
                new Conv("odd 2x3x2 s(2,1,2) p(1,0,1) groups 2 N=3", 3, 4, 5, 6, 7, 6, 2, 3, 2, 2, 1, 2, 1, 0, 1, 2),
                new Conv("odd 2x3x2 s(2,1,2) p(1,0,1) groups 2 N=1", 1, 4, 5, 6, 7, 6, 2, 3, 2, 2, 1, 2, 1, 0, 1, 2))
                .map(Arguments::of);
    }

    // ---------------------------------------------------------------- naive Java references (double sums)
    static int xi(Conv c, int n, int ci, int t, int h, int w) {
        return (((n * c.cin() + ci) * c.t() + t) * c.h() + h) * c.w() + w;
    }

    static int yi(Conv c, int n, int co, int t, int h, int w) {
        return (((n * c.cout() + co) * c.to() + t) * c.ho() + h) * c.wo() + w;
    }

    static int wi(Conv c, int co, int ci, int kt, int kh, int kw) {
        return (((co * c.cig() + ci) * c.kt() + kt) * c.kh() + kh) * c.kw() + kw;
    }

    /** Calls {@code f(n, co, g, ci, to, ho, wo, kt, kh, kw, t, h, w)} for every in-bounds tap. */
    interface Tap {
        void at(int n, int co, int ci, int to, int ho, int wo, int kt, int kh, int kw, int t, int h, int w);
    }

    static void forEachTap(Conv c, Tap f) {
        for (int n = 0; n < c.n(); n++) {
            for (int co = 0; co < c.cout(); co++) {
                int g = co / c.cog();
                for (int to = 0; to < c.to(); to++) {
                    for (int ho = 0; ho < c.ho(); ho++) {
                        for (int wo = 0; wo < c.wo(); wo++) {
                            for (int ci = 0; ci < c.cig(); ci++) {
                                for (int kt = 0; kt < c.kt(); kt++) {
                                    int t = to * c.st() - c.pt() + kt;
                                    if (t < 0 || t >= c.t()) {
                                        continue;
                                    }
                                    for (int kh = 0; kh < c.kh(); kh++) {
                                        int h = ho * c.sh() - c.ph() + kh;
                                        if (h < 0 || h >= c.h()) {
                                            continue;
                                        }
                                        for (int kw = 0; kw < c.kw(); kw++) {
                                            int w = wo * c.sw() - c.pw() + kw;
                                            if (w < 0 || w >= c.w()) {
                                                continue;
                                            }
                                            f.at(n, co, g * c.cig() + ci, to, ho, wo, kt, kh, kw, t, h, w);
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    static double[] refForward(Conv c, float[] x, float[] w, float[] bias, boolean relu) {
        double[] y = new double[c.ySize()];
        forEachTap(c, (n, co, ci, to, ho, wo, kt, kh, kw, t, h, ww) -> y[yi(c, n, co, to, ho, wo)] +=
                (double) x[xi(c, n, ci, t, h, ww)] * w[wi(c, co, ci - (co / c.cog()) * c.cig(), kt, kh, kw)]);
        if (bias != null || relu) {
            int so = c.to() * c.ho() * c.wo();
            for (int i = 0; i < y.length; i++) {
                double v = y[i] + (bias != null ? bias[(i / so) % c.cout()] : 0.0);
                y[i] = relu ? Math.max(0.0, v) : v;
            }
        }
        return y;
    }

    static double[] refBackwardData(Conv c, float[] dy, float[] w) {
        double[] dx = new double[c.xSize()];
        forEachTap(c, (n, co, ci, to, ho, wo, kt, kh, kw, t, h, ww) -> dx[xi(c, n, ci, t, h, ww)] +=
                (double) dy[yi(c, n, co, to, ho, wo)] * w[wi(c, co, ci - (co / c.cog()) * c.cig(), kt, kh, kw)]);
        return dx;
    }

    static double[] refBackwardWeight(Conv c, float[] x, float[] dy) {
        double[] dw = new double[c.wSize()];
        forEachTap(c, (n, co, ci, to, ho, wo, kt, kh, kw, t, h, ww) -> dw[wi(c, co, ci - (co / c.cog()) * c.cig(), kt,
                kh, kw)] += (double) dy[yi(c, n, co, to, ho, wo)] * x[xi(c, n, ci, t, h, ww)]);
        return dw;
    }

    // ---------------------------------------------------------------- native calls
    static float[] random(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (r.nextDouble() * 2 - 1);
        }
        return a;
    }

    static float[] filled(int n, float v) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, v);
        return a;
    }

    static float[] nativeForward(Conv c, float[] x, float[] w, float[] bias, boolean relu, boolean reference) {
        try (Tensor tx = Tensor.of(x, x.length); Tensor tw = Tensor.of(w, w.length);
                Tensor tb = bias == null ? null : Tensor.of(bias, bias.length);
                Tensor ty = Tensor.of(filled(c.ySize(), Float.NaN), c.ySize())) {
            int[] p = c.params();
            long b = tb == null ? 0L : tb.address();
            int rc = reference
                    ? NativeCore.sev_conv3d_forward_reference(tx.address(), tw.address(), b, ty.address(), p, relu ? 1 : 0)
                    : NativeCore.sev_conv3d_forward(tx.address(), tw.address(), b, ty.address(), p, relu ? 1 : 0);
            assertEquals(0, rc);
            return ty.toFloatArray();
        }
    }

    static float[] nativeBackwardData(Conv c, float[] dy, float[] w) {
        try (Tensor tdy = Tensor.of(dy, dy.length); Tensor tw = Tensor.of(w, w.length);
                Tensor tdx = Tensor.of(filled(c.xSize(), Float.NaN), c.xSize())) {
            assertEquals(0, NativeCore.sev_conv3d_backward_data(tdy.address(), tw.address(), tdx.address(), c.params()));
            return tdx.toFloatArray();
        }
    }

    static float[] nativeBackwardWeight(Conv c, float[] x, float[] dy) {
        try (Tensor tx = Tensor.of(x, x.length); Tensor tdy = Tensor.of(dy, dy.length);
                Tensor tdw = Tensor.of(filled(c.wSize(), Float.NaN), c.wSize())) {
            assertEquals(0, NativeCore.sev_conv3d_backward_weight(tx.address(), tdy.address(), tdw.address(), c.params()));
            return tdw.toFloatArray();
        }
    }

    static void assertClose(double[] expected, float[] actual, double rtol, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        double scale = 1e-3;
        for (double e : expected) {
            scale = Math.max(scale, Math.abs(e));
        }
        for (int i = 0; i < expected.length; i++) {
            double err = Math.abs(expected[i] - actual[i]);
            double tol = rtol * (Math.abs(expected[i]) + scale);
            if (!(err <= tol)) {
                throw new AssertionError(what + ": index " + i + " expected " + expected[i] + " got " + actual[i]);
            }
        }
    }

    static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i];
        }
        return d;
    }

    // ---------------------------------------------------------------- tests
    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void forwardMatchesNaive(Conv c) {
        NativeCore.ensureLoaded();
        Random r = new Random(c.name().hashCode());
        float[] x = random(r, c.xSize());
        float[] w = random(r, c.wSize());
        double[] expected = refForward(c, x, w, null, false);
        assertClose(expected, nativeForward(c, x, w, null, false, false), 1e-4, c + " forward");
        assertClose(expected, nativeForward(c, x, w, null, false, true), 1e-4, c + " forward reference");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void forwardBiasReluEpilogue(Conv c) {
        Random r = new Random(c.name().hashCode() + 1);
        float[] x = random(r, c.xSize());
        float[] w = random(r, c.wSize());
        float[] b = random(r, c.cout());
        double[] expected = refForward(c, x, w, b, true);
        assertClose(expected, nativeForward(c, x, w, b, true, false), 1e-4, c + " forward bias+relu");
        assertClose(refForward(c, x, w, b, false), nativeForward(c, x, w, b, false, false), 1e-4, c + " forward bias");
        assertClose(expected, nativeForward(c, x, w, b, true, true), 1e-4, c + " reference bias+relu");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void backwardDataMatchesNaive(Conv c) {
        Random r = new Random(c.name().hashCode() + 2);
        float[] dy = random(r, c.ySize());
        float[] w = random(r, c.wSize());
        assertClose(refBackwardData(c, dy, w), nativeBackwardData(c, dy, w), 1e-4, c + " backward data");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void backwardWeightMatchesNaive(Conv c) {
        Random r = new Random(c.name().hashCode() + 3);
        float[] x = random(r, c.xSize());
        float[] dy = random(r, c.ySize());
        assertClose(refBackwardWeight(c, x, dy), nativeBackwardWeight(c, x, dy), 1e-4, c + " backward weight");
    }

    /**
     * The weight gradients at thread counts other than this machine's (16: more threads than cores): the direct convs'
     * frame parts, and their channel split where the frames run out (N * T = 2); the GEMM convs' reduction parts with
     * dW tiles for the other threads — a dW large against its inputs (256 x 256 over 8 positions a sample; the
     * temporal conv's 96 x 288 over 24) keeps two parts, tiles the rest, the temporal tiles' rows in whole taps; the
     * im2col path's parts and tiles (a tile's rows of the column matrix im2col'd for it alone).
     */
    @ParameterizedTest(name = "{0} threads")
    @ValueSource(ints = {1, 3, 4, 6, 16})
    void backwardWeightAtAnyThreadCount(int threads) {
        Conv[] cs = {
            new Conv("stem 1x7x7 s2 p3 cout 32", 2, 3, 3, 21, 22, 32, 1, 7, 7, 1, 2, 2, 0, 3, 3, 1),
            new Conv("stem N*T = 2", 2, 3, 1, 13, 14, 24, 1, 7, 7, 1, 2, 2, 0, 3, 3, 1),
            new Conv("grouped 1x3x3 s1 flat", 2, 32, 4, 9, 10, 32, 1, 3, 3, 1, 1, 1, 0, 1, 1, 4),
            new Conv("grouped 1x3x3 s2 rows", 2, 32, 3, 15, 17, 32, 1, 3, 3, 1, 2, 2, 0, 1, 1, 2),
            new Conv("1x1x1 256 over 8 positions", 2, 256, 2, 2, 2, 256, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1),
            new Conv("1x1x1 64 wide plane", 3, 64, 2, 12, 13, 48, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1),
            new Conv("3x1x1 96 over 24 positions", 2, 96, 6, 2, 2, 96, 3, 1, 1, 1, 1, 1, 1, 0, 0, 1),
            new Conv("3x1x1 groups 2 wide plane", 2, 40, 5, 9, 11, 30, 3, 1, 1, 1, 1, 1, 1, 0, 0, 2),
            new Conv("dense 3x3x3 im2col", 2, 8, 5, 7, 8, 12, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1),
            new Conv("dense 3x3x3 im2col cout 40: tiles of rows too", 2, 2, 5, 7, 8, 40, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1),
        };
        int before = CpuBackend.numThreads();
        Random r = new Random(threads);
        try {
            CpuBackend.setNumThreads(threads);
            // bf16 compute (where the CPU has it) runs its own GEMMs into the same parts and tiles: operands rounded
            // to bf16, so a looser bound
            for (Fp32Precision precision : Fp32Precision.values()) {
                CpuBackend.setFp32Precision(precision);
                double rtol = precision == Fp32Precision.IEEE ? 1e-4 : 2e-2;
                for (Conv c : cs) {
                    float[] x = random(r, c.xSize());
                    float[] dy = random(r, c.ySize());
                    assertClose(refBackwardWeight(c, x, dy), nativeBackwardWeight(c, x, dy), rtol,
                            c + " backward weight, " + threads + " threads, " + precision);
                }
            }
        } finally {
            CpuBackend.setFp32Precision(Fp32Precision.IEEE);
            CpuBackend.setNumThreads(before);
        }
    }

    /** Model-sized grouped, pointwise and temporal layers (wide rows, many groups) against the native reference. */
    @Test
    void modelSizedLayersMatchReference() {
        Conv[] cs = {
            new Conv("pw 32->32 28x28", 1, 32, 2, 28, 28, 32, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1),
            new Conv("grouped g8 C32 28x28", 1, 32, 2, 28, 28, 32, 1, 3, 3, 1, 1, 1, 0, 1, 1, 4),
            new Conv("grouped g8 C32 s2 70x70", 1, 32, 1, 70, 70, 32, 1, 3, 3, 1, 2, 2, 0, 1, 1, 4),
            new Conv("temporal 32 T4 14x14", 2, 32, 4, 14, 14, 32, 3, 1, 1, 1, 1, 1, 1, 0, 0, 1),
        };
        Random r = new Random(7);
        for (Conv c : cs) {
            float[] x = random(r, c.xSize());
            float[] w = random(r, c.wSize());
            float[] b = random(r, c.cout());
            assertClose(toDouble(nativeForward(c, x, w, b, true, true)), nativeForward(c, x, w, b, true, false), 1e-4,
                    c.name());
        }
    }

    /** Central differences of L = sum(conv(x, w) * r) against backward-data and backward-weight. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("gradShapes")
    void finiteDifferenceGradients(Conv c) {
        Random rnd = new Random(11);
        float[] x = random(rnd, c.xSize());
        float[] w = random(rnd, c.wSize());
        float[] r = random(rnd, c.ySize());
        float[] dx = nativeBackwardData(c, r, w);
        float[] dw = nativeBackwardWeight(c, x, r);
        double eps = 1e-2;
        for (int i = 0; i < x.length; i++) {
            float[] xp = x.clone();
            float[] xm = x.clone();
            xp[i] += (float) eps;
            xm[i] -= (float) eps;
            double fd = (loss(refForward(c, xp, w, null, false), r) - loss(refForward(c, xm, w, null, false), r))
                    / (xp[i] - xm[i]);
            assertEquals(fd, dx[i], 1e-3 * (1 + Math.abs(fd)), c + " dL/dx[" + i + "]");
        }
        for (int i = 0; i < w.length; i++) {
            float[] wp = w.clone();
            float[] wm = w.clone();
            wp[i] += (float) eps;
            wm[i] -= (float) eps;
            double fd = (loss(refForward(c, x, wp, null, false), r) - loss(refForward(c, x, wm, null, false), r))
                    / (wp[i] - wm[i]);
            assertEquals(fd, dw[i], 1e-3 * (1 + Math.abs(fd)), c + " dL/dw[" + i + "]");
        }
        // the native forward agrees with the loss function's forward
        assertClose(refForward(c, x, w, null, false), nativeForward(c, x, w, null, false, false), 1e-4, c + " fwd");
    }

    static Stream<Arguments> gradShapes() {
        return Stream.of(
                new Conv("tiny grouped s2", 2, 4, 2, 5, 5, 4, 1, 3, 3, 1, 2, 2, 0, 1, 1, 2),
                new Conv("tiny temporal", 1, 3, 4, 2, 3, 2, 3, 1, 1, 1, 1, 1, 1, 0, 0, 1),
                new Conv("tiny odd", 2, 2, 3, 4, 4, 2, 2, 2, 3, 2, 1, 2, 1, 1, 1, 1))
                .map(Arguments::of);
    }

    static double loss(double[] y, float[] r) {
        double s = 0;
        for (int i = 0; i < y.length; i++) {
            s += y[i] * r[i];
        }
        return s;
    }

    /** Backward functions overwrite their output: a second call on dirty buffers gives the same result. */
    @Test
    void backwardOverwritesOutputs() {
        Conv c = new Conv("pw", 2, 8, 2, 3, 4, 8, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1);
        Random r = new Random(5);
        float[] x = random(r, c.xSize());
        float[] dy = random(r, c.ySize());
        float[] w = random(r, c.wSize());
        float[] a = nativeBackwardWeight(c, x, dy);
        float[] b = nativeBackwardWeight(c, x, dy);
        for (int i = 0; i < a.length; i++) {
            assertEquals(a[i], b[i], 1e-6f);
        }
        float[] dx = nativeBackwardData(c, dy, w);
        for (float v : dx) {
            assertTrue(Float.isFinite(v));
        }
    }
}
