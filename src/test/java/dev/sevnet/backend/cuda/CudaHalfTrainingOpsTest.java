package dev.sevnet.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.backend.Backend.BatchNormResult;
import dev.sevnet.backend.Backend.ConvBatchNormResult;
import dev.sevnet.backend.ConvSpec;
import dev.sevnet.backend.cpu.CpuBackend;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.function.Executable;

/**
 * CudaBackend's 16-bit (bfloat16 / float16) training ops on a GPU against the CPU backend computing in fp32 on the
 * same 16-bit values widened ({@code cast -> fp32 CPU op -> cast}; CpuBackend's own 16-bit training forms are not
 * used). Skipped, with the reason, without a GPU.
 *
 * <p>Tolerances. Element-wise glue (ReLU backward, add, axpby, average pool backward, split, the SE backward's dx):
 * bit for bit, the kernels doing the fp32 op's arithmetic in its order with one rounding (products rounded on their
 * own, no FMA). Convolutions and batch norm, norm-wise relative error of the widened 16-bit result against the fp32
 * result: {@value #BF16_TOL} bf16, {@value #F16_TOL} fp16. Why: both sides read the same 16-bit inputs exactly; cuDNN
 * accumulates in fp32 (PSEUDO_BFLOAT16 / PSEUDO_HALF) in another order than the CPU (~1e-6 relative), and each
 * stored 16-bit output carries one rounding, at most 2^-9 (bf16) / 2^-12 (fp16) relative, RMS about a third of that
 * over many elements (~1.1e-3 bf16, ~1.4e-4 fp16); the tolerances leave about 9x / 14x of headroom for that, and still
 * fail a wrong algorithm, layout or mask (errors of order 1). Batch-norm statistics, dgamma and dbeta stay fp32 and are
 * summed in double from the same inputs: {@value #STAT_TOL}. The SE dg (fp32, double block sums): 1e-6.
 */
@Tag("gpu")
class CudaHalfTrainingOpsTest {
    static final double BF16_TOL = 1e-2;
    static final double F16_TOL = 2e-3;
    static final double STAT_TOL = 1e-5;
    static final double EPS = 1e-5;
    static final double MOMENTUM = 0.1;
    static CudaBackend gpu;
    static final CpuBackend cpu = CpuBackend.get();

    @BeforeAll
    static void needGpu() {
        gpu = CudaBackendOpsTest.usableGpu();
    }

    @AfterAll
    static void reset() {
        if (gpu != null) {
            gpu.setKernelMode(CudaBackend.KernelMode.AUTO);
        }
    }

    static double tol(DType dt) {
        return dt == DType.BFLOAT16 ? BF16_TOL : F16_TOL;
    }

    /** Gaussian values (scaled) rounded to dt, on the host. */
    static Tensor rand16(Random r, DType dt, double scale, long... dims) {
        try (Tensor f = CudaBackendOpsTest.rand(r, dims)) {
            try (Tensor s = cpu.scale(f, (float) scale)) {
                return cpu.cast(s, dt);
            }
        }
    }

    static Tensor widen(Tensor t) {
        Tensor h = t.device().isCpu() ? t : t.toHostCopy();
        try {
            return cpu.cast(h, DType.FLOAT32);
        } finally {
            if (h != t) {
                h.close();
            }
        }
    }

    static Tensor up(Tensor h) {
        return gpu.toDevice(h);
    }

    static short[] bits(Tensor t) {
        try (Tensor h = t.toHostCopy()) {
            ByteBuffer b = h.hostBuffer();
            short[] s = new short[Math.toIntExact(h.size())];
            for (int i = 0; i < s.length; i++) {
                s[i] = b.getShort(2 * i);
            }
            return s;
        }
    }

    /** GPU 16-bit result == round(fp32 CPU result), bit for bit. */
    static void sameBits(Tensor fp32Cpu, Tensor gpu16, DType dt, String what) {
        assertEquals(dt, gpu16.dtype(), what + " dtype");
        assertEquals(fp32Cpu.shape(), gpu16.shape(), what + " shape");
        try (Tensor want = cpu.cast(fp32Cpu, dt)) {
            short[] e = bits(want);
            short[] a = bits(gpu16);
            for (int i = 0; i < e.length; i++) {
                if (e[i] != a[i]) {
                    throw new AssertionError(what + ": element " + i + " expected 0x" + Integer.toHexString(e[i] & 0xffff)
                            + " got 0x" + Integer.toHexString(a[i] & 0xffff));
                }
            }
        }
    }

