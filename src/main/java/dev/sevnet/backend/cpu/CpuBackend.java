package dev.sevnet.backend.cpu;

import dev.sevnet.backend.Backend;
import dev.sevnet.backend.Checks;
import dev.sevnet.backend.ConvSpec;
import dev.sevnet.backend.OpChecks;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Device;
import dev.sevnet.tensor.HostAllocator;
import dev.sevnet.tensor.HostStorage;
import dev.sevnet.tensor.MemoryFormat;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import java.util.List;

/**
 * The native CPU backend: every op is one call into {@code libsevnet} (OpenMP, vectorized), after
 * the argument checks in Java. Stateless and thread-safe.
 */
public final class CpuBackend implements Backend {
    private static final CpuBackend INSTANCE = new CpuBackend();
    private static final Device CPU = Device.CPU;

    private CpuBackend() {
        NativeCore.ensureLoaded();
    }

    public static CpuBackend get() {
        return INSTANCE;
    }

    /**
     * Whether host tensors of 4 MiB and more ask for transparent huge pages (Linux {@code madvise(MADV_HUGEPAGE)} on
     * each block's 2 MiB-aligned interior), like PyTorch's {@code THP_MEM_ALLOC_ENABLE=1}. Off by default, as there:
     * with the system's THP defrag setting "madvise" (the usual one) a page fault in an advised block may stall for
     * compaction, latency a serving process may not want. On (system property {@code sevnet.hugePages=true} at
     * start-up, or this method), a SEVNet-G8 training step (8x112² batch 8, ~1 GB of activations and gradients) ran
     * ~4% faster on the development machine (eight alternated pairs, 6 won; about half its RSS in huge pages).
     * Advice only: where the system refuses (THP "never", not Linux) nothing changes.
     */
    public static void setHugePages(boolean on) {
        HostAllocator.setLargeBlockAdvice(on ? NativeCore::sev_advise_huge_pages : null);
        hugePages = on;
    }

    /** Whether large host tensors ask for transparent huge pages ({@link #setHugePages}). */
    public static boolean hugePages() {
        return hugePages;
    }

    private static volatile boolean hugePages;

    static {
        setHugePages(Boolean.parseBoolean(System.getProperty("sevnet.hugePages", "false")));
    }

    /**
     * How fp32 convolutions compute on the CPU — PyTorch's {@code torch.backends.mkldnn.matmul.fp32_precision}.
     * {@link #IEEE} (the default): fp32 throughout. {@link #BF16}: the GEMMs of the pointwise (1x1x1), temporal
     * (kTx1x1) and im2col (the stem's weight gradient, dense kernels) convolutions — forward, backward-data and
     * backward-weight; about two thirds of SEVNet's arithmetic —
     * round their fp32 operands to bf16 (nearest even; 8 bits of mantissa) and accumulate in fp32 — on the AMX tile
     * unit where the CPU has AMX-BF16 (Intel Xeon from Sapphire Rapids on), else with AVX512-BF16's dot products (AMD
     * Zen 4 and 5, Intel Cooper Lake): {@link #bf16Kernel}; on a CPU with neither BF16 computes as IEEE. The
     * direct convolutions — the grouped 1x3x3s and the stem's 1x7x7 forward; at stride 1 their backward passes too —
     * take bf16 as well with the AVX512-BF16 kernel (on AMX CPUs they stay fp32). Tensors, the stride-2 grouped
     * convs' backward passes and
     * everything that is not a convolution stay fp32.
     */
    public enum Fp32Precision {
        IEEE, BF16;

        /** {@code ieee} or {@code bf16} (any case). */
        public static Fp32Precision parse(String s) {
            for (Fp32Precision p : values()) {
                if (p.name().equalsIgnoreCase(s == null ? "" : s.trim())) {
                    return p;
                }
            }
            throw new IllegalArgumentException("fp32 precision must be ieee or bf16, got '" + s + "'");
        }

        @Override
        public String toString() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /**
     * Sets the process's {@link Fp32Precision} (system property {@code sevnet.fp32Precision=ieee|bf16} at start-up):
     * every later convolution on every thread. BF16 on a CPU without a bf16 kernel ({@link #bf16Kernel} NONE) is
     * accepted and computes as IEEE ({@link #effectiveFp32Precision}).
     */
    public static void setFp32Precision(Fp32Precision p) {
        if (p == null) {
            throw new IllegalArgumentException("fp32 precision must not be null");
        }
        ok(NativeCore.sev_set_fp32_precision(p.ordinal()), "set fp32 precision");
    }

    public static Fp32Precision fp32Precision() {
        return Fp32Precision.values()[NativeCore.sev_get_fp32_precision()];
    }

    /** What the convolutions compute in now: BF16 only where it is set and a bf16 kernel runs here. */
    public static Fp32Precision effectiveFp32Precision() {
        return fp32Precision() == Fp32Precision.BF16 && bf16Kernel() != Bf16Kernel.NONE
                ? Fp32Precision.BF16 : Fp32Precision.IEEE;
    }

    /** Whether the CPU has AMX-BF16 and the OS let this process use it (the bf16 precision's tile GEMMs). */
    public static boolean amxBf16Available() {
        return NativeCore.sev_amx_bf16_available() != 0;
    }

    /**
     * The instructions the {@link Fp32Precision#BF16} GEMMs run on: {@link #AMX_BF16} (tile products, Intel Xeon from
     * Sapphire Rapids on), {@link #AVX512_BF16} (VDPBF16PS dot products: AMD Zen 4 and 5, Intel Cooper Lake; about
     * twice the fp32 FMA's multiply-adds per cycle) or {@link #NONE} (BF16 computes as IEEE). The same rounding of the
     * operands either way; the fp32 sums may differ in their last bits between kernels (another order).
     */
    public enum Bf16Kernel {
        NONE, AVX512_BF16, AMX_BF16;

        /** {@code none}, {@code avx512}/{@code avx512_bf16}, {@code amx}/{@code amx_bf16} (any case). */
        public static Bf16Kernel parse(String s) {
            String v = s == null ? "" : s.trim().toLowerCase(java.util.Locale.ROOT).replace('-', '_');
            switch (v) {
                case "none":
                    return NONE;
                case "avx512":
                case "avx512_bf16":
                    return AVX512_BF16;
                case "amx":
                case "amx_bf16":
                    return AMX_BF16;
                default:
                    throw new IllegalArgumentException("bf16 kernel must be amx, avx512 or none, got '" + s + "'");
            }
        }

        @Override
        public String toString() {
            return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        }
    }

    /** The bf16 kernel in use: the best this CPU has ({@link #useBestBf16Kernel}) unless {@link #setBf16Kernel}. */
    public static Bf16Kernel bf16Kernel() {
        return Bf16Kernel.values()[NativeCore.sev_bf16_kernel()];
    }

    /** Whether this CPU (and the ISA cap, {@code SEV_ISA}) can run {@code k}; {@link Bf16Kernel#NONE} always. */
    public static boolean bf16KernelAvailable(Bf16Kernel k) {
        if (k == null) {
            throw new IllegalArgumentException("bf16 kernel must not be null");
        }
        return NativeCore.sev_bf16_kernel_available(k.ordinal()) != 0;
    }

