package dev.sevnet.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.autograd.GradMode;
import dev.sevnet.autograd.Var;
import dev.sevnet.backend.ConvSpec;
import dev.sevnet.backend.cpu.CpuBackend;
import dev.sevnet.infer.FoldedSevNet;
import dev.sevnet.infer.FoldedSevNetTest;
import dev.sevnet.infer.GraphedInference;
import dev.sevnet.infer.Prediction;
import dev.sevnet.infer.Predictor;
import dev.sevnet.nn.SevNet;
import dev.sevnet.nn.SevNetConfig;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.MemoryFormat;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Channels-last (NDHWC) activations on the GPU: every op with a channels-last form against the CPU reference of
 * the same op on NCDHW tensors (fp32 with TF32 off: 1e-4 relative for convolutions, exact or 1e-6 for the glue;
 * 16-bit: the CPU's 16-bit reference ops, convolutions within the tolerance of CudaHalfInferenceTest), the ops
 * without one refusing such tensors, and a folded SEVNet (fp32, bf16, fp16; eager and as a CUDA graph; through the
 * Predictor) giving the contiguous model's logits. Skipped, with the reason, without a GPU. What runs without a
 * GPU: MemoryFormatTest (host side) and the kernels' host runs (ChannelsNdhwcHostRunTest).
 */
@Tag("gpu")
class CudaChannelsLastTest {
    static CudaBackend gpu;
    static final CpuBackend cpu = CpuBackend.get();

    @BeforeAll
    static void needGpu() {
        gpu = CudaBackendOpsTest.usableGpu();
    }

    @AfterAll
    static void reset() {
        if (gpu != null) {
            gpu.setAllowTf32(true);
        }
    }

    /** A host tensor of dt (fp32 values rounded once for 16-bit). */
    static Tensor rand(Random r, DType dt, double scale, long... dims) {
        try (Tensor f = CudaBackendOpsTest.rand(r, dims); Tensor s = cpu.scale(f, (float) scale)) {
            return cpu.cast(s, dt);
        }
    }

    /** {@code h} uploaded and reordered to NDHWC. */
    static Tensor upCl(Tensor h) {
        try (Tensor d = gpu.toDevice(h)) {
            Tensor cl = gpu.toMemoryFormat(d, MemoryFormat.CHANNELS_LAST);
            assertTrue(cl.isChannelsLast() || MemoryFormat.isLayoutInvariant(h.shape()));
            return cl;
        }
    }

    static void close(Tensor expected, Tensor actual, double rtol, String what) {
        assertEquals(expected.shape(), actual.shape(), what);
        double e = CudaBackendOpsTest.relError(expected, actual);
        assertTrue(e <= rtol, what + ": relative error " + e + " > " + rtol);
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"FLOAT32", "BFLOAT16", "FLOAT16"})
    void reorderingRoundTripsExactlyAndReadsBackInTheLogicalOrder(DType dt) {
        Random r = new Random(1);
        try (TensorScope scope = TensorScope.open()) {
            for (long[] dims : new long[][] {{2, 3, 4, 5, 7}, {1, 33, 3, 7, 9}, {3, 70, 1, 1, 1}, {2, 1, 2, 3, 3}}) {
                Tensor h = rand(r, dt, 1, dims);
                Tensor cl = upCl(h);
                assertArrayEquals(h.toFloatArray(), cl.toFloatArray(), "values in the logical order " + cl);
                Tensor back = gpu.toMemoryFormat(cl, MemoryFormat.CONTIGUOUS);
                assertEquals(MemoryFormat.CONTIGUOUS, back.memoryFormat());
                assertArrayEquals(h.toFloatArray(), back.toFloatArray());
                // an upload of a host tensor into a channels-last device tensor reorders on the way
                // (dst starts from other values; fill is fp32 only, so a second random tensor stands in for zeros)
                Tensor dst = gpu.toMemoryFormat(gpu.toDevice(rand(r, dt, 1, dims)), MemoryFormat.CHANNELS_LAST);
                dst.copyFrom(h);
                assertArrayEquals(h.toFloatArray(), dst.toFloatArray());
            }
        }
    }

    /** Every conv shape of a SEVNet block and stem: 1x1x1, grouped 1x3x3 (stride 1 and 2), 3x1x1, the stem's 1x7x7. */
    @ParameterizedTest
    @CsvSource({"FLOAT32, 1e-4", "BFLOAT16, 1e-2", "FLOAT16, 2e-3"})
    void convolutionsMatchTheCpuReference(DType dt, double rtol) {
        Random r = new Random(2);
        ConvSpec[] specs = {ConvSpec.of(1), new ConvSpec(1, 3, 3, 1, 1, 1, 0, 1, 1, 4),
            new ConvSpec(1, 3, 3, 1, 2, 2, 0, 1, 1, 4), new ConvSpec(3, 1, 1, 1, 1, 1, 1, 0, 0, 1),
            new ConvSpec(1, 7, 7, 1, 2, 2, 0, 3, 3, 1)};
        gpu.setAllowTf32(false);
        for (ConvSpec spec : specs) {
            try (TensorScope scope = TensorScope.open()) {
                long cin = spec.kH() == 7 ? 3 : 32;
                long cout = 32;
                Tensor x = rand(r, dt, 1, 2, cin, 4, 14, 14);
                Tensor w = rand(r, dt, 1.0 / Math.sqrt((double) cin * spec.kernelVolume() / spec.groups()), cout,
                        cin / spec.groups(), spec.kT(), spec.kH(), spec.kW());
                Tensor b = CudaBackendOpsTest.rand(r, cout);
                Shape out = spec.outputShape(x.shape(), cout);
                Tensor res = rand(r, dt, 1, out.get(0), out.get(1), out.get(2), out.get(3), out.get(4));
                Tensor gx = upCl(x);
                Tensor gwContiguous = gpu.toDevice(w);
                Tensor gwCl = upCl(w);
                Tensor gb = gpu.toDevice(b);
                Tensor gres = upCl(res);
                for (Tensor gw : new Tensor[] {gwContiguous, gwCl}) {
                    Tensor y = gpu.conv3d(gx, gw, gb, spec, true);
                    assertTrue(y.isChannelsLast() && y.dtype() == dt, y.toString());
                    close(cpu.conv3d(x, w, b, spec, true), y, rtol, dt + " " + spec + " bias+relu");
                    close(cpu.conv3d(x, w, null, spec, false), gpu.conv3d(gx, gw, null, spec, false), rtol,
                            dt + " " + spec + " raw");
                    close(cpu.conv3dResidual(x, w, b, spec, res, true), gpu.conv3dResidual(gx, gw, gb, spec, gres, true),
                            rtol, dt + " " + spec + " residual");
                }
                // a contiguous residual beside a channels-last x is refused, not read in the wrong order
                Tensor gresContiguous = gpu.toDevice(res);
                assertThrows(IllegalArgumentException.class,
                        () -> gpu.conv3dResidual(gx, gwCl, gb, spec, gresContiguous, true));
            }
        }
    }

    /**
     * The channels-last 1x1x1 and 3x1x1 convs as cuBLAS GEMMs (ConvGemmPlan.channelsLast*, a route kernel mode AUTO
     * measures against cuDNN), forced: forward with bias + ReLU, backward-data, backward-weight (KTRSC dw) against the
     * CPU; ragged shapes and one frame.
     */
    @ParameterizedTest
    @CsvSource({"FLOAT32, 1e-4", "BFLOAT16, 1e-2", "FLOAT16, 2e-3"})
    void theGemmRouteMatchesTheCpu(DType dt, double rtol) {
        gpu.setKernelMode(CudaBackend.KernelMode.AUTO);
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
                ConvSpec spec = c[6] == 1 ? ConvSpec.of(1) : temporal;
                try (TensorScope scope = TensorScope.open()) {
                    Shape xShape = Shape.of(xs);
                    Shape wShape = Shape.of(co, xs[1], c[6], 1, 1);
                    Shape yShape = spec.outputShape(xShape, co);
                    Tensor x = rand(r, dt, 1, xs);
                    Tensor w = rand(r, dt, 1.0 / Math.sqrt(xs[1] * c[6]), wShape.dims());
                    Tensor dy = rand(r, dt, 1, yShape.dims());
                    Tensor bias = CudaBackendOpsTest.rand(r, co);
                    String what = dt + " cuBLAS channels-last " + spec + " " + xShape + " -> " + co;
                    Tensor y = gpu.conv3d(upCl(x), upCl(w), gpu.toDevice(bias), spec, true);
                    assertTrue(y.isChannelsLast());
                    close(cpu.conv3d(x, w, bias, spec, true), y, rtol, what + " forward");
                    close(cpu.conv3dBackwardData(dy, w, spec, xShape), gpu.conv3dBackwardData(upCl(dy), upCl(w), spec,
                            xShape), rtol, what + " backward data");
                    Tensor dw = gpu.conv3dBackwardWeight(upCl(x), upCl(dy), spec, wShape);
                    assertTrue(dw.isChannelsLast() || MemoryFormat.isLayoutInvariant(wShape), dw.toString());
                    close(cpu.conv3dBackwardWeight(x, dy, spec, wShape), dw, rtol, what + " backward weight");
                }
            }
        } finally {
            gpu.forceRoute(null);
        }
    }

    /**
     * The {@code ncdhw} route (the contiguous op on reordered copies, reordered back; kernel mode AUTO measures it
     * against cuDNN's NDHWC kernel, which cuDNN 9.14 runs 2.5-6x slower for 16-bit grouped convs), forced: forward with
     * bias + ReLU and with a residual, backward-data, backward-weight (KTRSC dw) for every conv shape of a block and
     * the stem, ragged, one frame, and a layout-invariant output. Then measured: whichever route wins still matches.
     */
    @ParameterizedTest
    @CsvSource({"FLOAT32, 1e-4", "BFLOAT16, 1e-2", "FLOAT16, 2e-3"})
    void theNcdhwRouteMatchesTheCpu(DType dt, double rtol) {
        gpu.setKernelMode(CudaBackend.KernelMode.AUTO);
        gpu.setAllowTf32(false);
        ConvSpec grouped = new ConvSpec(1, 3, 3, 1, 1, 1, 0, 1, 1, 4);
        ConvSpec groupedS2 = new ConvSpec(1, 3, 3, 1, 2, 2, 0, 1, 1, 4);
        ConvSpec temporal = new ConvSpec(3, 1, 1, 1, 1, 1, 1, 0, 0, 1);
        ConvSpec stem = new ConvSpec(1, 7, 7, 1, 2, 2, 0, 3, 3, 1);
        Object[][] cases = { // spec, {N, Cin, T, H, W, Cout}
            {grouped, new long[] {2, 32, 3, 7, 9, 32}}, {groupedS2, new long[] {2, 32, 2, 9, 7, 32}},
            {grouped, new long[] {1, 64, 1, 1, 1, 64}}, {ConvSpec.of(1), new long[] {2, 5, 3, 4, 5, 7}},
            {temporal, new long[] {2, 6, 1, 3, 3, 6}}, {temporal, new long[] {2, 16, 4, 5, 5, 16}},
            {stem, new long[] {1, 3, 2, 15, 13, 16}}};
        Random r = new Random(17);
        for (String route : new String[] {CudaBackend.ROUTE_NCDHW, null}) {
            gpu.forceRoute(route);
            try {
                for (Object[] cs : cases) {
                    ConvSpec spec = (ConvSpec) cs[0];
                    long[] c = (long[]) cs[1];
                    try (TensorScope scope = TensorScope.open()) {
                        assertConvPassesMatchTheCpu(r, dt, rtol, spec, Shape.of(java.util.Arrays.copyOf(c, 5)), c[5],
                                dt + " " + (route == null ? "measured" : route));
                    }
                }
            } finally {
                gpu.forceRoute(null);
            }
        }
    }

    /**
     * One channels-last conv problem on the GPU against the CPU: forward with bias + ReLU and with a residual, and
     * backward-data, each with the weight channels-last and contiguous (reordered per call); backward-weight (dw in
     * x's dtype, KTRSC unless its layout is the same either way). Inputs drawn from {@code r}, inside the caller's scope.
     */
    private void assertConvPassesMatchTheCpu(Random r, DType dt, double rtol, ConvSpec spec, Shape xShape, long co,
            String label) {
        long cin = xShape.get(1);
        Shape wShape = Shape.of(co, cin / spec.groups(), spec.kT(), spec.kH(), spec.kW());
        Shape yShape = spec.outputShape(xShape, co);
        Tensor x = rand(r, dt, 1, xShape.dims());
        Tensor w = rand(r, dt, 1.0 / Math.sqrt((double) cin / spec.groups() * spec.kernelVolume()), wShape.dims());
        Tensor dy = rand(r, dt, 1, yShape.dims());
        Tensor res = rand(r, dt, 1, yShape.dims());
        Tensor bias = CudaBackendOpsTest.rand(r, co);
        String what = label + " " + spec + " " + xShape + " -> " + co;
        Tensor gx = upCl(x);
        for (Tensor gw : new Tensor[] {upCl(w), gpu.toDevice(w)}) {
            String ww = what + (gw.isChannelsLast() ? "" : " (contiguous w)");
            Tensor y = gpu.conv3d(gx, gw, gpu.toDevice(bias), spec, true);
            assertTrue(y.isChannelsLast() && y.dtype() == dt, y.toString());
            close(cpu.conv3d(x, w, bias, spec, true), y, rtol, ww + " forward");
            close(cpu.conv3dResidual(x, w, null, spec, res, false),
                    gpu.conv3dResidual(gx, gw, null, spec, upCl(res), false), rtol, ww + " residual");
            close(cpu.conv3dBackwardData(dy, w, spec, xShape), gpu.conv3dBackwardData(upCl(dy), gw, spec, xShape), rtol,
                    ww + " backward data");
        }
        Tensor dw = gpu.conv3dBackwardWeight(gx, upCl(dy), spec, wShape);
        assertTrue((dw.isChannelsLast() || MemoryFormat.isLayoutInvariant(wShape)) && dw.dtype() == dt, dw.toString());
        close(cpu.conv3dBackwardWeight(x, dy, spec, wShape), dw, rtol, what + " backward weight");
    }

    /**
     * sevnet's channels-last grouped 1x3x3 conv (kernels/grouped_conv_ndhwc.cu) against the CPU: forced (route
     * {@code sevnet} in AUTO, and kernel mode CUSTOM, which takes it unmeasured), forward with bias + ReLU and with a
     * residual, backward-data, backward-weight (KTRSC dw in x's dtype); 4, 8, 12 (two channel chunks) and 16 channels
     * a group, stride 1 and 2, ragged planes, a one-position plane, a large stride-2 plane (the tile shrunk to fit
     * shared memory), a contiguous weight.
     */
    @ParameterizedTest
    @CsvSource({"FLOAT32, 1e-4", "BFLOAT16, 1e-2", "FLOAT16, 2e-3"})
    void theGroupedKernelMatchesTheCpu(DType dt, double rtol) {
        gpu.setAllowTf32(false);
        Object[][] cases = { // stride, {N, C, T, H, W}, channels a group
            {1, new long[] {2, 32, 3, 7, 9}, 8}, {2, new long[] {2, 32, 2, 9, 7}, 8}, {1, new long[] {1, 64, 1, 1, 1}, 8},
            {2, new long[] {1, 48, 2, 40, 40}, 16}, {1, new long[] {2, 24, 2, 5, 6}, 12}, {2, new long[] {1, 8, 3, 6, 5}, 4},
            {1, new long[] {1, 512, 2, 7, 7}, 8}};
        Random r = new Random(19);
        withSevnetRouteForced(mode -> {
            for (Object[] cs : cases) {
                int st = (Integer) cs[0];
                long[] c = (long[]) cs[1];
                int cg = (Integer) cs[2];
                ConvSpec spec = new ConvSpec(1, 3, 3, 1, st, st, 0, 1, 1, (int) (c[1] / cg));
                try (TensorScope scope = TensorScope.open()) {
                    assertConvPassesMatchTheCpu(r, dt, rtol, spec, Shape.of(c), c[1], dt + " " + mode);
                }
            }
        });
    }

    /**
     * Runs {@code body} twice: in AUTO with route {@code sevnet} forced, then in CUSTOM (which takes sevnet's kernels
     * unmeasured); the backend is AUTO and unforced again after.
     */
    private void withSevnetRouteForced(java.util.function.Consumer<CudaBackend.KernelMode> body) {
        withRouteForced(CudaBackend.ROUTE_SEVNET, body);
    }

    /** {@link #withSevnetRouteForced} with another of sevnet's routes forced in AUTO. */
    private void withRouteForced(String route, java.util.function.Consumer<CudaBackend.KernelMode> body) {
        for (CudaBackend.KernelMode mode : new CudaBackend.KernelMode[] {CudaBackend.KernelMode.AUTO,
            CudaBackend.KernelMode.CUSTOM}) {
            gpu.setKernelMode(mode);
            gpu.forceRoute(mode == CudaBackend.KernelMode.AUTO ? route : null);
            try {
                body.accept(mode);
            } finally {
                gpu.forceRoute(null);
                gpu.setKernelMode(CudaBackend.KernelMode.AUTO);
            }
        }
    }

    /**
     * sevnet's channels-last temporal 3x1x1 conv (kernels/temporal_conv_ndhwc.cu, fp32 and bf16; the weight reordered
     * to [C][C][3] per call, dw back to KTRSC) against the CPU, forced in AUTO and taken by CUSTOM: the four passes of
     * {@link #assertConvPassesMatchTheCpu}; one frame (both taps padding), ragged channels, a G8 width.
     */
    @ParameterizedTest
    @CsvSource({"FLOAT32, 1e-4", "BFLOAT16, 1e-2"})
    void theTemporalKernelMatchesTheCpu(DType dt, double rtol) {
        gpu.setAllowTf32(false);
        ConvSpec temporal = new ConvSpec(3, 1, 1, 1, 1, 1, 1, 0, 0, 1);
        long[][] cases = {{2, 16, 4, 5, 5}, {2, 6, 1, 3, 3}, {1, 70, 3, 2, 3}, {1, 64, 8, 7, 7}};
        Random r = new Random(23);
        withSevnetRouteForced(mode -> {
            for (long[] c : cases) {
                try (TensorScope scope = TensorScope.open()) {
                    assertConvPassesMatchTheCpu(r, dt, rtol, temporal, Shape.of(c), c[1], dt + " " + mode);
                }
            }
        });
    }

    /**
     * sevnet's tensor-core channels-last temporal 3x1x1 conv (kernels/temporal_conv_ndhwc_tc.cu: WMMA, the weight read
     * in KTRSC, the forward's bias + residual + ReLU in its store) against the CPU, forced in AUTO (route
     * {@code sevnet-tc}) and taken by CUSTOM before the CUDA-core kernel: the four passes of
     * {@link #assertConvPassesMatchTheCpu}; fp32 with TF32 on (its
     * products are TF32: the tolerance is TF32's), one frame, channel counts that are not a multiple of the 16-byte
     * slot (70, 6) or of the 64-channel tile (96), a G8 width with a ragged position tile (7x7).
     */
    @ParameterizedTest
    @CsvSource({"FLOAT32, 5e-3", "BFLOAT16, 1e-2", "FLOAT16, 2e-3"})
    void theTensorCoreTemporalKernelMatchesTheCpu(DType dt, double rtol) {
        gpu.setAllowTf32(true);
        ConvSpec temporal = new ConvSpec(3, 1, 1, 1, 1, 1, 1, 0, 0, 1);
        long[][] cases = {{2, 16, 4, 5, 5}, {2, 6, 1, 3, 3}, {1, 70, 3, 2, 3}, {2, 96, 3, 4, 4}, {1, 64, 8, 7, 7}};
        Random r = new Random(29);
        try {
            withRouteForced(CudaBackend.ROUTE_SEVNET_TC, mode -> {
                for (long[] c : cases) {
                    try (TensorScope scope = TensorScope.open()) {
                        assertConvPassesMatchTheCpu(r, dt, rtol, temporal, Shape.of(c), c[1], dt + " " + mode);
                    }
                }
            });
        } finally {
            gpu.setAllowTf32(false);
        }
    }

    /**
     * The channels-last 1x1x1 conv as one cuBLASLt matmul with its epilogue (bias, ReLU, residual as C), forced:
     * every epilogue against the CPU's conv3d / conv3dResidual; ragged and SEVNet-like channel counts, one frame, and a
     * weight given contiguous (reordered per call). Then the same problems measured (AUTO): whichever route wins, the
     * result still matches.
     */
    @ParameterizedTest
    @CsvSource({"FLOAT32, 1e-4", "BFLOAT16, 1e-2", "FLOAT16, 2e-3"})
    void theCublasLtEpilogueRouteMatchesTheCpu(DType dt, double rtol) {
        gpu.setKernelMode(CudaBackend.KernelMode.AUTO);
        gpu.setAllowTf32(false);
        ConvSpec spec = ConvSpec.of(1);
        Random r = new Random(13);
        for (String route : new String[] {CudaBackend.ROUTE_CUBLASLT, null}) {
            gpu.forceRoute(route);
            try {
                // {N, Cin, T, H, W, Cout}
                for (long[] c : new long[][] {{2, 5, 3, 4, 5, 7}, {2, 64, 4, 7, 7, 96}, {1, 32, 1, 3, 3, 32},
                    {3, 48, 2, 5, 5, 48}}) {
                    try (TensorScope scope = TensorScope.open()) {
                        Shape xShape = Shape.of(java.util.Arrays.copyOf(c, 5));
                        long co = c[5];
                        Shape yShape = spec.outputShape(xShape, co);
                        Tensor x = rand(r, dt, 1, xShape.dims());
                        Tensor w = rand(r, dt, 1.0 / Math.sqrt(c[1]), co, c[1], 1, 1, 1);
                        Tensor bias = CudaBackendOpsTest.rand(r, co);
                        Tensor res = rand(r, dt, 1, yShape.dims());
                        Tensor gx = upCl(x);
                        Tensor gb = gpu.toDevice(bias);
                        Tensor gres = upCl(res);
                        for (Tensor gw : new Tensor[] {upCl(w), gpu.toDevice(w)}) {
                            String what = dt + " " + (route == null ? "measured" : route) + " " + xShape + " -> " + co
                                    + (gw.isChannelsLast() ? "" : " (contiguous w)");
                            for (boolean relu : new boolean[] {false, true}) {
                                for (boolean withBias : new boolean[] {false, true}) {
                                    Tensor b = withBias ? bias : null;
                                    Tensor y = gpu.conv3d(gx, gw, withBias ? gb : null, spec, relu);
                                    assertTrue(y.isChannelsLast() && y.dtype() == dt, y.toString());
                                    close(cpu.conv3d(x, w, b, spec, relu), y, rtol,
                                            what + " bias " + withBias + " relu " + relu);
                                    close(cpu.conv3dResidual(x, w, b, spec, res, relu), gpu.conv3dResidual(gx, gw,
                                            withBias ? gb : null, spec, gres, relu), rtol,
                                            what + " residual, bias " + withBias + " relu " + relu);
                                }
                            }
                        }
                    }
                }
            } finally {
                gpu.forceRoute(null);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"FLOAT32", "BFLOAT16", "FLOAT16"})
    void glueOpsMatchTheCpuReference(DType dt) {
        Random r = new Random(3);
        try (TensorScope scope = TensorScope.open()) {
            Tensor a = rand(r, dt, 1, 2, 24, 3, 7, 7);
            Tensor b = rand(r, dt, 1, 2, 40, 3, 7, 7);
            Tensor g = CudaBackendOpsTest.rand(r, 2, 24);
            Tensor ga = upCl(a);
            Tensor gb = upCl(b);
            Tensor gg = gpu.toDevice(g);
            Tensor cat = gpu.concatChannels(ga, gb);
            assertTrue(cat.isChannelsLast());
            assertArrayEquals(cpu.concatChannels(a, b).toFloatArray(), cat.toFloatArray(), "concat");
            Tensor scaled = gpu.channelScale(ga, gg);
            assertTrue(scaled.isChannelsLast());
            assertArrayEquals(cpu.channelScale(a, g).toFloatArray(), scaled.toFloatArray(), "channel scale");
            Tensor pooled = gpu.globalAvgPool(ga);
            assertEquals(Shape.of(2, 24), pooled.shape());
            close(cpu.globalAvgPool(a), pooled, 1e-6, "global avg-pool");
            ConvSpec window = new ConvSpec(1, 3, 3, 1, 2, 2, 0, 1, 1, 1);
            Tensor avg = gpu.avgPool3d(ga, window);
            assertTrue(avg.isChannelsLast());
            close(cpu.avgPool3d(a, window), avg, dt == DType.FLOAT32 ? 1e-6 : 0, "avg-pool");
            Tensor relu = gpu.relu(ga);
            assertTrue(relu.isChannelsLast());
            assertArrayEquals(cpu.relu(a).toFloatArray(), relu.toFloatArray(), "relu");
            Tensor a2 = rand(r, dt, 1, 2, 24, 3, 7, 7);
            assertArrayEquals(cpu.addRelu(a, a2).toFloatArray(), gpu.addRelu(ga, upCl(a2)).toFloatArray(), "add+relu");
            if (dt != DType.FLOAT32) {
                Tensor wide = gpu.cast(ga, DType.FLOAT32);
                assertTrue(wide.isChannelsLast());
                assertArrayEquals(a.toFloatArray(), wide.toFloatArray(), "cast");
            }
            // mixed formats and ops without a channels-last form are refused
            assertThrows(IllegalArgumentException.class, () -> gpu.add(ga, gpu.toDevice(a2)));
            assertThrows(IllegalArgumentException.class, () -> gpu.concatChannels(ga, gpu.toDevice(b)));
            if (dt == DType.FLOAT32) {
                // batch norm (training form) on the NDHWC kernels; a channels-last weight beside contiguous activations
                close(cpu.batchNormTrain(a, null, null, null, null, 1e-5, 0.1).y(),
                        gpu.batchNormTrain(ga, null, null, null, null, 1e-5, 0.1).y(), 1e-5, "batch norm train");
                Tensor w = CudaBackendOpsTest.rand(r, 24, 6, 1, 3, 3);
                ConvSpec grouped = new ConvSpec(1, 3, 3, 1, 1, 1, 0, 1, 1, 4);
                Tensor dy = CudaBackendOpsTest.rand(r, 2, 24, 3, 7, 7);
                close(cpu.conv3dBackwardData(dy, w, grouped, a.shape()),
                        gpu.conv3dBackwardData(gpu.toDevice(dy), upCl(w), grouped, a.shape()), 1e-4,
                        "contiguous dy, channels-last weight");
            }
        }
    }

    /** A folded SEVNet run channels-last gives the contiguous run's logits (both on the GPU, TF32 off). */
    @ParameterizedTest
    @CsvSource({"sevnet-g2, FLOAT32, 1e-4", "sevnet-se-g2, FLOAT32, 1e-4", "sevnet-g2, BFLOAT16, 2e-2",
        "sevnet-se-g2, FLOAT16, 4e-3"})
    void aChannelsLastModelGivesTheContiguousLogits(String model, DType dt, double tol) {
        gpu.setAllowTf32(false);
        Random r = new Random(4);
        try (SevNet net = SevNet.create(SevNetConfig.parse(model, 10), 7);
                Tensor x = CudaBackendOpsTest.rand(r, 3, 3, 8, 32, 32)) {
            FoldedSevNetTest.randomizeBatchNorms(net, 5);
            net.eval();
            try (FoldedSevNet contiguous = FoldedSevNet.fold(net, dt); FoldedSevNet cl = FoldedSevNet.fold(net, dt);
                    GradMode.Guard g = GradMode.noGrad(); TensorScope scope = TensorScope.open()) {
                contiguous.to(gpu);
                cl.to(gpu);
                cl.toMemoryFormat(MemoryFormat.CHANNELS_LAST);
                assertEquals(MemoryFormat.CHANNELS_LAST, cl.activationFormat());
                Tensor gx = gpu.toDevice(x);
                float[] expected = contiguous.forward(Var.of(gx)).value().toFloatArray();
                float[] eager = cl.forward(Var.of(gx)).value().toFloatArray();
                assertWithin(expected, eager, tol, model + " " + dt + " eager");
                // the state dict stays NCDHW: a round trip through the host gives the same model
                try (FoldedSevNet again = FoldedSevNet.fold(net, dt)) {
                    again.loadStateDict(cl.stateDict(), true);
                    again.to(gpu);
                    assertWithin(expected, again.forward(Var.of(gx)).value().toFloatArray(), 1e-6,
                            "state dict of a channels-last model");
                }
                try (GraphedInference graphed = new GraphedInference(cl, gpu)) {
                    graphed.forward(gx); // captured at the first call; the output belongs to the graph
                    assertWithin(expected, graphed.forwardToHost(gx), tol, model + " " + dt + " graphed");
                }
            }
        }
    }

    @Test
    void thePredictorServesAChannelsLastModel() {
        List<String> labels = List.of("a", "b", "c", "d", "e", "f");
        Random r = new Random(5);
        try (SevNet net = SevNet.create(SevNetConfig.parse("sevnet-g2", labels.size()), 3);
                Tensor clip = CudaBackendOpsTest.rand(r, 3, 8, 32, 32)) {
            FoldedSevNetTest.randomizeBatchNorms(net, 5);
            net.eval();
            try (Predictor plain = Predictor.builder().model(net, labels).device("cuda").frames(8).size(32).build();
                    Predictor cl = Predictor.builder().model(net, labels).device("cuda").frames(8).size(32)
                            .memoryFormat(MemoryFormat.CHANNELS_LAST).build()) {
                Prediction a = plain.predict(clip);
                Prediction b = cl.predict(clip);
                assertEquals(a.top().get(0).label(), b.top().get(0).label());
                assertWithin(a.probabilities(), b.probabilities(), 1e-3, "predictor probabilities");
            }
        }
    }

    static void assertWithin(float[] expected, float[] actual, double tol, String what) {
        assertEquals(expected.length, actual.length, what);
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY, worst = 0;
        for (int i = 0; i < expected.length; i++) {
            assertTrue(Float.isFinite(actual[i]), what + ": non-finite at " + i);
            lo = Math.min(lo, expected[i]);
            hi = Math.max(hi, expected[i]);
            worst = Math.max(worst, Math.abs((double) actual[i] - expected[i]));
        }
        double rel = worst / Math.max(hi - lo, 1e-12);
        System.out.printf("%s: worst difference %.3e of the range%n", what, rel);
        assertTrue(rel <= tol, what + ": worst difference " + rel + " of the range > " + tol);
    }
}
