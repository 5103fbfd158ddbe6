package dev.sevnet.kernels;

import static dev.sevnet.kernels.KernelTestSupport.nan;
import static dev.sevnet.kernels.KernelTestSupport.ok;
import static dev.sevnet.kernels.KernelTestSupport.randn;
import static dev.sevnet.kernels.TemporalConvNdhwcHostRunTest.assertFp32;
import static dev.sevnet.kernels.TemporalConvNdhwcHostRunTest.assertHalf;
import static dev.sevnet.kernels.TemporalConvNdhwcHostRunTest.assertRoundedOnce;
import static dev.sevnet.kernels.TemporalConvNdhwcHostRunTest.bits;
import static dev.sevnet.kernels.TemporalConvNdhwcHostRunTest.expectError;
import static dev.sevnet.kernels.TemporalConvNdhwcHostRunTest.nanBf16;
import static dev.sevnet.kernels.TemporalConvNdhwcHostRunTest.randnBf16;
import static org.junit.jupiter.api.Assertions.fail;

import dev.sevnet.backend.ConvSpec;
import dev.sevnet.backend.cpu.NativeCore;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Half;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The channels-last grouped 1x3x3 conv's kernel bodies (kernels/grouped_conv_ndhwc.cuh: the staged window, chunk by
 * chunk, thread by thread; the split-K backward-weight) run on the host, fp32, bf16 and fp16, against the plain-loop
 * CPU references {@code sev_grouped_conv_ndhwc_*} (sums in double, one rounding per output); the references tied to
 * the NCDHW conv {@code sev_conv3d_*} through the transposes, backward-weight included. Tolerances as in
 * {@link TemporalConvNdhwcHostRunTest} (fp32: the kernel's own fp32 sums; 16-bit: within one ulp of the reference,
 * nearly all bit-equal, and bit for bit the fp32 body on the widened inputs rounded once).
 */
class GroupedConvNdhwcHostRunTest {
    // n, c, cg, t, h, w, s: stride 1 and 2 on odd and even planes, planes of one position, one frame; cg 1, 4, 8, 12
    // (channel chunks 8 + 4), 16 (two chunks; at stride 2 on a large plane the tile shrinks to fit shared memory);
    // widths beyond one tile row (4 columns a thread), heights beyond one tile
    static final int[][] RAGGED = {{1, 4, 4, 1, 3, 5, 1}, {2, 8, 4, 2, 7, 6, 2}, {1, 16, 8, 3, 9, 17, 1},
        {1, 24, 12, 2, 5, 5, 2}, {1, 48, 16, 1, 6, 9, 2}, {2, 3, 1, 2, 4, 4, 1}, {1, 24, 8, 2, 1, 1, 1},
        {1, 8, 8, 5, 2, 33, 2}, {1, 32, 16, 2, 40, 40, 2}, {1, 16, 16, 1, 37, 70, 1}, {1, 8, 8, 3, 1, 2, 2},
        {2, 6, 3, 3, 11, 3, 1}};
    // SEVNet-G8's grouped convs (8 channels a group) at each stage's width, stride 1 and the downsample blocks' 2
    static final int[][] G8 = {{2, 64, 8, 2, 8, 8, 1}, {1, 32, 8, 2, 16, 16, 2}, {1, 64, 8, 2, 9, 9, 2},
        {2, 128, 8, 2, 6, 6, 1}, {1, 256, 8, 2, 4, 5, 1}, {1, 512, 8, 2, 3, 3, 1}, {1, 256, 8, 2, 7, 7, 2}};

    static int[][] allShapes() {
        int[][] all = Arrays.copyOf(RAGGED, RAGGED.length + G8.length);
        System.arraycopy(G8, 0, all, RAGGED.length, G8.length);
        return all;
    }

    static int out(int size, int s) {
        return (size - 1) / s + 1;
    }

    static String name(int[] s) {
        return Arrays.toString(s);
    }

    // ---- fp16 host tensors (raw bits) ----

    static Tensor randnF16(Random r, long... dims) {
        return KernelTestSupport.randn16(r, DType.FLOAT16, dims);
    }