    /**
     * Runs the BF16 GEMMs on {@code k} from now on, process-wide (system property {@code sevnet.bf16Kernel=amx|avx512|
     * none} at start-up): to compare the kernels on one machine, or NONE to compute as IEEE whatever the setting.
     *
     * @throws UnsupportedOperationException where the CPU cannot run {@code k} ({@link #bf16KernelAvailable})
     */
    public static void setBf16Kernel(Bf16Kernel k) {
        if (!bf16KernelAvailable(k)) {
            throw new UnsupportedOperationException("bf16 kernel " + k + " is not available on this CPU"
                    + (k == Bf16Kernel.AMX_BF16 ? " (no AMX-BF16, the ISA is capped, or the OS refused the tile state)"
                    : " (no AVX512-BF16, or the ISA is capped below AVX-512)") + "; available: "
                    + java.util.Arrays.stream(Bf16Kernel.values()).filter(CpuBackend::bf16KernelAvailable)
                    .map(Bf16Kernel::toString).collect(java.util.stream.Collectors.joining(", ")));
        }
        ok(NativeCore.sev_set_bf16_kernel(k.ordinal()), "set bf16 kernel");
    }

    /** Back to the default: the best bf16 kernel this CPU has (AMX, else AVX512-BF16, else none). */
    public static void useBestBf16Kernel() {
        ok(NativeCore.sev_set_bf16_kernel(-1), "set bf16 kernel");
    }

    static {
        setFp32Precision(Fp32Precision.parse(System.getProperty("sevnet.fp32Precision", "ieee")));
        // a kernel this CPU lacks (or a typo) must not take the CPU backend down with it: warn, keep the best one
        String kernel = System.getProperty("sevnet.bf16Kernel", "auto").trim();
        if (!kernel.equalsIgnoreCase("auto")) {
            try {
                setBf16Kernel(Bf16Kernel.parse(kernel));
            } catch (IllegalArgumentException | UnsupportedOperationException e) {
                org.slf4j.LoggerFactory.getLogger(CpuBackend.class).warn(
                        "-Dsevnet.bf16Kernel={} ignored ({}); bf16 kernel: {}", kernel, e.getMessage(), bf16Kernel());
            }
        }
    }

    /**
     * Bounds the native thread pool ({@code <= 0}: all cores): every Java thread's native calls from its next call on,
     * like {@code torch.set_num_threads} (OpenMP keeps the setting per thread; each native call applies this one).
     */
    public static void setNumThreads(int n) {
        NativeCore.sev_set_num_threads(n);
    }

    public static int numThreads() {
        return NativeCore.sev_get_num_threads();
    }

    /**
     * The calling Java thread's own native thread count, over {@link #setNumThreads}'s ({@code n <= 0}: back to that):
     * for several threads that run models at once — a {@code Predictor}'s batching threads, each batch's forward pass
     * on a share of the cores (ONNX Runtime's per-session {@code intra_op_num_threads}) instead of every thread's
     * OpenMP team on all of them. Applies to this thread's next native call; other threads are not affected.
     */
    public static void setCurrentThreadNumThreads(int n) {
        NativeCore.sev_set_thread_num_threads(n);
    }

    /** The native thread count the calling thread's native calls use: its own, else {@link #numThreads()}. */
    public static int currentThreadNumThreads() {
        return NativeCore.sev_get_thread_num_threads();
    }

    /**
     * Whether the native kernels flush denormal results to zero (default true; system property
     * {@code sevnet.flushDenormals=false} at start-up, or this method, for IEEE gradual underflow). Why: on x86 every
     * instruction that makes a denormal (|x| < 2^-126) takes a microcode assist, and a training step whose gradients
     * have shrunk towards zero ran its backward convolutions 10x slower. Results only (FTZ, no DAZ): a denormal input
     * is compared and converted as it is. Only inside the native kernels: Java's own arithmetic keeps IEEE semantics.
     * TensorFlow flushes around every op (FTZ and DAZ); PyTorch offers {@code torch.set_flush_denormal}. The GPU
     * kernels never flush, so a bit-for-bit comparison with them at denormal values wants this off.
     */
    public static void setFlushDenormals(boolean flush) {
        NativeCore.sev_set_flush_denormals(flush ? 1 : 0);
    }

    /** Whether denormal results are flushed to zero (false where the CPU has no such mode). */
    public static boolean flushDenormals() {
        return NativeCore.sev_get_flush_denormals() != 0;
    }

    /**
     * The build of the vectorized CPU kernels (GEMM, convolutions, pooling, loss scaling) this process runs:
     * {@code avx512}, {@code avx2} or {@code baseline} — the best the CPU has, unless the environment variable
     * {@code SEV_ISA=avx2|scalar} capped it at start-up (the tests run each build that way).
     */
    public static String cpuKernels() {
        return switch (NativeCore.sev_cpu_kernels()) {
            case 2 -> "avx512";
            case 1 -> "avx2";
            default -> "baseline";
        };
    }

    @Override
    public Device device() {
        return CPU;
    }

    @Override
    public String name() {
        return "cpu";
    }

    private static final OpChecks C = new OpChecks(CPU);

    private static void f32(Tensor t, String name) {
        C.f32(t, name);
    }

    private static void ok(int rc, String op) {
        if (rc != 0) {
            throw new IllegalStateException(op + " failed in native code (" + rc + "): " + NativeCore.sev_last_error());
        }
    }

    /** {@code out} when the native call succeeded; otherwise {@code out} is closed and the failure thrown. */
    private static Tensor closeOnFailure(Tensor out, int rc, String op) {
        if (rc != 0) {
            out.close();
            ok(rc, op);
        }
        return out;
    }

    private static long addr(Tensor t) {
        return t == null ? 0L : t.address();
    }

    private static boolean half(Tensor t) {
        return t != null && OpChecks.isHalf(t.dtype());
    }

    /** The exact fp32 copy of a 16-bit tensor (null stays null): the reference forms widen, run fp32, round once. */
    private static Tensor wide(Tensor t) {
        return t == null ? null : HalfReference.cast(t, DType.FLOAT32);
    }

    /** {@code t} (fp32) rounded once to {@code dt}; {@code t} is closed. */
    private static Tensor narrow(Tensor t, DType dt) {
        try (t) {
            return HalfReference.cast(t, dt);
        }
    }

    // ---- channels-last tensors: the reference of the CUDA backend's NDHWC path ----
    // Each op reorders its channels-last arguments to NCDHW, runs the NCDHW op and reorders its 5-D results back
    // (element-wise ops too: a reorder is cheap beside a conv, and one code path is one thing to trust). Slower than
    // contiguous on this backend; it exists so the channels-last model path runs, and is tested, without a GPU.

    @Override
    public boolean supportsChannelsLast() {
        return true;
    }

    @Override
    public Tensor toMemoryFormat(Tensor x, MemoryFormat format) {
        Tensor same = CL.memoryFormatWithoutReorder(x, format);
        if (same != null) {
            return same;
        }
        DType dt = x.dtype();
        long n = x.dim(0), c = x.dim(1), sp = x.shape().sizeFrom(2);
        Tensor y = Tensor.wrap(x.shape(), dt, HostStorage.allocate(x.byteSize()), format);
        boolean toLast = format == MemoryFormat.CHANNELS_LAST;
        int rc = dt == DType.FLOAT32
                ? (toLast ? NativeCore.sev_ncdhw_to_ndhwc(x.address(), y.address(), n, c, sp)
                        : NativeCore.sev_ndhwc_to_ncdhw(x.address(), y.address(), n, c, sp))
                : (toLast ? NativeCore.sev_ncdhw_to_ndhwc_u16(x.address(), y.address(), n, c, sp)
                        : NativeCore.sev_ndhwc_to_ncdhw_u16(x.address(), y.address(), n, c, sp));
        if (rc != 0) {
            y.close();
            ok(rc, "memory-format reorder");
        }
        return y;
    }

