package dev.sevnet.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.sevnet.autograd.GradMode;
import dev.sevnet.autograd.Var;
import dev.sevnet.backend.ConvSpec;
import dev.sevnet.backend.cpu.CpuBackend.Bf16Kernel;
import dev.sevnet.backend.cpu.CpuBackend.Fp32Precision;
import dev.sevnet.infer.FoldedSevNet;
import dev.sevnet.nn.SevNet;
import dev.sevnet.nn.SevNetConfig;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.Random;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The CPU's bf16 fp32 precision ({@link CpuBackend#setFp32Precision}), on each bf16 kernel the CPU has (AMX-BF16,
 * AVX512-BF16; {@link CpuBackend#setBf16Kernel}): the GEMM ({@code sev_sgemm_bf16}) against
 * a reference on the operands rounded to bf16 (nearest even) with double sums, within 2^-20 of each output's sum of
 * |terms| — the fp32 accumulation's rounding, nothing of bf16 beyond the operands' — over ragged sizes (M, N, K not
 * multiples of the 32 x 32 blocks, 16-wide B columns or the 256-column blocks; K = 1), leading dimensions past the
 * sizes, beta 0 and not; the pointwise and temporal convolutions (both temporal paths, bias + ReLU, the residual, the
 * eval batch norm in the epilogue) and their backward passes (data, weight) against the IEEE convolutions on rounded
 * operands with the same bound (the weight gradients' long sums scaled by sqrt(length) / 8); a folded
 * SEVNet's logits near IEEE's. A kernel the CPU lacks (or the ISA capped below AVX-512: the ISA reruns) is refused;
 * with none (kernel NONE) the GEMM is SEV_EUNSUPPORTED and BF16 computes exactly as IEEE.
 */
class Bf16PrecisionTest {
    static final CpuBackend CPU = CpuBackend.get();
    static final ConvSpec TEMPORAL = ConvSpec.builder().kernel(3, 1, 1).padding(1, 0, 0).build();

    @AfterEach
    void restore() {
        CpuBackend.setFp32Precision(Fp32Precision.IEEE);
        CpuBackend.useBestBf16Kernel();
    }

    /** Selects {@code k} where the CPU has it; where not, checks the refusal and skips the rest of the test. */
    static void use(Bf16Kernel k) {
        if (!CpuBackend.bf16KernelAvailable(k)) {
            assertThrows(UnsupportedOperationException.class, () -> CpuBackend.setBf16Kernel(k));
            assertEquals(-4, NativeCore.sev_set_bf16_kernel(k.ordinal()), "SEV_EUNSUPPORTED");
        }
        // the numbers need the instructions: on a CPU without them (and in the ISA-capped reruns) only the refusal
        assumeTrue(CpuBackend.bf16KernelAvailable(k), "no " + k + " on this CPU (or the ISA is capped)");
        CpuBackend.setBf16Kernel(k);
        assertEquals(k, CpuBackend.bf16Kernel());
    }

    static float bf16(float f) {
        if (!Float.isFinite(f)) {
            return f;
        }
        int u = Float.floatToRawIntBits(f);
        u = (u + 0x7fff + ((u >>> 16) & 1)) & 0xffff0000;
        return Float.intBitsToFloat(u);
    }

    static float[] rounded(float[] a) {
        float[] out = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = bf16(a[i]);
        }
        return out;
    }

    static float[] abs(float[] a) {
        float[] out = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = Math.abs(a[i]);
        }
        return out;
    }

    /** The largest factor the eval batch norm's epilogue (gamma, variance 0.8) multiplies an output's terms by. */
    static double epilogueScale(Tensor gamma) {
        double scale = 1;
        for (float g : gamma.toFloatArray()) {
            scale = Math.max(scale, (1 + Math.abs(g)) / Math.sqrt(0.8 + 1e-5));
        }
        return scale;
    }

    static float[] randn(Random r, int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (scale * r.nextGaussian());
        }
        return a;
    }

    @Test
    void withoutAKernelTheGemmIsRefusedAndBf16IsIeee() {
        CpuBackend.setBf16Kernel(Bf16Kernel.NONE);
        assertTrue(CpuBackend.bf16KernelAvailable(Bf16Kernel.NONE));
        try (TensorScope scope = TensorScope.open()) {
            Tensor a = Tensor.zeros(Shape.of(4, 4));
            assertEquals(-4, NativeCore.sev_sgemm_bf16(0, 4, 4, 4, a.address(), 4, a.address(), 4, 0f, a.address(), 4),
                    "no bf16 kernel: SEV_EUNSUPPORTED");
        }
        CpuBackend.setFp32Precision(Fp32Precision.BF16);
        assertEquals(Fp32Precision.IEEE, CpuBackend.effectiveFp32Precision());
        CpuBackend.useBestBf16Kernel();
        Bf16Kernel best = CpuBackend.bf16KernelAvailable(Bf16Kernel.AMX_BF16) ? Bf16Kernel.AMX_BF16
                : CpuBackend.bf16KernelAvailable(Bf16Kernel.AVX512_BF16) ? Bf16Kernel.AVX512_BF16 : Bf16Kernel.NONE;
        assertEquals(best, CpuBackend.bf16Kernel(), "the default is the best kernel the CPU has");
        assertEquals(-1, NativeCore.sev_set_bf16_kernel(3), "a bad value is SEV_EINVAL");
        assertEquals(best, CpuBackend.bf16Kernel(), "and changes nothing");
        assertEquals(Bf16Kernel.AVX512_BF16, Bf16Kernel.parse(" AVX512 "));
        assertEquals(Bf16Kernel.AMX_BF16, Bf16Kernel.parse("amx-bf16"));
        assertThrows(IllegalArgumentException.class, () -> Bf16Kernel.parse("avx2"));
    }

    @ParameterizedTest
    @EnumSource(names = {"AVX512_BF16", "AMX_BF16"})
    void theGemmIsTheBf16RoundedProductsSummedInFp32(Bf16Kernel kernel) {
        use(kernel);
        Random r = new Random(11);
        // K past 2048: the K chunks, C accumulated across them
        int[][] sizes = {{1, 1, 1}, {17, 5, 3}, {31, 33, 65}, {32, 32, 32}, {33, 15, 1}, {61, 300, 45},
            {64, 392, 768}, {16, 1000, 32}, {100, 257, 96}, {40, 50, 2600}};
        for (int[] s : sizes) {
            for (int variant = 0; variant < 4; variant++) {
                int pad = variant & 1;
                boolean tb = variant >= 2;
                int m = s[0], n = s[1], k = s[2];
                int lda = k + 3 * pad, ldb = (tb ? k : n) + 5 * pad, ldc = n + 7 * pad;
                float beta = pad == 0 ? 0f : variant == 3 ? 1f : 0.5f;
                float[] a = randn(r, m * lda, 1), b = randn(r, (tb ? n : k) * ldb, 1), c0 = randn(r, m * ldc, 1);
                try (TensorScope scope = TensorScope.open()) {
                    Tensor ta = Tensor.of(a, m * lda), tbt = Tensor.of(b, b.length), tc = Tensor.of(c0, m * ldc);
                    assertEquals(0, NativeCore.sev_sgemm_bf16(tb ? 1 : 0, m, n, k, ta.address(), lda, tbt.address(),
                            ldb, beta, tc.address(), ldc), NativeCore.sev_last_error());
                    float[] c = tc.toFloatArray();
                    for (int i = 0; i < m; i++) {
                        for (int j = 0; j < ldc; j++) {
                            String at = "[" + m + "x" + n + "x" + k + (tb ? " B^T" : "") + " pad " + pad + "] (" + i
                                    + ", " + j + ")";
                            if (j >= n) {
                                assertEquals(c0[i * ldc + j], c[i * ldc + j], 0f, "outside C written " + at);
                                continue;
                            }
                            double sum = 0, mag = 0;
                            for (int q = 0; q < k; q++) {
                                double t = (double) bf16(a[i * lda + q]) * bf16(tb ? b[j * ldb + q] : b[q * ldb + j]);
                                sum += t;
                                mag += Math.abs(t);
                            }
                            double expected = sum + beta * c0[i * ldc + j];
                            double bound = 0x1p-20 * (mag + Math.abs(beta * c0[i * ldc + j])) + 1e-30;
                            assertTrue(Math.abs(c[i * ldc + j] - expected) <= bound,
                                    at + ": " + c[i * ldc + j] + " vs " + expected + " (bound " + bound + ")");
                        }
                    }
                }
            }
        }
        try (TensorScope scope = TensorScope.open()) {
            Tensor a = Tensor.zeros(Shape.of(4, 4));
            assertEquals(-1, NativeCore.sev_sgemm_bf16(0, 4, 4, 4, a.address(), 3, a.address(), 4, 0f, a.address(), 4),
                    "lda < K");
            assertEquals(-1, NativeCore.sev_sgemm_bf16(1, 4, 4, 5, a.address(), 5, a.address(), 4, 0f, a.address(), 4),
                    "B^T: ldb < K");
        }
    }

    /** {x, w, bias, residual} of a conv case, x and w rounded to bf16 too (the reference's operands). */
    record Case(String name, Shape xs, int cout, ConvSpec spec) {
        /** The forward on the direct path (kT 1, a spatial kernel): bf16 with the AVX512-BF16 kernel only. */
        boolean direct() {
            return spec.kT() == 1 && spec.kH() * spec.kW() > 1;
        }
    }

    static final Case[] CASES = {
        new Case("pointwise", Shape.of(2, 12, 3, 7, 9), 20, ConvSpec.of(1)),
        new Case("pointwise, model-sized", Shape.of(1, 64, 4, 28, 28), 64, ConvSpec.of(1)),
        new Case("pointwise, 300 columns", Shape.of(1, 33, 1, 10, 30), 70, ConvSpec.of(1)),
        new Case("temporal", Shape.of(2, 16, 5, 6, 7), 16, TEMPORAL),
        new Case("temporal, model-sized", Shape.of(1, 64, 8, 28, 28), 64, TEMPORAL),
        new Case("temporal, large plane (frame-ordered)", Shape.of(1, 8, 3, 40, 41), 12, TEMPORAL),
        // the weights are rounded once a call (Bf16Weights): a group's rows start mid-block (12, 15, ...) and a
        // block's rows past its group read the next group's; K past one chunk (2048) reads the rounded rows in pieces
        new Case("pointwise, 3 groups", Shape.of(2, 24, 3, 5, 6), 36, ConvSpec.builder().groups(3).build()),
        new Case("temporal, 2 groups", Shape.of(2, 20, 4, 5, 5), 30,
                ConvSpec.builder().kernel(3, 1, 1).padding(1, 0, 0).groups(2).build()),
        new Case("temporal, K = 2100 forward", Shape.of(1, 700, 3, 2, 3), 40, TEMPORAL),
        new Case("temporal, K = 2100 backward-data", Shape.of(1, 40, 3, 2, 3), 700, TEMPORAL),
        new Case("general 3x3x3 (im2col)", Shape.of(2, 6, 5, 9, 10), 10,
                ConvSpec.builder().kernel(3, 3, 3).padding(1, 1, 1).build()),
        // forward on the direct row path (3 channels: a pair and a channel paired with zeros), backward on im2col
        new Case("the stem 1x7x7/2 (direct rows)", Shape.of(2, 3, 3, 30, 27), 32,
                ConvSpec.builder().kernel(1, 7, 7).stride(1, 2, 2).padding(0, 3, 3).build())};

    @ParameterizedTest
    @EnumSource(Bf16Kernel.class)
    void convolutionsAreTheIeeeConvolutionsOfTheRoundedOperands(Bf16Kernel kernel) {
        use(kernel);
        Random r = new Random(12);
        for (Case c : CASES) {
            try (TensorScope scope = TensorScope.open()) {
                int cin = Math.toIntExact(c.xs().get(1));
                Shape ws = Shape.of(c.cout(), cin / c.spec().groups(), c.spec().kT(), c.spec().kH(), c.spec().kW());
                Shape ys = c.spec().outputShape(c.xs(), c.cout());
                float[] x = randn(r, Math.toIntExact(c.xs().size()), 1);
                float[] w = randn(r, Math.toIntExact(ws.size()), 0.3);
                float[] xr = rounded(x), wr = rounded(w), xa = abs(xr), wa = abs(wr);
                Tensor tx = Tensor.of(x, c.xs()), tw = Tensor.of(w, ws);
                Tensor txr = Tensor.of(xr, c.xs()), twr = Tensor.of(wr, ws);
                Tensor bias = Tensor.of(randn(r, c.cout(), 0.5), c.cout());
                Tensor res = Tensor.of(randn(r, Math.toIntExact(ys.size()), 1), ys);
                Tensor gamma = Tensor.of(randn(r, c.cout(), 0.3), c.cout()), beta = Tensor.of(randn(r, c.cout(), 0.3),
                        c.cout());
                Tensor mean = Tensor.of(randn(r, c.cout(), 0.3), c.cout());
                Tensor var = Tensor.full(Shape.of(c.cout()), 0.8f);
                // the stem's forward runs on the direct rows: bf16 with the AVX512-BF16 kernel only
                boolean fwdInBf16 = c.direct() ? directInBf16() : CpuBackend.bf16Kernel() != Bf16Kernel.NONE;
                // each output's sum of |terms|, and the largest factor an epilogue multiplies it by
                float[] mag = CPU.conv3d(Tensor.of(xa, c.xs()), Tensor.of(wa, ws), null, c.spec(), false).toFloatArray();
                double scale = epilogueScale(gamma);
                check(c.name() + " conv + bias + ReLU", mag, scale,
                        () -> CPU.conv3d(txr, twr, bias, c.spec(), true), () -> CPU.conv3d(tx, tw, bias, c.spec(), true),
                        fwdInBf16);
                check(c.name() + " conv + residual", mag, scale,
                        () -> CPU.conv3dResidual(txr, twr, bias, c.spec(), res, true),
                        () -> CPU.conv3dResidual(tx, tw, bias, c.spec(), res, true), fwdInBf16);
                check(c.name() + " conv + eval batch norm", mag, scale,
                        () -> CPU.convBatchNormEval(txr, twr, c.spec(), gamma, beta, mean, var, 1e-5, true),
                        () -> CPU.convBatchNormEval(tx, tw, c.spec(), gamma, beta, mean, var, 1e-5, true), fwdInBf16);
                // the backward passes: dx = W^T dy (K = Cout x kT), dW = dy x^T (K = N x T x H x W: the bound grows
                // with the sums' length, both sides' fp32 accumulation)
                float[] dy = randn(r, Math.toIntExact(ys.size()), 1), dyr = rounded(dy), dya = abs(dyr);
                Tensor tdy = Tensor.of(dy, ys), tdyr = Tensor.of(dyr, ys), tdya = Tensor.of(dya, ys);
                float[] magDx = CPU.conv3dBackwardData(tdya, Tensor.of(wa, ws), c.spec(), c.xs()).toFloatArray();
                check(c.name() + " backward data", magDx, 1, () -> CPU.conv3dBackwardData(tdyr, twr, c.spec(), c.xs()),
                        () -> CPU.conv3dBackwardData(tdy, tw, c.spec(), c.xs()));
                float[] magDw = CPU.conv3dBackwardWeight(Tensor.of(xa, c.xs()), tdya, c.spec(), ws).toFloatArray();
                double longSums = Math.max(1, Math.sqrt(c.xs().get(0) * c.xs().sizeFrom(2)) / 8);
                check(c.name() + " backward weight", magDw, longSums,
                        () -> CPU.conv3dBackwardWeight(txr, tdyr, c.spec(), ws),
                        () -> CPU.conv3dBackwardWeight(tx, tdy, c.spec(), ws));
            }
        }
    }

    /**
     * The grouped 1xkxk convs (the direct paths; VDPBF16PS over channel pairs, the weight gradient over position
     * pairs) are the IEEE convs of the rounded operands too: at stride 1 (the flat path) forward (every epilogue),
     * backward-data and backward-weight, at stride 2 (the row path) the forward and backward-data (its weight
     * gradient stays fp32) — an odd channel count (the last channel paired with zeros), stacked small frames. With
     * the AVX512-BF16 kernel only: with AMX (or none) they compute as IEEE.
     */
    @ParameterizedTest
    @EnumSource(Bf16Kernel.class)
    void groupedConvsForwardAreTheIeeeConvolutionsOfTheRoundedOperands(Bf16Kernel kernel) {
        use(kernel);
        boolean direct = directInBf16();  // the AMX kernel leaves the direct convs in fp32
        Random r = new Random(13);
        // name, x, channels a group, kernel (1 x k x k, padding k / 2)
        Object[][] cases = {
            {"G8 group of 8, 28x28", Shape.of(2, 16, 3, 28, 28), 8, 3},
            {"3 channels a group (odd: a zero pair)", Shape.of(1, 6, 2, 9, 11), 3, 3},
            {"16 channels a group, 56 wide", Shape.of(1, 32, 2, 20, 56), 16, 3},
            {"7x7 planes, frames stacked", Shape.of(2, 32, 8, 7, 7), 8, 3},
            {"1x5x5, 1 channel a group", Shape.of(1, 4, 3, 12, 10), 1, 5}};
        for (Object[] c : cases) {
            String name = (String) c[0];
            Shape xs = (Shape) c[1];
            int cg = (Integer) c[2];
            int cin = Math.toIntExact(xs.get(1));
            int k = (Integer) c[3];
            ConvSpec spec = ConvSpec.builder().kernel(1, k, k).padding(0, k / 2, k / 2).groups(cin / cg).build();
            ConvSpec strided = ConvSpec.builder().kernel(1, k, k).padding(0, k / 2, k / 2).stride(1, 2, 2)
                    .groups(cin / cg).build();
            try (TensorScope scope = TensorScope.open()) {
                Shape ws = Shape.of(cin, cg, 1, spec.kH(), spec.kW());
                Shape ys = spec.outputShape(xs, cin);
                float[] x = randn(r, Math.toIntExact(xs.size()), 1);
                float[] w = randn(r, Math.toIntExact(ws.size()), 0.3);
                float[] xr = rounded(x), wr = rounded(w), xa = abs(xr), wa = abs(wr);
                Tensor tx = Tensor.of(x, xs), tw = Tensor.of(w, ws), txr = Tensor.of(xr, xs), twr = Tensor.of(wr, ws);
                Tensor bias = Tensor.of(randn(r, cin, 0.5), cin);
                Tensor res = Tensor.of(randn(r, Math.toIntExact(ys.size()), 1), ys);
                Tensor gamma = Tensor.of(randn(r, cin, 0.3), cin), beta = Tensor.of(randn(r, cin, 0.3), cin);
                Tensor mean = Tensor.of(randn(r, cin, 0.3), cin), var = Tensor.full(Shape.of(cin), 0.8f);
                float[] mag = CPU.conv3d(Tensor.of(xa, xs), Tensor.of(wa, ws), null, spec, false).toFloatArray();
                double scale = epilogueScale(gamma);
                check(name + " conv + bias + ReLU", mag, scale, () -> CPU.conv3d(txr, twr, bias, spec, true),
                        () -> CPU.conv3d(tx, tw, bias, spec, true), direct);
                check(name + " conv + residual", mag, scale, () -> CPU.conv3dResidual(txr, twr, bias, spec, res, true),
                        () -> CPU.conv3dResidual(tx, tw, bias, spec, res, true), direct);
                check(name + " conv + eval batch norm", mag, scale,
                        () -> CPU.convBatchNormEval(txr, twr, spec, gamma, beta, mean, var, 1e-5, true),
                        () -> CPU.convBatchNormEval(tx, tw, spec, gamma, beta, mean, var, 1e-5, true), direct);
                CpuBackend.setFp32Precision(Fp32Precision.BF16);
                float[] bf = CPU.conv3d(tx, tw, bias, spec, false).toFloatArray();
                CpuBackend.setFp32Precision(Fp32Precision.IEEE);
                float[] ieee = CPU.conv3d(tx, tw, bias, spec, false).toFloatArray();
                assertEquals(direct, !java.util.Arrays.equals(bf, ieee), name + ": bf16 on " + kernel);
                // backward-data (the flat path's mirrored taps over dy's channel pairs) likewise
                float[] dyv = randn(r, Math.toIntExact(ys.size()), 1), dyr = rounded(dyv), dya = abs(dyr);
                Tensor dy = Tensor.of(dyv, ys), tdyr = Tensor.of(dyr, ys);
                float[] magDx = CPU.conv3dBackwardData(Tensor.of(dya, ys), Tensor.of(wa, ws), spec, xs).toFloatArray();
                check(name + " backward data", magDx, 1, () -> CPU.conv3dBackwardData(tdyr, twr, spec, xs),
                        () -> CPU.conv3dBackwardData(dy, tw, spec, xs), direct);
                // the weight gradient (pairs of consecutive positions; long sums: the bound as the GEMM convs')
                float[] magDw = CPU.conv3dBackwardWeight(Tensor.of(xa, xs), Tensor.of(dya, ys), spec, ws)
                        .toFloatArray();
                double longSums = Math.max(1, Math.sqrt(xs.get(0) * xs.sizeFrom(2)) / 8);
                check(name + " backward weight", magDw, longSums,
                        () -> CPU.conv3dBackwardWeight(txr, tdyr, spec, ws),
                        () -> CPU.conv3dBackwardWeight(tx, dy, spec, ws), direct);
                // the stride-2 forward (the row path: phase-split rows, paired)
                float[] magS2 = CPU.conv3d(Tensor.of(xa, xs), Tensor.of(wa, ws), null, strided, false).toFloatArray();
                Shape ys2 = strided.outputShape(xs, cin);
                Tensor res2 = Tensor.of(randn(r, Math.toIntExact(ys2.size()), 1), ys2);
                check(name + " stride 2 + bias + ReLU", magS2, scale, () -> CPU.conv3d(txr, twr, bias, strided, true),
                        () -> CPU.conv3d(tx, tw, bias, strided, true), direct);
                check(name + " stride 2 + residual + eval batch norm", magS2, scale,
                        () -> CPU.convBatchNormEval(txr, twr, strided, gamma, beta, mean, var, 1e-5, true),
                        () -> CPU.convBatchNormEval(tx, tw, strided, gamma, beta, mean, var, 1e-5, true), direct);
                check(name + " stride 2 + residual", magS2, scale,
                        () -> CPU.conv3dResidual(txr, twr, bias, strided, res2, true),
                        () -> CPU.conv3dResidual(tx, tw, bias, strided, res2, true), direct);
                // its backward-data (the row path: dy's zero-padded rows paired along its channels, the taps by phase)
                float[] dy2 = randn(r, Math.toIntExact(ys2.size()), 1), dy2r = rounded(dy2), dy2a = abs(dy2r);
                Tensor tdy2 = Tensor.of(dy2, ys2), tdy2r = Tensor.of(dy2r, ys2);
                float[] magDx2 = CPU.conv3dBackwardData(Tensor.of(dy2a, ys2), Tensor.of(wa, ws), strided, xs)
                        .toFloatArray();
                check(name + " stride 2 backward data", magDx2, 1,
                        () -> CPU.conv3dBackwardData(tdy2r, twr, strided, xs),
                        () -> CPU.conv3dBackwardData(tdy2, tw, strided, xs), direct);
                CpuBackend.setFp32Precision(Fp32Precision.IEEE);
            }
        }
    }

    /** Whether the direct convs (grouped, the stem) compute in bf16: with the AVX512-BF16 kernel only. */
    static boolean directInBf16() {
        return CpuBackend.bf16Kernel() == Bf16Kernel.AVX512_BF16;
    }

    /** expected: IEEE on the rounded operands; actual: the bf16 precision on the originals (IEEE without a kernel). */
    static void check(String what, float[] mag, double scale, Supplier<Tensor> expected, Supplier<Tensor> actual) {
        check(what, mag, scale, expected, actual, CpuBackend.bf16Kernel() != Bf16Kernel.NONE);
    }

    /** check() for a pass that computes in bf16 only where inBf16 (else IEEE on the same operands). */
    static void check(String what, float[] mag, double scale, Supplier<Tensor> expected, Supplier<Tensor> actual,
            boolean inBf16) {
        CpuBackend.setFp32Precision(Fp32Precision.IEEE);
        float[] e = expected.get().toFloatArray();
        CpuBackend.setFp32Precision(Fp32Precision.BF16);
        float[] a = actual.get().toFloatArray();
        CpuBackend.setFp32Precision(Fp32Precision.IEEE);
        if (!inBf16) {
            // computed as ieee (no bf16 kernel, or a direct conv on AMX): against ieee on the same operands (with the
            // bound: a weight gradient's per-thread partial sums meet in whichever order the threads took its chunks)
            e = actual.get().toFloatArray();
        }
        for (int i = 0; i < e.length; i++) {
            double bound = 0x1p-20 * mag[i] * scale + 1e-6;
            assertTrue(Math.abs(e[i] - a[i]) <= bound, what + " [" + i + "]: " + a[i] + " vs " + e[i] + " (bound "
                    + bound + ")");
        }
    }

    @ParameterizedTest
    @EnumSource(Bf16Kernel.class)
    void aFoldedSevNetsLogitsStayNearIeee(Bf16Kernel kernel) {
        use(kernel);
        SevNetConfig cfg = SevNetConfig.parse("sevnet-g8", 11);
        try (SevNet net = SevNet.create(cfg, 7); TensorScope scope = TensorScope.open()) {
            Tensor x = Tensor.of(randn(new Random(3), 2 * 3 * 4 * 32 * 32, 1), Shape.of(2, 3, 4, 32, 32));
            net.eval();
            try (FoldedSevNet folded = FoldedSevNet.fold(net); GradMode.Guard g = GradMode.noGrad()) {
                float[] ieee = folded.forward(Var.of(x)).value().toFloatArray();
                CpuBackend.setFp32Precision(Fp32Precision.BF16);
                float[] bf = folded.forward(Var.of(x)).value().toFloatArray();
                double diff = 0, scale = 0;
                for (int i = 0; i < ieee.length; i++) {
                    assertTrue(Float.isFinite(bf[i]));
                    diff = Math.max(diff, Math.abs(bf[i] - ieee[i]));
                    scale = Math.max(scale, Math.abs(ieee[i]));
                }
                System.out.printf("Bf16PrecisionTest: folded SEVNet-G8 logits, bf16 (%s, kernel %s) vs ieee: max |diff| "
                        + "%.3g of max |logit| %.3g%n", CpuBackend.effectiveFp32Precision(), kernel, diff, scale);
                assertTrue(scale > 1e-3, "logit scale " + scale);
                // bf16 operands: about 2^-9 relative per product, a few of those through the network's depth
                assertTrue(diff <= 0.05 * scale, "max |diff| " + diff + " of max |logit| " + scale);
                if (kernel == Bf16Kernel.NONE) {
                    assertEquals(0.0, diff, "without a bf16 kernel, bf16 computes as ieee");
                } else {
                    assertTrue(diff > 0, "bf16 on " + kernel + " computed exactly as ieee: not in bf16");
                }
            }
        }
    }

    @Test
    void thePrecisionParsesAndReports() {
        assertEquals(Fp32Precision.BF16, Fp32Precision.parse(" BF16 "));
        assertEquals(Fp32Precision.IEEE, Fp32Precision.parse("ieee"));
        assertThrows(IllegalArgumentException.class, () -> Fp32Precision.parse("fp16"));
        assertThrows(IllegalArgumentException.class, () -> Fp32Precision.parse(null));
        assertThrows(IllegalArgumentException.class, () -> CpuBackend.setFp32Precision(null));
        CpuBackend.setFp32Precision(Fp32Precision.BF16);
        assertEquals(Fp32Precision.BF16, CpuBackend.fp32Precision());
        assertEquals(CpuBackend.bf16Kernel() != Bf16Kernel.NONE ? Fp32Precision.BF16 : Fp32Precision.IEEE,
                CpuBackend.effectiveFp32Precision());
        assertEquals(-1, NativeCore.sev_set_fp32_precision(7), "a bad value is SEV_EINVAL");
        assertEquals(Fp32Precision.BF16, CpuBackend.fp32Precision(), "and changes nothing");
    }
}