    static Tensor nanF16(long... dims) {
        return KernelTestSupport.nan16(DType.FLOAT16, dims);
    }

    /** fp16 = round_fp16(fp32) element by element, bit for bit. */
    static void assertRoundedOnceF16(Tensor fp32, Tensor f16, String what) {
        float[] f = fp32.toFloatArray();
        short[] b = bits(f16);
        for (int i = 0; i < f.length; i++) {
            if (Half.fromFloat(f[i]) != b[i]) {
                fail(what + "[" + i + "]: fp32 body " + f[i] + ", fp16 body gave " + Half.toFloat(b[i]));
            }
        }
    }

    // ---- fp32 ----

    @Test
    void fp32ForwardAndBackwardDataMatchTheReferences() {
        Random r = new Random(41);
        for (int[] s : allShapes()) {
            int n = s[0], c = s[1], cg = s[2], t = s[3], h = s[4], w = s[5], st = s[6];
            int ho = out(h, st), wo = out(w, st);
            try (TensorScope scope = TensorScope.open()) {
                Tensor x = randn(r, n, t, h, w, c);
                Tensor dy = randn(r, n, t, ho, wo, c);
                Tensor wk = randn(r, c, 3, 3, cg);
                Tensor ref = nan(n, t, ho, wo, c);
                Tensor y = nan(n, t, ho, wo, c);
                ok(NativeCore.sev_grouped_conv_ndhwc_forward(x.address(), wk.address(), ref.address(), n, c, cg, t, h,
                        w, st, 0), "reference");
                ok(NativeCore.sev_hostrun_grouped_conv_ndhwc_forward(x.address(), wk.address(), 0L, 0L, 0, y.address(), n, c, cg,
                        t, h, w, st, 0), "hostrun");
                assertFp32(ref, y, "fp32 forward " + name(s));
                Tensor dref = nan(n, t, h, w, c);
                Tensor dx = nan(n, t, h, w, c);
                ok(NativeCore.sev_grouped_conv_ndhwc_backward_data(dy.address(), wk.address(), dref.address(), n, c,
                        cg, t, h, w, st, 0), "reference");
                ok(NativeCore.sev_hostrun_grouped_conv_ndhwc_backward_data(dy.address(), wk.address(), dx.address(), n,
                        c, cg, t, h, w, st, 0), "hostrun");
                assertFp32(dref, dx, "fp32 backward data " + name(s));
            }
        }
    }

    // ---- 16-bit ----