    private static final OpChecks CL = new OpChecks(CPU, true);

    /** The checks of an op that reads every element in either byte order (in-place element-wise ops, sums). */
    private static OpChecks checks(Tensor t) {
        return t != null && t.isChannelsLast() ? CL : C;
    }

    @Override
    public Tensor globalAvgPoolBackward(Tensor dy, Shape xShape, DType dxType, MemoryFormat format) {
        Tensor dx = Backend.super.globalAvgPoolBackward(dy, xShape, dxType, MemoryFormat.CONTIGUOUS);
        return format == MemoryFormat.CHANNELS_LAST ? toCl(dx) : dx;
    }

    /**
     * Whether any argument is labelled channels-last: the op then runs on NCDHW views or copies and its result is
     * labelled channels-last, as the CUDA backend's NDHWC path gives it — for a layout-invariant tensor (C or T*H*W of
     * 1) too, whose bytes are the same either way (its "copy" is a relabelled view).
     */
    private static boolean cl(Tensor... ts) {
        for (Tensor t : ts) {
            if (t != null && !t.isClosed() && t.isChannelsLast()) {
                return true;
            }
        }
        return false;
    }

    private static void sameFormat(Tensor a, String an, Tensor b, String bn) {
        if (a != null && b != null) {
            Checks.sameFormat(a, an, b, bn);
        }
    }

    /** t's values in NCDHW bytes (a new reference, or a reordered copy); null stays null. The caller closes it. */
    private Tensor contiguous(Tensor t) {
        return t == null ? null : t.isClosed() ? t : toMemoryFormat(t, MemoryFormat.CONTIGUOUS);
    }

    /** A conv's result t in the format of its activations {@code act} (the weight's format does not carry over). */
    private Tensor like(Tensor act, Tensor t) {
        return cl(act) ? toCl(t) : t;
    }

    /** A 5-D result as channels-last (t is closed); another rank unchanged. */
    private Tensor toCl(Tensor t) {
        if (t == null || t.rank() != 5) {
            return t;
        }
        try (t) {
            return toMemoryFormat(t, MemoryFormat.CHANNELS_LAST);
        }
    }

    // ---- convolution ----

    @Override
    public Tensor conv3d(Tensor x, Tensor w, Tensor bias, ConvSpec spec, boolean relu) {
        if (cl(x, w)) {
            try (Tensor xc = contiguous(x); Tensor wc = contiguous(w)) {
                return like(x, conv3d(xc, wc, bias, spec, relu));
            }
        }
        if (x != null && OpChecks.isHalf(x.dtype())) {
            return halfConv(x, w, bias, spec, null, relu);
        }
        return convForward(x, w, bias, spec, null, relu);
    }

    @Override
    public Tensor conv3dResidual(Tensor x, Tensor w, Tensor bias, ConvSpec spec, Tensor residual, boolean relu) {
        if (cl(x, w, residual)) {
            sameFormat(x, "x", residual, "residual");
            try (Tensor xc = contiguous(x); Tensor wc = contiguous(w); Tensor rc = contiguous(residual)) {
                return like(x, conv3dResidual(xc, wc, bias, spec, rc, relu));
            }
        }
        if (x != null && OpChecks.isHalf(x.dtype())) {
            return halfConv(x, w, bias, spec, residual, relu);
        }
        f32(residual, "residual");
        return convForward(x, w, bias, spec, residual, relu);
    }

    /**
     * The 16-bit conv (x, w and the residual of one 16-bit type, bias fp32): the reference of the CUDA backend's
     * ({@link HalfReference#conv}).
     */
    private Tensor halfConv(Tensor x, Tensor w, Tensor bias, ConvSpec spec, Tensor residual, boolean relu) {
        C.halfConv(x, w, bias, spec, residual);
        return HalfReference.conv(this, x, w, bias, spec, residual, relu);
    }

    /** act(conv3d(x, w) + bias [+ residual]): every argument checked before the native call. */
    private Tensor convForward(Tensor x, Tensor w, Tensor bias, ConvSpec spec, Tensor residual, boolean relu) {
        f32(x, "x");
        f32(w, "weight");
        C.conv(x.shape(), w.shape(), spec);
        long cout = w.dim(0);
        if (bias != null) {
            f32(bias, "bias");
            Checks.shape(bias, "bias", Shape.of(cout));
        }
        Shape out = spec.outputShape(x.shape(), cout);
        if (residual != null) {
            Checks.shape(residual, "residual", out);
        }
        int[] p = spec.nativeParams(x.shape(), cout);
        Tensor y = Tensor.empty(out);
        int rc = residual == null
                ? NativeCore.sev_conv3d_forward(x.address(), w.address(), addr(bias), y.address(), p, relu ? 1 : 0)
                : NativeCore.sev_conv3d_forward_residual(x.address(), w.address(), addr(bias), residual.address(),
                        y.address(), p, relu ? 1 : 0);
        return closeOnFailure(y, rc, residual == null ? "conv3d" : "conv3d residual");
    }

    /**
     * The eval batch norm (and the ReLU) applied in the conv's epilogue, on each output tile while it is in cache: the
     * separate batch norm's read and write of the whole output saved (~10% of an unfolded SEVNet-G8 inference at
     * 16x224²), bit for bit the separate ops. 16-bit or channels-last tensors take the separate ops.
     */
    @Override
    public Tensor convBatchNormEval(Tensor x, Tensor w, ConvSpec spec, Tensor gamma, Tensor beta, Tensor runningMean,
            Tensor runningVar, double eps, boolean relu) {
        if (cl(x, w) || half(x) || half(w)) {
            return Backend.super.convBatchNormEval(x, w, spec, gamma, beta, runningMean, runningVar, eps, relu);
        }
        return convBatchNormEvalFused(x, w, spec, gamma, beta, runningMean, runningVar, eps, null, relu);
    }

    /** The batch norm, the residual add and the ReLU in the conv's epilogue, as {@link #convBatchNormEval}. */
    @Override
    public Tensor convBatchNormAddReluEval(Tensor x, Tensor w, ConvSpec spec, Tensor gamma, Tensor beta,
            Tensor runningMean, Tensor runningVar, double eps, Tensor residual) {
        if (cl(x, w, residual) || half(x) || half(w) || half(residual)) {
            return Backend.super.convBatchNormAddReluEval(x, w, spec, gamma, beta, runningMean, runningVar, eps,
                    residual);
        }
        if (residual == null) {
            throw new IllegalArgumentException("convBatchNormAddReluEval needs a residual");
        }
        return convBatchNormEvalFused(x, w, spec, gamma, beta, runningMean, runningVar, eps, residual, true);
    }