    /** Norm-wise relative error of the widened 16-bit GPU result against the fp32 CPU result, printed and bounded. */
    static void close16(Tensor fp32Cpu, Tensor gpu16, DType dt, String what) {
        assertEquals(dt, gpu16.dtype(), what + " dtype");
        try (Tensor w = widen(gpu16)) {
            double rel = CudaBackendOpsTest.relError(fp32Cpu, w);
            System.out.printf("%s %s: relative error %.3g (tolerance %.0g)%n", dt, what, rel, tol(dt));
            CudaBackendOpsTest.close(fp32Cpu, w, tol(dt), dt + " " + what);
        }
    }

    /**
     * BN's dx against the CPU's, norm-wise, relative to the larger of dx and its terms gamma * invstd * dy: dx is a
     * difference of such terms (cancelling exactly when a channel holds two values), so its rounding error scales
     * with them, not with dx itself.
     */
    static void closeBnDx(Tensor fp32Cpu, Tensor gpu16, DType dt, Tensor dy, Tensor gamma, Tensor invstd, long[] d,
            String what) {
        assertEquals(dt, gpu16.dtype(), what + " dtype");
        float[] e = fp32Cpu.toFloatArray(), g = gamma.toFloatArray(), is = invstd.toFloatArray(), t = dy.toFloatArray();
        float[] a;
        try (Tensor w = widen(gpu16)) {
            a = w.toFloatArray();
        }
        long c = d[1], s = d[2];
        double num = 0, den = 0, terms = 0;
        for (int i = 0; i < e.length; i++) {
            int ch = (int) ((i / s) % c);
            double term = (double) g[ch] * is[ch] * t[i];
            num += (e[i] - (double) a[i]) * (e[i] - (double) a[i]);
            den += (double) e[i] * e[i];
            terms += term * term;
            assertTrue(Float.isFinite(a[i]), what + ": non-finite at " + i);
        }
        double rel = Math.sqrt(num) / Math.max(Math.sqrt(Math.max(den, terms)), 1e-30);
        System.out.printf("%s %s: relative error %.3g of max(|dx|, |gamma invstd dy|) (tolerance %.0g)%n", dt, what,
                rel, tol(dt));
        assertTrue(rel <= tol(dt), dt + " " + what + ": relative error " + rel + " > " + tol(dt));
    }

    // ---- convolutions ----

    record Conv(String name, long[] x, long cout, ConvSpec spec) {
    }

    static final Conv[] CONVS = {
        new Conv("pointwise", new long[] {2, 12, 3, 7, 9}, 20, ConvSpec.of(1)),
        new Conv("grouped s1", new long[] {2, 16, 3, 9, 11}, 16,
                ConvSpec.builder().kernel(1, 3, 3).padding(0, 1, 1).groups(2).build()),
        new Conv("grouped s2", new long[] {2, 16, 2, 9, 10}, 16,
                ConvSpec.builder().kernel(1, 3, 3).stride(1, 2, 2).padding(0, 1, 1).groups(4).build()),
        new Conv("temporal", new long[] {2, 16, 5, 6, 7}, 16, new ConvSpec(3, 1, 1, 1, 1, 1, 1, 0, 0, 1)),
        new Conv("stem", new long[] {2, 3, 2, 20, 18}, 16,
                ConvSpec.builder().kernel(1, 7, 7).stride(1, 2, 2).padding(0, 3, 3).build())};