    @Test
    void sixteenBitMatchesTheReferencesAndIsTheFp32BodyRoundedOnce() {
        Random r = new Random(42);
        for (int dtype : new int[] {1, 2}) {
            boolean bf = dtype == 1;
            for (int[] s : allShapes()) {
                int n = s[0], c = s[1], cg = s[2], t = s[3], h = s[4], w = s[5], st = s[6];
                int ho = out(h, st), wo = out(w, st);
                String what = (bf ? "bf16 " : "fp16 ") + name(s);
                try (TensorScope scope = TensorScope.open()) {
                    Tensor x = bf ? randnBf16(r, n, t, h, w, c) : randnF16(r, n, t, h, w, c);
                    Tensor dy = bf ? randnBf16(r, n, t, ho, wo, c) : randnF16(r, n, t, ho, wo, c);
                    Tensor wk = bf ? randnBf16(r, c, 3, 3, cg) : randnF16(r, c, 3, 3, cg);
                    Tensor ref = bf ? nanBf16(n, t, ho, wo, c) : nanF16(n, t, ho, wo, c);
                    Tensor y = bf ? nanBf16(n, t, ho, wo, c) : nanF16(n, t, ho, wo, c);
                    ok(NativeCore.sev_grouped_conv_ndhwc_forward(x.address(), wk.address(), ref.address(), n, c, cg, t,
                            h, w, st, dtype), "reference");
                    ok(NativeCore.sev_hostrun_grouped_conv_ndhwc_forward(x.address(), wk.address(), 0L, 0L, 0, y.address(), n, c,
                            cg, t, h, w, st, dtype), "hostrun");
                    Tensor dref = bf ? nanBf16(n, t, h, w, c) : nanF16(n, t, h, w, c);
                    Tensor dx = bf ? nanBf16(n, t, h, w, c) : nanF16(n, t, h, w, c);
                    ok(NativeCore.sev_grouped_conv_ndhwc_backward_data(dy.address(), wk.address(), dref.address(), n,
                            c, cg, t, h, w, st, dtype), "reference");
                    ok(NativeCore.sev_hostrun_grouped_conv_ndhwc_backward_data(dy.address(), wk.address(),
                            dx.address(), n, c, cg, t, h, w, st, dtype), "hostrun");
                    DType dt = bf ? DType.BFLOAT16 : DType.FLOAT16;
                    assertHalf(ref, y, dt, what + " forward");
                    assertHalf(dref, dx, dt, what + " backward data");
                    // the fp32 body on the widened inputs: the same sums in the same order, rounded once
                    Tensor y32 = nan(n, t, ho, wo, c);
                    Tensor dx32 = nan(n, t, h, w, c);
                    ok(NativeCore.sev_hostrun_grouped_conv_ndhwc_forward(x.toFloat32().address(), wk.toFloat32().address(), 0L, 0L, 0, y32.address(), n, c, cg, t, h, w, st, 0), "hostrun fp32");
                    ok(NativeCore.sev_hostrun_grouped_conv_ndhwc_backward_data(dy.toFloat32().address(),
                            wk.toFloat32().address(), dx32.address(), n, c, cg, t, h, w, st, 0), "hostrun fp32");
                    if (bf) {
                        assertRoundedOnce(y32, y, what + " forward vs the fp32 body");
                        assertRoundedOnce(dx32, dx, what + " backward data vs the fp32 body");
                    } else {
                        assertRoundedOnceF16(y32, y, what + " forward vs the fp32 body");
                        assertRoundedOnceF16(dx32, dx, what + " backward data vs the fp32 body");
                    }
                }
            }
        }
    }

    // ---- the forward's epilogue ----