    /** act(batchNormEval(conv3d(x, w)) [+ residual]), fp32 NCDHW: every argument checked before the native call. */
    private Tensor convBatchNormEvalFused(Tensor x, Tensor w, ConvSpec spec, Tensor gamma, Tensor beta,
            Tensor runningMean, Tensor runningVar, double eps, Tensor residual, boolean relu) {
        f32(x, "x");
        f32(w, "weight");
        C.conv(x.shape(), w.shape(), spec);
        long cout = w.dim(0);
        Shape out = spec.outputShape(x.shape(), cout);
        C.batchNormEval(new long[] {out.get(0), cout, out.sizeFrom(2)}, gamma, beta, runningMean, runningVar);
        if (residual != null) {
            f32(residual, "residual");
            Checks.shape(residual, "residual", out);
        }
        int[] p = spec.nativeParams(x.shape(), cout);
        Tensor y = Tensor.empty(out);
        int rc = NativeCore.sev_conv3d_batchnorm_eval_forward(x.address(), w.address(), addr(gamma), addr(beta),
                runningMean.address(), runningVar.address(), (float) eps, addr(residual), y.address(), p,
                relu ? 1 : 0);
        return closeOnFailure(y, rc, "conv3d + batch norm (eval)");
    }

    @Override
    public Tensor conv3dBackwardData(Tensor dy, Tensor w, ConvSpec spec, Shape xShape) {
        if (cl(dy, w)) {
            try (Tensor dyc = contiguous(dy); Tensor wc = contiguous(w)) {
                return like(dy, conv3dBackwardData(dyc, wc, spec, xShape));
            }
        }
        if (half(dy)) {
            // dy and w 16-bit -> dx 16-bit
            DType dt = C.sameFloating(dy, "dy", w, "weight");
            C.conv(xShape, w.shape(), spec);
            Checks.shape(dy, "dy", spec.outputShape(xShape, w.dim(0)));
            try (Tensor dyf = wide(dy); Tensor wf = wide(w)) {
                return narrow(conv3dBackwardData(dyf, wf, spec, xShape), dt);
            }
        }
        f32(dy, "dy");
        f32(w, "weight");
        C.conv(xShape, w.shape(), spec);
        Checks.shape(dy, "dy", spec.outputShape(xShape, w.dim(0)));
        int[] p = spec.nativeParams(xShape, w.dim(0));
        Tensor dx = Tensor.empty(xShape);
        return closeOnFailure(dx, NativeCore.sev_conv3d_backward_data(dy.address(), w.address(), dx.address(), p),
                "conv3d backward data");
    }

    @Override
    public Tensor conv3dBackwardWeight(Tensor x, Tensor dy, ConvSpec spec, Shape wShape) {
        if (cl(x, dy)) {
            sameFormat(x, "x", dy, "dy");
            try (Tensor xc = contiguous(x); Tensor dyc = contiguous(dy)) {
                return toCl(conv3dBackwardWeight(xc, dyc, spec, wShape)); // KTRSC; F gives it the weight's format
            }
        }
        if (half(x)) {
            // x and dy 16-bit -> dw 16-bit (cuDNN's pseudo-16-bit backward filter stores dw in the data type)
            DType dt = C.sameFloating(x, "x", dy, "dy");
            C.conv(x.shape(), wShape, spec);
            Checks.shape(dy, "dy", spec.outputShape(x.shape(), wShape.get(0)));
            try (Tensor xf = wide(x); Tensor dyf = wide(dy)) {
                return narrow(conv3dBackwardWeight(xf, dyf, spec, wShape), dt);
            }
        }
        f32(x, "x");
        f32(dy, "dy");
        C.conv(x.shape(), wShape, spec);
        Checks.shape(dy, "dy", spec.outputShape(x.shape(), wShape.get(0)));
        int[] p = spec.nativeParams(x.shape(), wShape.get(0));
        Tensor dw = Tensor.empty(wShape);
        return closeOnFailure(dw, NativeCore.sev_conv3d_backward_weight(x.address(), dy.address(), dw.address(), p),
                "conv3d backward weight");
    }

    // ---- batch norm ----

    @Override
    public BatchNormResult batchNormTrain(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
            double eps, double momentum) {
        if (cl(x)) {
            try (Tensor xc = contiguous(x)) {
                BatchNormResult r = batchNormTrain(xc, gamma, beta, runningMean, runningVar, eps, momentum);
                return new BatchNormResult(toCl(r.y()), r.saveMean(), r.saveInvstd());
            }
        }
        if (half(x)) {
            // 16-bit x -> 16-bit y; statistics, running stats and parameters fp32
            DType dt = C.floating(x, "x");
            C.batchNormTrain(x, C.ncs(x), gamma, beta, runningMean, runningVar);
            try (Tensor xf = wide(x)) {
                BatchNormResult r = batchNormTrain(xf, gamma, beta, runningMean, runningVar, eps, momentum);
                return new BatchNormResult(narrow(r.y(), dt), r.saveMean(), r.saveInvstd());
            }
        }
        f32(x, "x");
        long[] d = C.ncs(x);
        C.batchNormTrain(x, d, gamma, beta, runningMean, runningVar);
        Tensor y = Tensor.empty(x.shape());
        Tensor mean = Tensor.empty(Shape.of(d[1]));
        Tensor invstd = Tensor.empty(Shape.of(d[1]));
        ok(NativeCore.sev_batchnorm_train_forward(x.address(), addr(gamma), addr(beta), y.address(), mean.address(),
                invstd.address(), addr(runningMean), addr(runningVar), d[0], d[1], d[2], (float) eps, (float) momentum),
                "batch norm");
        return new BatchNormResult(y, mean, invstd);
    }

    @Override
    public Tensor batchNormEval(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, double eps,
            boolean relu) {
        if (cl(x)) {
            try (Tensor xc = contiguous(x)) {
                return toCl(batchNormEval(xc, gamma, beta, runningMean, runningVar, eps, relu));
            }
        }
        f32(x, "x");
        long[] d = C.ncs(x);
        C.batchNormEval(d, gamma, beta, runningMean, runningVar);
        Tensor y = Tensor.empty(x.shape());
        ok(NativeCore.sev_batchnorm_eval_forward(x.address(), addr(gamma), addr(beta), runningMean.address(),
                runningVar.address(), y.address(), d[0], d[1], d[2], (float) eps, relu ? 1 : 0), "batch norm eval");
        return y;
    }

    @Override
    public Tensor[] batchNormBackward(Tensor x, Tensor dy, Tensor gamma, Tensor saveMean, Tensor saveInvstd) {
        if (cl(x, dy)) {
            sameFormat(x, "x", dy, "dy");
            try (Tensor xc = contiguous(x); Tensor dyc = contiguous(dy)) {
                Tensor[] d = batchNormBackward(xc, dyc, gamma, saveMean, saveInvstd);
                return new Tensor[] {toCl(d[0]), d[1], d[2]};
            }
        }
        if (half(x)) {
            // 16-bit x, dy -> 16-bit dx; dgamma, dbeta fp32
            DType dt = C.sameFloating(x, "x", dy, "dy");
            C.batchNormBackward(x, dy, C.ncs(x), gamma, saveMean, saveInvstd);
            try (Tensor xf = wide(x); Tensor dyf = wide(dy)) {
                Tensor[] d = batchNormBackward(xf, dyf, gamma, saveMean, saveInvstd);
                return new Tensor[] {narrow(d[0], dt), d[1], d[2]};
            }
        }
        f32(x, "x");
        f32(dy, "dy");
        long[] d = C.ncs(x);
        C.batchNormBackward(x, dy, d, gamma, saveMean, saveInvstd);
        Tensor dx = Tensor.empty(x.shape());
        Tensor dg = Tensor.empty(Shape.of(d[1]));
        Tensor db = Tensor.empty(Shape.of(d[1]));
        ok(NativeCore.sev_batchnorm_backward(x.address(), dy.address(), addr(gamma), saveMean.address(),
                saveInvstd.address(), dx.address(), dg.address(), db.address(), d[0], d[1], d[2]), "batch norm backward");
        return new Tensor[] {dx, dg, db};
    }