    /** One conv problem's 16-bit input, weight and output gradient (random, host tensors). */
    record ConvCase(Shape xs, Shape ws, Tensor x, Tensor w, Tensor dy) {
        static ConvCase draw(Conv cv, DType dt, Random r) {
            Shape xs = Shape.of(cv.x());
            Shape ws = Shape.of(cv.cout(), xs.get(1) / cv.spec().groups(), cv.spec().kT(), cv.spec().kH(),
                    cv.spec().kW());
            Shape ys = cv.spec().outputShape(xs, cv.cout());
            Tensor x = rand16(r, dt, 1, cv.x());
            Tensor w = rand16(r, dt, 0.3, ws.dims());
            Tensor dy = rand16(r, dt, 1, ys.dims());
            return new ConvCase(xs, ws, x, w, dy);
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void convBackwardsMatchTheCpuInSixteenBitsInEveryKernelMode(DType dt) {
        Random r = new Random(1);
        for (CudaBackend.KernelMode mode : CudaBackend.KernelMode.values()) {
            gpu.setKernelMode(mode);
            for (Conv cv : CONVS) {
                try (TensorScope scope = TensorScope.open()) {
                    ConvCase k = ConvCase.draw(cv, dt, r);
                    Shape xs = k.xs(), ws = k.ws();
                    Tensor x = k.x(), w = k.w(), dy = k.dy();
                    String what = cv.name() + " " + mode;
                    Tensor dx = gpu.conv3dBackwardData(up(dy), up(w), cv.spec(), xs);
                    close16(cpu.conv3dBackwardData(widen(dy), widen(w), cv.spec(), xs), dx, dt, "backward data " + what);
                    Tensor dw = gpu.conv3dBackwardWeight(up(x), up(dy), cv.spec(), ws);
                    close16(cpu.conv3dBackwardWeight(widen(x), widen(dy), cv.spec(), ws), dw, dt,
                            "backward weight " + what);
                    // the algorithms are cached per problem and dtype (or the problem is one cuDNN refused in 16 bits,
                    // which then runs in fp32 on widened copies)
                    int[] p = cv.spec().nativeParams(xs, cv.cout());
                    for (String dir : new String[] {"bwd-data", "bwd-filter"}) {
                        String key = ConvAlgorithmCache.key(dir, p, gpu.allowTf32(), dt);
                        assertTrue(gpu.algorithmCache().get(key) != null || gpu.widensSixteenBit(dir, cv.spec())
                                || gpu.refusedSixteenBitConvolutions().contains(key)
                                || gpu.measuredRoutes().containsKey(key), key + " neither cached nor widened");
                    }
                }
            }
        }
        System.out.println(dt + " convolutions cuDNN refused in 16 bits (run in fp32): "
                + gpu.refusedSixteenBitConvolutions());
        gpu.setKernelMode(CudaBackend.KernelMode.AUTO);
    }

    /**
     * The 16-bit conv {@code cv} on the GPU, every pass — forward with bias + ReLU, forward with a residual,
     * backward-data, backward-weight — against the CPU's fp32 on the widened inputs.
     */
    static void everyPassMatchesFp32(Conv cv, DType dt, Random r, String what) {
        try (TensorScope scope = TensorScope.open()) {
            ConvCase k = ConvCase.draw(cv, dt, r);
            Shape xs = k.xs(), ws = k.ws();
            Tensor x = k.x(), w = k.w(), dy = k.dy();
            Tensor res = rand16(r, dt, 1, k.dy().shape().dims());
            Tensor bias = CudaBackendOpsTest.rand(r, cv.cout());
            close16(cpu.conv3d(widen(x), widen(w), bias, cv.spec(), true),
                    gpu.conv3d(up(x), up(w), up(bias), cv.spec(), true), dt, "forward+bias+relu " + what);
            close16(cpu.conv3dResidual(widen(x), widen(w), bias, cv.spec(), widen(res), true),
                    gpu.conv3dResidual(up(x), up(w), up(bias), cv.spec(), up(res), true), dt, "forward+residual " + what);
            close16(cpu.conv3dBackwardData(widen(dy), widen(w), cv.spec(), xs),
                    gpu.conv3dBackwardData(up(dy), up(w), cv.spec(), xs), dt, "backward data " + what);
            close16(cpu.conv3dBackwardWeight(widen(x), widen(dy), cv.spec(), ws),
                    gpu.conv3dBackwardWeight(up(x), up(dy), cv.spec(), ws), dt, "backward weight " + what);
        }
    }

    /**
     * The widened route (fp32 pass on widened copies, rounded once) that a cuDNN refusal sends a problem down, forced
     * for every conv shape and direction: forward (with bias + ReLU, and with a residual), backward-data and
     * backward-weight against the CPU's fp32 on the widened inputs.
     */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void theWidenedRouteMatchesFp32ForEveryConv(DType dt) {
        Random r = new Random(4);
        gpu.widenEverySixteenBitConvForTests(true);
        try {
            for (Conv cv : CONVS) {
                everyPassMatchesFp32(cv, dt, r, "widened " + cv.name());
            }
        } finally {
            gpu.widenEverySixteenBitConvForTests(false);
        }
    }

    /**
     * The channels-last route of 16-bit grouped convs (HalfGroupedRoute.CHANNELS_LAST: cudnnTransformTensor to NDHWC /
     * KTRSC, cuDNN there, back) against the CPU's fp32 on the widened inputs, every direction; prints which problems
     * cuDNN refused in that layout (those fall back to the NCDHW route, so the results must match either way).
     */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void theChannelsLastRouteOfGroupedConvsMatchesFp32(DType dt) {
        Random r = new Random(6);
        withHalfRoute(CudaBackend.HalfGroupedRoute.CHANNELS_LAST, () -> {
            for (Conv cv : CONVS) {
                if (cv.spec().groups() == 1) {
                    continue;
                }
                assertTrue(gpu.channelsLastSixteenBit(cv.spec()));
                everyPassMatchesFp32(cv, dt, r, "channels-last " + cv.name());
            }
            System.out.println(dt + " channels-last problems cuDNN refused (ran NCDHW instead): "
                    + gpu.refusedSixteenBitConvolutions().stream().filter(k -> k.endsWith(":ndhwc")).toList());
        });
    }

    /** Runs {@code body} with the backend's 16-bit conv route set to {@code route}, then restores the route. */
    static void withHalfRoute(CudaBackend.HalfGroupedRoute route, Runnable body) {
        CudaBackend.HalfGroupedRoute before = gpu.halfGroupedRoute();
        gpu.setHalfGroupedRoute(route);
        try {
            body.run();
        } finally {
            gpu.setHalfGroupedRoute(before);
        }
    }

    /**
     * The default in kernel mode AUTO (HalfGroupedRoute.MEASURE): each 16-bit conv problem and direction times its
     * routes at its first call and keeps the fastest; whatever was chosen, every pass matches fp32 on the widened
     * inputs, and every problem has a recorded route (printed, with the timings in the log).
     */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void theMeasuredRouteMatchesFp32ForEveryConv(DType dt) {
        Random r = new Random(7);
        gpu.setKernelMode(CudaBackend.KernelMode.AUTO);
        withHalfRoute(CudaBackend.HalfGroupedRoute.MEASURE, () -> {
            for (Conv cv : CONVS) {
                everyPassMatchesFp32(cv, dt, r, "measured " + cv.name());
                // a second round runs the recorded choices (the first measured them)
                everyPassMatchesFp32(cv, dt, r, "measured, second call " + cv.name());
                int[] p = cv.spec().nativeParams(Shape.of(cv.x()), cv.cout());
                for (String dir : new String[] {"fwd", "bwd-data", "bwd-filter"}) {
                    String key = ConvAlgorithmCache.key(dir, p, gpu.allowTf32(), dt);
                    assertTrue(gpu.measuredRoutes().containsKey(key), key + " has no measured route");
                }
            }
            System.out.println(dt + " measured routes: " + gpu.measuredRoutes());
        });
    }

    /**
     * The 1x1x1 and temporal 3x1x1 convs as cuBLAS GEMMs (ConvGemmPlan, a route kernel mode AUTO measures), forced:
     * forward with bias + ReLU, backward-data and backward-weight against the CPU — fp32 (TF32 off) within 1e-4,
     * 16-bit against fp32 on the widened inputs; ragged shapes, one frame, SEVNet-sized planes.
     */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"FLOAT32", "BFLOAT16", "FLOAT16"})
    void theGemmRouteMatchesTheCpu(DType dt) {
        gpu.setKernelMode(CudaBackend.KernelMode.AUTO);
        boolean tf32 = gpu.allowTf32();
        gpu.setAllowTf32(false);
        gpu.forceRoute(CudaBackend.ROUTE_CUBLAS);
        try {
            ConvSpec temporal = ConvSpec.builder().kernel(3, 1, 1).padding(1, 0, 0).build();
            Random r = new Random(9);
            // {N, Cin, T, H, W, Cout, kT}
            for (long[] c : new long[][] {{2, 5, 3, 4, 5, 7, 1}, {3, 64, 4, 7, 7, 96, 1}, {2, 5, 3, 4, 5, 5, 3},
                {2, 6, 1, 3, 3, 6, 3}, {2, 64, 8, 7, 7, 64, 3}}) {
                long[] xs = java.util.Arrays.copyOf(c, 5);
                long co = c[5];
                ConvSpec pw = c[6] == 1 ? ConvSpec.of(1) : temporal;
                try (TensorScope scope = TensorScope.open()) {
                    Shape xShape = Shape.of(xs);
                    Shape wShape = Shape.of(co, xs[1], c[6], 1, 1);
                    Shape yShape = pw.outputShape(xShape, co);
                    Tensor bias = CudaBackendOpsTest.rand(r, co);
                    String what = "cuBLAS " + (c[6] == 1 ? "1x1x1 " : "3x1x1 ") + xShape + " -> " + co;
                    if (dt == DType.FLOAT32) {
                        Tensor x = CudaBackendOpsTest.rand(r, xs);
                        Tensor w = CudaBackendOpsTest.rand(r, wShape.dims());
                        Tensor dy = CudaBackendOpsTest.rand(r, yShape.dims());
                        CudaBackendOpsTest.close(cpu.conv3d(x, w, bias, pw, true),
                                gpu.conv3d(up(x), up(w), up(bias), pw, true), 1e-4, what + " forward");
                        CudaBackendOpsTest.close(cpu.conv3dBackwardData(dy, w, pw, xShape),
                                gpu.conv3dBackwardData(up(dy), up(w), pw, xShape), 1e-4, what + " backward data");
                        CudaBackendOpsTest.close(cpu.conv3dBackwardWeight(x, dy, pw, wShape),
                                gpu.conv3dBackwardWeight(up(x), up(dy), pw, wShape), 1e-4, what + " backward weight");
                    } else {
                        Tensor x = rand16(r, dt, 1, xs);
                        Tensor w = rand16(r, dt, 0.3, wShape.dims());
                        Tensor dy = rand16(r, dt, 1, yShape.dims());
                        close16(cpu.conv3d(widen(x), widen(w), bias, pw, true),
                                gpu.conv3d(up(x), up(w), up(bias), pw, true), dt, what + " forward");
                        close16(cpu.conv3dBackwardData(widen(dy), widen(w), pw, xShape),
                                gpu.conv3dBackwardData(up(dy), up(w), pw, xShape), dt, what + " backward data");
                        close16(cpu.conv3dBackwardWeight(widen(x), widen(dy), pw, wShape),
                                gpu.conv3dBackwardWeight(up(x), up(dy), pw, wShape), dt, what + " backward weight");
                    }
                }
            }
        } finally {
            gpu.forceRoute(null);
            gpu.setAllowTf32(tf32);
        }
    }