    /**
     * y = act((conv + bias) + residual) in the kernel's store: in fp32 bit for bit the plain kernel followed by the
     * epilogue kernel's reference ({@code sev_bias_act_ndhwc}); in 16 bits that fp32 result (on the widened inputs)
     * rounded once — where the two-kernel sequence rounds twice.
     */
    @Test
    void theForwardEpilogueIsBiasResidualReluOnTheFp32Sum() {
        Random r = new Random(45);
        int[][] shapes = {{2, 16, 8, 2, 9, 11, 1}, {1, 24, 12, 2, 7, 5, 2}, {1, 64, 8, 2, 6, 6, 1}};
        for (int[] s : shapes) {
            int n = s[0], c = s[1], cg = s[2], t = s[3], h = s[4], w = s[5], st = s[6];
            int ho = out(h, st), wo = out(w, st);
            long m = (long) n * t * ho * wo;
            try (TensorScope scope = TensorScope.open()) {
                Tensor x = randn(r, n, t, h, w, c);
                Tensor wk = randn(r, 0.3, c, 3, 3, cg);
                Tensor bias = randn(r, c);
                Tensor res = randn(r, n, t, ho, wo, c);
                for (int relu : new int[] {0, 1}) {
                    Tensor fused = nan(n, t, ho, wo, c);
                    Tensor composed = nan(n, t, ho, wo, c);
                    ok(NativeCore.sev_hostrun_grouped_conv_ndhwc_forward(x.address(), wk.address(), bias.address(),
                            res.address(), relu, fused.address(), n, c, cg, t, h, w, st, 0), "fused");
                    ok(NativeCore.sev_hostrun_grouped_conv_ndhwc_forward(x.address(), wk.address(), 0L, 0L, 0,
                            composed.address(), n, c, cg, t, h, w, st, 0), "plain");
                    ok(NativeCore.sev_bias_act_ndhwc(composed.address(), bias.address(), res.address(), m, c, relu, 0),
                            "epilogue reference");
                    KernelTestSupport.assertBitwise(composed, fused, "fp32 epilogue relu=" + relu + " " + name(s));
                    // bias alone, no ReLU: the folded model's conv before a residual it does not have
                    ok(NativeCore.sev_hostrun_grouped_conv_ndhwc_forward(x.address(), wk.address(), bias.address(), 0L,
                            0, fused.address(), n, c, cg, t, h, w, st, 0), "bias only");
                    ok(NativeCore.sev_hostrun_grouped_conv_ndhwc_forward(x.address(), wk.address(), 0L, 0L, 0,
                            composed.address(), n, c, cg, t, h, w, st, 0), "plain");
                    ok(NativeCore.sev_bias_act_ndhwc(composed.address(), bias.address(), 0L, m, c, 0, 0), "bias ref");
                    KernelTestSupport.assertBitwise(composed, fused, "fp32 bias only " + name(s));
                }
                for (DType dt : new DType[] {DType.BFLOAT16, DType.FLOAT16}) {
                    int code = dt == DType.BFLOAT16 ? 1 : 2;
                    Tensor x16 = KernelTestSupport.randn16(r, dt, n, t, h, w, c);
                    Tensor w16 = KernelTestSupport.randn16(r, dt, c, 3, 3, cg);
                    Tensor res16 = KernelTestSupport.randn16(r, dt, n, t, ho, wo, c);
                    Tensor y16 = KernelTestSupport.nan16(dt, n, t, ho, wo, c);
                    ok(NativeCore.sev_hostrun_grouped_conv_ndhwc_forward(x16.address(), w16.address(), bias.address(),
                            res16.address(), 1, y16.address(), n, c, cg, t, h, w, st, code), "fused 16-bit");
                    Tensor y32 = nan(n, t, ho, wo, c);
                    ok(NativeCore.sev_hostrun_grouped_conv_ndhwc_forward(x16.toFloat32().address(),
                            w16.toFloat32().address(), bias.address(), res16.toFloat32().address(), 1, y32.address(), n,
                            c, cg, t, h, w, st, 0), "fused fp32 on the widened inputs");
                    if (dt == DType.BFLOAT16) {
                        assertRoundedOnce(y32, y16, "bf16 epilogue " + name(s));
                    } else {
                        assertRoundedOnceF16(y32, y16, "fp16 epilogue " + name(s));
                    }
                }
            }
        }
    }

    // ---- backward-weight (dw fp32 in every storage type) ----

    @Test
    void backwardWeightMatchesTheReferenceAndThe16BitBodyIsTheFp32One() {
        Random r = new Random(44);
        for (int dtype : new int[] {0, 1, 2}) {
            for (int[] s : allShapes()) {
                int n = s[0], c = s[1], cg = s[2], t = s[3], h = s[4], w = s[5], st = s[6];
                int ho = out(h, st), wo = out(w, st);
                String what = "dtype " + dtype + " backward weight " + name(s);
                try (TensorScope scope = TensorScope.open()) {
                    Tensor x = dtype == 0 ? randn(r, n, t, h, w, c) : dtype == 1 ? randnBf16(r, n, t, h, w, c)
                            : randnF16(r, n, t, h, w, c);
                    Tensor dy = dtype == 0 ? randn(r, n, t, ho, wo, c) : dtype == 1 ? randnBf16(r, n, t, ho, wo, c)
                            : randnF16(r, n, t, ho, wo, c);
                    Tensor ref = nan(c, 3, 3, cg);
                    Tensor dw = nan(c, 3, 3, cg);
                    ok(NativeCore.sev_grouped_conv_ndhwc_backward_weight(x.address(), dy.address(), ref.address(), n, c,
                            cg, t, h, w, st, dtype), "reference");
                    ok(NativeCore.sev_hostrun_grouped_conv_ndhwc_backward_weight(x.address(), dy.address(),
                            dw.address(), n, c, cg, t, h, w, st, dtype), "hostrun");
                    assertFp32(ref, dw, what);
                    if (dtype != 0) {
                        // the same products (exact in fp32) and sums in the same order: the same bits
                        Tensor dw32 = nan(c, 3, 3, cg);
                        ok(NativeCore.sev_hostrun_grouped_conv_ndhwc_backward_weight(x.toFloat32().address(),
                                dy.toFloat32().address(), dw32.address(), n, c, cg, t, h, w, st, 0), "hostrun fp32");
                        KernelTestSupport.assertBitwise(dw32, dw, what + " vs the fp32 body");
                    }
                }
            }
        }
        // no positions: a zero gradient, x and dy not read
        try (TensorScope scope = TensorScope.open()) {
            Tensor dw = nan(8, 3, 3, 4);
            ok(NativeCore.sev_hostrun_grouped_conv_ndhwc_backward_weight(0L, 0L, dw.address(), 0, 8, 4, 2, 3, 3, 1, 0),
                    "empty");
            KernelTestSupport.assertBitwise(Tensor.zeros(Shape.of(8, 3, 3, 4)), dw, "empty dw");
        }
    }