    /**
     * The 16-bit form rounds y once (the fp32 composition of {@link Backend#batchNormTrainAct} in between); fp32 is
     * that composition itself.
     */
    @Override
    public BatchNormResult batchNormTrainAct(Tensor x, Tensor residual, Tensor gamma, Tensor beta, Tensor runningMean,
            Tensor runningVar, double eps, double momentum, boolean relu) {
        if (cl(x, residual)) {
            sameFormat(x, "x", residual, "residual");
            try (Tensor xc = contiguous(x); Tensor rc = contiguous(residual)) {
                BatchNormResult r = batchNormTrainAct(xc, rc, gamma, beta, runningMean, runningVar, eps, momentum, relu);
                return new BatchNormResult(toCl(r.y()), r.saveMean(), r.saveInvstd());
            }
        }
        if (!half(x)) {
            if (residual == null && !relu) {
                return batchNormTrain(x, gamma, beta, runningMean, runningVar, eps, momentum);
            }
            // the composition (Backend's default) in one native call: y = act(bn(x) + residual) as the element
            // passes over memory would compute it, bit for bit
            f32(x, "x");
            long[] d = C.ncs(x);
            C.batchNormTrain(x, d, gamma, beta, runningMean, runningVar);
            if (residual != null) {
                f32(residual, "residual");
                Checks.sameShape(x, "x", residual, "residual");
            }
            Tensor y = Tensor.empty(x.shape());
            Tensor mean = Tensor.empty(Shape.of(d[1]));
            Tensor invstd = Tensor.empty(Shape.of(d[1]));
            ok(NativeCore.sev_batchnorm_act_train_forward(x.address(), addr(residual), addr(gamma), addr(beta),
                    y.address(), mean.address(), invstd.address(), addr(runningMean), addr(runningVar), d[0], d[1],
                    d[2], (float) eps, (float) momentum, relu ? 1 : 0), "batch norm + activation");
            return new BatchNormResult(y, mean, invstd);
        }
        DType dt = C.floating(x, "x");
        if (residual != null) {
            C.same(residual, "residual", dt);
            Checks.sameShape(x, "x", residual, "residual");
        }
        C.batchNormTrain(x, C.ncs(x), gamma, beta, runningMean, runningVar);
        try (Tensor xf = wide(x); Tensor rf = wide(residual)) {
            BatchNormResult r = Backend.super.batchNormTrainAct(xf, rf, gamma, beta, runningMean, runningVar, eps,
                    momentum, relu);
            return new BatchNormResult(narrow(r.y(), dt), r.saveMean(), r.saveInvstd());
        }
    }

    /** The 16-bit form: x, y, dy 16-bit; dx and dresidual rounded once; dgamma, dbeta fp32. */
    @Override
    public Tensor[] batchNormActBackward(Tensor x, Tensor y, Tensor dy, Tensor gamma, Tensor saveMean,
            Tensor saveInvstd, boolean relu, boolean residualGrad) {
        if (cl(x, y, dy)) {
            sameFormat(x, "x", dy, "dy");
            sameFormat(x, "x", y, "y");
            try (Tensor xc = contiguous(x); Tensor yc = contiguous(y); Tensor dyc = contiguous(dy)) {
                Tensor[] d = batchNormActBackward(xc, yc, dyc, gamma, saveMean, saveInvstd, relu, residualGrad);
                Tensor dres = d[3] == null ? null : toCl(d[3] == dyc ? dyc.reshape(dyc.shape()) : d[3]);
                return new Tensor[] {toCl(d[0]), d[1], d[2], dres};
            }
        }
        if (!half(x)) {
            if (!relu) { // dresidual is dy itself: nothing to fuse
                return Backend.super.batchNormActBackward(x, y, dy, gamma, saveMean, saveInvstd, false, residualGrad);
            }
            // the composition (ReLU backward, then batch norm backward) with the mask applied in both passes
            f32(x, "x");
            f32(dy, "dy");
            f32(y, "y");
            Checks.sameShape(x, "x", y, "y");
            long[] d = C.ncs(x);
            C.batchNormBackward(x, dy, d, gamma, saveMean, saveInvstd);
            Tensor dx = Tensor.empty(x.shape());
            Tensor dg = Tensor.empty(Shape.of(d[1]));
            Tensor db = Tensor.empty(Shape.of(d[1]));
            Tensor dres = residualGrad ? Tensor.empty(x.shape()) : null;
            ok(NativeCore.sev_batchnorm_act_backward(x.address(), y.address(), dy.address(), addr(gamma),
                    saveMean.address(), saveInvstd.address(), dx.address(), dg.address(), db.address(), addr(dres),
                    d[0], d[1], d[2]), "batch norm + activation backward");
            return new Tensor[] {dx, dg, db, dres};
        }
        DType dt = C.sameFloating(x, "x", dy, "dy");
        C.batchNormBackward(x, dy, C.ncs(x), gamma, saveMean, saveInvstd);
        if (relu) {
            C.same(y, "y", dt);
            Checks.sameShape(x, "x", y, "y");
        }
        try (Tensor xf = wide(x); Tensor yf = relu ? wide(y) : null; Tensor dyf = wide(dy)) {
            Tensor[] d = Backend.super.batchNormActBackward(xf, yf, dyf, gamma, saveMean, saveInvstd, relu,
                    residualGrad);
            Tensor dres = null;
            if (d[3] != null) {
                // without ReLU the fp32 form returns dy itself (closed with dyf below)
                dres = d[3] == dyf ? HalfReference.cast(dyf, dt) : narrow(d[3], dt);
            }
            return new Tensor[] {narrow(d[0], dt), d[1], d[2], dres};
        }
    }

    /**
     * fp32 contiguous: the ReLU's mask recomputed from x in both passes (sev_batchnorm_relu_backward, the same bits
     * as the y form); other layouts and 16-bit take the y form.
     */
    @Override
    public Tensor[] batchNormReluBackward(Tensor x, Tensor y, Tensor dy, Tensor gamma, Tensor beta, Tensor saveMean,
            Tensor saveInvstd) {
        if (cl(x, y, dy) || half(x)) {
            return Backend.super.batchNormReluBackward(x, y, dy, gamma, beta, saveMean, saveInvstd);
        }
        f32(x, "x");
        f32(dy, "dy");
        long[] d = C.ncs(x);
        C.batchNormBackward(x, dy, d, gamma, saveMean, saveInvstd);
        C.channelVec(beta, "beta", d[1]);
        Tensor dx = Tensor.empty(x.shape());
        Tensor dg = Tensor.empty(Shape.of(d[1]));
        Tensor db = Tensor.empty(Shape.of(d[1]));
        int rc = NativeCore.sev_batchnorm_relu_backward(x.address(), dy.address(), addr(gamma), addr(beta),
                saveMean.address(), saveInvstd.address(), dx.address(), dg.address(), db.address(), d[0], d[1], d[2]);
        if (rc != 0) {
            dg.close();
            db.close();
        }
        return new Tensor[] {closeOnFailure(dx, rc, "batch norm + ReLU backward"), dg, db};
    }

    // ---- element-wise ----