    // ---- batch norm ----

    // N, C, S: ragged, one channel, C above 2048, SEVNet-G8 widths on a small plane
    static final long[][] BN = {{2, 3, 1}, {3, 1, 77}, {2, 5, 4099}, {2, 2100, 3}, {2, 64, 4 * 7 * 7},
        {2, 256, 2 * 4 * 4}};

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void batchNormTrainingFormsMatchFp32OnTheWidenedInputs(DType dt) {
        Random r = new Random(2);
        for (CudaBackend.KernelMode mode : new CudaBackend.KernelMode[] {CudaBackend.KernelMode.AUTO,
            CudaBackend.KernelMode.CUSTOM}) {
            gpu.setKernelMode(mode);
            for (long[] d : BN) {
                for (int form = 0; form < 4; form++) {
                    boolean residual = form >= 2;
                    boolean relu = form % 2 == 1;
                    try (TensorScope scope = TensorScope.open()) {
                        String what = "bn " + Arrays.toString(d) + " residual=" + residual + " relu=" + relu + " " + mode;
                        Tensor x = rand16(r, dt, 2, d);
                        Tensor res = residual ? rand16(r, dt, 1, d) : null;
                        Tensor gamma = CudaBackendOpsTest.rand(r, d[1]);
                        Tensor beta = CudaBackendOpsTest.rand(r, d[1]);
                        Tensor rm = CudaBackendOpsTest.rand(r, d[1]);
                        Tensor rv = cpu.scale(cpu.mul(rm, rm), 1f);
                        Tensor rmG = up(rm);
                        Tensor rvG = up(rv);
                        BatchNormResult c = cpu.batchNormTrainAct(widen(x), residual ? widen(res) : null, gamma, beta,
                                rm, rv, EPS, MOMENTUM, relu);
                        BatchNormResult g = form == 0
                                ? gpu.batchNormTrain(up(x), up(gamma), up(beta), rmG, rvG, EPS, MOMENTUM)
                                : gpu.batchNormTrainAct(up(x), residual ? up(res) : null, up(gamma), up(beta), rmG, rvG,
                                        EPS, MOMENTUM, relu);
                        close16(c.y(), g.y(), dt, "y " + what);
                        CudaBackendOpsTest.close(c.saveMean(), g.saveMean(), STAT_TOL, what + " save_mean");
                        CudaBackendOpsTest.close(c.saveInvstd(), g.saveInvstd(), STAT_TOL, what + " save_invstd");
                        CudaBackendOpsTest.close(rm, rmG, STAT_TOL, what + " running_mean");
                        CudaBackendOpsTest.close(rv, rvG, STAT_TOL, what + " running_var");

                        // backward on the stored 16-bit y (its mask), with the CPU's statistics on both sides
                        Tensor y16 = g.y().toHostCopy();
                        Tensor dy = rand16(r, dt, 1, d);
                        Tensor[] cb = cpu.batchNormActBackward(widen(x), widen(y16), widen(dy), gamma, c.saveMean(),
                                c.saveInvstd(), relu, residual);
                        Tensor[] gb = form == 0
                                ? gpu.batchNormBackward(up(x), up(dy), up(gamma), up(c.saveMean()), up(c.saveInvstd()))
                                : gpu.batchNormActBackward(up(x), up(y16), up(dy), up(gamma), up(c.saveMean()),
                                        up(c.saveInvstd()), relu, residual);
                        closeBnDx(cb[0], gb[0], dt, widen(dy), gamma, c.saveInvstd(), d, "dx " + what);
                        CudaBackendOpsTest.close(cb[1], gb[1], STAT_TOL, what + " dgamma");
                        CudaBackendOpsTest.close(cb[2], gb[2], STAT_TOL, what + " dbeta");
                        if (residual) {
                            sameBits(cb[3], gb[3], dt, what + " dresidual (the masked dy)");
                        } else if (form != 0) {
                            assertNull(gb[3], what + ": no dresidual asked");
                        }
                    }
                }
            }
        }
        gpu.setKernelMode(CudaBackend.KernelMode.AUTO);
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void convThenBatchNormRoutesSixteenBitsInEveryKernelMode(DType dt) {
        Random r = new Random(3);
        for (CudaBackend.KernelMode mode : CudaBackend.KernelMode.values()) {
            gpu.setKernelMode(mode);
            for (Conv cv : new Conv[] {CONVS[0], CONVS[1], CONVS[2]}) {
                for (boolean relu : new boolean[] {false, true}) {
                    try (TensorScope scope = TensorScope.open()) {
                        String what = "conv+bn " + cv.name() + " relu=" + relu + " " + mode;
                        Shape xs = Shape.of(cv.x());
                        long cin = xs.get(1) / cv.spec().groups();
                        Tensor x = rand16(r, dt, 1, cv.x());
                        Tensor w = rand16(r, dt, 0.3, cv.cout(), cin, cv.spec().kT(), cv.spec().kH(), cv.spec().kW());
                        Tensor gamma = CudaBackendOpsTest.rand(r, cv.cout());
                        Tensor beta = CudaBackendOpsTest.rand(r, cv.cout());
                        Tensor rm = Tensor.zeros(Shape.of(cv.cout()));
                        Tensor rv = Tensor.full(Shape.of(cv.cout()), 1f);
                        Tensor z = cpu.conv3d(widen(x), widen(w), cv.spec());
                        BatchNormResult c = cpu.batchNormTrainAct(z, null, gamma, beta, rm.copy(), rv.copy(), EPS,
                                MOMENTUM, relu);
                        ConvBatchNormResult g = gpu.convBatchNormTrain(up(x), up(w), cv.spec(), up(gamma), up(beta),
                                up(rm), up(rv), EPS, MOMENTUM, relu);
                        close16(z, g.z(), dt, "z " + what);
                        close16(c.y(), g.y(), dt, "y " + what);
                        CudaBackendOpsTest.close(c.saveMean(), g.saveMean(), tol(dt), what + " save_mean");
                        // the eval form with running statistics
                        Tensor rm2 = CudaBackendOpsTest.rand(r, cv.cout());
                        Tensor rv2 = cpu.scale(cpu.mul(rm2, rm2), 1f);
                        Tensor ce = cpu.batchNormEval(z, gamma, beta, rm2, rv2, EPS, relu);
                        Tensor ge = gpu.convBatchNormEval(up(x), up(w), cv.spec(), up(gamma), up(beta), up(rm2), up(rv2),
                                EPS, relu);
                        close16(ce, ge, dt, "eval " + what);
                        // and BN eval alone on a 16-bit input
                        Tensor z16 = cpu.cast(z, dt);
                        close16(cpu.batchNormEval(widen(z16), gamma, beta, rm2, rv2, EPS, relu),
                                gpu.batchNormEval(up(z16), up(gamma), up(beta), up(rm2), up(rv2), EPS, relu), dt,
                                "bn eval " + what);
                    }
                }
            }
        }
        gpu.setKernelMode(CudaBackend.KernelMode.AUTO);
    }

    // ---- element-wise glue: bit for bit ----

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void glueOpsMatchTheFp32OpsBitForBit(DType dt) {
        Random r = new Random(4);
        try (TensorScope scope = TensorScope.open()) {
            for (long[] d : new long[][] {{7}, {2, 5, 3, 11, 13}, {3, 64, 2, 7, 7}}) {
                String sz = Arrays.toString(d);
                Tensor a = rand16(r, dt, 2, d);
                Tensor b = rand16(r, dt, 2, d);
                sameBits(cpu.reluBackward(widen(a), widen(b)), gpu.reluBackward(up(a), up(b)), dt, "relu backward " + sz);
                sameBits(cpu.add(widen(a), widen(b)), gpu.add(up(a), up(b)), dt, "add " + sz);
                for (float[] ab : new float[][] {{1f, 1f}, {0.5f, 0.9f}, {-1.25f, 0f}}) {
                    Tensor yc = widen(b);
                    cpu.axpby(ab[0], widen(a), ab[1], yc);
                    Tensor yg = up(b);
                    gpu.axpby(ab[0], up(a), ab[1], yg);
                    sameBits(yc, yg, dt, "axpby " + Arrays.toString(ab) + " " + sz);
                }
            }
            // average pool backward: the SEV shortcut's window and a 3x3x3 one
            ConvSpec[] windows = {new ConvSpec(1, 3, 3, 1, 2, 2, 0, 1, 1, 1), new ConvSpec(3, 3, 3, 1, 1, 1, 1, 1, 1, 1)};
            for (ConvSpec win : windows) {
                Shape xs = Shape.of(2, 5, 3, 11, 13);
                Shape ys = OpChecksAccess.pooled(win, xs);
                Tensor dy = rand16(r, dt, 1, ys.get(0), ys.get(1), ys.get(2), ys.get(3), ys.get(4));
                sameBits(cpu.avgPool3dBackward(widen(dy), win, xs), gpu.avgPool3dBackward(up(dy), win, xs), dt,
                        "avg-pool backward " + win);
            }
            // split
            Tensor y = rand16(r, dt, 1, 2, 8, 3, 5, 5);
            Tensor[] cs = cpu.splitChannels(widen(y), 3);
            Tensor[] gs = gpu.splitChannels(up(y), 3);
            sameBits(cs[0], gs[0], dt, "split a");
            sameBits(cs[1], gs[1], dt, "split b");
            // squeeze-excite backward: dx bit for bit, dg (fp32, double sums in another order) 1e-6
            for (long[] d : new long[][] {{2, 3, 1}, {2, 6, 255}, {2, 64, 2 * 7 * 7}, {1, 16, 1001}}) {
                Tensor x = rand16(r, dt, 1, d);
                Tensor dy = rand16(r, dt, 1, d);
                Tensor g = CudaBackendOpsTest.rand(r, d[0], d[1]);
                Tensor[] c = cpu.channelScaleBackward(widen(x), g, widen(dy));
                Tensor[] gg = gpu.channelScaleBackward(up(x), up(g), up(dy));
                sameBits(c[0], gg[0], dt, "SE backward dx " + Arrays.toString(d));
                assertEquals(DType.FLOAT32, gg[1].dtype());
                CudaBackendOpsTest.close(c[1], gg[1], 1e-6, "SE backward dg " + Arrays.toString(d));
            }
        }
    }

    /** OpChecks.depthwise's output shape, reachable from this package. */
    static final class OpChecksAccess {
        static Shape pooled(ConvSpec window, Shape xs) {
            return dev.sevnet.backend.OpChecks.depthwise(window, xs.get(1)).outputShape(xs, xs.get(1));
        }
    }

    // ---- rejection before any native call ----

    static void bad(String what, Executable e) {
        assertThrows(IllegalArgumentException.class, e, what);
    }

    @Test
    void mixedTypesAreRejected() {
        try (TensorScope scope = TensorScope.open()) {
            Shape s = Shape.of(2, 4, 1, 5, 5);
            Tensor b16 = up(Tensor.zeros(s, DType.BFLOAT16));
            Tensor h16 = up(Tensor.zeros(s, DType.FLOAT16));
            Tensor f32 = up(Tensor.zeros(s));
            Tensor wb = up(Tensor.zeros(Shape.of(4, 4, 1, 1, 1), DType.BFLOAT16));
            Tensor wh = up(Tensor.zeros(Shape.of(4, 4, 1, 1, 1), DType.FLOAT16));
            Tensor wf = up(Tensor.zeros(Shape.of(4, 4, 1, 1, 1)));
            Tensor ch = up(Tensor.zeros(Shape.of(4)));
            Tensor chb = up(Tensor.zeros(Shape.of(4), DType.BFLOAT16));
            ConvSpec one = ConvSpec.of(1);
            for (CudaBackend.KernelMode mode : CudaBackend.KernelMode.values()) {
                gpu.setKernelMode(mode);
                bad("bwd data bf16 dy, fp16 w", () -> gpu.conv3dBackwardData(b16, wh, one, s));
                bad("bwd data bf16 dy, fp32 w", () -> gpu.conv3dBackwardData(b16, wf, one, s));
                bad("bwd data fp32 dy, bf16 w", () -> gpu.conv3dBackwardData(f32, wb, one, s));
                bad("bwd weight bf16 x, fp16 dy", () -> gpu.conv3dBackwardWeight(b16, h16, one, wb.shape()));
                bad("bwd weight fp32 x, bf16 dy", () -> gpu.conv3dBackwardWeight(f32, b16, one, wb.shape()));
                bad("bn bf16 gamma", () -> gpu.batchNormTrain(b16, chb, ch, ch, ch, 1e-5, 0.1));
                bad("bn act fp16 residual", () -> gpu.batchNormTrainAct(b16, h16, ch, ch, null, null, 1e-5, 0.1, true));
                bad("bn backward fp32 dy", () -> gpu.batchNormBackward(b16, f32, ch, ch, ch));
                bad("bn act backward fp16 y", () -> gpu.batchNormActBackward(b16, h16, b16, ch, ch, ch, true, false));
                bad("bn eval bf16 running mean", () -> gpu.batchNormEval(b16, ch, ch, chb, ch, 1e-5, false));
                bad("conv+bn fp32 weight", () -> gpu.convBatchNormTrain(b16, wf, one, ch, ch, ch, ch, 1e-5, 0.1, true));
                bad("conv+bn bf16 gamma", () -> gpu.convBatchNormTrain(b16, wb, one, chb, ch, ch, ch, 1e-5, 0.1, true));
                bad("conv+bn eval fp16 weight", () -> gpu.convBatchNormEval(b16, wh, one, ch, ch, ch, ch, 1e-5, true));
                bad("relu backward mixed", () -> gpu.reluBackward(b16, h16));
                bad("relu backward fp32 dy", () -> gpu.reluBackward(b16, f32));
                bad("add mixed", () -> gpu.add(f32, b16));
                bad("axpby mixed", () -> gpu.axpby(1f, h16, 1f, b16));
                bad("axpby fp32 x", () -> gpu.axpby(1f, f32, 1f, b16));
                bad("split at 0", () -> gpu.splitChannels(b16, 0));
                bad("SE backward bf16 gate", () -> gpu.channelScaleBackward(b16, up(Tensor.zeros(Shape.of(2, 4),
                        DType.BFLOAT16)), b16));
                bad("SE backward fp16 dy", () -> gpu.channelScaleBackward(b16, up(Tensor.zeros(Shape.of(2, 4))), h16));
                bad("pool backward fp32 pooled, wrong shape", () -> gpu.avgPool3dBackward(b16,
                        new ConvSpec(1, 3, 3, 1, 2, 2, 0, 1, 1, 1), s));
                bad("host tensor", () -> gpu.add(Tensor.zeros(s, DType.BFLOAT16), b16));
            }
            gpu.setKernelMode(CudaBackend.KernelMode.AUTO);
            assertTrue(gpu.add(b16, b16).dtype() == DType.BFLOAT16, "good arguments still work");
        }
    }
}