    // ---- the references tied to the NCDHW conv ----

    @Test
    void transposedTheReferencesAreTheNcdhwConv() {
        Random r = new Random(43);
        int[][] shapes = {{2, 8, 4, 2, 5, 7, 1}, {1, 16, 8, 3, 6, 6, 2}, {1, 24, 12, 1, 7, 4, 2}, {2, 3, 1, 2, 3, 3, 1}};
        for (int[] s : shapes) {
            int n = s[0], c = s[1], cg = s[2], t = s[3], h = s[4], w = s[5], st = s[6];
            int ho = out(h, st), wo = out(w, st);
            long in = (long) t * h * w, outS = (long) t * ho * wo;
            ConvSpec spec = ConvSpec.builder().kernel(1, 3, 3).stride(1, st, st).padding(0, 1, 1).groups(c / cg)
                    .build();
            try (TensorScope scope = TensorScope.open()) {
                Tensor x = randn(r, n, c, t, h, w);
                Tensor dy = randn(r, n, c, t, ho, wo);
                Tensor wt = randn(r, c, cg, 1, 3, 3);
                int[] p = spec.nativeParams(x.shape(), c);
                Tensor y = nan(n, c, t, ho, wo);
                ok(NativeCore.sev_conv3d_forward(x.address(), wt.address(), 0L, y.address(), p, 0), "conv3d forward");
                Tensor dx = nan(n, c, t, h, w);
                ok(NativeCore.sev_conv3d_backward_data(dy.address(), wt.address(), dx.address(), p), "conv3d bwd data");
                Tensor dw = nan(c, cg, 1, 3, 3);
                ok(NativeCore.sev_conv3d_backward_weight(x.address(), dy.address(), dw.address(), p), "conv3d bwd w");

                Tensor xl = nan(n, t, h, w, c);
                Tensor dyl = nan(n, t, ho, wo, c);
                Tensor wk = nan(c, 3, 3, cg);
                ok(NativeCore.sev_ncdhw_to_ndhwc(x.address(), xl.address(), n, c, in), "x to NDHWC");
                ok(NativeCore.sev_ncdhw_to_ndhwc(dy.address(), dyl.address(), n, c, outS), "dy to NDHWC");
                ok(NativeCore.sev_ncdhw_to_ndhwc(wt.address(), wk.address(), c, cg, 9), "w to KTRSC");
                Tensor yl = nan(n, t, ho, wo, c);
                Tensor dxl = nan(n, t, h, w, c);
                Tensor dwk = nan(c, 3, 3, cg);
                ok(NativeCore.sev_grouped_conv_ndhwc_forward(xl.address(), wk.address(), yl.address(), n, c, cg, t, h,
                        w, st, 0), "reference forward");
                ok(NativeCore.sev_grouped_conv_ndhwc_backward_data(dyl.address(), wk.address(), dxl.address(), n, c,
                        cg, t, h, w, st, 0), "reference backward data");
                ok(NativeCore.sev_grouped_conv_ndhwc_backward_weight(xl.address(), dyl.address(), dwk.address(), n, c,
                        cg, t, h, w, st, 0), "reference backward weight");
                Tensor yb = nan(n, c, t, ho, wo);
                Tensor dxb = nan(n, c, t, h, w);
                Tensor dwb = nan(c, cg, 1, 3, 3);
                ok(NativeCore.sev_ndhwc_to_ncdhw(yl.address(), yb.address(), n, c, outS), "y to NCDHW");
                ok(NativeCore.sev_ndhwc_to_ncdhw(dxl.address(), dxb.address(), n, c, in), "dx to NCDHW");
                ok(NativeCore.sev_ndhwc_to_ncdhw(dwk.address(), dwb.address(), c, cg, 9), "dw to NCDHW");
                assertFp32(y, yb, "forward vs sev_conv3d_forward " + name(s));
                assertFp32(dx, dxb, "backward data vs sev_conv3d_backward_data " + name(s));
                assertFp32(dw, dwb, "backward weight vs sev_conv3d_backward_weight " + name(s));
            }
        }
    }