    @Override
    public Tensor relu(Tensor x) {
        if (cl(x)) {
            try (Tensor xc = contiguous(x)) {
                return toCl(relu(xc));
            }
        }
        if (x != null && OpChecks.isHalf(x.dtype())) {
            C.floating(x, "x");
            return HalfReference.addAct(x, null, true);
        }
        f32(x, "x");
        Tensor y = Tensor.empty(x.shape());
        ok(NativeCore.sev_relu_forward(x.address(), y.address(), x.size()), "relu");
        return y;
    }

    @Override
    public Tensor reluBackward(Tensor y, Tensor dy) {
        if (cl(y, dy)) {
            sameFormat(y, "y", dy, "dy");
            try (Tensor yc = contiguous(y); Tensor dyc = contiguous(dy)) {
                return toCl(reluBackward(yc, dyc));
            }
        }
        if (half(y)) {
            DType dt = C.sameFloating(y, "y", dy, "dy");
            Checks.sameShape(y, "y", dy, "dy");
            try (Tensor yf = wide(y); Tensor dyf = wide(dy)) {
                return narrow(reluBackward(yf, dyf), dt);
            }
        }
        C.unaryBackward(y, dy);
        Tensor dx = Tensor.empty(y.shape());
        ok(NativeCore.sev_relu_backward(y.address(), dy.address(), dx.address(), y.size()), "relu backward");
        return dx;
    }

    private Tensor binary(Tensor a, Tensor b, String op) {
        C.binary(a, b);
        return Tensor.empty(a.shape());
    }

    @Override
    public Tensor add(Tensor a, Tensor b) {
        if (cl(a, b)) {
            sameFormat(a, "a", b, "b");
            try (Tensor ac = contiguous(a); Tensor bc = contiguous(b)) {
                return toCl(add(ac, bc));
            }
        }
        if (half(a)) {
            // the gradient accumulation of 16-bit activations
            C.sameFloating(a, "a", b, "b");
            Checks.sameShape(a, "a", b, "b");
            return HalfReference.addAct(a, b, false);
        }
        Tensor y = binary(a, b, "add");
        ok(NativeCore.sev_add(a.address(), b.address(), y.address(), a.size()), "add");
        return y;
    }

    @Override
    public Tensor addRelu(Tensor a, Tensor b) {
        if (cl(a, b)) {
            sameFormat(a, "a", b, "b");
            try (Tensor ac = contiguous(a); Tensor bc = contiguous(b)) {
                return toCl(addRelu(ac, bc));
            }
        }
        if (a != null && OpChecks.isHalf(a.dtype())) {
            C.floating(a, "a");
            C.same(b, "b", a.dtype());
            Checks.sameShape(a, "a", b, "b");
            return HalfReference.addAct(a, b, true);
        }
        Tensor y = binary(a, b, "add+relu");
        ok(NativeCore.sev_add_relu(a.address(), b.address(), y.address(), a.size()), "add+relu");
        return y;
    }

    @Override
    public Tensor mul(Tensor a, Tensor b) {
        if (cl(a, b)) {
            sameFormat(a, "a", b, "b");
            try (Tensor ac = contiguous(a); Tensor bc = contiguous(b)) {
                return toCl(mul(ac, bc));
            }
        }
        Tensor y = binary(a, b, "mul");
        ok(NativeCore.sev_mul(a.address(), b.address(), y.address(), a.size()), "mul");
        return y;
    }

    @Override
    public Tensor scale(Tensor x, float alpha) {
        if (cl(x)) {
            try (Tensor xc = contiguous(x)) {
                return toCl(scale(xc, alpha));
            }
        }
        f32(x, "x");
        Tensor y = Tensor.empty(x.shape());
        ok(NativeCore.sev_scale(x.address(), alpha, y.address(), x.size()), "scale");
        return y;
    }

    @Override
    public void axpby(float alpha, Tensor x, float beta, Tensor y) {
        if (half(y) && cl(x, y)) {
            sameFormat(x, "x", y, "y");
            try (Tensor xc = contiguous(x); Tensor yc = contiguous(y)) {
                axpby(alpha, xc, beta, yc);
                y.copyFrom(yc); // back into y's byte order
            }
            return;
        }
        if (half(y)) {
            // a 16-bit leaf's gradient accumulation: y = round(alpha x + beta y)
            DType dt = C.sameFloating(y, "y", x, "x");
            if (x.size() != y.size()) {
                throw new IllegalArgumentException("axpby: x " + x.shape() + " and y " + y.shape() + " differ in size");
            }
            try (Tensor xf = wide(x); Tensor yf = wide(y)) {
                axpby(alpha, xf, beta, yf);
                try (Tensor r = HalfReference.cast(yf, dt)) {
                    y.copyFrom(r);
                }
            }
            return;
        }
        (cl(x, y) ? CL : C).axpby(x, y); // element by element in place: either byte order, the same for both
        ok(NativeCore.sev_axpby(alpha, x.address(), beta, y.address(), x.size()), "axpby");
    }

    @Override
    public void fill(Tensor y, float value) {
        checks(y).f32(y, "y"); // every element: either byte order
        ok(NativeCore.sev_fill(y.address(), value, y.size()), "fill");
    }

    @Override
    public Tensor sigmoid(Tensor x) {
        if (cl(x)) {
            try (Tensor xc = contiguous(x)) {
                return toCl(sigmoid(xc));
            }
        }
        f32(x, "x");
        Tensor y = Tensor.empty(x.shape());
        ok(NativeCore.sev_sigmoid_forward(x.address(), y.address(), x.size()), "sigmoid");
        return y;
    }

    @Override
    public Tensor sigmoidBackward(Tensor y, Tensor dy) {
        if (cl(y, dy)) {
            sameFormat(y, "y", dy, "dy");
            try (Tensor yc = contiguous(y); Tensor dyc = contiguous(dy)) {
                return toCl(sigmoidBackward(yc, dyc));
            }
        }
        C.unaryBackward(y, dy);
        Tensor dx = Tensor.empty(y.shape());
        ok(NativeCore.sev_sigmoid_backward(y.address(), dy.address(), dx.address(), y.size()), "sigmoid backward");
        return dx;
    }

    @Override
    public Tensor[] dropout(Tensor x, float p, long seed) {
        if (cl(x)) {
            // the mask drawn by logical index (the CUDA kernel draws it by index in memory: other elements, same law)
            try (Tensor xc = contiguous(x)) {
                Tensor[] r = dropout(xc, p, seed);
                return new Tensor[] {toCl(r[0]), toCl(r[1])};
            }
        }
        C.dropout(x, p);
        Tensor y = Tensor.empty(x.shape());
        Tensor mask = Tensor.empty(x.shape());
        ok(NativeCore.sev_dropout_forward(x.address(), y.address(), mask.address(), x.size(), p, seed), "dropout");
        return new Tensor[] {y, mask};
    }

    // ---- shape ops ----

    @Override
    public Tensor concatChannels(Tensor a, Tensor b) {
        if (cl(a, b)) {
            sameFormat(a, "a", b, "b");
            try (Tensor ac = contiguous(a); Tensor bc = contiguous(b)) {
                return toCl(concatChannels(ac, bc));
            }
        }
        if (a != null && OpChecks.isHalf(a.dtype())) {
            C.concat(a, b);
            return HalfReference.concat(a, b);
        }
        C.concat(a, b);
        long s = a.shape().sizeFrom(2);
        Tensor y = Tensor.empty(a.shape().with(1, a.dim(1) + b.dim(1)));
        ok(NativeCore.sev_concat_channels(a.address(), b.address(), y.address(), a.dim(0), a.dim(1), b.dim(1), s), "concat");
        return y;
    }

    @Override
    public Tensor[] splitChannels(Tensor y, long ca) {
        if (cl(y)) {
            try (Tensor yc = contiguous(y)) {
                Tensor[] r = splitChannels(yc, ca);
                return new Tensor[] {toCl(r[0]), toCl(r[1])};
            }
        }
        if (half(y)) {
            C.splitFloating(y, ca);
            return HalfReference.split(y, ca);
        }
        C.split(y, ca);
        long cb = y.dim(1) - ca;
        long s = y.shape().sizeFrom(2);
        Tensor a = Tensor.empty(y.shape().with(1, ca));
        Tensor b = Tensor.empty(y.shape().with(1, cb));
        ok(NativeCore.sev_split_channels(y.address(), a.address(), b.address(), y.dim(0), ca, cb, s), "split");
        return new Tensor[] {a, b};
    }

    @Override
    public Tensor channelScale(Tensor x, Tensor g) {
        if (cl(x)) {
            try (Tensor xc = contiguous(x)) {
                return toCl(channelScale(xc, g));
            }
        }
        C.channelScale(x, g);
        if (OpChecks.isHalf(x.dtype())) {
            return HalfReference.channelScale(x, g);
        }
        Tensor y = Tensor.empty(x.shape());
        ok(NativeCore.sev_channel_scale_forward(x.address(), g.address(), y.address(), x.dim(0), x.dim(1),
                x.shape().sizeFrom(2)), "channel scale");
        return y;
    }

    @Override
    public Tensor[] channelScaleBackward(Tensor x, Tensor g, Tensor dy) {
        if (cl(x, dy)) {
            sameFormat(x, "x", dy, "dy");
            try (Tensor xc = contiguous(x); Tensor dyc = contiguous(dy)) {
                Tensor[] r = channelScaleBackward(xc, g, dyc);
                return new Tensor[] {toCl(r[0]), r[1]};
            }
        }
        C.channelScale(x, g);
        if (half(x)) {
            // x, dy 16-bit, g fp32 -> dx 16-bit, dg fp32
            DType dt = C.sameFloating(x, "x", dy, "dy");
            Checks.sameShape(x, "x", dy, "dy");
            try (Tensor xf = wide(x); Tensor dyf = wide(dy)) {
                Tensor[] d = channelScaleBackward(xf, g, dyf);
                return new Tensor[] {narrow(d[0], dt), d[1]};
            }
        }
        C.f32(x, "x");
        f32(dy, "dy");
        Checks.sameShape(x, "x", dy, "dy");
        Tensor dx = Tensor.empty(x.shape());
        Tensor dg = Tensor.empty(g.shape());
        ok(NativeCore.sev_channel_scale_backward(x.address(), g.address(), dy.address(), dx.address(), dg.address(),
                x.dim(0), x.dim(1), x.shape().sizeFrom(2)), "channel scale backward");
        return new Tensor[] {dx, dg};
    }

    // ---- pooling ----

    @Override
    public Tensor avgPool3d(Tensor x, ConvSpec window) {
        if (cl(x)) {
            try (Tensor xc = contiguous(x)) {
                return toCl(avgPool3d(xc, window));
            }
        }
        if (x != null && OpChecks.isHalf(x.dtype())) {
            // widen, the fp32 pool (the order the kernel sums in), round once
            C.floating(x, "x");
            C.pool(x.shape(), window);
            try (Tensor xf = HalfReference.cast(x, DType.FLOAT32); Tensor yf = avgPool3d(xf, window)) {
                return HalfReference.cast(yf, x.dtype());
            }
        }
        f32(x, "x");
        C.pool(x.shape(), window);
        ConvSpec dw = OpChecks.depthwise(window, x.dim(1));
        Tensor y = Tensor.empty(dw.outputShape(x.shape(), x.dim(1)));
        ok(NativeCore.sev_avgpool3d_forward(x.address(), y.address(), dw.nativeParams(x.shape(), x.dim(1))), "avg-pool");
        return y;
    }

    @Override
    public Tensor avgPool3dBackward(Tensor dy, ConvSpec window, Shape xShape) {
        if (cl(dy)) {
            try (Tensor dyc = contiguous(dy)) {
                return toCl(avgPool3dBackward(dyc, window, xShape));
            }
        }
        if (half(dy)) {
            DType dt = C.floating(dy, "dy");
            C.pool(xShape, window);
            Checks.shape(dy, "dy", OpChecks.depthwise(window, xShape.get(1)).outputShape(xShape, xShape.get(1)));
            try (Tensor dyf = wide(dy)) {
                return narrow(avgPool3dBackward(dyf, window, xShape), dt);
            }
        }
        f32(dy, "dy");
        C.pool(xShape, window);
        ConvSpec dw = OpChecks.depthwise(window, xShape.get(1));
        Checks.shape(dy, "dy", dw.outputShape(xShape, xShape.get(1)));
        Tensor dx = Tensor.empty(xShape);
        ok(NativeCore.sev_avgpool3d_backward(dy.address(), dx.address(), dw.nativeParams(xShape, xShape.get(1))),
                "avg-pool backward");
        return dx;
    }

    @Override
    public Tensor globalAvgPool(Tensor x) {
        if (cl(x)) {
            try (Tensor xc = contiguous(x)) {
                return globalAvgPool(xc);
            }
        }
        C.globalPool(x);
        if (OpChecks.isHalf(x.dtype())) {
            // 16-bit in, fp32 out (the classifier head runs in fp32)
            try (Tensor xf = HalfReference.cast(x, DType.FLOAT32)) {
                return globalAvgPool(xf);
            }
        }
        Tensor y = Tensor.empty(Shape.of(x.dim(0), x.dim(1)));
        ok(NativeCore.sev_global_avgpool_forward(x.address(), y.address(), x.dim(0), x.dim(1), x.shape().sizeFrom(2)),
                "global avg-pool");
        return y;
    }

    @Override
    public Tensor globalAvgPoolBackward(Tensor dy, Shape xShape) {
        C.globalPoolBackward(dy, xShape);
        Tensor dx = Tensor.empty(xShape);
        ok(NativeCore.sev_global_avgpool_backward(dy.address(), dx.address(), xShape.get(0), xShape.get(1),
                xShape.sizeFrom(2)), "global avg-pool backward");
        return dx;
    }

    // ---- dense ----

    @Override
    public Tensor linear(Tensor x, Tensor w, Tensor bias) {
        C.linear(x, w, bias);
        long n = x.dim(0), out = w.dim(0), in = w.dim(1);
        Tensor y = Tensor.empty(Shape.of(n, out));
        if (bias != null) {
            // broadcast the bias into y, then accumulate x w^T on top (beta = 1)
            java.nio.FloatBuffer yb = y.floatBuffer();
            java.nio.FloatBuffer bb = bias.floatBuffer();
            for (int i = 0; i < n; i++) {
                yb.put(i * (int) out, bb, 0, (int) out);
            }
        }
        ok(NativeCore.sev_sgemm(0, 1, n, out, in, 1f, x.address(), in, w.address(), in, bias != null ? 1f : 0f,
                y.address(), out), "linear");
        return y;
    }