    // ---- arguments ----

    /** What the launchers refuse, the host drivers and the references refuse the same way: SEV_EINVAL and why. */
    @Test
    void badArgumentsAreErrorsWithAMessage() {
        try (TensorScope scope = TensorScope.open()) {
            long a = nan(4096).address(), b = nan(4096).address(), o = nan(4096).address();
            // n, c, cg, t, h, w, s, dtype, the reason expected
            Object[][] bad = {{-1, 8, 8, 1, 3, 3, 1, 0, "negative size"}, {1, 8, 0, 1, 3, 3, 1, 0, "per group"},
                {1, 8, 17, 1, 3, 3, 1, 0, "per group"}, {1, 12, 8, 1, 3, 3, 1, 0, "multiple"},
                {1, 8, 8, 1, 3, 3, 3, 0, "stride"}, {1, 8, 8, 1, 3, 3, 1, 3, "dtype"},
                {65536, 8, 8, 1, 1, 1, 1, 0, "65535 items"}, {1, 65536 * 2, 1, 1, 1, 1, 1, 0, "groups"}};
            for (Object[] e : bad) {
                int[] v = new int[8];
                for (int i = 0; i < 8; i++) {
                    v[i] = (Integer) e[i];
                }
                String why = (String) e[8];
                expectError(NativeCore.sev_hostrun_grouped_conv_ndhwc_forward(a, b, 0L, 0L, 0, o, v[0], v[1], v[2], v[3], v[4],
                        v[5], v[6], v[7]), "grouped_conv_ndhwc_forward", why);
                expectError(NativeCore.sev_hostrun_grouped_conv_ndhwc_backward_data(a, b, o, v[0], v[1], v[2], v[3],
                        v[4], v[5], v[6], v[7]), "grouped_conv_ndhwc_backward_data", why);
                expectError(NativeCore.sev_grouped_conv_ndhwc_forward(a, b, o, v[0], v[1], v[2], v[3], v[4], v[5],
                        v[6], v[7]), "grouped_conv_ndhwc_forward", why);
                expectError(NativeCore.sev_hostrun_grouped_conv_ndhwc_backward_weight(a, b, o, v[0], v[1], v[2], v[3],
                        v[4], v[5], v[6], v[7]), "grouped_conv_ndhwc_backward_weight", why);
            }
            expectError(NativeCore.sev_hostrun_grouped_conv_ndhwc_forward(a, 0L, 0L, 0L, 0, o, 1, 8, 8, 1, 3, 3, 1, 0),
                    "grouped_conv_ndhwc_forward", "NULL pointer");
            expectError(NativeCore.sev_grouped_conv_ndhwc_backward_weight(a, b, 0L, 1, 8, 8, 1, 3, 3, 1, 0),
                    "grouped_conv_ndhwc_backward_weight", "NULL pointer");
            // nothing to compute: no pointer is read
            ok(NativeCore.sev_hostrun_grouped_conv_ndhwc_forward(0L, 0L, 0L, 0L, 0, 0L, 0, 8, 8, 1, 3, 3, 1, 0), "empty");
        }
    }
}