    @Override
    public Tensor[] linearBackward(Tensor x, Tensor w, Tensor dy, boolean hasBias) {
        C.linearBackward(x, w, dy);
        long n = x.dim(0), out = w.dim(0), in = w.dim(1);
        Tensor dx = Tensor.empty(x.shape());
        Tensor dw = Tensor.empty(w.shape());
        ok(NativeCore.sev_sgemm(0, 0, n, in, out, 1f, dy.address(), out, w.address(), in, 0f, dx.address(), in),
                "linear backward data");
        ok(NativeCore.sev_sgemm(1, 0, out, in, n, 1f, dy.address(), out, x.address(), in, 0f, dw.address(), in),
                "linear backward weight");
        Tensor db = null;
        if (hasBias) {
            db = Tensor.empty(Shape.of(out));
            java.nio.FloatBuffer d = dy.floatBuffer();
            java.nio.FloatBuffer o = db.floatBuffer();
            for (int j = 0; j < out; j++) {
                double s = 0;
                for (int i = 0; i < n; i++) {
                    s += d.get(i * (int) out + j);
                }
                o.put(j, (float) s);
            }
        }
        return new Tensor[] {dx, dw, db};
    }

    @Override
    public void gemm(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c) {
        long[] mnk = C.gemm(transA, transB, a, b, c);
        long m = mnk[0], n = mnk[1], k = mnk[2];
        ok(NativeCore.sev_sgemm(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, a.address(), a.dim(1), b.address(),
                b.dim(1), beta, c.address(), n), "gemm");
    }

    // ---- losses ----

    private static void checkLabels(Tensor logits, Tensor labels) {
        f32(logits, "logits");
        Checks.rank(logits, "logits", 2);
        Checks.tensor(labels, "labels", CPU, DType.INT64);
        C.labels(logits, labels, labels.rank() == 1 ? labels.toLongArray() : new long[0]);
    }

    @Override
    public Tensor[] softmaxCrossEntropy(Tensor logits, Tensor labels) {
        checkLabels(logits, labels);
        Tensor probs = Tensor.empty(logits.shape());
        Tensor loss = Tensor.empty(Shape.of(1));
        ok(NativeCore.sev_softmax_xent_forward(logits.address(), labels.address(), probs.address(), loss.address(),
                logits.dim(0), logits.dim(1)), "softmax cross-entropy");
        return new Tensor[] {loss, probs};
    }

    @Override
    public Tensor softmaxCrossEntropyBackward(Tensor probs, Tensor labels, float scale) {
        checkLabels(probs, labels);
        Tensor d = Tensor.empty(probs.shape());
        ok(NativeCore.sev_softmax_xent_backward(probs.address(), labels.address(), d.address(), scale, probs.dim(0),
                probs.dim(1)), "softmax cross-entropy backward");
        return d;
    }

    @Override
    public Tensor bceWithLogits(Tensor logits, Tensor targets) {
        C.targets(logits, targets);
        Tensor loss = Tensor.empty(Shape.of(1));
        ok(NativeCore.sev_bce_logits_forward(logits.address(), targets.address(), loss.address(), logits.dim(0),
                logits.dim(1)), "BCE with logits");
        return loss;
    }

    @Override
    public Tensor bceWithLogitsBackward(Tensor logits, Tensor targets, float scale) {
        C.targets(logits, targets);
        Tensor d = Tensor.empty(logits.shape());
        ok(NativeCore.sev_bce_logits_backward(logits.address(), targets.address(), d.address(), scale, logits.dim(0),
                logits.dim(1)), "BCE with logits backward");
        return d;
    }

    @Override
    public Tensor softmax(Tensor logits) {
        C.softmax(logits);
        Tensor y = Tensor.empty(logits.shape());
        ok(NativeCore.sev_softmax(logits.address(), y.address(), logits.dim(0), logits.dim(1)), "softmax");
        return y;
    }

    // ---- optimizer ----

    @Override
    public void sgdMomentumStep(Tensor w, Tensor grad, Tensor velocity, float lr, float momentum, float weightDecay) {
        checks(w).sgd(w, grad, velocity); // element-wise in place: either byte order, the same for all three
        ok(NativeCore.sev_sgd_momentum_step(w.address(), grad.address(), velocity.address(), w.size(), lr, momentum,
                weightDecay), "sgd step");
    }

    // ---- loss scaling ----

    /** Every tensor in one parallel pass ({@code sev_all_finite}: chunks of all tensors, vector loops). */
    @Override
    public boolean allFinite(List<Tensor> tensors) {
        Checks.floatList(tensors, "allFinite", CPU);
        int n = tensors.size();
        if (n == 0) {
            return true;
        }
        long[] ptrs = new long[n];
        long[] sizes = new long[n];
        table(tensors, ptrs, sizes);
        int r = NativeCore.sev_all_finite(ptrs, sizes, n);
        if (r < 0) {
            ok(r, "allFinite");
        }
        return r == 1;
    }

    /** Every tensor in one parallel pass ({@code sev_scale_all}); bit for bit {@code axpby(alpha, t, 0, t)}. */
    @Override
    public void scaleAll(List<Tensor> tensors, float alpha) {
        Checks.floatList(tensors, "scaleAll", CPU);
        Checks.disjoint(tensors, "scaleAll");
        int n = tensors.size();
        if (n == 0) {
            return;
        }
        long[] ptrs = new long[n];
        long[] sizes = new long[n];
        table(tensors, ptrs, sizes);
        ok(NativeCore.sev_scale_all(ptrs, sizes, n, alpha), "scaleAll");
    }

    /** Every pair in one parallel pass over chunks of them all ({@code sev_axpby_all}), bit for bit {@link #axpby}. */
    @Override
    public void axpbyAll(float alpha, List<Tensor> xs, float beta, List<Tensor> ys) {
        Checks.axpbyLists(xs, ys, "axpbyAll", CPU);
        int n = xs.size();
        if (n == 0) {
            return;
        }
        long[] xp = new long[n];
        long[] yp = new long[n];
        long[] sizes = new long[n];
        table(xs, xp, sizes);
        table(ys, yp, sizes);
        ok(NativeCore.sev_axpby_all(alpha, xp, beta, yp, sizes, n), "axpbyAll");
    }

    private static void table(List<Tensor> tensors, long[] ptrs, long[] sizes) {
        for (int i = 0; i < ptrs.length; i++) {
            Tensor t = tensors.get(i);
            ptrs[i] = t.address();
            sizes[i] = t.size();
        }
    }

    @Override
    public double sum(Tensor x) {
        checks(x).f32(x, "x");
        double[] out = new double[1];
        ok(NativeCore.sev_sum(x.address(), x.size(), out), "sum");
        return out[0];
    }

    @Override
    public Tensor toDevice(Tensor t) {
        if (t == null || t.isClosed()) {
            throw new IllegalArgumentException("toDevice of a " + (t == null ? "null" : "closed") + " tensor");
        }
        if (!t.device().isCpu()) {
            throw new IllegalArgumentException("the CPU backend cannot read " + t.device() + " memory; use that device's backend");
        }
        return t.copy();
    }

    @Override
    public Tensor toHost(Tensor t) {
        return toDevice(t);
    }

    @Override
    public Tensor cast(Tensor x, DType dtype) {
        if (cl(x)) {
            try (Tensor xc = contiguous(x)) {
                return toCl(cast(xc, dtype));
            }
        }
        C.cast(x, dtype);
        return HalfReference.cast(x, dtype);
    }
}
