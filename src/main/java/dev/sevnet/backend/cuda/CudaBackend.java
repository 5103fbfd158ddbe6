package dev.sevnet.backend.cuda;

import dev.sevnet.backend.Backend;
import dev.sevnet.backend.Checks;
import dev.sevnet.backend.ConvSpec;
import dev.sevnet.backend.OpChecks;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Device;
import dev.sevnet.tensor.MemoryFormat;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.bytedeco.cuda.cudnn.cudnnConvolutionBwdDataAlgoPerf_t;
import org.bytedeco.cuda.cudnn.cudnnConvolutionBwdFilterAlgoPerf_t;
import org.bytedeco.cuda.cudnn.cudnnConvolutionFwdAlgoPerf_t;
import org.bytedeco.cuda.cudnn.cudnnConvolutionStruct;
import org.bytedeco.cuda.cudnn.cudnnFilterStruct;
import org.bytedeco.cuda.cudnn.cudnnTensorStruct;
import org.bytedeco.cuda.global.cublas;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.cuda.global.cudnn;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * The CUDA backend: every op of {@link Backend} on one GPU, fp32 NCDHW. Convolutions (general,
 * grouped, 3-D) go to cuDNN with the algorithm found once per problem and cached
 * ({@link ConvAlgorithmCache}); dense layers to cuBLAS; batch norm to the sevnet kernels or cuDNN
 * ({@link KernelMode}); memory-bound glue to the sevnet kernels ({@code kernels/*.cu}). Memory comes
 * from the device's caching allocator, work is queued on the calling thread's stream, and calls return
 * without waiting for the GPU except where a result is read on the host ({@link #sum}, {@link #toHost}).
 *
 * <p>bfloat16 / float16 (mixed-precision training and 16-bit inference): the ops that take 16-bit activations run
 * cuDNN with 16-bit descriptors and fp32 accumulation for every conv direction (whatever the kernel mode: the
 * sevnet conv kernels are fp32 only), the 16-bit batch-norm kernels ({@code sevc_bn_act_*_bf16/_f16}) for batch
 * norm training in every mode, and the 16-bit glue kernels of {@code kernels/half_ops.cu} for the rest; batch-norm
 * parameters and statistics, SE gates and their gradients stay fp32.
 *
 * <p>Arguments are checked in Java ({@link OpChecks}, shared with the CPU backend; the 16-bit training ops'
 * {@link HalfTrainingChecks}) before any native call. Methods are synchronized (work is queued one op at a time, and
 * never lands inside another thread's CUDA graph capture); each op is queued on the calling thread's stream
 * ({@link #newStream}, {@link CudaStream#bind}; the device's default stream when none is bound), so workers bound to
 * streams of their own overlap on the device. The lock is held while queuing, and during the few host waits of an
 * op whose result is read on the host ({@link #sum}, {@link #allFinite}, uploads from pageable memory) or of a
 * first-call search; reading a result through its tensor ({@code toFloatArray}) waits without it.
 */
public final class CudaBackend implements Backend {
    /**
     * Which implementation runs the ops that have both a library and a custom kernel (batch norm, the
     * temporal 3x1x1 conv). AUTO, the default, takes each kernel where its benchmark on an H200 showed
     * it faster than cuDNN (bench/results/2026-11-25-h200-kernels.md): the temporal conv's
     * backward-weight and batch norm's backward for up to 128 channels (cuDNN's backward-filter for a
     * 3x1x1 conv over 32 channels at 56x56 took 6.5 ms against 0.5 ms); cuDNN everywhere else.
     * The fused conv -> BN -> ReLU kernels (the block's 1x1x1 and grouped 1x3x3 convs, forward and the
     * grouped conv's backward; BN + ReLU (+ residual) forward and backward, kernels/conv_bn_relu.cu) run
     * in CUSTOM only: AUTO keeps cuDNN + the BN kernels there until a GPU benchmark
     * ({@code CudaKernelsBench}) shows the fused path faster. System property {@code sevnet.kernels} or
     * {@code --kernels} switches.
     */
    public enum KernelMode {
        /** cuDNN/cuBLAS wherever they have the op (batch norm included); sevnet kernels for the rest. */
        LIBRARY,
        /**
         * sevnet kernels where one exists (batch norm, the temporal 3x1x1 conv, the fused conv -> BN -> ReLU
         * and BN -> ReLU paths), libraries elsewhere.
         */
        CUSTOM,
        /** per op and shape, whichever measured faster (see above). */
        AUTO;

        public static KernelMode parse(String s) {
            return switch (s.trim().toLowerCase(Locale.ROOT)) {
                case "library", "lib" -> LIBRARY;
                case "custom" -> CUSTOM;
                case "auto" -> AUTO;
                default -> throw new IllegalArgumentException("unknown kernel mode '" + s
                        + "': expected auto, custom or library");
            };
        }
    }

    private static final Map<Integer, CudaBackend> INSTANCES = new ConcurrentHashMap<>();
    private static final FloatPointer ONE = new FloatPointer(1f);
    private static final FloatPointer ZERO = new FloatPointer(0f);
    /** The largest workspace an algorithm may ask for (bigger ones are skipped in the search). */
    private static final long WORKSPACE_LIMIT = 1L << 30;

    private final CudaDevice dev;
    private final OpChecks c;
    /** The checks of ops written for both memory formats (element-wise, and the channels-last forms). */
    private final OpChecks cl;
    /** The 16-bit training ops' checks (GPU-free, shared with the tests). */
    private final HalfTrainingChecks hc;
    /** hc for the element-wise 16-bit ops, which take channels-last tensors too. */
    private final HalfTrainingChecks hcl;
    private final ConvAlgorithmCache algorithms;
    private final Map<String, ConvDescriptors> descriptors = new HashMap<>();
    private final java.util.Set<String> refusedHalf = new java.util.HashSet<>();
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(CudaBackend.class);
    private volatile KernelMode kernelMode;
    private volatile boolean allowTf32;
    /**
     * The multi-tensor SGD launch's table (w, g, v addresses, sizes) staged in pinned host memory, rewritten
     * only when the set of tensors changes.
     */
    private final PinnedTable sgdTable = new PinnedTable("sgd");
    /** The same for the loss-scaling launches (tensor addresses, sizes): allFinite then scaleAll share it. */
    private final PinnedTable ampTable = new PinnedTable("loss scaling");

    private CudaBackend(CudaDevice dev) {
        this.dev = dev;
        this.c = new OpChecks(dev.device());
        this.cl = new OpChecks(dev.device(), true);
        this.hc = new HalfTrainingChecks(dev.device());
        this.hcl = new HalfTrainingChecks(dev.device(), true);
        CudaRuntime.Status s = CudaRuntime.status();
        dev.useQueueLock(this); // streams are made, ordered and destroyed under the lock every op is queued under
        this.algorithms = new ConvAlgorithmCache(dev.name() + " / cuDNN " + s.cudnnVersion() + " / routes "
                + ROUTES_VERSION);
        this.kernelMode = KernelMode.parse(System.getProperty("sevnet.kernels", "auto"));
        this.allowTf32 = Boolean.parseBoolean(System.getProperty("sevnet.tf32", "true"));
    }

    /** The backend of CUDA device {@code index}; throws {@link IllegalStateException} with the reason if CUDA is unusable. */
    public static CudaBackend get(int index) {
        return INSTANCES.computeIfAbsent(index, i -> new CudaBackend(CudaDevice.get(i)));
    }

    public CudaDevice cudaDevice() {
        return dev;
    }

    /**
     * A CUDA stream of its own with its own cuDNN and cuBLAS handles, for one worker thread: ops of threads bound to
     * different streams run side by side on the GPU (they are still queued one at a time, under this backend's lock).
     */
    @Override
    public CudaStream newStream() {
        return dev.newStream();
    }

    /** Pinned staging slots and a copy stream: the next batch uploads while this one computes. */
    @Override
    public dev.sevnet.backend.Uploader uploader(int slots) {
        return new PinnedUploader(this, slots); // checks slots before any CUDA call
    }

    public KernelMode kernelMode() {
        return kernelMode;
    }

    public void setKernelMode(KernelMode m) {
        this.kernelMode = m;
    }

    /**
     * Whether fp32 convolutions may use TF32 tensor cores (PyTorch's default for cuDNN convolutions,
     * {@code torch.backends.cudnn.allow_tf32}). Off: IEEE fp32 arithmetic, what the tests compare.
     */
    public void setAllowTf32(boolean on) {
        this.allowTf32 = on;
    }

    public boolean allowTf32() {
        return allowTf32;
    }

    public ConvAlgorithmCache algorithmCache() {
        return algorithms;
    }

    public void saveAlgorithmCache(Path file) throws IOException {
        algorithms.save(file);
    }

    public int loadAlgorithmCache(Path file) throws IOException {
        return algorithms.load(file);
    }

    @Override
    public Device device() {
        return dev.device();
    }

    @Override
    public String name() {
        return "cuda:" + dev.device().index() + " (" + dev.name() + ")";
    }

    // ---- helpers ----

    private Tensor empty(Shape s) {
        return empty(s, DType.FLOAT32);
    }

    private Tensor empty(Shape s, DType t) {
        return Tensor.wrap(s, t, new CudaStorage(dev, Math.max(1, s.size() * t.byteSize())));
    }

    /** A tensor of {@code like}'s shape and memory format in {@code dt} (the output of an element-wise op). */
    private Tensor like(Tensor like, DType dt) {
        return empty(like.shape(), dt, like.memoryFormat());
    }

    private Tensor empty(Shape s, DType t, MemoryFormat f) {
        return Tensor.wrap(s, t, new CudaStorage(dev, Math.max(1, s.size() * t.byteSize())), f);
    }

    /** The checks for an op on {@code x}: channels-last tensors pass only for ops written for both formats. */
    private OpChecks ck(Tensor x) {
        return x != null && x.isChannelsLast() ? cl : c;
    }

    private long st() {
        return dev.streamAddress();
    }

    /** Marks as CUDA events on the calling thread's stream (device time between them), for OpProfiler. */
    @Override
    public dev.sevnet.backend.Timeline newTimeline() {
        if (dev.allocator().capturingOnThisThread()) {
            throw new IllegalStateException("no op profile inside a CUDA graph capture: profile the eager step");
        }
        return new CudaTimeline(dev);
    }

    /**
     * Opens (true) or closes (false) the CUDA profiler's capture range (cudaProfilerStart / cudaProfilerStop): under
     * {@code ncu --profile-from-start off} or {@code nsys --capture-range=cudaProfilerApi} only the work queued inside
     * is recorded ({@code sevnet bench --cuda-profiler-range}).
     */
    public synchronized void profilerRange(boolean start) {
        dev.activate();
        int rc = CudaKernels.sevc_profiler_range(start ? 1 : 0);
        if (rc != 0) {
            throw new CudaException((start ? "cudaProfilerStart" : "cudaProfilerStop") + " failed (" + rc + "): "
                    + CudaKernels.sevc_last_error());
        }
    }

    private void k(int rc, String op) {
        if (rc != 0) {
            throw new CudaException(op + " kernel failed (" + rc + "): " + CudaKernels.sevc_last_error());
        }
    }

    /** Runs one launch writing {@code out} and returns it; closes {@code out} if the launch fails. */
    private Tensor launched(Tensor out, java.util.function.IntSupplier launch, String op) {
        try {
            dev.activate();
            k(launch.getAsInt(), op);
            return out;
        } catch (RuntimeException | Error e) {
            out.close();
            throw e;
        }
    }

    private static long addr(Tensor t) {
        return t == null ? 0L : t.address();
    }

    // ---- convolution (cuDNN) ----

    /** The cuDNN descriptors of one convolution problem; created once, kept for the backend's life. */
    private static final class ConvDescriptors {
        final cudnnTensorStruct x = new cudnnTensorStruct();
        final cudnnTensorStruct y = new cudnnTensorStruct();
        final cudnnFilterStruct w = new cudnnFilterStruct();
        final cudnnConvolutionStruct conv = new cudnnConvolutionStruct();
        /** The math type a search starts from (CudnnTypes.mathType), and the one set on conv now. */
        final int defaultMathType;
        private int mathType;

        /**
         * Channels-last only (else null): x and y in NCDHW, and the filter as a plain NCDHW tensor and as its
         * channels-last (KTRSC) copy — what cudnnTransformTensor moves between the two layouts.
         */
        final cudnnTensorStruct xNcdhw;
        final cudnnTensorStruct yNcdhw;
        final cudnnTensorStruct wNcdhw;
        final cudnnTensorStruct wNdhwc;

        ConvDescriptors(int[] p, boolean tf32) {
            this(p, tf32, DType.FLOAT32, false);
        }

        /**
         * dtype: the data type of x, w and y (CudnnTypes); accumulation is fp32 for every type. channelsLast: x and
         * y NDHWC (strides), the filter in CUDNN_TENSOR_NHWC (KTRSC) format.
         */
        ConvDescriptors(int[] p, boolean tf32, DType dtype, boolean channelsLast) {
            Cuda.checkCudnn(cudnn.cudnnCreateTensorDescriptor(x), "cudnnCreateTensorDescriptor");
            Cuda.checkCudnn(cudnn.cudnnCreateTensorDescriptor(y), "cudnnCreateTensorDescriptor");
            Cuda.checkCudnn(cudnn.cudnnCreateFilterDescriptor(w), "cudnnCreateFilterDescriptor");
            Cuda.checkCudnn(cudnn.cudnnCreateConvolutionDescriptor(conv), "cudnnCreateConvolutionDescriptor");
            int n = p[0], cin = p[1], t = p[2], h = p[3], wd = p[4], cout = p[5], g = p[15];
            int to = p[16], ho = p[17], wo = p[18];
            setTensor(x, n, cin, t, h, wd, dtype, channelsLast);
            setTensor(y, n, cout, to, ho, wo, dtype, channelsLast);
            Cuda.checkCudnn(cudnn.cudnnSetFilterNdDescriptor(w, CudnnTypes.dataType(dtype),
                    channelsLast ? cudnn.CUDNN_TENSOR_NHWC : cudnn.CUDNN_TENSOR_NCHW, 5,
                    new int[] {cout, cin / g, p[6], p[7], p[8]}), "cudnnSetFilterNdDescriptor");
            if (channelsLast) {
                xNcdhw = newTensor(n, cin, t, h, wd, dtype, false);
                yNcdhw = newTensor(n, cout, to, ho, wo, dtype, false);
                wNcdhw = newTensor(cout, cin / g, p[6], p[7], p[8], dtype, false);
                wNdhwc = newTensor(cout, cin / g, p[6], p[7], p[8], dtype, true);
            } else {
                xNcdhw = null;
                yNcdhw = null;
                wNcdhw = null;
                wNdhwc = null;
            }
            Cuda.checkCudnn(cudnn.cudnnSetConvolutionNdDescriptor(conv, 3, new int[] {p[12], p[13], p[14]},
                    new int[] {p[9], p[10], p[11]}, new int[] {1, 1, 1}, cudnn.CUDNN_CROSS_CORRELATION,
                    CudnnTypes.computeType(dtype)), "cudnnSetConvolutionNdDescriptor");
            Cuda.checkCudnn(cudnn.cudnnSetConvolutionGroupCount(conv, g), "cudnnSetConvolutionGroupCount");
            defaultMathType = CudnnTypes.mathType(dtype, tf32);
            mathType = defaultMathType;
            Cuda.checkCudnn(cudnn.cudnnSetConvolutionMathType(conv, mathType), "cudnnSetConvolutionMathType");
        }

        void setMathType(int m) {
            if (m != mathType) {
                Cuda.checkCudnn(cudnn.cudnnSetConvolutionMathType(conv, m), "cudnnSetConvolutionMathType");
                mathType = m;
            }
        }
    }

    static void setTensor(cudnnTensorStruct d, int n, int ch, int t, int h, int w) {
        setTensor(d, n, ch, t, h, w, DType.FLOAT32);
    }

    static void setTensor(cudnnTensorStruct d, int n, int ch, int t, int h, int w, DType dtype) {
        setTensor(d, n, ch, t, h, w, dtype, false);
    }

    /** A 5-D tensor descriptor over [n, ch, t, h, w]: NCDHW strides, or NDHWC (channels-last) ones. */
    static void setTensor(cudnnTensorStruct d, int n, int ch, int t, int h, int w, DType dtype, boolean channelsLast) {
        int[] strides = channelsLast ? new int[] {ch * t * h * w, 1, h * w * ch, w * ch, ch}
                : new int[] {ch * t * h * w, t * h * w, h * w, w, 1};
        Cuda.checkCudnn(cudnn.cudnnSetTensorNdDescriptor(d, CudnnTypes.dataType(dtype), 5, new int[] {n, ch, t, h, w},
                strides), "cudnnSetTensorNdDescriptor");
    }

    static cudnnTensorStruct newTensor(int n, int ch, int t, int h, int w, DType dtype, boolean channelsLast) {
        cudnnTensorStruct d = new cudnnTensorStruct();
        Cuda.checkCudnn(cudnn.cudnnCreateTensorDescriptor(d), "cudnnCreateTensorDescriptor");
        setTensor(d, n, ch, t, h, w, dtype, channelsLast);
        return d;
    }

    private ConvDescriptors descriptors(int[] p) {
        return descriptors(p, DType.FLOAT32);
    }

    private ConvDescriptors descriptors(int[] p, DType dtype) {
        return descriptors(p, dtype, false);
    }

    private ConvDescriptors descriptors(int[] p, DType dtype, boolean channelsLast) {
        boolean tf32 = allowTf32;
        String key = ConvAlgorithmCache.key("desc", p, tf32, dtype) + (channelsLast ? CHANNELS_LAST_KEY : "");
        return descriptors.computeIfAbsent(key, k -> new ConvDescriptors(p, tf32, dtype, channelsLast));
    }

    /** The suffix of a channels-last problem's algorithm-cache key. */
    static final String CHANNELS_LAST_KEY = ":ndhwc";

    /** A scratch buffer from the allocator (no cudaMalloc once the cache is warm). */
    private Tensor workspace(long bytes) {
        return bytes == 0 ? null : empty(Shape.of((bytes + 3) / 4));
    }

    private static boolean isTemporal(ConvSpec s, long cin, long cout) {
        return s.kT() == 3 && s.kH() == 1 && s.kW() == 1 && s.sT() == 1 && s.sH() == 1 && s.sW() == 1 && s.pT() == 1
                && s.pH() == 0 && s.pW() == 0 && s.groups() == 1 && cin == cout;
    }

    /** Channels up to which AUTO takes the custom kernel (measured: it wins up to 128 on an H200). */
    static final long AUTO_CUSTOM_MAX_CHANNELS = 128;

    private boolean customTemporal(ConvSpec s, long cin, long cout) {
        return kernelMode == KernelMode.CUSTOM && isTemporal(s, cin, cout);
    }

    private boolean customTemporalBackwardWeight(ConvSpec s, long cin, long cout) {
        return isTemporal(s, cin, cout) && (kernelMode == KernelMode.CUSTOM
                || kernelMode == KernelMode.AUTO && cin <= AUTO_CUSTOM_MAX_CHANNELS);
    }

    private boolean customBnBackward(long channels) {
        return kernelMode == KernelMode.CUSTOM || kernelMode == KernelMode.AUTO && channels <= AUTO_CUSTOM_MAX_CHANNELS;
    }

    /**
     * The SEV block's grouped 1x3x3 conv as kernels/conv_bn_relu.cu covers it: C -> C, padding (0,1,1),
     * stride (1,s,s) with s 1 or 2, at most 16 channels per group.
     */
    static boolean isBlockGrouped(ConvSpec s, long cin, long cout) {
        return s.kT() == 1 && s.kH() == 3 && s.kW() == 3 && s.sT() == 1 && s.sH() == s.sW() && (s.sH() == 1 || s.sH() == 2)
                && s.pT() == 0 && s.pH() == 1 && s.pW() == 1 && cin == cout && cin / s.groups() <= 16;
    }

    /** A 1x1x1 conv, stride 1, one group (the block's first conv). */
    static boolean isPointwise(ConvSpec s) {
        return s.kT() == 1 && s.kH() == 1 && s.kW() == 1 && s.sT() == 1 && s.sH() == 1 && s.sW() == 1 && s.pT() == 0
                && s.pH() == 0 && s.pW() == 0 && s.groups() == 1;
    }

    /**
     * Whether the fused conv kernels always run this conv: CUSTOM (AUTO instead measures them against cuDNN per
     * problem where they apply, LIBRARY never), within the kernels' grid limits (items and groups in grid z/y).
     */
    private boolean fusedConv(ConvSpec s, Shape xs, long cout) {
        return kernelMode == KernelMode.CUSTOM && fusedConvShape(s, xs, cout);
    }

    /** Whether the fused conv kernels can run this conv (their shapes, within their grid limits). */
    private static boolean fusedConvShape(ConvSpec s, Shape xs, long cout) {
        if (xs.get(0) > 65535 || xs.sizeFrom(2) >= Integer.MAX_VALUE) {
            return false;
        }
        if (isPointwise(s)) {
            return (cout + 63) / 64 <= 65535;
        }
        return isBlockGrouped(s, xs.get(1), cout) && s.groups() <= 65535;
    }

    /**
     * Whether kernel mode AUTO picks between sevnet's kernel and cuDNN by measurement (the default; system property
     * {@code sevnet.measure=false} keeps the fixed rules measured on an H200: cuDNN, except the temporal conv's
     * backward-weight and batch norm's backward up to 128 channels).
     */
    private final boolean measureKernels = Boolean.parseBoolean(System.getProperty("sevnet.measure", "true"));

    /**
     * Routes never measured, forced or taken (system property {@code sevnet.routes.off}, a comma list of route names such
     * as {@code sevnet-tc}): a way to leave one kernel out — one not yet run on the user's GPU, say — without giving up
     * the others. A problem's default route (cuDNN) cannot be turned off.
     */
    private final java.util.Set<String> routesOff = java.util.Arrays.stream(
            System.getProperty("sevnet.routes.off", "").split(",")).map(String::trim).filter(r -> !r.isEmpty())
            .collect(java.util.stream.Collectors.toUnmodifiableSet());

    private boolean routeOff(String route) {
        return routesOff.contains(route);
    }

    private static final String DETERMINISTIC_KEY = "+deterministic";

    /**
     * Only cuDNN algorithms that cuDNN reports deterministic (PyTorch's {@code torch.backends.cudnn.deterministic}):
     * some of the fastest backward-filter and backward-data algorithms sum with atomics, so two runs of the same
     * training (eager and graphed, with and without prefetching, a resume) drift apart by rounding that compounds
     * step after step. sevnet's own kernels and cuBLAS(Lt) on one stream are deterministic already.
     */
    private volatile boolean deterministic = Boolean.parseBoolean(System.getProperty("sevnet.deterministic", "false"));

    /** Whether cuDNN convolutions are restricted to deterministic algorithms ({@code -Dsevnet.deterministic=true}). */
    public boolean deterministic() {
        return deterministic;
    }

    /**
     * Restricts cuDNN convolutions to deterministic algorithms from the next convolution on (their choices are cached
     * apart from the others). Global to this device's backend, like PyTorch's flag: training runs that want it set it
     * for their whole run ({@code TrainConfig.deterministic}).
     */
    public void setDeterministic(boolean on) {
        deterministic = on;
    }

    private boolean measuresKernels() {
        return kernelMode == KernelMode.AUTO && measureKernels;
    }

    /** Whether kernel mode AUTO measures (false: {@code -Dsevnet.measure=false}, the fixed rules). */
    public boolean measureKernels() {
        return measureKernels;
    }

    /**
     * An op with several implementations that write the same outputs and nothing else (kernel mode AUTO): the one
     * measured fastest on this problem ({@code key}) at its first call — with CUDA events, the choice saved with the
     * algorithm cache ({@link #measuredRoutes}) — or, inside a CUDA graph capture before any measurement, the fixed
     * rule's ({@code byDefault}). A route that fails with a CUDA error is left out. {@code routes}: name -> run.
     */
    private void measured(String key, java.util.Map<String, Runnable> routes, String byDefault, Tensor... outputs) {
        measured(key, routes, byDefault, allowTf32, outputs);
    }

    private void measured(String key, java.util.Map<String, Runnable> routes, String byDefault, boolean tf32,
            Tensor... outputs) {
        if (!routesOff.isEmpty()) {
            routes.keySet().removeIf(r -> routeOff(r) && !r.equals(byDefault));
        }
        String route = forcedRoute != null && routes.containsKey(forcedRoute) ? forcedRoute : algorithms.route(key);
        if (route == null && dev.allocator().capturingOnThisThread()) {
            route = byDefault;
        }
        if (route == null) {
            boolean outer = measuring;
            measuring = true;
            try {
                measureRoutes(key, routes, tf32, outputs);
            } finally {
                measuring = outer;
            }
            return;
        }
        routes.getOrDefault(route, routes.get(byDefault)).run();
    }

    /**
     * Times {@code routes} (name -> run) on this problem, each result checked against the first ({@link OutputCheck}),
     * and records the fastest for {@code key} unless the check was inconclusive; a route failing with a CUDA error
     * is left out and logged. The chosen route ran last: the outputs hold its result.
     */
    private RouteTuner.Result measureRoutes(String key, java.util.Map<String, Runnable> routes, boolean tf32,
            Tensor... outputs) {
        if (!dev.allocator().capturingOnThisThread()) {
            dev.synchronizeAllStreams(); // as before a cuDNN search: no other worker's kernels inside the timings
        }
        java.util.List<RouteTuner.Candidate> cs = new java.util.ArrayList<>();
        routes.forEach((name, run) -> cs.add(new RouteTuner.Candidate(name, run)));
        RouteTuner.Result r;
        boolean keep;
        try (OutputCheck check = new OutputCheck(key, tf32, outputs)) {
            r = RouteTuner.measure(cs, body -> dev.timeMillis(ROUTE_TIMING_REPS, body), e -> e instanceof CudaException,
                    check, ROUTE_TIMING_ROUNDS);
            keep = !check.inconclusive();
        }
        r.skipped().forEach((failed, why) -> LOG.warn("{}: route {} failed, left out: {}", key, failed, why));
        if (keep) {
            algorithms.putRoute(key, r.chosen());
        }
        LOG.debug("{}: {}", key, r.describe());
        return r;
    }

    /**
     * While routes are measured: the first route's outputs kept (as fp32), every later route's compared with them —
     * norm-wise (relative distance at most {@code tol}: 5e-2 for 16-bit or TF32 results, 1e-3 for IEEE fp32; far above
     * rounding, far below a wrong result) and element-wise (no element off by more than 2 * tol of the largest
     * reference magnitude, which a wrong tile or edge would be). A route failing either, or giving a NaN or infinity,
     * is left out and logged. When the first route's outputs are not finite (an fp16 step whose loss scale still
     * overflows) or a comparison runs out of memory, the check is inconclusive: nothing is rejected, and the caller
     * does not keep the choice (the next call measures again).
     */
    private final class OutputCheck implements java.util.function.Predicate<String>, AutoCloseable {
        private final String key;
        private final boolean tf32;
        private final Tensor[] outputs;
        private Tensor[] reference;
        private double[] refNorm;
        private double[] refMax;
        private String referenceRoute;
        private boolean inconclusive;

        /** {@code tf32}: whether the outputs may come from TF32 arithmetic (a conv with TF32 allowed). */
        OutputCheck(String key, boolean tf32, Tensor... outputs) {
            this.key = key;
            this.tf32 = tf32;
            this.outputs = outputs;
        }

        boolean inconclusive() {
            return inconclusive;
        }

        @Override
        public boolean test(String route) {
            if (inconclusive) {
                return true;
            }
            try {
                if (reference == null) {
                    keepReference(route);
                    return true;
                }
                for (int i = 0; i < outputs.length; i++) {
                    double tol = outputs[i].dtype() != DType.FLOAT32 || tf32 ? 5e-2 : 1e-3;
                    double[] dist = distance(reference[i], outputs[i]);
                    double rel = refNorm[i] == 0 ? (dist[0] == 0 ? 0 : Double.POSITIVE_INFINITY) : dist[0] / refNorm[i];
                    boolean ok = rel <= tol && dist[1] <= 2 * tol * refMax[i];
                    if (!ok) { // NaN compares false: rejected
                        LOG.warn("{}: route {} disagrees with route {} (output {}: relative distance {}, largest "
                                + "element difference {} of {}, tolerance {})", key, route, referenceRoute, i, rel, dist[1],
                                refMax[i], tol);
                        return false;
                    }
                }
                return true;
            } catch (dev.sevnet.backend.DeviceOutOfMemoryException e) {
                inconclusive = true;
                LOG.debug("{}: no memory to compare the routes' results", key);
                return true;
            }
        }

        private void keepReference(String route) {
            referenceRoute = route;
            reference = new Tensor[outputs.length];
            refNorm = new double[outputs.length];
            refMax = new double[outputs.length];
            for (int i = 0; i < outputs.length; i++) {
                reference[i] = TensorScope.detach(cast(outputs[i], DType.FLOAT32));
                if (reference[i].size() > Integer.MAX_VALUE || !allFinite(List.of(reference[i]))) {
                    inconclusive = true;
                    return;
                }
                refNorm[i] = nrm2(reference[i]);
                refMax[i] = maxAbs(reference[i]);
            }
        }

        /** {||out - ref||, max |out - ref|} in fp32 on the device (cuBLAS nrm2 and amax: no overflow, no scratch). */
        private double[] distance(Tensor ref, Tensor out) {
            try (Tensor d = cast(out, DType.FLOAT32)) {
                axpby(-1f, ref, 1f, d);
                return new double[] {nrm2(d), maxAbs(d)};
            }
        }

        private double nrm2(Tensor t) {
            try (FloatPointer r = new FloatPointer(1)) {
                Cuda.checkCublas(cublas.cublasSnrm2_v2(dev.cublas(), (int) t.size(), Cuda.fptr(t.address()), 1, r),
                        "cublasSnrm2");
                return r.get();
            }
        }

        private double maxAbs(Tensor t) {
            if (t.size() == 0) {
                return 0;
            }
            try (org.bytedeco.javacpp.IntPointer idx = new org.bytedeco.javacpp.IntPointer(1);
                    FloatPointer v = new FloatPointer(1)) {
                Cuda.checkCublas(cublas.cublasIsamax_v2(dev.cublas(), (int) t.size(), Cuda.fptr(t.address()), 1, idx),
                        "cublasIsamax");
                long at = Math.max(0, idx.get() - 1L); // 1-based; a NaN makes it point at the NaN
                t.storage().copyToHost(4L * at, v.address(), 4);
                return Math.abs(v.get());
            }
        }

        @Override
        public void close() {
            if (reference != null) {
                for (Tensor t : reference) {
                    if (t != null) {
                        t.close();
                    }
                }
            }
        }
    }

    /** Convenience: cuDNN and sevnet's kernel. */
    private void measured(String key, Runnable cudnnRoute, Runnable sevnetRoute, boolean sevnetByDefault,
            Tensor... outputs) {
        java.util.Map<String, Runnable> routes = new java.util.LinkedHashMap<>();
        routes.put(ROUTE_CUDNN, cudnnRoute);
        routes.put(ROUTE_SEVNET, sevnetRoute);
        measured(key, routes, sevnetByDefault ? ROUTE_SEVNET : ROUTE_CUDNN, false, outputs); // batch norm: no TF32
    }

    /** Every measured op takes this route where it has one (no measurement, nothing recorded); null: off. */
    private volatile String forcedRoute;

    /** Whether routes are being measured now (a route that cannot run then fails, to be left out, not replaced). */
    private boolean measuring;

    /**
     * For benchmarks and tests: every measured op that has a route of this name ({@code cudnn}, {@code cublas},
     * {@code cublaslt}, {@code sevnet}, ...) takes it, unmeasured and unrecorded; the others keep theirs. Null: off.
     */
    public synchronized void forceRoute(String route) {
        forcedRoute = route;
    }

    /** The fused conv's inference form: y = act(conv + bias) or act(BN_running(conv)) (rm != 0). */
    private void fusedConvForward(Tensor x, Tensor w, long bias, long gamma, long beta, long rm, long rv, double eps,
            boolean relu, Tensor y, ConvSpec spec, int[] p) {
        if (isPointwise(spec)) {
            k(CudaKernels.sevc_pointwise_conv_forward(x.address(), w.address(), bias, gamma, beta, rm, rv, (float) eps,
                    relu ? 1 : 0, y.address(), p[0], p[1], p[5], (long) p[2] * p[3] * p[4], st()), "fused 1x1x1 conv");
        } else {
            k(CudaKernels.sevc_grouped_conv3x3_forward(x.address(), w.address(), bias, gamma, beta, rm, rv, (float) eps,
                    relu ? 1 : 0, y.address(), p[0], p[1], p[1] / p[15], p[2], p[3], p[4], p[10], st()),
                    "fused grouped conv");
        }
    }

    @Override
    public synchronized Tensor conv3d(Tensor x, Tensor w, Tensor bias, ConvSpec spec, boolean relu) {
        if (x != null && x.isChannelsLast()) {
            return channelsLastConv(x, w, bias, spec, null, relu);
        }
        if (channelsLastBytes(w)) {
            // contiguous activations, channels-last weights: the NCDHW conv on a contiguous copy of w
            try (Tensor wc = contiguous(w)) {
                return conv3d(x, wc, bias, spec, relu);
            }
        }
        if (x != null && OpChecks.isHalf(x.dtype())) {
            return halfConv(x, w, bias, spec, null, relu);
        }
        c.f32(x, "x");
        c.f32(w, "weight");
        c.conv(x.shape(), w.shape(), spec);
        long cout = w.dim(0);
        if (bias != null) {
            c.f32(bias, "bias");
            Checks.shape(bias, "bias", Shape.of(cout));
        }
        int[] p = spec.nativeParams(x.shape(), cout);
        Tensor y = empty(spec.outputShape(x.shape(), cout));
        dev.activate();
        if (fusedConv(spec, x.shape(), cout)) {
            // the inference form of the fused kernels: bias (BN folded into w and bias) and ReLU in the epilogue
            fusedConvForward(x, w, addr(bias), 0L, 0L, 0L, 0L, 0, relu, y, spec, p);
            return y;
        }
        boolean fusable = fusedConvShape(spec, x.shape(), cout);
        if (measuresKernels() && (fusable || isTemporal(spec, x.dim(1), cout))) {
            Runnable epilogue = () -> {
                if (bias != null || relu) {
                    k(CudaKernels.sevc_bias_relu(y.address(), addr(bias), y.dim(0), cout, y.shape().sizeFrom(2),
                            relu ? 1 : 0, st()), "bias+relu");
                }
            };
            java.util.Map<String, Runnable> routes = new java.util.LinkedHashMap<>();
            routes.put(ROUTE_CUDNN, () -> {
                cudnnForward(descriptors(p), ConvAlgorithmCache.key("fwd", p, allowTf32), x, w, y, spec.toString());
                epilogue.run();
            });
            routes.put(ROUTE_SEVNET, fusable ? () -> fusedConvForward(x, w, addr(bias), 0L, 0L, 0L, 0L, 0, relu, y, spec, p)
                    : () -> {
                        k(CudaKernels.sevc_temporal_conv3_forward(x.address(), w.address(), y.address(), p[0], p[1], p[2],
                                (long) p[3] * p[4], st()), "temporal conv");
                        epilogue.run();
                    });
            if (gemmFits(x.shape()) && (isPointwise(spec) || isTemporal(spec, x.dim(1), cout))) {
                routes.put(ROUTE_CUBLAS, () -> {
                    if (isPointwise(spec)) {
                        pointwiseForwardGemm(x, w, y);
                    } else {
                        temporalForwardGemm(x, w, y);
                    }
                    epilogue.run();
                });
            }
            measured(ConvAlgorithmCache.key("fwd", p, allowTf32), routes, ROUTE_CUDNN, y);
            return y;
        }
        if (customTemporal(spec, x.dim(1), cout)) {
            k(CudaKernels.sevc_temporal_conv3_forward(x.address(), w.address(), y.address(), p[0], p[1], p[2],
                    (long) p[3] * p[4], st()), "temporal conv");
        } else {
            ConvDescriptors d = descriptors(p);
            ConvAlgorithmCache.Choice ch = forwardAlgorithm(p, d, x, w, y, DType.FLOAT32);
            try (Tensor ws = workspace(ch.workspaceBytes())) {
                useMathType(d, ch);
                Cuda.checkCudnn(cudnn.cudnnConvolutionForward(dev.cudnn(), ONE, d.x, Cuda.ptr(x.address()), d.w,
                        Cuda.ptr(w.address()), d.conv, ch.algorithm(), Cuda.ptr(addr(ws)), ch.workspaceBytes(), ZERO, d.y,
                        Cuda.ptr(y.address())), "cudnnConvolutionForward " + spec + algoNote(ch));
            }
        }
        if (bias != null || relu) {
            long s = y.shape().sizeFrom(2);
            k(CudaKernels.sevc_bias_relu(y.address(), addr(bias), y.dim(0), cout, s, relu ? 1 : 0, st()), "bias+relu");
        }
        return y;
    }

    @Override
    public synchronized Tensor conv3dResidual(Tensor x, Tensor w, Tensor bias, ConvSpec spec, Tensor residual,
            boolean relu) {
        if (x != null && x.isChannelsLast()) {
            return channelsLastConv(x, w, bias, spec, residual, relu);
        }
        if (channelsLastBytes(w)) {
            try (Tensor wc = contiguous(w)) {
                return conv3dResidual(x, wc, bias, spec, residual, relu);
            }
        }
        if (x != null && OpChecks.isHalf(x.dtype())) {
            return halfConv(x, w, bias, spec, residual, relu);
        }
        return Backend.super.conv3dResidual(x, w, bias, spec, residual, relu);
    }

    /**
     * The 16-bit conv: cuDNN with bfloat16 / float16 descriptors and fp32 accumulation (PSEUDO_BFLOAT16 /
     * PSEUDO_HALF), tensor-op math, the algorithm found and cached per problem and dtype; then one epilogue
     * launch {@code act(y + bias + residual)} ({@code sevc_half_bias_act}). y is stored twice in 16 bits (cuDNN's
     * output, then the epilogue's), as {@code CpuBackend}'s reference does. The grouped convs in AUTO/CUSTOM (see
     * {@link #widensSixteenBit}) and any problem cuDNN refuses run in fp32 on widened copies instead, rounded once
     * (with bias and ReLU inside the fp32 conv when there is no residual).
     */
    private Tensor halfConv(Tensor x, Tensor w, Tensor bias, ConvSpec spec, Tensor residual, boolean relu) {
        DType dt = c.halfConv(x, w, bias, spec, residual);
        long cout = w.dim(0);
        Shape out = spec.outputShape(x.shape(), cout);
        int code = CudnnTypes.kernelCode(dt);
        int[] p = spec.nativeParams(x.shape(), cout);
        Tensor y = empty(out, dt);
        try {
            dev.activate();
            if (!widenEverySixteenBitConv && fusedConv(spec, x.shape(), cout) && !isPointwise(spec)) {
                // CUSTOM: sevnet's fused grouped kernel in 16-bit storage (fp32 accumulation, bias and ReLU inside, y
                // rounded once); a residual is added by the 16-bit epilogue after it
                boolean act = residual == null && relu;
                int relu1 = act ? 1 : 0;
                long b = addr(bias);
                int rc = dt == DType.BFLOAT16
                        ? CudaKernels.sevc_grouped_conv3x3_forward_bf16(x.address(), w.address(), b, 0L, 0L, 0L, 0L,
                                0f, relu1, y.address(), p[0], p[1], p[1] / p[15], p[2], p[3], p[4], p[10], st())
                        : CudaKernels.sevc_grouped_conv3x3_forward_f16(x.address(), w.address(), b, 0L, 0L, 0L, 0L,
                                0f, relu1, y.address(), p[0], p[1], p[1] / p[15], p[2], p[3], p[4], p[10], st());
                k(rc, "fused grouped conv (16-bit)");
                if (residual != null) {
                    k(CudaKernels.sevc_half_bias_act(y.address(), 0L, residual.address(), y.dim(0), cout,
                            out.sizeFrom(2), relu ? 1 : 0, code, st()), "16-bit residual+relu");
                }
                return y;
            }
            String what = dt + " " + spec;
            if (measuresSixteenBit()) {
                // the fastest route of this problem, measured at its first call; then one 16-bit epilogue
                sixteenBitMeasured("fwd", p, dt, y,
                        () -> cudnnForward(descriptors(p, dt), ConvAlgorithmCache.key("fwd", p, allowTf32, dt), x, w, y,
                                what),
                        () -> channelsLastForward(x, w, y, p, dt, what),
                        !sevnetGroupedHalf(spec, x.shape(), cout) ? null : () -> k(dt == DType.BFLOAT16
                                ? CudaKernels.sevc_grouped_conv3x3_forward_bf16(x.address(), w.address(), 0L, 0L, 0L,
                                        0L, 0L, 0f, 0, y.address(), p[0], p[1], p[1] / p[15], p[2], p[3], p[4], p[10],
                                        st())
                                : CudaKernels.sevc_grouped_conv3x3_forward_f16(x.address(), w.address(), 0L, 0L, 0L,
                                        0L, 0L, 0f, 0, y.address(), p[0], p[1], p[1] / p[15], p[2], p[3], p[4], p[10],
                                        st()), "fused grouped conv (16-bit)"),
                        !gemmFits(x.shape()) ? null : isPointwise(spec) ? () -> pointwiseForwardGemm(x, w, y)
                                : isTemporal(spec, x.dim(1), cout) ? () -> temporalForwardGemm(x, w, y) : null,
                        () -> {
                            try (Tensor x32 = cast(x, DType.FLOAT32); Tensor w32 = cast(w, DType.FLOAT32)) {
                                return conv3d(x32, w32, null, spec, false);
                            }
                        });
                if (bias != null || residual != null || relu) {
                    k(CudaKernels.sevc_half_bias_act(y.address(), addr(bias), addr(residual), y.dim(0), cout,
                            out.sizeFrom(2), relu ? 1 : 0, code, st()), "16-bit bias+residual+relu");
                }
                return y;
            }
            // widened without a residual, the fp32 conv takes bias and ReLU in its own epilogue (sevnet's fused
            // kernels in AUTO/CUSTOM): y is rounded once and no 16-bit epilogue pass follows
            boolean[] epilogueDone = {false};
            sixteenBitOrWidened("fwd", p, dt, spec, y,
                    () -> cudnnForward(descriptors(p, dt), ConvAlgorithmCache.key("fwd", p, allowTf32, dt), x, w, y, what),
                    () -> channelsLastForward(x, w, y, p, dt, what), () -> {
                epilogueDone[0] = residual == null;
                try (Tensor x32 = cast(x, DType.FLOAT32); Tensor w32 = cast(w, DType.FLOAT32)) {
                    return epilogueDone[0] ? conv3d(x32, w32, bias, spec, relu) : conv3d(x32, w32, null, spec, false);
                }
            });
            if (!epilogueDone[0] && (bias != null || residual != null || relu)) {
                k(CudaKernels.sevc_half_bias_act(y.address(), addr(bias), addr(residual), y.dim(0), cout,
                        out.sizeFrom(2), relu ? 1 : 0, code, st()), "16-bit bias+residual+relu");
            }
            return y;
        } catch (RuntimeException | Error e) {
            y.close();
            throw e;
        }
    }

    private ConvAlgorithmCache.Choice forwardAlgorithm(int[] p, ConvDescriptors d, Tensor x, Tensor w, Tensor y,
            DType dtype) {
        return forwardAlgorithm(ConvAlgorithmCache.key("fwd", p, allowTf32, dtype), d, x, w, y);
    }

    private ConvAlgorithmCache.Choice forwardAlgorithm(String problem, ConvDescriptors d, Tensor x, Tensor w, Tensor y) {
        boolean det = deterministic;
        String key = algorithmKey(problem, det);
        ConvAlgorithmCache.Choice ch = algorithms.get(key);
        if (ch != null) {
            return ch;
        }
        beforeSearch(key);
        int n = cudnn.CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
        try (cudnnConvolutionFwdAlgoPerf_t perf = new cudnnConvolutionFwdAlgoPerf_t(n); Tensor ws = workspace(searchSpace())) {
            int[] returned = new int[1];
            d.setMathType(d.defaultMathType);
            Cuda.checkCudnn(cudnn.cudnnFindConvolutionForwardAlgorithmEx(dev.cudnn(), d.x, Cuda.ptr(x.address()), d.w,
                    Cuda.ptr(w.address()), d.conv, d.y, Cuda.ptr(y.address()), n, returned, perf, Cuda.ptr(addr(ws)),
                    ws == null ? 0 : ws.byteSize()), "cudnnFindConvolutionForwardAlgorithmEx");
            for (int i = 0; i < returned[0]; i++) {
                cudnnConvolutionFwdAlgoPerf_t r = perf.getPointer(i);
                if (r.status() == 0 && (!det || r.determinism() == cudnn.CUDNN_DETERMINISTIC)) {
                    ch = new ConvAlgorithmCache.Choice(r.algo(), r.memory(), r.mathType());
                    break;
                }
            }
        }
        return remember(key, ch);
    }

    /**
     * cuDNN's algorithm search synchronises and allocates: inside a CUDA graph capture it would invalidate the capture,
     * so a problem met there for the first time is a clear error (the capture fails and the caller runs eagerly).
     */
    private void beforeSearch(String key) {
        if (dev.allocator().capturingOnThisThread()) {
            throw new CudaException("the convolution " + key + " has no cuDNN algorithm yet and none can be searched "
                    + "inside a CUDA graph capture: run the work once eagerly first");
        }
        // other workers' streams drain first: their kernels would otherwise run inside the search's timings (and no
        // new work joins them meanwhile: queuing takes this backend's lock, held here)
        dev.synchronizeAllStreams();
    }

    /** The math type the algorithm was found with, set on the (shared) descriptor before every call. */
    private static void useMathType(ConvDescriptors d, ConvAlgorithmCache.Choice ch) {
        d.setMathType(ch.mathType() == ConvAlgorithmCache.Choice.DESCRIPTOR_MATH ? d.defaultMathType : ch.mathType());
    }

    /**
     * Records a 16-bit problem cuDNN refused (BAD_PARAM / NOT_SUPPORTED, which cuDNN 9's legacy API answers for
     * some strided and 3x1x1 16-bit problems even with an algorithm its own search ran): from now on it runs in fp32
     * on widened copies and is rounded once, so training and inference go on, slower on that layer only. Any other
     * failure is rethrown.
     */
    private void refuse(String key, CudaException e) {
        if (!e.refusedByCudnn()) {
            throw e;
        }
        if (refusedHalf.add(key)) {
            LOG.warn("cuDNN refused the 16-bit convolution {}: {}; it runs in fp32 on widened copies from now on", key,
                    e.getMessage());
        }
    }

    /**
     * Whether a 16-bit convolution runs in fp32 on widened copies, rounded once to 16 bits, by choice rather than
     * refusal: the grouped 1x3x3 forward and backward-data in kernel modes AUTO and CUSTOM. On an H200 with cuDNN
     * 9.14, cuDNN's 16-bit grouped backward-data in NCDHW took 2.99 ms against 0.26 ms in TF32 at
     * [8, 64, 16, 56, 56] (3.37 vs 0.36 ms strided; CudaKernelsBench halftrain, bench/RESULTS.md) and 16-bit
     * inference ran at 0.6x fp32's clips/s; the two casts cost far less than the difference. Backward-filter stays
     * 16-bit (there cuDNN's 16-bit is faster than TF32). LIBRARY keeps cuDNN's 16-bit kernels for comparison; CUSTOM
     * runs the grouped forward and backward-data on sevnet's kernels in 16-bit storage
     * (sevc_grouped_conv3x3_forward_bf16/_f16, sevc_grouped_conv3x3_backward_data_bf16/_f16).
     * {@code direction}: fwd, bwd-data, bwd-filter.
     */
    public boolean widensSixteenBit(String direction, ConvSpec spec) {
        return widenEverySixteenBitConv || kernelMode != KernelMode.LIBRARY && spec.groups() > 1
                && (halfGroupedRoute == HalfGroupedRoute.WIDEN
                        || halfGroupedRoute == HalfGroupedRoute.MEASURE && kernelMode == KernelMode.CUSTOM)
                && !"bwd-filter".equals(direction);
    }

    /**
     * Whether 16-bit convs pick their route by measurement ({@link HalfGroupedRoute#MEASURE}, the default, in kernel
     * mode AUTO): every 16-bit conv problem and direction, grouped or not.
     */
    private boolean measuresSixteenBit() {
        return !widenEverySixteenBitConv && kernelMode == KernelMode.AUTO && halfGroupedRoute == HalfGroupedRoute.MEASURE;
    }

    /** Whether sevnet's 16-bit grouped 1x3x3 kernels take this problem (the block's grouped conv, within limits). */
    private static boolean sevnetGroupedHalf(ConvSpec s, Shape xs, long cout) {
        return !isPointwise(s) && isBlockGrouped(s, xs.get(1), cout) && s.groups() <= 65535 && xs.get(0) <= 65535
                && xs.sizeFrom(2) < Integer.MAX_VALUE;
    }

    /**
     * One pass of a 16-bit conv into {@code out} by the route measured fastest for its problem: at the problem's
     * first call (outside a CUDA graph capture) every route is timed with CUDA events — cuDNN over the 16-bit NCDHW
     * tensors, cuDNN over channels-last copies, sevnet's 16-bit grouped kernel ({@code sevnet16}, null where it does
     * not apply) and fp32 on widened copies rounded once — logged, and kept with the algorithm cache (saved with it);
     * later calls run the choice. A route cuDNN refuses is left out (and remembered as refused). Inside a capture an
     * unmeasured problem is widened (nothing may be timed there).
     */
    private void sixteenBitMeasured(String direction, int[] p, DType dt, Tensor out, Runnable cudnn16,
            Runnable channelsLast16, Runnable sevnet16, Runnable gemm16, java.util.function.Supplier<Tensor> fp32) {
        String key = ConvAlgorithmCache.key(direction, p, allowTf32, dt);
        String clKey = key + CHANNELS_LAST_KEY;
        Runnable widen = () -> {
            try (Tensor r = fp32.get()) {
                castInto(r, out);
            }
        };
        String route = algorithms.route(key);
        String forced = forcedRoute;
        if (forced != null) {
            Runnable f = switch (forced) {
                case ROUTE_CUDNN -> cudnn16;
                case ROUTE_CHANNELS_LAST -> channelsLast16;
                case ROUTE_SEVNET -> sevnet16;
                case ROUTE_CUBLAS -> gemm16;
                case ROUTE_WIDEN -> widen;
                default -> null;
            };
            if (f != null) {
                f.run();
                return;
            }
        }
        if (route == null && !dev.allocator().capturingOnThisThread()) {
            java.util.Map<String, Runnable> routes = new java.util.LinkedHashMap<>();
            if (!refusedHalf.contains(key)) {
                routes.put(ROUTE_CUDNN, cudnn16);
            }
            if (!refusedHalf.contains(clKey)) {
                routes.put(ROUTE_CHANNELS_LAST, channelsLast16);
            }
            if (sevnet16 != null) {
                routes.put(ROUTE_SEVNET, sevnet16);
            }
            if (gemm16 != null) {
                routes.put(ROUTE_CUBLAS, gemm16);
            }
            routes.put(ROUTE_WIDEN, widen);
            // a cuDNN route that fails with a CUDA/cuDNN error (a refusal, or e.g. a layout cuDNN cannot transform) is
            // also remembered as refused: the widened route stays as the fallback
            RouteTuner.Result r = measureRoutes(key, routes, true, out);
            if (r.skipped().containsKey(ROUTE_CUDNN)) {
                refusedHalf.add(key);
            }
            if (r.skipped().containsKey(ROUTE_CHANNELS_LAST)) {
                refusedHalf.add(clKey);
            }
            return; // the chosen route ran last: out holds its result
        }
        if (ROUTE_CUDNN.equals(route) && !refusedHalf.contains(key)) {
            try {
                cudnn16.run();
                return;
            } catch (CudaException e) {
                refuse(key, e);
            }
        } else if (ROUTE_CHANNELS_LAST.equals(route) && !refusedHalf.contains(clKey)) {
            try {
                channelsLast16.run();
                return;
            } catch (CudaException e) {
                refuse(clKey, e);
            }
        } else if (ROUTE_SEVNET.equals(route) && sevnet16 != null) {
            sevnet16.run();
            return;
        } else if (ROUTE_CUBLAS.equals(route) && gemm16 != null) {
            gemm16.run();
            return;
        }
        widen.run();
    }

    /**
     * The set of measured routes: part of the algorithm cache's environment, so a cache file saved when an op had
     * fewer routes (or another implementation of one) is measured again rather than trusted. Raise it when a route
     * is added or changed, or the way routes are measured (6: the fastest of three rounds).
     */
    static final int ROUTES_VERSION = 6;

    static final String ROUTE_CUDNN = "cudnn";
    static final String ROUTE_CHANNELS_LAST = "channels-last";
    static final String ROUTE_SEVNET = "sevnet";
    /** sevnet's tensor-core kernel where it has one beside a CUDA-core one (the channels-last temporal conv). */
    static final String ROUTE_SEVNET_TC = "sevnet-tc";
    static final String ROUTE_WIDEN = "widen";
    static final String ROUTE_CUBLAS = "cublas";
    static final String ROUTE_CUBLASLT = "cublaslt";
    /** A channels-last conv run as the contiguous op on NCDHW copies, reordered back (reorders timed with it). */
    static final String ROUTE_NCDHW = "ncdhw";

    // ---- the 1x1x1 conv as GEMMs (cuBLAS; a measured route) ----
    // Per clip n the NCDHW tensors are matrices: x_n [Cin, L] and y_n [Cout, L] (L = T*H*W), w [Cout, Cin], so
    // y_n = w x_n, dx_n = w^T dy_n, dw = sum_n dy_n x_n^T. cuBLAS is column-major: x_n is an L x Cin matrix with
    // leading dimension L, w a Cin x Cout one with leading dimension Cin. fp32 runs in TF32 when allowed, 16-bit
    // tensors with fp32 accumulation (tensor cores either way).

    /** Whether the GEMM route takes an activation of this shape (cuBLAS dimensions are int). */
    private static boolean gemmFits(Shape xs) {
        // at least one clip, channel and position: an empty sum would leave a weight gradient unwritten
        return xs.get(0) >= 1 && xs.get(1) >= 1 && xs.sizeFrom(2) >= 1 && xs.get(0) <= Integer.MAX_VALUE
                && xs.get(1) <= Integer.MAX_VALUE && xs.sizeFrom(2) <= Integer.MAX_VALUE;
    }

    private int gemmCompute(DType dt) {
        return dt == DType.FLOAT32 && allowTf32 ? cublas.CUBLAS_COMPUTE_32F_FAST_TF32 : cublas.CUBLAS_COMPUTE_32F;
    }

    private static int cudaType(DType dt) {
        return switch (dt) {
            case FLOAT32 -> cudart.CUDA_R_32F;
            case BFLOAT16 -> cudart.CUDA_R_16BF;
            case FLOAT16 -> cudart.CUDA_R_16F;
            default -> throw new IllegalArgumentException("no GEMM over " + dt);
        };
    }

    /**
     * Runs a {@link ConvGemmPlan} with cuBLAS: each operand's tensor by name (A and B of one type, C of its own —
     * the fp32 accumulator of a 16-bit weight gradient), offsets and strides in the operand's elements.
     */
    private void runGemms(List<ConvGemmPlan.Gemm> plan, Map<ConvGemmPlan.Operand, Tensor> ops, String what) {
        for (ConvGemmPlan.Gemm g : plan) {
            Tensor a = ops.get(g.a());
            Tensor b = ops.get(g.b());
            Tensor c = ops.get(g.c());
            Cuda.checkCublas(cublas.cublasGemmStridedBatchedEx(dev.cublas(), g.transA() ? cublas.CUBLAS_OP_T
                    : cublas.CUBLAS_OP_N, g.transB() ? cublas.CUBLAS_OP_T : cublas.CUBLAS_OP_N, g.m(), g.n(), g.k(), ONE,
                    Cuda.ptr(a.address() + g.aOffset() * a.dtype().byteSize()), cudaType(a.dtype()), g.lda(), g.strideA(),
                    Cuda.ptr(b.address() + g.bOffset() * b.dtype().byteSize()), cudaType(b.dtype()), g.ldb(), g.strideB(),
                    g.accumulate() ? ONE : ZERO, Cuda.ptr(c.address() + g.cOffset() * c.dtype().byteSize()),
                    cudaType(c.dtype()), g.ldc(), g.strideC(), g.batch(), gemmCompute(a.dtype()),
                    cublas.CUBLAS_GEMM_DEFAULT), "cublasGemmStridedBatchedEx (" + what + ")");
        }
    }

    private static Map<ConvGemmPlan.Operand, Tensor> operands(Object... pairs) {
        Map<ConvGemmPlan.Operand, Tensor> m = new java.util.EnumMap<>(ConvGemmPlan.Operand.class);
        for (int i = 0; i < pairs.length; i += 2) {
            m.put((ConvGemmPlan.Operand) pairs[i], (Tensor) pairs[i + 1]);
        }
        return m;
    }

    /** y_n = w x_n for every clip: one strided-batched GEMM. */
    private void pointwiseForwardGemm(Tensor x, Tensor w, Tensor y) {
        runGemms(ConvGemmPlan.pointwiseForward((int) x.dim(0), (int) x.dim(1), (int) w.dim(0),
                (int) x.shape().sizeFrom(2)), operands(ConvGemmPlan.Operand.X, x, ConvGemmPlan.Operand.W, w,
                ConvGemmPlan.Operand.Y, y), "1x1x1 conv forward");
    }

    /** dx_n = w^T dy_n for every clip: one strided-batched GEMM. */
    private void pointwiseBackwardDataGemm(Tensor dy, Tensor w, Tensor dx) {
        runGemms(ConvGemmPlan.pointwiseBackwardData((int) dx.dim(0), (int) dx.dim(1), (int) w.dim(0),
                (int) dx.shape().sizeFrom(2)), operands(ConvGemmPlan.Operand.DY, dy, ConvGemmPlan.Operand.W, w,
                ConvGemmPlan.Operand.DX, dx), "1x1x1 conv backward-data");
    }

    /**
     * dw = sum_n dy_n x_n^T: one GEMM per clip accumulating into an fp32 buffer — dw itself when it is fp32, else a
     * scratch rounded once into the 16-bit dw.
     */
    private void pointwiseBackwardWeightGemm(Tensor x, Tensor dy, Tensor dw) {
        boolean f32 = dw.dtype() == DType.FLOAT32;
        Tensor acc = f32 ? dw : empty(dw.shape(), DType.FLOAT32);
        try {
            runGemms(ConvGemmPlan.pointwiseBackwardWeight((int) x.dim(0), (int) x.dim(1), (int) dw.dim(0),
                    (int) x.shape().sizeFrom(2)), operands(ConvGemmPlan.Operand.X, x, ConvGemmPlan.Operand.DY, dy,
                    ConvGemmPlan.Operand.ACC, acc), "1x1x1 conv backward-weight");
            if (!f32) {
                castInto(acc, dw);
            }
        } finally {
            if (!f32) {
                acc.close();
            }
        }
    }

    // ---- the temporal 3x1x1 conv as GEMMs (ConvGemmPlan): three taps between time-shifted frame ranges ----

    /** The taps W_0, W_1, W_2 of a [Cout, Cin, 3, 1, 1] weight as a [3, Cout, Cin] tensor of w's type. */
    private Tensor temporalTaps(Tensor w) {
        int j = Math.toIntExact(w.dim(0) * w.dim(1));
        Tensor w32 = w.dtype() == DType.FLOAT32 ? null : cast(w, DType.FLOAT32);
        Tensor taps = empty(Shape.of(3, w.dim(0), w.dim(1)), DType.FLOAT32);
        try {
            long src = (w32 == null ? w : w32).address();
            // geam's B is the output itself (beta 0): zeroed, so no stale NaN could reach it should B be read
            Cuda.check(cudart.cudaMemsetAsync(Cuda.ptr(taps.address()), 0, taps.byteSize(), dev.stream()),
                    "cudaMemsetAsync");
            // w is a 3 x J column-major matrix (ld 3); its transpose, J x 3 (ld J), is tap-major
            Cuda.checkCublas(cublas.cublasSgeam(dev.cublas(), cublas.CUBLAS_OP_T, cublas.CUBLAS_OP_N, j, 3, ONE,
                    Cuda.fptr(src), 3, ZERO, Cuda.fptr(taps.address()), j, Cuda.fptr(taps.address()), j),
                    "cublasSgeam (temporal conv taps)");
            if (w.dtype() == DType.FLOAT32) {
                return taps;
            }
            Tensor t16 = empty(taps.shape(), w.dtype());
            try {
                castInto(taps, t16);
            } catch (RuntimeException | Error e) {
                t16.close();
                throw e;
            }
            taps.close();
            return t16;
        } catch (RuntimeException | Error e) {
            if (!taps.isClosed()) {
                taps.close();
            }
            throw e;
        } finally {
            if (w32 != null) {
                w32.close();
            }
        }
    }

    private void temporalForwardGemm(Tensor x, Tensor w, Tensor y) {
        try (Tensor taps = temporalTaps(w)) {
            runGemms(ConvGemmPlan.temporalForward((int) x.dim(0), (int) x.dim(1), (int) w.dim(0), (int) x.dim(2),
                    (int) x.shape().sizeFrom(3)), operands(ConvGemmPlan.Operand.X, x, ConvGemmPlan.Operand.TAPS, taps,
                    ConvGemmPlan.Operand.Y, y), "temporal conv forward");
        }
    }

    private void temporalBackwardDataGemm(Tensor dy, Tensor w, Tensor dx) {
        try (Tensor taps = temporalTaps(w)) {
            runGemms(ConvGemmPlan.temporalBackwardData((int) dx.dim(0), (int) dx.dim(1), (int) w.dim(0), (int) dx.dim(2),
                    (int) dx.shape().sizeFrom(3)), operands(ConvGemmPlan.Operand.DY, dy, ConvGemmPlan.Operand.TAPS, taps,
                    ConvGemmPlan.Operand.DX, dx), "temporal conv backward-data");
        }
    }

    /**
     * The weight gradient per tap in an fp32 [3, Cout, Cin] accumulator (zeroed first: with one frame taps 0 and 2
     * get no GEMM), moved back to [Cout, Cin, 3] (cublasSgeam) and rounded once when dw is 16-bit.
     */
    private void temporalBackwardWeightGemm(Tensor x, Tensor dy, Tensor dw) {
        int co = (int) dw.dim(0), ci = (int) x.dim(1);
        int j = co * ci;
        boolean f32 = dw.dtype() == DType.FLOAT32;
        try (Tensor acc = empty(Shape.of(3, co, ci), DType.FLOAT32)) {
            Cuda.check(cudart.cudaMemsetAsync(Cuda.ptr(acc.address()), 0, acc.byteSize(), dev.stream()), "cudaMemsetAsync");
            runGemms(ConvGemmPlan.temporalBackwardWeight((int) x.dim(0), ci, co, (int) x.dim(2),
                    (int) x.shape().sizeFrom(3)), operands(ConvGemmPlan.Operand.X, x, ConvGemmPlan.Operand.DY, dy,
                    ConvGemmPlan.Operand.ACC, acc), "temporal conv backward-weight");
            // acc is J x 3 column-major (ld J): its transpose, 3 x J (ld 3), is the [Cout, Cin, 3] layout
            Tensor out = f32 ? dw : empty(dw.shape(), DType.FLOAT32);
            try {
                Cuda.check(cudart.cudaMemsetAsync(Cuda.ptr(out.address()), 0, out.byteSize(), dev.stream()),
                        "cudaMemsetAsync");
                Cuda.checkCublas(cublas.cublasSgeam(dev.cublas(), cublas.CUBLAS_OP_T, cublas.CUBLAS_OP_N, 3, j, ONE,
                        Cuda.fptr(acc.address()), j, ZERO, Cuda.fptr(out.address()), 3, Cuda.fptr(out.address()), 3),
                        "cublasSgeam (temporal conv weight gradient)");
                if (!f32) {
                    castInto(out, dw);
                }
            } finally {
                if (!f32) {
                    out.close();
                }
            }
        }
    }

    /** Timed runs per route (after a warm-up run that includes cuDNN's algorithm search). */
    private static final int ROUTE_TIMING_REPS = 3;
    /** Rounds of those, routes taking turns; a route's time is its fastest round ({@link RouteTuner}). */
    private static final int ROUTE_TIMING_ROUNDS = 3;

    /** The measured routes of 16-bit conv problems, by algorithm-cache key (see {@link HalfGroupedRoute#MEASURE}). */
    public java.util.Map<String, String> measuredRoutes() {
        return algorithms.routes();
    }

    /** Whether a 16-bit conv takes the channels-last route (grouped, AUTO/CUSTOM, route CHANNELS_LAST). */
    public boolean channelsLastSixteenBit(ConvSpec spec) {
        return !widenEverySixteenBitConv && kernelMode != KernelMode.LIBRARY && spec.groups() > 1
                && halfGroupedRoute == HalfGroupedRoute.CHANNELS_LAST;
    }

    /**
     * How 16-bit grouped convs run in kernel modes AUTO and CUSTOM (LIBRARY always runs cuDNN over 16-bit NCDHW):
     * system property {@code sevnet.halfGrouped} = auto (default: measured) | widen | cudnn | channels-last.
     */
    public enum HalfGroupedRoute {
        /**
         * In kernel mode AUTO, every 16-bit conv (grouped or not, each direction) takes the route measured fastest on
         * its problem at its first call: cuDNN 16-bit NCDHW, cuDNN channels-last, sevnet's 16-bit grouped kernel,
         * fp32 on widened copies. In CUSTOM, as WIDEN (where sevnet's 16-bit grouped kernels do not apply).
         */
        MEASURE,
        /** fp32 on widened copies, rounded once (forward, backward-data; backward-filter cuDNN 16-bit): measured. */
        WIDEN,
        /** cuDNN over the 16-bit NCDHW tensors: 7-12x slower than TF32 for forward / backward-data on an H200. */
        CUDNN,
        /**
         * cuDNN over channels-last (NDHWC, filter KTRSC) 16-bit copies made by cudnnTransformTensor, every direction
         * (tensor-core kernels want this layout): written, not yet timed on a GPU.
         */
        CHANNELS_LAST;

        public static HalfGroupedRoute parse(String s) {
            return switch (s.trim().toLowerCase(Locale.ROOT)) {
                case "auto", "measure" -> MEASURE;
                case "widen" -> WIDEN;
                case "cudnn" -> CUDNN;
                case "channels-last", "channels_last", "ndhwc" -> CHANNELS_LAST;
                default -> throw new IllegalArgumentException(
                        "16-bit grouped conv route must be auto, widen, cudnn or channels-last, got '" + s + "'");
            };
        }
    }

    private volatile HalfGroupedRoute halfGroupedRoute =
            HalfGroupedRoute.parse(System.getProperty("sevnet.halfGrouped", "auto"));

    public HalfGroupedRoute halfGroupedRoute() {
        return halfGroupedRoute;
    }

    public void setHalfGroupedRoute(HalfGroupedRoute route) {
        this.halfGroupedRoute = java.util.Objects.requireNonNull(route, "route");
    }

    /** Tests: every 16-bit conv pass takes the widened route (what a cuDNN refusal does to one problem). */
    private boolean widenEverySixteenBitConv;

    synchronized void widenEverySixteenBitConvForTests(boolean on) {
        widenEverySixteenBitConv = on;
    }

    /**
     * One pass of a 16-bit conv into {@code out}: {@code cudnn16} (cuDNN over 16-bit descriptors), or — when the
     * problem is widened by choice or cuDNN refuses it — {@code fp32} (the fp32 pass on widened copies), rounded once
     * into {@code out}.
     */
    private void sixteenBitOrWidened(String direction, int[] p, DType dt, ConvSpec spec, Tensor out, Runnable cudnn16,
            Runnable channelsLast16, java.util.function.Supplier<Tensor> fp32) {
        String key = ConvAlgorithmCache.key(direction, p, allowTf32, dt);
        String clKey = key + CHANNELS_LAST_KEY;
        if (channelsLastSixteenBit(spec) && !refusedHalf.contains(clKey)) {
            try {
                channelsLast16.run();
                return;
            } catch (CudaException e) {
                refuse(clKey, e);
            }
        }
        if (!widened(key, direction, spec)) {
            try {
                cudnn16.run();
                return;
            } catch (CudaException e) {
                refuse(key, e);
            }
        }
        try (Tensor r = fp32.get()) {
            castInto(r, out);
        }
    }

    /** cuDNN's forward over d's descriptors, the algorithm found once per key and cached. */
    private void cudnnForward(ConvDescriptors d, String key, Tensor x, Tensor w, Tensor y, String what) {
        ConvAlgorithmCache.Choice ch = forwardAlgorithm(key, d, x, w, y);
        try (Tensor ws = workspace(ch.workspaceBytes())) {
            useMathType(d, ch);
            Cuda.checkCudnn(cudnn.cudnnConvolutionForward(dev.cudnn(), ONE, d.x, Cuda.ptr(x.address()), d.w,
                    Cuda.ptr(w.address()), d.conv, ch.algorithm(), Cuda.ptr(addr(ws)), ch.workspaceBytes(), ZERO, d.y,
                    Cuda.ptr(y.address())), "cudnnConvolutionForward " + what + algoNote(ch));
        }
    }

    // ---- the channels-last route of 16-bit grouped convs (HalfGroupedRoute.CHANNELS_LAST) ----

    /** cudnnTransformTensor: {@code from} in fromDesc's layout into {@code to} in toDesc's (same dims). */
    private void transform(cudnnTensorStruct fromDesc, Tensor from, cudnnTensorStruct toDesc, Tensor to) {
        Cuda.checkCudnn(cudnn.cudnnTransformTensor(dev.cudnn(), ONE, fromDesc, Cuda.ptr(from.address()), ZERO, toDesc,
                Cuda.ptr(to.address())), "cudnnTransformTensor");
    }

    /** y = conv(x, w) through NDHWC copies of x and w (KTRSC) and an NDHWC y moved back to NCDHW. */
    private void channelsLastForward(Tensor x, Tensor w, Tensor y, int[] p, DType dt, String what) {
        ConvDescriptors d = descriptors(p, dt, true);
        try (Tensor xc = empty(x.shape(), dt); Tensor wc = empty(w.shape(), dt); Tensor yc = empty(y.shape(), dt)) {
            transform(d.xNcdhw, x, d.x, xc);
            transform(d.wNcdhw, w, d.wNdhwc, wc);
            cudnnForward(d, ConvAlgorithmCache.key("fwd", p, allowTf32, dt) + CHANNELS_LAST_KEY, xc, wc, yc,
                    what + " channels-last");
            transform(d.y, yc, d.yNcdhw, y);
        }
    }

    private void channelsLastBackwardData(Tensor dy, Tensor w, Tensor dx, int[] p, DType dt, String what) {
        ConvDescriptors d = descriptors(p, dt, true);
        try (Tensor dyc = empty(dy.shape(), dt); Tensor wc = empty(w.shape(), dt); Tensor dxc = empty(dx.shape(), dt)) {
            transform(d.yNcdhw, dy, d.y, dyc);
            transform(d.wNcdhw, w, d.wNdhwc, wc);
            cudnnBackwardData(d, ConvAlgorithmCache.key("bwd-data", p, allowTf32, dt) + CHANNELS_LAST_KEY, dyc, wc, dxc,
                    what + " channels-last");
            transform(d.x, dxc, d.xNcdhw, dx);
        }
    }

    private void channelsLastBackwardFilter(Tensor x, Tensor dy, Tensor dw, int[] p, DType dt, String what) {
        ConvDescriptors d = descriptors(p, dt, true);
        try (Tensor xc = empty(x.shape(), dt); Tensor dyc = empty(dy.shape(), dt); Tensor dwc = empty(dw.shape(), dt)) {
            transform(d.xNcdhw, x, d.x, xc);
            transform(d.yNcdhw, dy, d.y, dyc);
            cudnnBackwardFilter(d, ConvAlgorithmCache.key("bwd-filter", p, allowTf32, dt) + CHANNELS_LAST_KEY, xc, dyc,
                    dwc, what + " channels-last");
            transform(d.wNdhwc, dwc, d.wNcdhw, dw);
        }
    }

    // ---- channels-last (NDHWC) activations: MemoryFormat.CHANNELS_LAST tensors ----
    // cuDNN's tensor-core convolutions read NDHWC natively; in NCDHW its 16-bit grouped convs are 7-12x slower
    // than TF32 (bench/RESULTS.md, H200) and PyTorch's channels-last training is 1.6x its NCDHW. A model whose
    // activations stay NDHWC from the first conv to the global pool pays for one reorder of the clip instead of
    // one per conv (the per-conv channels-last route above). The ops below take NDHWC tensors and give NDHWC
    // results; every other op refuses them (OpChecks without acceptChannelsLast).

    @Override
    public boolean supportsChannelsLast() {
        return true;
    }

    @Override
    public synchronized Tensor toMemoryFormat(Tensor x, MemoryFormat format) {
        Tensor same = cl.memoryFormatWithoutReorder(x, format);
        if (same != null) {
            return same;
        }
        DType dt = x.dtype();
        Tensor y = empty(x.shape(), dt, format);
        try {
            dev.activate();
            reorder(x, y);
            return y;
        } catch (RuntimeException | Error e) {
            y.close();
            throw e;
        }
    }

    /**
     * Copies {@code from} into {@code to} (same shape and dtype, the other memory format) on the stream: a tiled
     * transpose of [N][C][S] and [N][S][C] (kernels/channels_ndhwc.cu). The same kernel turns a conv weight into
     * cuDNN's KTRSC filter order (N = Cout, C = Cin/groups, S = the kernel volume).
     */
    private void reorder(Tensor from, Tensor to) {
        Shape s = from.shape();
        long n = s.get(0), ch = s.get(1), sp = s.sizeFrom(2);
        int eb = from.dtype().byteSize();
        k(from.isChannelsLast()
                ? CudaKernels.sevc_ndhwc_to_ncdhw(from.address(), to.address(), n, ch, sp, eb, st())
                : CudaKernels.sevc_ncdhw_to_ndhwc(from.address(), to.address(), n, ch, sp, eb, st()),
                "memory-format reorder");
    }

    /** Whether t is channels-last and not the same bytes in both orders. */
    private static boolean channelsLastBytes(Tensor t) {
        return t != null && !t.isClosed() && t.isChannelsLast() && !MemoryFormat.isLayoutInvariant(t.shape());
    }

    /** {@code x} itself (a new reference) when contiguous in its bytes, else a contiguous copy; the caller closes it. */
    private Tensor contiguous(Tensor x) {
        return toMemoryFormat(x, MemoryFormat.CONTIGUOUS);
    }

    /** The result of {@code op} over contiguous copies, as a channels-last tensor: the fallback of an NDHWC op. */
    private Tensor channelsLastVia(java.util.function.Supplier<Tensor> op) {
        try (Tensor y = op.get()) {
            return y.rank() == 5 ? toMemoryFormat(y, MemoryFormat.CHANNELS_LAST) : y.reshape(y.shape());
        }
    }

    /**
     * conv3d / conv3dResidual on a channels-last x: cuDNN over NDHWC descriptors (the filter in KTRSC: w as given
     * when it is channels-last, else a reordered copy per call), fp32 (TF32 when allowed) or 16-bit with fp32
     * accumulation; then one NDHWC epilogue {@code act(y + bias + residual)}. A problem cuDNN refuses in NDHWC runs
     * on contiguous copies (correct, slower; logged once).
     */
    private Tensor channelsLastConv(Tensor x, Tensor w, Tensor bias, ConvSpec spec, Tensor residual, boolean relu) {
        DType dt = cl.floating(x, "x");
        cl.same(w, "weight", dt);
        c.conv(x.shape(), w.shape(), spec);
        long cout = w.dim(0);
        if (bias != null) {
            c.f32(bias, "bias");
            Checks.shape(bias, "bias", Shape.of(cout));
        }
        Shape out = spec.outputShape(x.shape(), cout);
        if (residual != null) {
            cl.same(residual, "residual", dt);
            Checks.shape(residual, "residual", out);
            if (!residual.isChannelsLast() && !MemoryFormat.isLayoutInvariant(out)) {
                throw new IllegalArgumentException("residual " + out + " is contiguous but x is channels-last: "
                        + "convert one with toMemoryFormat");
            }
        }
        int[] p = spec.nativeParams(x.shape(), cout);
        String key = ConvAlgorithmCache.key("fwd", p, allowTf32, dt) + CHANNELS_LAST_KEY;
        if (refusedChannelsLast.contains(key)) {
            return channelsLastVia(() -> {
                try (Tensor xc = contiguous(x); Tensor wc = contiguous(w);
                        Tensor rc = residual == null ? null : contiguous(residual)) {
                    return rc == null ? conv3d(xc, wc, bias, spec, relu) : conv3dResidual(xc, wc, bias, spec, rc, relu);
                }
            });
        }
        Tensor y = empty(out, dt, MemoryFormat.CHANNELS_LAST);
        try {
            dev.activate();
            String what = dt + " " + spec + " channels-last";
            Runnable epilogue = () -> {
                if (bias != null || residual != null || relu) {
                    k(CudaKernels.sevc_bias_act_ndhwc(y.address(), addr(bias), addr(residual),
                            out.get(0) * out.sizeFrom(2), cout, relu ? 1 : 0, CudnnTypes.kernelCode(dt), st()),
                            "channels-last bias+residual+relu");
                }
            };
            try {
                Runnable cudnnRoute = () -> {
                    ConvDescriptors d = descriptors(p, dt, true);
                    withKtrsc(w, wk -> cudnnForward(d, key, x, wk, y, what));
                    epilogue.run();
                };
                // the grouped conv's epilogue in the kernel's store: one pass over y
                Runnable sevnetRoute = channelsLastGroupedKernel(spec, x.shape(), cout)
                        ? () -> withKtrsc(w, wk -> k(CudaKernels.sevc_grouped_conv_ndhwc_forward(x.address(),
                                wk.address(), addr(bias), addr(residual), relu ? 1 : 0, y.address(), p[0], p[1],
                                p[1] / p[15], p[2], p[3], p[4], p[10], CudnnTypes.kernelCode(dt), st()),
                                "channels-last grouped conv"))
                        : channelsLastTemporalKernel(spec, x.shape(), cout, dt) ? () -> {
                            channelsLastTemporal(false, x, w, y, p, dt);
                            epilogue.run();
                        } : null;
                // the temporal conv on tensor cores, its epilogue in the store
                Runnable tensorCoreRoute = channelsLastTemporalTensorCores(spec, x.shape(), cout, dt)
                        ? () -> withKtrsc(w, wk -> k(CudaKernels.sevc_temporal_conv3_ndhwc_tc_forward(x.address(),
                                wk.address(), addr(bias), addr(residual), relu ? 1 : 0, y.address(), p[0], p[1], p[2],
                                (long) p[3] * p[4], CudnnTypes.kernelCode(dt), st()),
                                "channels-last temporal conv (tensor cores)"))
                        : null;
                if (kernelMode == KernelMode.CUSTOM && (tensorCoreRoute != null || sevnetRoute != null)) {
                    (tensorCoreRoute != null ? tensorCoreRoute : sevnetRoute).run();
                    return y;
                }
                // each route writes the whole result, epilogue included: the choice depends on which one it has
                String routeKey = key + epilogueKey(bias != null, residual != null, relu);
                java.util.Map<String, Runnable> routes = new java.util.LinkedHashMap<>();
                routes.put(ROUTE_CUDNN, cudnnRoute);
                if (sevnetRoute != null && measuresKernels()) {
                    routes.put(ROUTE_SEVNET, sevnetRoute);
                }
                if (tensorCoreRoute != null && measuresKernels()) {
                    routes.put(ROUTE_SEVNET_TC, tensorCoreRoute);
                }
                if (channelsLastGemmRoute(spec, x.shape(), cout)) {
                    Runnable cublasRoute = () -> {
                        withKtrsc(w, wk -> runGemms(isPointwise(spec)
                                ? ConvGemmPlan.channelsLastPointwiseForward(p[0], p[1], p[5], p[2] * p[3] * p[4])
                                : ConvGemmPlan.channelsLastTemporalForward(p[0], p[1], p[5], p[2], p[3] * p[4]),
                                operands(ConvGemmPlan.Operand.X, x, ConvGemmPlan.Operand.W, wk, ConvGemmPlan.Operand.Y,
                                        y), what));
                        epilogue.run();
                    };
                    routes.put(ROUTE_CUBLAS, cublasRoute);
                    ConvGemmPlan.Gemm fused = isPointwise(spec)
                            ? ConvGemmPlan.channelsLastPointwiseFused(p[0], p[1], p[5], p[2] * p[3] * p[4], residual != null)
                            : null;
                    if (fused != null) {
                        routes.put(ROUTE_CUBLASLT, () -> withKtrsc(w, wk -> ltPointwiseForward(routeKey, fused,
                                ConvGemmPlan.LtEpilogue.of(bias != null, relu), x, wk, bias, residual, y, what,
                                cublasRoute)));
                    }
                }
                channelsLastRoutes(routeKey, routes, y, () -> {
                    try (Tensor xc = contiguous(x); Tensor wc = contiguous(w);
                            Tensor rc = residual == null ? null : contiguous(residual)) {
                        return rc == null ? conv3d(xc, wc, bias, spec, relu) : conv3dResidual(xc, wc, bias, spec, rc, relu);
                    }
                });
            } catch (CudaException e) {
                refuseChannelsLast(key, e);
                y.close();
                return channelsLastConv(x, w, bias, spec, residual, relu);
            }
            return y;
        } catch (RuntimeException | Error e) {
            y.close();
            throw e;
        }
    }

    /** The suffix of a measured conv's route key naming its epilogue (bias, residual, ReLU): each is a problem. */
    static String epilogueKey(boolean bias, boolean residual, boolean relu) {
        return bias || residual || relu ? ":epi" + (bias ? "b" : "") + (residual ? "r" : "") + (relu ? "a" : "") : "";
    }

    /** cuBLASLt, made at its first use (a backend that never runs an inference conv channels-last never loads it). */
    private CublasLt cublasLt;

    /**
     * The channels-last 1x1x1 conv and its epilogue as one cuBLASLt matmul (the cuBLAS route when this call's pointers
     * are not aligned as the chosen algorithm assumes, or when a CUDA graph capture would make the problem's
     * descriptors): y = act(W x + bias [+ residual]), fp32 accumulation (TF32 when allowed), D rounded once. A 16-bit
     * y takes a 16-bit bias (cuBLASLt's bias vector is D's type): the fp32 bias is cast per call (Cout values).
     */
    private void ltPointwiseForward(String ltKey, ConvGemmPlan.Gemm g, ConvGemmPlan.LtEpilogue epi, Tensor x,
            Tensor wk, Tensor bias, Tensor residual, Tensor y, String what, Runnable cublasRoute) {
        DType dt = y.dtype();
        boolean aligned = java.util.stream.LongStream.of(x.address(), wk.address(), y.address(), addr(residual),
                addr(bias)).allMatch(a -> a % CublasLt.ALIGNMENT == 0);
        boolean unprepared = cublasLt == null || !cublasLt.prepared(ltKey);
        if (!aligned || ltRefused.contains(ltKey) || (unprepared && dev.allocator().capturingOnThisThread())) {
            cublasRoute.run();
            return;
        }
        if (cublasLt == null) {
            cublasLt = new CublasLt();
        }
        try (Tensor b16 = bias == null || dt == DType.FLOAT32 ? null : cast(bias, dt)) {
            Tensor b = b16 != null ? b16 : bias;
            cublasLt.matmul(ltKey, g, epi, cudaType(dt), gemmCompute(dt), wk.address(), x.address(), addr(residual),
                    y.address(), addr(b), this::workspace, dev.stream(), what);
        } catch (CudaException e) {
            if (!unprepared) {
                throw e;
            }
            // no algorithm for this problem and epilogue (the heuristic's NOT_SUPPORTED): while measuring, the route
            // is left out; chosen or forced (a saved cache, forceRoute), it runs as the cuBLAS route from now on
            ltRefused.add(ltKey);
            LOG.warn("cuBLASLt refused {} ({}): the cuBLAS GEMM and epilogue kernel run instead", ltKey, e.getMessage());
            if (measuring) {
                throw e;
            }
            cublasRoute.run();
        }
    }

    /** cuBLASLt problems its heuristic refused: their cuBLASLt route runs as the cuBLAS one. */
    private final java.util.Set<String> ltRefused = ConcurrentHashMap.newKeySet();

    /**
     * Whether a channels-last conv also has the cuBLAS route, measured against cuDNN (kernel mode AUTO): in NDHWC the
     * 1x1x1 conv is one GEMM and the 3x1x1 conv three accumulated ones, reading the KTRSC weight in place
     * ({@link ConvGemmPlan}, the channelsLast* plans, checked on the host by ConvGemmPlanTest).
     */
    private boolean channelsLastGemmRoute(ConvSpec spec, Shape xs, long cout) {
        return measuresKernels() && gemmFits(xs) && cout <= Integer.MAX_VALUE
                && (isPointwise(spec) || isTemporal(spec, xs.get(1), cout))
                && xs.sizeFrom(2) * Math.max(xs.get(1), cout) <= Integer.MAX_VALUE;
    }

    /**
     * Whether sevnet's channels-last grouped 1x3x3 conv (kernels/grouped_conv_ndhwc.cu, all three passes) can
     * run this conv: the SEV block's grouped conv (stride 1 or 2, at most 16 channels a group) within its grid (items
     * and groups at most 65535). CUSTOM takes it; AUTO measures it against cuDNN's NDHWC conv and the NCDHW route.
     */
    private boolean channelsLastGroupedKernel(ConvSpec spec, Shape xs, long cout) {
        return kernelMode != KernelMode.LIBRARY && isBlockGrouped(spec, xs.get(1), cout) && xs.get(0) <= 65535
                && spec.groups() <= 65535 && xs.size() < (1L << 40) && xs.get(2) <= Integer.MAX_VALUE
                && xs.get(3) <= Integer.MAX_VALUE && xs.get(4) <= Integer.MAX_VALUE;
    }

    /**
     * Runs a channels-last conv by its routes ({@code cudnn} first, the reference): in AUTO with the {@link #ROUTE_NCDHW}
     * route over {@code contiguousOp} added, measured per problem; else cuDNN's alone.
     */
    private void channelsLastRoutes(String key, java.util.Map<String, Runnable> routes, Tensor out,
            java.util.function.Supplier<Tensor> contiguousOp) {
        if (measuresKernels()) {
            routes.put(ROUTE_NCDHW, () -> viaNcdhw(out, contiguousOp));
        }
        if (routes.size() > 1) {
            measured(key, routes, ROUTE_CUDNN, out);
        } else {
            routes.get(ROUTE_CUDNN).run();
        }
    }

    /**
     * The {@link #ROUTE_NCDHW} route of a channels-last conv: the contiguous op (its own measured routes: cuDNN 16-bit,
     * sevnet's grouped kernels, cuBLAS) over NCDHW copies, its result reordered into {@code out}. Worth its two or
     * three reorders where cuDNN's NDHWC kernel is slow: on an H100 (cuDNN 9.14) the bf16 grouped 1x3x3 conv in
     * NDHWC was 2.5-6.2x the contiguous route (bench/RESULTS.md, eleventh session).
     */
    private void viaNcdhw(Tensor out, java.util.function.Supplier<Tensor> contiguousOp) {
        try (Tensor r = contiguousOp.get()) {
            if (r.isChannelsLast() || MemoryFormat.isLayoutInvariant(r.shape())) { // the same bytes either way
                Cuda.check(cudart.cudaMemcpyAsync(Cuda.ptr(out.address()), Cuda.ptr(r.address()), r.byteSize(),
                        cudart.cudaMemcpyDeviceToDevice, dev.stream()), "copy device -> device");
            } else {
                reorder(r, out);
            }
        }
    }

    /** dw (KTRSC) = the channels-last GEMM plan's fp32 sum, zeroed first (a one-frame clip leaves two taps empty). */
    private void channelsLastBackwardWeightGemm(Tensor x, Tensor dy, Tensor dw, ConvSpec spec, int[] p, String what) {
        viaFp32(dw, acc -> {
            Cuda.check(cudart.cudaMemsetAsync(Cuda.ptr(acc.address()), 0, acc.byteSize(), dev.stream()),
                    "cudaMemsetAsync");
            runGemms(isPointwise(spec)
                    ? ConvGemmPlan.channelsLastPointwiseBackwardWeight(p[0], p[1], p[5], p[2] * p[3] * p[4])
                    : ConvGemmPlan.channelsLastTemporalBackwardWeight(p[0], p[1], p[5], p[2], p[3] * p[4]),
                    operands(ConvGemmPlan.Operand.X, x, ConvGemmPlan.Operand.DY, dy, ConvGemmPlan.Operand.ACC, acc),
                    what);
        });
    }

    /**
     * {@code fill} writes a channels-last fp32 result: into {@code out} itself when it is fp32, else into an fp32
     * buffer cast into {@code out} once (a 16-bit weight gradient from fp32 sums).
     */
    private void viaFp32(Tensor out, java.util.function.Consumer<Tensor> fill) {
        if (out.dtype() == DType.FLOAT32) {
            fill.accept(out);
            return;
        }
        try (Tensor acc = empty(out.shape(), DType.FLOAT32, MemoryFormat.CHANNELS_LAST)) {
            fill.accept(acc);
            castInto(acc, out);
        }
    }

    /**
     * Whether sevnet's channels-last temporal 3x1x1 conv (kernels/temporal_conv_ndhwc.cu: fp32 and bf16, all three
     * passes) can run this conv within its grid. CUSTOM takes it; AUTO measures it with the other routes (on an H200 it
     * was 2-3x slower than the NCDHW conv forward and backward-data, level backward-weight: AUTO keeps it where it wins).
     */
    private boolean channelsLastTemporalKernel(ConvSpec spec, Shape xs, long cout, DType dt) {
        return kernelMode != KernelMode.LIBRARY && dt != DType.FLOAT16 && isTemporal(spec, xs.get(1), cout)
                && xs.get(0) <= 65535 && xs.get(1) <= 65535L * 64 && xs.sizeFrom(2) < (1L << 36);
    }

    /**
     * Whether sevnet's tensor-core channels-last temporal conv (kernels/temporal_conv_ndhwc_tc.cu: the forward with
     * bias, residual and ReLU in its store, backward-data, backward-weight; WMMA) can run this conv: bf16 and fp16,
     * and fp32 where TF32 is allowed (its products are TF32, as cuDNN's and cuBLAS's are then), unless
     * {@code sevnet.routes.off} names it. CUSTOM takes it before the CUDA-core kernel; AUTO measures it with the other
     * routes. It reads the weight in KTRSC, as the backend keeps it.
     */
    private boolean channelsLastTemporalTensorCores(ConvSpec spec, Shape xs, long cout, DType dt) {
        return kernelMode != KernelMode.LIBRARY && (dt != DType.FLOAT32 || allowTf32) && !routeOff(ROUTE_SEVNET_TC)
                && isTemporal(spec, xs.get(1), cout) && xs.get(0) <= 65535 && xs.get(1) <= 65535L * 64
                && xs.sizeFrom(2) < (1L << 36);
    }

    /**
     * y = conv(x) (forward) or dx = conv^T(dy) (backward-data) by the channels-last temporal kernel, which reads the
     * weight in PyTorch's [C][C][3] order: a contiguous copy of a channels-last w (C*C*3 values, per call).
     */
    private void channelsLastTemporal(boolean backwardData, Tensor src, Tensor w, Tensor dst, int[] p, DType dt) {
        int n = p[0], ch = p[1], t = p[2];
        long sp = (long) p[3] * p[4];
        try (Tensor wc = contiguous(w)) {
            boolean f32 = dt == DType.FLOAT32;
            k(backwardData
                    ? f32 ? CudaKernels.sevc_temporal_conv3_ndhwc_backward_data_f32(src.address(), wc.address(),
                            dst.address(), n, ch, t, sp, st())
                            : CudaKernels.sevc_temporal_conv3_ndhwc_backward_data_bf16(src.address(), wc.address(),
                                    dst.address(), n, ch, t, sp, st())
                    : f32 ? CudaKernels.sevc_temporal_conv3_ndhwc_forward_f32(src.address(), wc.address(),
                            dst.address(), n, ch, t, sp, st())
                            : CudaKernels.sevc_temporal_conv3_ndhwc_forward_bf16(src.address(), wc.address(),
                                    dst.address(), n, ch, t, sp, st()),
                    "channels-last temporal conv");
        }
    }

    /** dw (KTRSC, x's dtype) by the tensor-core kernel: its fp32 sums are in KTRSC order already; 16-bit: cast once. */
    private void channelsLastTemporalTensorCoresBackwardWeight(Tensor x, Tensor dy, Tensor dw, int[] p, DType dt) {
        viaFp32(dw, acc -> k(CudaKernels.sevc_temporal_conv3_ndhwc_tc_backward_weight(x.address(), dy.address(),
                acc.address(), p[0], p[1], p[2], (long) p[3] * p[4], CudnnTypes.kernelCode(dt), st()),
                "channels-last temporal conv backward-weight (tensor cores)"));
    }

    /** dw (KTRSC, x's dtype) by the channels-last temporal kernel: its fp32 [C][C][3] sums reordered, cast once. */
    private void channelsLastTemporalBackwardWeight(Tensor x, Tensor dy, Tensor dw, int[] p, DType dt) {
        int n = p[0], ch = p[1], t = p[2];
        long sp = (long) p[3] * p[4];
        boolean f32 = dt == DType.FLOAT32;
        try (Tensor acc = empty(dw.shape(), DType.FLOAT32, MemoryFormat.CONTIGUOUS);
                Tensor accCl = f32 ? null : empty(dw.shape(), DType.FLOAT32, MemoryFormat.CHANNELS_LAST)) {
            k(f32 ? CudaKernels.sevc_temporal_conv3_ndhwc_backward_weight_f32(x.address(), dy.address(), acc.address(),
                    n, ch, t, sp, st())
                    : CudaKernels.sevc_temporal_conv3_ndhwc_backward_weight_bf16(x.address(), dy.address(),
                            acc.address(), n, ch, t, sp, st()),
                    "channels-last temporal conv backward-weight");
            if (f32) {
                reorder(acc, dw);
            } else {
                reorder(acc, accCl);
                castInto(accCl, dw);
            }
        }
    }

    /** dw (KTRSC, x's dtype) by sevnet's channels-last grouped conv kernel: its fp32 sums, cast once when 16-bit. */
    private void channelsLastGroupedBackwardWeight(Tensor x, Tensor dy, Tensor dw, int[] p, DType dt) {
        viaFp32(dw, out -> k(CudaKernels.sevc_grouped_conv_ndhwc_backward_weight(x.address(), dy.address(),
                out.address(), p[0], p[1], p[1] / p[15], p[2], p[3], p[4], p[10], CudnnTypes.kernelCode(dt), st()),
                "channels-last grouped conv backward-weight"));
    }

    /** Channels-last convolution problems cuDNN refused (algorithm-cache keys); they run on contiguous copies. */
    private final java.util.Set<String> refusedChannelsLast = ConcurrentHashMap.newKeySet();

    /** Records a channels-last problem cuDNN refused (BAD_PARAM / NOT_SUPPORTED); rethrows any other failure. */
    private void refuseChannelsLast(String key, CudaException e) {
        if (!e.refusedByCudnn()) {
            throw e;
        }
        if (refusedChannelsLast.add(key)) {
            LOG.warn("cuDNN refused the channels-last convolution {}: {}; it runs on contiguous copies from now on", key,
                    e.getMessage());
        }
    }

    /** Runs {@code use} with w in cuDNN's KTRSC filter order: w itself when channels-last, else a reordered copy. */
    private void withKtrsc(Tensor w, java.util.function.Consumer<Tensor> use) {
        if (w.isChannelsLast() || MemoryFormat.isLayoutInvariant(w.shape())) {
            use.accept(w);
            return;
        }
        try (Tensor wc = empty(w.shape(), w.dtype(), MemoryFormat.CHANNELS_LAST)) {
            reorder(w, wc);
            use.accept(wc);
        }
    }

    /** dx (channels-last) of a conv whose dy is channels-last: cuDNN over NDHWC descriptors. */
    private Tensor channelsLastConvBackwardData(Tensor dy, Tensor w, ConvSpec spec, Shape xShape) {
        DType dt = cl.floating(dy, "dy");
        cl.same(w, "weight", dt);
        c.conv(xShape, w.shape(), spec);
        Checks.shape(dy, "dy", spec.outputShape(xShape, w.dim(0)));
        if (xShape.rank() != 5) {
            throw new IllegalArgumentException("channels-last conv input must be 5-d, got " + xShape);
        }
        int[] p = spec.nativeParams(xShape, w.dim(0));
        String key = ConvAlgorithmCache.key("bwd-data", p, allowTf32, dt) + CHANNELS_LAST_KEY;
        if (refusedChannelsLast.contains(key)) {
            return channelsLastVia(() -> {
                try (Tensor dyc = contiguous(dy); Tensor wc = contiguous(w)) {
                    return conv3dBackwardData(dyc, wc, spec, xShape);
                }
            });
        }
        Tensor dx = empty(xShape, dt, MemoryFormat.CHANNELS_LAST);
        try {
            dev.activate();
            try {
                String what = dt + " " + spec + " channels-last";
                Runnable cudnnRoute = () -> {
                    ConvDescriptors d = descriptors(p, dt, true);
                    withKtrsc(w, wk -> cudnnBackwardData(d, key, dy, wk, dx, what));
                };
                Runnable sevnetRoute = channelsLastGroupedKernel(spec, xShape, w.dim(0))
                        ? () -> withKtrsc(w, wk -> k(CudaKernels.sevc_grouped_conv_ndhwc_backward_data(dy.address(),
                                wk.address(), dx.address(), p[0], p[1], p[1] / p[15], p[2], p[3], p[4], p[10],
                                CudnnTypes.kernelCode(dt), st()), "channels-last grouped conv backward-data"))
                        : channelsLastTemporalKernel(spec, xShape, w.dim(0), dt)
                                ? () -> channelsLastTemporal(true, dy, w, dx, p, dt) : null;
                Runnable tensorCoreRoute = channelsLastTemporalTensorCores(spec, xShape, w.dim(0), dt)
                        ? () -> withKtrsc(w, wk -> k(CudaKernels.sevc_temporal_conv3_ndhwc_tc_backward_data(
                                dy.address(), wk.address(), dx.address(), p[0], p[1], p[2], (long) p[3] * p[4],
                                CudnnTypes.kernelCode(dt), st()), "channels-last temporal conv backward-data (tensor cores)"))
                        : null;
                if (kernelMode == KernelMode.CUSTOM && (tensorCoreRoute != null || sevnetRoute != null)) {
                    (tensorCoreRoute != null ? tensorCoreRoute : sevnetRoute).run();
                    return dx;
                }
                java.util.Map<String, Runnable> routes = new java.util.LinkedHashMap<>();
                routes.put(ROUTE_CUDNN, cudnnRoute);
                if (sevnetRoute != null && measuresKernels()) {
                    routes.put(ROUTE_SEVNET, sevnetRoute);
                }
                if (tensorCoreRoute != null && measuresKernels()) {
                    routes.put(ROUTE_SEVNET_TC, tensorCoreRoute);
                }
                if (channelsLastGemmRoute(spec, xShape, w.dim(0))) {
                    routes.put(ROUTE_CUBLAS, () -> withKtrsc(w, wk -> runGemms(isPointwise(spec)
                            ? ConvGemmPlan.channelsLastPointwiseBackwardData(p[0], p[1], p[5], p[2] * p[3] * p[4])
                            : ConvGemmPlan.channelsLastTemporalBackwardData(p[0], p[1], p[5], p[2], p[3] * p[4]),
                            operands(ConvGemmPlan.Operand.DY, dy, ConvGemmPlan.Operand.W, wk,
                                    ConvGemmPlan.Operand.DX, dx), what)));
                }
                channelsLastRoutes(key, routes, dx, () -> {
                    try (Tensor dyc = contiguous(dy); Tensor wc = contiguous(w)) {
                        return conv3dBackwardData(dyc, wc, spec, xShape);
                    }
                });
            } catch (CudaException e) {
                refuseChannelsLast(key, e);
                dx.close();
                return channelsLastConvBackwardData(dy, w, spec, xShape);
            }
            return dx;
        } catch (RuntimeException | Error e) {
            dx.close();
            throw e;
        }
    }

    /** dw of a conv over a channels-last x and dy, in x's dtype, channels-last (KTRSC) like the weights it updates. */
    private Tensor channelsLastConvBackwardWeight(Tensor x, Tensor dy, ConvSpec spec, Shape wShape) {
        DType dt = cl.floating(x, "x");
        cl.same(dy, "dy", dt);
        Checks.sameFormat(x, "x", dy, "dy");
        c.conv(x.shape(), wShape, spec);
        Checks.shape(dy, "dy", spec.outputShape(x.shape(), wShape.get(0)));
        int[] p = spec.nativeParams(x.shape(), wShape.get(0));
        String key = ConvAlgorithmCache.key("bwd-filter", p, allowTf32, dt) + CHANNELS_LAST_KEY;
        if (refusedChannelsLast.contains(key)) {
            return channelsLastVia(() -> {
                try (Tensor xc = contiguous(x); Tensor dyc = contiguous(dy)) {
                    return conv3dBackwardWeight(xc, dyc, spec, wShape);
                }
            });
        }
        Tensor dw = empty(wShape, dt, MemoryFormat.CHANNELS_LAST);
        try {
            dev.activate();
            try {
                String what = dt + " " + spec + " channels-last";
                Runnable cudnnRoute = () -> cudnnBackwardFilter(descriptors(p, dt, true), key, x, dy, dw, what);
                Runnable sevnetRoute = channelsLastGroupedKernel(spec, x.shape(), wShape.get(0))
                        ? () -> channelsLastGroupedBackwardWeight(x, dy, dw, p, dt)
                        : channelsLastTemporalKernel(spec, x.shape(), wShape.get(0), dt)
                                ? () -> channelsLastTemporalBackwardWeight(x, dy, dw, p, dt) : null;
                Runnable tensorCoreRoute = channelsLastTemporalTensorCores(spec, x.shape(), wShape.get(0), dt)
                        ? () -> channelsLastTemporalTensorCoresBackwardWeight(x, dy, dw, p, dt) : null;
                if (kernelMode == KernelMode.CUSTOM && (tensorCoreRoute != null || sevnetRoute != null)) {
                    (tensorCoreRoute != null ? tensorCoreRoute : sevnetRoute).run();
                    return dw;
                }
                java.util.Map<String, Runnable> routes = new java.util.LinkedHashMap<>();
                routes.put(ROUTE_CUDNN, cudnnRoute);
                if (sevnetRoute != null && measuresKernels()) {
                    routes.put(ROUTE_SEVNET, sevnetRoute);
                }
                if (tensorCoreRoute != null && measuresKernels()) {
                    routes.put(ROUTE_SEVNET_TC, tensorCoreRoute);
                }
                if (channelsLastGemmRoute(spec, x.shape(), wShape.get(0))) {
                    routes.put(ROUTE_CUBLAS, () -> channelsLastBackwardWeightGemm(x, dy, dw, spec, p, what));
                }
                channelsLastRoutes(key, routes, dw, () -> {
                    try (Tensor xc = contiguous(x); Tensor dyc = contiguous(dy)) {
                        return conv3dBackwardWeight(xc, dyc, spec, wShape);
                    }
                });
            } catch (CudaException e) {
                refuseChannelsLast(key, e);
                dw.close();
                return channelsLastConvBackwardWeight(x, dy, spec, wShape);
            }
            return dw;
        } catch (RuntimeException | Error e) {
            dw.close();
            throw e;
        }
    }

    /**
     * Batch norm (training form) over a channels-last x, + residual, ReLU: the NDHWC kernels of
     * kernels/batchnorm_ndhwc.cu (column statistics in double, fixed order; fp32 or 16-bit storage, y rounded once).
     */
    private BatchNormResult channelsLastBatchNormTrain(Tensor x, Tensor residual, Tensor gamma, Tensor beta,
            Tensor runningMean, Tensor runningVar, double eps, double momentum, boolean relu) {
        DType dt = cl.floating(x, "x");
        Checks.rank(x, "x", 5);
        long[] d = cl.ncs(x);
        cl.batchNormTrain(x, d, gamma, beta, runningMean, runningVar);
        if (residual != null) {
            cl.same(residual, "residual", dt);
            Checks.sameShape(x, "x", residual, "residual");
            Checks.sameFormat(x, "x", residual, "residual");
        }
        long m = d[0] * d[2];
        dev.activate();
        Tensor y = null;
        Tensor mean = null;
        Tensor invstd = null;
        try (Tensor g1 = orFilled(gamma, d[1], 1f); Tensor b0 = orFilled(beta, d[1], 0f)) {
            y = like(x, dt);
            mean = empty(Shape.of(d[1]));
            invstd = empty(Shape.of(d[1]));
            long g = gamma != null ? gamma.address() : g1.address();
            long b = beta != null ? beta.address() : b0.address();
            int r = relu ? 1 : 0;
            float e = (float) eps;
            float mo = (float) momentum;
            int rc = switch (dt) {
                case BFLOAT16 -> CudaKernels.sevc_bn_act_train_forward_ndhwc_bf16(x.address(), addr(residual), g, b,
                        y.address(), mean.address(), invstd.address(), addr(runningMean), addr(runningVar), m, d[1], e,
                        mo, r, 0L, 0L, st());
                case FLOAT16 -> CudaKernels.sevc_bn_act_train_forward_ndhwc_f16(x.address(), addr(residual), g, b,
                        y.address(), mean.address(), invstd.address(), addr(runningMean), addr(runningVar), m, d[1], e,
                        mo, r, 0L, 0L, st());
                default -> CudaKernels.sevc_bn_act_train_forward_ndhwc_f32(x.address(), addr(residual), g, b,
                        y.address(), mean.address(), invstd.address(), addr(runningMean), addr(runningVar), m, d[1], e,
                        mo, r, 0L, 0L, st());
            };
            k(rc, "channels-last batch norm");
            return new BatchNormResult(y, mean, invstd);
        } catch (RuntimeException | Error e) {
            closeAll(y, mean, invstd);
            throw e;
        }
    }

    /** {dx, dgamma, dbeta, dresidual (null unless residualGrad)} of channelsLastBatchNormTrain; y read when relu. */
    private Tensor[] channelsLastBatchNormBackward(Tensor x, Tensor y, Tensor dy, Tensor gamma, Tensor saveMean,
            Tensor saveInvstd, boolean relu, boolean residualGrad) {
        DType dt = cl.floating(x, "x");
        Checks.rank(x, "x", 5);
        cl.same(dy, "dy", dt);
        long[] d = cl.ncs(x);
        cl.batchNormBackward(x, dy, d, gamma, saveMean, saveInvstd);
        Checks.sameFormat(x, "x", dy, "dy");
        if (relu) {
            cl.same(y, "y", dt);
            Checks.sameShape(x, "x", y, "y");
            Checks.sameFormat(x, "x", y, "y");
        }
        long m = d[0] * d[2];
        dev.activate();
        Tensor dx = null;
        Tensor dg = null;
        Tensor db = null;
        Tensor dres = null;
        try (Tensor g1 = orFilled(gamma, d[1], 1f)) {
            dx = like(x, dt);
            dg = empty(Shape.of(d[1]));
            db = empty(Shape.of(d[1]));
            dres = residualGrad ? like(x, dt) : null;
            long g = gamma != null ? gamma.address() : g1.address();
            long ya = relu ? y.address() : 0L;
            int rc = switch (dt) {
                case BFLOAT16 -> CudaKernels.sevc_bn_act_backward_ndhwc_bf16(x.address(), ya, dy.address(), g,
                        saveMean.address(), saveInvstd.address(), dx.address(), dg.address(), db.address(), addr(dres),
                        m, d[1], 0L, 0L, st());
                case FLOAT16 -> CudaKernels.sevc_bn_act_backward_ndhwc_f16(x.address(), ya, dy.address(), g,
                        saveMean.address(), saveInvstd.address(), dx.address(), dg.address(), db.address(), addr(dres),
                        m, d[1], 0L, 0L, st());
                default -> CudaKernels.sevc_bn_act_backward_ndhwc_f32(x.address(), ya, dy.address(), g,
                        saveMean.address(), saveInvstd.address(), dx.address(), dg.address(), db.address(), addr(dres),
                        m, d[1], 0L, 0L, st());
            };
            k(rc, "channels-last batch norm backward");
            return new Tensor[] {dx, dg, db, dres};
        } catch (RuntimeException | Error e) {
            closeAll(dx, dg, db, dres);
            throw e;
        }
    }

    private Tensor channelsLastBatchNormEval(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean,
            Tensor runningVar, double eps, boolean relu) {
        DType dt = cl.floating(x, "x");
        Checks.rank(x, "x", 5);
        long[] d = cl.ncs(x);
        cl.batchNormEval(d, gamma, beta, runningMean, runningVar);
        long m = d[0] * d[2];
        dev.activate();
        Tensor y = like(x, dt);
        try (Tensor g1 = orFilled(gamma, d[1], 1f); Tensor b0 = orFilled(beta, d[1], 0f)) {
            long g = gamma != null ? gamma.address() : g1.address();
            long b = beta != null ? beta.address() : b0.address();
            int r = relu ? 1 : 0;
            float e = (float) eps;
            int rc = switch (dt) {
                case BFLOAT16 -> CudaKernels.sevc_batchnorm_eval_ndhwc_bf16(x.address(), g, b, runningMean.address(),
                        runningVar.address(), y.address(), m, d[1], e, r, st());
                case FLOAT16 -> CudaKernels.sevc_batchnorm_eval_ndhwc_f16(x.address(), g, b, runningMean.address(),
                        runningVar.address(), y.address(), m, d[1], e, r, st());
                default -> CudaKernels.sevc_batchnorm_eval_ndhwc_f32(x.address(), g, b, runningMean.address(),
                        runningVar.address(), y.address(), m, d[1], e, r, st());
            };
            k(rc, "channels-last batch norm eval");
            return y;
        } catch (RuntimeException | Error e) {
            y.close();
            throw e;
        }
    }

    private Tensor channelsLastConcat(Tensor a, Tensor b) {
        cl.concat(a, b);
        Checks.rank(a, "a", 5);
        Checks.sameFormat(a, "a", b, "b");
        long m = a.dim(0) * a.shape().sizeFrom(2);
        Tensor y = empty(a.shape().with(1, a.dim(1) + b.dim(1)), a.dtype(), MemoryFormat.CHANNELS_LAST);
        return launched(y, () -> CudaKernels.sevc_concat_channels_ndhwc(a.address(), b.address(), y.address(), m,
                a.dim(1), b.dim(1), a.dtype().byteSize(), st()), "channels-last concat");
    }

    private Tensor channelsLastChannelScale(Tensor x, Tensor g) {
        cl.channelScale(x, g);
        Checks.rank(x, "x", 5);
        Tensor y = like(x, x.dtype());
        return launched(y, () -> CudaKernels.sevc_channel_scale_ndhwc_forward(x.address(), g.address(), y.address(),
                x.dim(0), x.dim(1), x.shape().sizeFrom(2), CudnnTypes.kernelCode(x.dtype()), st()),
                "channels-last channel scale");
    }

    private Tensor channelsLastGlobalAvgPool(Tensor x) {
        cl.globalPool(x);
        Checks.rank(x, "x", 5);
        Tensor y = empty(Shape.of(x.dim(0), x.dim(1)));
        return launched(y, () -> CudaKernels.sevc_global_avgpool_ndhwc_forward(x.address(), y.address(), x.dim(0),
                x.dim(1), x.shape().sizeFrom(2), CudnnTypes.kernelCode(x.dtype()), st()), "channels-last global avg-pool");
    }

    private Tensor channelsLastAvgPool(Tensor x, ConvSpec window) {
        DType dt = cl.floating(x, "x");
        c.pool(x.shape(), window);
        ConvSpec dw = OpChecks.depthwise(window, x.dim(1));
        Tensor y = empty(dw.outputShape(x.shape(), x.dim(1)), dt, MemoryFormat.CHANNELS_LAST);
        return launched(y, () -> CudaKernels.sevc_avgpool3d_ndhwc_forward(x.address(), y.address(),
                dw.nativeParams(x.shape(), x.dim(1)), CudnnTypes.kernelCode(dt), st()), "channels-last avg-pool");
    }

    /** By choice (direction given) or because cuDNN refused the problem (see {@link #refuse}). */
    private boolean widened(String key, String direction, ConvSpec spec) {
        return refusedHalf.contains(key) || widensSixteenBit(direction, spec);
    }

    /** 16-bit problems cuDNN refused, by algorithm-cache key; they run in fp32 (see {@link #refuse}). */
    public synchronized java.util.Set<String> refusedSixteenBitConvolutions() {
        return java.util.Set.copyOf(refusedHalf);
    }

    /** Rounds fp32 {@code src} once into the 16-bit tensor {@code dst} of the same shape. */
    private void castInto(Tensor src, Tensor dst) {
        k(CudaKernels.sevc_cast(src.address(), CudnnTypes.kernelCode(src.dtype()), dst.address(),
                CudnnTypes.kernelCode(dst.dtype()), src.size(), st()), "cast");
    }

    private static String algoNote(ConvAlgorithmCache.Choice ch) {
        return " (algorithm " + ch.algorithm() + ", math type " + ch.mathType() + ", workspace " + ch.workspaceBytes()
                + " B)";
    }

    /** Deterministic choices are cached apart: switching the mode never reuses the other mode's algorithm. */
    private static String algorithmKey(String problem, boolean deterministic) {
        return deterministic ? problem + DETERMINISTIC_KEY : problem;
    }

    private ConvAlgorithmCache.Choice remember(String key, ConvAlgorithmCache.Choice ch) {
        if (ch == null) {
            throw new CudaException("cuDNN has no " + (key.endsWith(DETERMINISTIC_KEY) ? "deterministic " : "")
                    + "algorithm for " + key, 3000);  // as CUDNN_STATUS_NOT_SUPPORTED
        }
        algorithms.put(key, ch);
        return ch;
    }

    private long searchSpace() {
        long free = dev.allocator().raw().freeBytes() + dev.allocator().stats().cachedBytes();
        return Math.max(0, Math.min(WORKSPACE_LIMIT, free / 4));
    }

    @Override
    public synchronized Tensor conv3dBackwardData(Tensor dy, Tensor w, ConvSpec spec, Shape xShape) {
        if (dy != null && dy.isChannelsLast()) {
            return channelsLastConvBackwardData(dy, w, spec, xShape);
        }
        if (channelsLastBytes(w)) {
            try (Tensor wc = contiguous(w)) {
                return conv3dBackwardData(dy, wc, spec, xShape);
            }
        }
        if (dy != null && OpChecks.isHalf(dy.dtype())) {
            return halfConvBackwardData(dy, w, spec, xShape);
        }
        c.f32(dy, "dy");
        c.f32(w, "weight");
        c.conv(xShape, w.shape(), spec);
        Checks.shape(dy, "dy", spec.outputShape(xShape, w.dim(0)));
        int[] p = spec.nativeParams(xShape, w.dim(0));
        Tensor dx = empty(xShape);
        dev.activate();
        if (fusedConv(spec, xShape, w.dim(0)) && !isPointwise(spec)) {
            k(CudaKernels.sevc_grouped_conv3x3_backward_data(dy.address(), w.address(), dx.address(), p[0], p[1],
                    p[1] / p[15], p[2], p[3], p[4], p[10], st()), "grouped conv backward data");
            return dx;
        }
        if (customTemporal(spec, xShape.get(1), w.dim(0))) {
            k(CudaKernels.sevc_temporal_conv3_backward_data(dy.address(), w.address(), dx.address(), p[0], p[1], p[2],
                    (long) p[3] * p[4], st()), "temporal conv backward data");
            return dx;
        }
        if (measuresKernels() && isPointwise(spec) && gemmFits(xShape)) {
            java.util.Map<String, Runnable> routes = new java.util.LinkedHashMap<>();
            routes.put(ROUTE_CUDNN, () -> cudnnBackwardData(dy, w, dx, spec, p, DType.FLOAT32));
            routes.put(ROUTE_CUBLAS, () -> pointwiseBackwardDataGemm(dy, w, dx));
            measured(ConvAlgorithmCache.key("bwd-data", p, allowTf32), routes, ROUTE_CUDNN, dx);
            return dx;
        }
        boolean grouped = fusedConvShape(spec, xShape, w.dim(0)) && !isPointwise(spec);
        boolean temporal = isTemporal(spec, xShape.get(1), w.dim(0));
        if (measuresKernels() && (grouped || temporal)) {
            java.util.Map<String, Runnable> routes = new java.util.LinkedHashMap<>();
            routes.put(ROUTE_CUDNN, () -> cudnnBackwardData(dy, w, dx, spec, p, DType.FLOAT32));
            routes.put(ROUTE_SEVNET, grouped ? () -> k(CudaKernels.sevc_grouped_conv3x3_backward_data(dy.address(),
                    w.address(), dx.address(), p[0], p[1], p[1] / p[15], p[2], p[3], p[4], p[10], st()),
                    "grouped conv backward data")
                    : () -> k(CudaKernels.sevc_temporal_conv3_backward_data(dy.address(), w.address(), dx.address(),
                            p[0], p[1], p[2], (long) p[3] * p[4], st()), "temporal conv backward data"));
            if (temporal && gemmFits(xShape)) {
                routes.put(ROUTE_CUBLAS, () -> temporalBackwardDataGemm(dy, w, dx));
            }
            measured(ConvAlgorithmCache.key("bwd-data", p, allowTf32), routes, ROUTE_CUDNN, dx);
            return dx;
        }
        cudnnBackwardData(dy, w, dx, spec, p, DType.FLOAT32);
        return dx;
    }

    /**
     * dL/dx of a 16-bit conv (mixed-precision training): cuDNN with bfloat16 / float16 descriptors and fp32
     * accumulation (PSEUDO_BFLOAT16 / PSEUDO_HALF), tensor-op math, the algorithm found once per problem and dtype and
     * cached ({@code bwd-data:...:bf16|fp16}), dx rounded once to the 16-bit type. The grouped convs in AUTO/CUSTOM
     * ({@link #widensSixteenBit}) and problems cuDNN refuses go through the fp32 backward-data (sevnet's grouped
     * kernel or cuDNN in TF32) on widened copies instead.
     */
    private Tensor halfConvBackwardData(Tensor dy, Tensor w, ConvSpec spec, Shape xShape) {
        DType dt = hc.convBackwardData(dy, w, spec, xShape);
        int[] p = spec.nativeParams(xShape, w.dim(0));
        Tensor dx = empty(xShape, dt);
        try {
            dev.activate();
            if (!widenEverySixteenBitConv && fusedConv(spec, xShape, w.dim(0)) && !isPointwise(spec)) {
                // CUSTOM: sevnet's grouped backward-data kernel in 16-bit storage (fp32 accumulation, dx rounded once)
                int rc = dt == DType.BFLOAT16
                        ? CudaKernels.sevc_grouped_conv3x3_backward_data_bf16(dy.address(), w.address(), dx.address(),
                                p[0], p[1], p[1] / p[15], p[2], p[3], p[4], p[10], st())
                        : CudaKernels.sevc_grouped_conv3x3_backward_data_f16(dy.address(), w.address(), dx.address(),
                                p[0], p[1], p[1] / p[15], p[2], p[3], p[4], p[10], st());
                k(rc, "grouped conv backward data (16-bit)");
                return dx;
            }
            java.util.function.Supplier<Tensor> fp32 = () -> {
                try (Tensor dy32 = cast(dy, DType.FLOAT32); Tensor w32 = cast(w, DType.FLOAT32)) {
                    return conv3dBackwardData(dy32, w32, spec, xShape);
                }
            };
            if (measuresSixteenBit()) {
                sixteenBitMeasured("bwd-data", p, dt, dx, () -> cudnnBackwardData(dy, w, dx, spec, p, dt),
                        () -> channelsLastBackwardData(dy, w, dx, p, dt, dt + " " + spec),
                        !sevnetGroupedHalf(spec, xShape, w.dim(0)) ? null : () -> k(dt == DType.BFLOAT16
                                ? CudaKernels.sevc_grouped_conv3x3_backward_data_bf16(dy.address(), w.address(),
                                        dx.address(), p[0], p[1], p[1] / p[15], p[2], p[3], p[4], p[10], st())
                                : CudaKernels.sevc_grouped_conv3x3_backward_data_f16(dy.address(), w.address(),
                                        dx.address(), p[0], p[1], p[1] / p[15], p[2], p[3], p[4], p[10], st()),
                                "grouped conv backward data (16-bit)"),
                        !gemmFits(xShape) ? null : isPointwise(spec) ? () -> pointwiseBackwardDataGemm(dy, w, dx)
                                : isTemporal(spec, xShape.get(1), w.dim(0)) ? () -> temporalBackwardDataGemm(dy, w, dx)
                                : null,
                        fp32);
                return dx;
            }
            sixteenBitOrWidened("bwd-data", p, dt, spec, dx, () -> cudnnBackwardData(dy, w, dx, spec, p, dt),
                    () -> channelsLastBackwardData(dy, w, dx, p, dt, dt + " " + spec), fp32);
            return dx;
        } catch (RuntimeException | Error e) {
            dx.close();
            throw e;
        }
    }

    /** cuDNN's backward-data over dtype descriptors, the algorithm found once per (problem, dtype) and cached. */
    private void cudnnBackwardData(Tensor dy, Tensor w, Tensor dx, ConvSpec spec, int[] p, DType dtype) {
        cudnnBackwardData(descriptors(p, dtype), ConvAlgorithmCache.key("bwd-data", p, allowTf32, dtype), dy, w, dx,
                (dtype == DType.FLOAT32 ? "" : dtype + " ") + spec);
    }

    private void cudnnBackwardData(ConvDescriptors d, String problem, Tensor dy, Tensor w, Tensor dx, String what) {
        boolean det = deterministic;
        String key = algorithmKey(problem, det);
        ConvAlgorithmCache.Choice ch = algorithms.get(key);
        if (ch == null) {
            beforeSearch(key);
            int n = cudnn.CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT;
            try (cudnnConvolutionBwdDataAlgoPerf_t perf = new cudnnConvolutionBwdDataAlgoPerf_t(n);
                    Tensor ws = workspace(searchSpace())) {
                int[] returned = new int[1];
                d.setMathType(d.defaultMathType);
                Cuda.checkCudnn(cudnn.cudnnFindConvolutionBackwardDataAlgorithmEx(dev.cudnn(), d.w, Cuda.ptr(w.address()),
                        d.y, Cuda.ptr(dy.address()), d.conv, d.x, Cuda.ptr(dx.address()), n, returned, perf,
                        Cuda.ptr(addr(ws)), ws == null ? 0 : ws.byteSize()), "cudnnFindConvolutionBackwardDataAlgorithmEx");
                for (int i = 0; i < returned[0]; i++) {
                    cudnnConvolutionBwdDataAlgoPerf_t r = perf.getPointer(i);
                    if (r.status() == 0 && (!det || r.determinism() == cudnn.CUDNN_DETERMINISTIC)) {
                        ch = new ConvAlgorithmCache.Choice(r.algo(), r.memory(), r.mathType());
                        break;
                    }
                }
            }
            ch = remember(key, ch);
        }
        try (Tensor ws = workspace(ch.workspaceBytes())) {
            useMathType(d, ch);
            Cuda.checkCudnn(cudnn.cudnnConvolutionBackwardData(dev.cudnn(), ONE, d.w, Cuda.ptr(w.address()), d.y,
                    Cuda.ptr(dy.address()), d.conv, ch.algorithm(), Cuda.ptr(addr(ws)), ch.workspaceBytes(), ZERO, d.x,
                    Cuda.ptr(dx.address())), "cudnnConvolutionBackwardData " + what + algoNote(ch));
        }
    }

    @Override
    public synchronized Tensor conv3dBackwardWeight(Tensor x, Tensor dy, ConvSpec spec, Shape wShape) {
        if (x != null && x.isChannelsLast()) {
            return channelsLastConvBackwardWeight(x, dy, spec, wShape);
        }
        if (x != null && OpChecks.isHalf(x.dtype())) {
            return halfConvBackwardWeight(x, dy, spec, wShape);
        }
        c.f32(x, "x");
        c.f32(dy, "dy");
        c.conv(x.shape(), wShape, spec);
        Checks.shape(dy, "dy", spec.outputShape(x.shape(), wShape.get(0)));
        int[] p = spec.nativeParams(x.shape(), wShape.get(0));
        Tensor dw = empty(wShape);
        dev.activate();
        if (fusedConv(spec, x.shape(), wShape.get(0)) && !isPointwise(spec)) {
            k(CudaKernels.sevc_grouped_conv3x3_backward_weight(x.address(), dy.address(), dw.address(), p[0], p[1],
                    p[1] / p[15], p[2], p[3], p[4], p[10], st()), "grouped conv backward weight");
            return dw;
        }
        if (measuresKernels() && isPointwise(spec) && gemmFits(x.shape())) {
            java.util.Map<String, Runnable> routes = new java.util.LinkedHashMap<>();
            routes.put(ROUTE_CUDNN, () -> cudnnBackwardFilter(x, dy, dw, spec, p, DType.FLOAT32));
            routes.put(ROUTE_CUBLAS, () -> pointwiseBackwardWeightGemm(x, dy, dw));
            measured(ConvAlgorithmCache.key("bwd-filter", p, allowTf32), routes, ROUTE_CUDNN, dw);
            return dw;
        }
        boolean grouped = fusedConvShape(spec, x.shape(), wShape.get(0)) && !isPointwise(spec);
        boolean temporal = isTemporal(spec, x.dim(1), wShape.get(0));
        if (measuresKernels() && (grouped || temporal)) {
            java.util.Map<String, Runnable> routes = new java.util.LinkedHashMap<>();
            routes.put(ROUTE_CUDNN, () -> cudnnBackwardFilter(x, dy, dw, spec, p, DType.FLOAT32));
            routes.put(ROUTE_SEVNET, grouped ? () -> k(CudaKernels.sevc_grouped_conv3x3_backward_weight(x.address(),
                    dy.address(), dw.address(), p[0], p[1], p[1] / p[15], p[2], p[3], p[4], p[10], st()),
                    "grouped conv backward weight")
                    : () -> k(CudaKernels.sevc_temporal_conv3_backward_weight(x.address(), dy.address(), dw.address(),
                            p[0], p[1], p[2], (long) p[3] * p[4], st()), "temporal conv backward weight"));
            if (temporal && gemmFits(x.shape())) {
                routes.put(ROUTE_CUBLAS, () -> temporalBackwardWeightGemm(x, dy, dw));
            }
            measured(ConvAlgorithmCache.key("bwd-filter", p, allowTf32), routes,
                    temporal && x.dim(1) <= AUTO_CUSTOM_MAX_CHANNELS ? ROUTE_SEVNET : ROUTE_CUDNN, dw);
            return dw;
        }
        if (customTemporalBackwardWeight(spec, x.dim(1), wShape.get(0))) {
            k(CudaKernels.sevc_temporal_conv3_backward_weight(x.address(), dy.address(), dw.address(), p[0], p[1], p[2],
                    (long) p[3] * p[4], st()), "temporal conv backward weight");
            return dw;
        }
        cudnnBackwardFilter(x, dy, dw, spec, p, DType.FLOAT32);
        return dw;
    }

    /**
     * dL/dw of a 16-bit conv: cuDNN's backward-filter with bfloat16 / float16 x, dy and dw descriptors and fp32
     * accumulation (PSEUDO_BFLOAT16 / PSEUDO_HALF), tensor-op math, the algorithm cached per problem and dtype
     * ({@code bwd-filter:...:bf16|fp16}); dw is stored in the 16-bit type (rounded once), as cuDNN's pseudo-16-bit
     * backward-filter produces it. AUTO measures the routes (this, cuDNN on channels-last copies, cuBLAS GEMMs for
     * the 1x1x1 and 3x1x1 convs, fp32 on widened copies); CUSTOM and LIBRARY take cuDNN 16-bit (the sevnet
     * backward-weight kernels are fp32 only), a problem cuDNN refuses the fp32 backward-weight on widened copies.
     */
    private Tensor halfConvBackwardWeight(Tensor x, Tensor dy, ConvSpec spec, Shape wShape) {
        DType dt = hc.convBackwardWeight(x, dy, spec, wShape);
        int[] p = spec.nativeParams(x.shape(), wShape.get(0));
        Tensor dw = empty(wShape, dt);
        try {
            dev.activate();
            java.util.function.Supplier<Tensor> fp32 = () -> {
                try (Tensor x32 = cast(x, DType.FLOAT32); Tensor dy32 = cast(dy, DType.FLOAT32)) {
                    return conv3dBackwardWeight(x32, dy32, spec, wShape);
                }
            };
            if (measuresSixteenBit()) {
                sixteenBitMeasured("bwd-filter", p, dt, dw, () -> cudnnBackwardFilter(x, dy, dw, spec, p, dt),
                        () -> channelsLastBackwardFilter(x, dy, dw, p, dt, dt + " " + spec), null,
                        !gemmFits(x.shape()) ? null : isPointwise(spec) ? () -> pointwiseBackwardWeightGemm(x, dy, dw)
                                : isTemporal(spec, x.dim(1), wShape.get(0)) ? () -> temporalBackwardWeightGemm(x, dy, dw)
                                : null,
                        fp32);
                return dw;
            }
            sixteenBitOrWidened("bwd-filter", p, dt, spec, dw, () -> cudnnBackwardFilter(x, dy, dw, spec, p, dt),
                    () -> channelsLastBackwardFilter(x, dy, dw, p, dt, dt + " " + spec), fp32);
            return dw;
        } catch (RuntimeException | Error e) {
            dw.close();
            throw e;
        }
    }

    /** cuDNN's backward-filter over dtype descriptors, the algorithm found once per (problem, dtype) and cached. */
    private void cudnnBackwardFilter(Tensor x, Tensor dy, Tensor dw, ConvSpec spec, int[] p, DType dtype) {
        cudnnBackwardFilter(descriptors(p, dtype), ConvAlgorithmCache.key("bwd-filter", p, allowTf32, dtype), x, dy, dw,
                (dtype == DType.FLOAT32 ? "" : dtype + " ") + spec);
    }

    private void cudnnBackwardFilter(ConvDescriptors d, String problem, Tensor x, Tensor dy, Tensor dw, String what) {
        boolean det = deterministic;
        String key = algorithmKey(problem, det);
        ConvAlgorithmCache.Choice ch = algorithms.get(key);
        if (ch == null) {
            beforeSearch(key);
            int n = cudnn.CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT;
            try (cudnnConvolutionBwdFilterAlgoPerf_t perf = new cudnnConvolutionBwdFilterAlgoPerf_t(n);
                    Tensor ws = workspace(searchSpace())) {
                int[] returned = new int[1];
                d.setMathType(d.defaultMathType);
                Cuda.checkCudnn(cudnn.cudnnFindConvolutionBackwardFilterAlgorithmEx(dev.cudnn(), d.x, Cuda.ptr(x.address()),
                        d.y, Cuda.ptr(dy.address()), d.conv, d.w, Cuda.ptr(dw.address()), n, returned, perf,
                        Cuda.ptr(addr(ws)), ws == null ? 0 : ws.byteSize()), "cudnnFindConvolutionBackwardFilterAlgorithmEx");
                for (int i = 0; i < returned[0]; i++) {
                    cudnnConvolutionBwdFilterAlgoPerf_t r = perf.getPointer(i);
                    if (r.status() == 0 && (!det || r.determinism() == cudnn.CUDNN_DETERMINISTIC)) {
                        ch = new ConvAlgorithmCache.Choice(r.algo(), r.memory(), r.mathType());
                        break;
                    }
                }
            }
            ch = remember(key, ch);
        }
        try (Tensor ws = workspace(ch.workspaceBytes())) {
            useMathType(d, ch);
            Cuda.checkCudnn(cudnn.cudnnConvolutionBackwardFilter(dev.cudnn(), ONE, d.x, Cuda.ptr(x.address()), d.y,
                    Cuda.ptr(dy.address()), d.conv, ch.algorithm(), Cuda.ptr(addr(ws)), ch.workspaceBytes(), ZERO, d.w,
                    Cuda.ptr(dw.address())), "cudnnConvolutionBackwardFilter " + what + algoNote(ch));
        }
    }

    // ---- batch norm ----

    /** cuDNN descriptors of [N, C, S] as 5-d NCDHW (N, C, S, 1, 1) and its [1, C, 1, 1, 1] parameters. */
    private final class BnDescriptors implements AutoCloseable {
        final cudnnTensorStruct x = new cudnnTensorStruct();
        final cudnnTensorStruct param = new cudnnTensorStruct();

        BnDescriptors(long[] d) {
            for (long v : d) {
                Checks.intRange(v, "batch norm dimension");
            }
            Cuda.checkCudnn(cudnn.cudnnCreateTensorDescriptor(x), "cudnnCreateTensorDescriptor");
            Cuda.checkCudnn(cudnn.cudnnCreateTensorDescriptor(param), "cudnnCreateTensorDescriptor");
            setTensor(x, (int) d[0], (int) d[1], (int) d[2], 1, 1);
            setTensor(param, 1, (int) d[1], 1, 1, 1);
        }

        @Override
        public void close() {
            cudnn.cudnnDestroyTensorDescriptor(x);
            cudnn.cudnnDestroyTensorDescriptor(param);
        }
    }

    /** gamma, or ones when the layer has none (cuDNN needs the pointer). */
    private Tensor orFilled(Tensor t, long ch, float v) {
        if (t != null) {
            return null;
        }
        Tensor f = empty(Shape.of(ch));
        k(CudaKernels.sevc_fill(f.address(), v, ch, st()), "fill");
        return f;
    }

    @Override
    public synchronized BatchNormResult batchNormTrain(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean,
            Tensor runningVar, double eps, double momentum) {
        if (x != null && x.isChannelsLast()) {
            return channelsLastBatchNormTrain(x, null, gamma, beta, runningMean, runningVar, eps, momentum, false);
        }
        if (x != null && OpChecks.isHalf(x.dtype())) {
            return halfBatchNormTrain(x, null, gamma, beta, runningMean, runningVar, eps, momentum, false);
        }
        c.f32(x, "x");
        long[] d = c.ncs(x);
        c.batchNormTrain(x, d, gamma, beta, runningMean, runningVar);
        Tensor y = empty(x.shape());
        Tensor mean = empty(Shape.of(d[1]));
        Tensor invstd = empty(Shape.of(d[1]));
        dev.activate();
        if (kernelMode == KernelMode.CUSTOM) {
            k(CudaKernels.sevc_batchnorm_train_forward(x.address(), addr(gamma), addr(beta), y.address(), mean.address(),
                    invstd.address(), addr(runningMean), addr(runningVar), d[0], d[1], d[2], (float) eps,
                    (float) momentum, st()), "batch norm");
            return new BatchNormResult(y, mean, invstd);
        }
        try (BnDescriptors bd = new BnDescriptors(d); Tensor g1 = orFilled(gamma, d[1], 1f);
                Tensor b0 = orFilled(beta, d[1], 0f)) {
            Tensor g = gamma != null ? gamma : g1;
            Tensor b = beta != null ? beta : b0;
            Cuda.checkCudnn(cudnn.cudnnBatchNormalizationForwardTraining(dev.cudnn(), cudnn.CUDNN_BATCHNORM_SPATIAL, ONE,
                    ZERO, bd.x, Cuda.ptr(x.address()), bd.x, Cuda.ptr(y.address()), bd.param, Cuda.ptr(g.address()),
                    Cuda.ptr(b.address()), momentum, Cuda.ptr(addr(runningMean)), Cuda.ptr(addr(runningVar)), eps,
                    Cuda.ptr(mean.address()), Cuda.ptr(invstd.address())), "cudnnBatchNormalizationForwardTraining");
        }
        return new BatchNormResult(y, mean, invstd);
    }

    @Override
    public synchronized Tensor batchNormEval(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
            double eps, boolean relu) {
        if (x != null && x.isChannelsLast()) {
            return channelsLastBatchNormEval(x, gamma, beta, runningMean, runningVar, eps, relu);
        }
        if (x != null && OpChecks.isHalf(x.dtype())) {
            return halfBatchNormEval(x, gamma, beta, runningMean, runningVar, eps, relu);
        }
        c.f32(x, "x");
        long[] d = c.ncs(x);
        c.batchNormEval(d, gamma, beta, runningMean, runningVar);
        Tensor y = empty(x.shape());
        dev.activate();
        if (kernelMode == KernelMode.CUSTOM) {
            k(CudaKernels.sevc_batchnorm_eval_forward(x.address(), addr(gamma), addr(beta), runningMean.address(),
                    runningVar.address(), y.address(), d[0], d[1], d[2], (float) eps, relu ? 1 : 0, st()),
                    "batch norm eval");
            return y;
        }
        try (BnDescriptors bd = new BnDescriptors(d); Tensor g1 = orFilled(gamma, d[1], 1f);
                Tensor b0 = orFilled(beta, d[1], 0f)) {
            Tensor g = gamma != null ? gamma : g1;
            Tensor b = beta != null ? beta : b0;
            Cuda.checkCudnn(cudnn.cudnnBatchNormalizationForwardInference(dev.cudnn(), cudnn.CUDNN_BATCHNORM_SPATIAL, ONE,
                    ZERO, bd.x, Cuda.ptr(x.address()), bd.x, Cuda.ptr(y.address()), bd.param, Cuda.ptr(g.address()),
                    Cuda.ptr(b.address()), Cuda.ptr(runningMean.address()), Cuda.ptr(runningVar.address()), eps),
                    "cudnnBatchNormalizationForwardInference");
        }
        if (relu) {
            k(CudaKernels.sevc_relu_forward(y.address(), y.address(), y.size(), st()), "relu");
        }
        return y;
    }

    @Override
    public synchronized Tensor[] batchNormBackward(Tensor x, Tensor dy, Tensor gamma, Tensor saveMean, Tensor saveInvstd) {
        if (x != null && x.isChannelsLast()) {
            Tensor[] r = channelsLastBatchNormBackward(x, null, dy, gamma, saveMean, saveInvstd, false, false);
            return new Tensor[] {r[0], r[1], r[2]};
        }
        if (x != null && OpChecks.isHalf(x.dtype())) {
            Tensor[] r = halfBatchNormBackward(x, null, dy, gamma, saveMean, saveInvstd, false, false);
            return new Tensor[] {r[0], r[1], r[2]};
        }
        c.f32(x, "x");
        c.f32(dy, "dy");
        long[] d = c.ncs(x);
        c.batchNormBackward(x, dy, d, gamma, saveMean, saveInvstd);
        Tensor dx = empty(x.shape());
        Tensor dg = empty(Shape.of(d[1]));
        Tensor db = empty(Shape.of(d[1]));
        dev.activate();
        Runnable sevnet = () -> k(CudaKernels.sevc_batchnorm_backward(x.address(), dy.address(), addr(gamma),
                saveMean.address(), saveInvstd.address(), dx.address(), dg.address(), db.address(), d[0], d[1], d[2],
                st()), "batch norm backward");
        Runnable library = () -> {
            try (BnDescriptors bd = new BnDescriptors(d); Tensor g1 = orFilled(gamma, d[1], 1f)) {
                Tensor g = gamma != null ? gamma : g1;
                Cuda.checkCudnn(cudnn.cudnnBatchNormalizationBackward(dev.cudnn(), cudnn.CUDNN_BATCHNORM_SPATIAL, ONE,
                        ZERO, ONE, ZERO, bd.x, Cuda.ptr(x.address()), bd.x, Cuda.ptr(dy.address()), bd.x,
                        Cuda.ptr(dx.address()), bd.param, Cuda.ptr(g.address()), Cuda.ptr(dg.address()),
                        Cuda.ptr(db.address()), 1e-5, Cuda.ptr(saveMean.address()), Cuda.ptr(saveInvstd.address())),
                        "cudnnBatchNormalizationBackward");
            }
        };
        if (measuresKernels()) {
            // both write dx, dgamma, dbeta only: measured like a conv (key: the problem's N, C, S)
            measured("bn-bwd:" + d[0] + "," + d[1] + "," + d[2] + (gamma == null ? ":nogamma" : ""), library, sevnet,
                    d[1] <= AUTO_CUSTOM_MAX_CHANNELS, dx, dg, db);
        } else if (customBnBackward(d[1])) {
            sevnet.run();
        } else {
            library.run();
        }
        return new Tensor[] {dx, dg, db};
    }

    // ---- batch norm in 16-bit storage (mixed-precision training; every kernel mode) ----
    // x, residual, y, dy, dx, dresidual bfloat16 / float16 (one type), gamma, beta, the running and saved
    // statistics, dgamma, dbeta float32: the sevc_bn_act_*_bf16/_f16 kernels (conv_bn_relu.cu: statistics by
    // (split, channel) blocks in double, fp32 arithmetic, one rounding per 16-bit store). cuDNN's batch norm is not
    // used for 16-bit tensors.

    private static void closeAll(Tensor... ts) {
        for (Tensor t : ts) {
            if (t != null) {
                t.close();
            }
        }
    }

    private BatchNormResult halfBatchNormTrain(Tensor x, Tensor residual, Tensor gamma, Tensor beta,
            Tensor runningMean, Tensor runningVar, double eps, double momentum, boolean relu) {
        long[] d = hc.batchNormTrain(x, residual, gamma, beta, runningMean, runningVar);
        DType dt = x.dtype();
        Tensor y = empty(x.shape(), dt);
        Tensor mean = empty(Shape.of(d[1]));
        Tensor invstd = empty(Shape.of(d[1]));
        try {
            dev.activate();
            int rc = dt == DType.BFLOAT16
                    ? CudaKernels.sevc_bn_act_train_forward_bf16(x.address(), addr(residual), addr(gamma), addr(beta),
                            y.address(), mean.address(), invstd.address(), addr(runningMean), addr(runningVar), d[0],
                            d[1], d[2], (float) eps, (float) momentum, relu ? 1 : 0, st())
                    : CudaKernels.sevc_bn_act_train_forward_f16(x.address(), addr(residual), addr(gamma), addr(beta),
                            y.address(), mean.address(), invstd.address(), addr(runningMean), addr(runningVar), d[0],
                            d[1], d[2], (float) eps, (float) momentum, relu ? 1 : 0, st());
            k(rc, dt + " batch norm");
            return new BatchNormResult(y, mean, invstd);
        } catch (RuntimeException | Error e) {
            closeAll(y, mean, invstd);
            throw e;
        }
    }

    /** {dx, dgamma, dbeta, dresidual (null unless residualGrad)}; y (the forward's output) read when relu. */
    private Tensor[] halfBatchNormBackward(Tensor x, Tensor y, Tensor dy, Tensor gamma, Tensor saveMean,
            Tensor saveInvstd, boolean relu, boolean residualGrad) {
        long[] d = hc.batchNormBackward(x, y, dy, gamma, saveMean, saveInvstd, relu);
        DType dt = x.dtype();
        Tensor dx = empty(x.shape(), dt);
        Tensor dg = empty(Shape.of(d[1]));
        Tensor db = empty(Shape.of(d[1]));
        Tensor dres = residualGrad ? empty(x.shape(), dt) : null;
        try {
            dev.activate();
            long ya = relu ? y.address() : 0L;
            int rc = dt == DType.BFLOAT16
                    ? CudaKernels.sevc_bn_act_backward_bf16(x.address(), ya, dy.address(), addr(gamma),
                            saveMean.address(), saveInvstd.address(), dx.address(), dg.address(), db.address(),
                            addr(dres), d[0], d[1], d[2], st())
                    : CudaKernels.sevc_bn_act_backward_f16(x.address(), ya, dy.address(), addr(gamma),
                            saveMean.address(), saveInvstd.address(), dx.address(), dg.address(), db.address(),
                            addr(dres), d[0], d[1], d[2], st());
            k(rc, dt + " batch norm backward");
            return new Tensor[] {dx, dg, db, dres};
        } catch (RuntimeException | Error e) {
            closeAll(dx, dg, db, dres);
            throw e;
        }
    }

    /** The eval form on 16-bit x (a 16-bit conv -> BN in evaluation): fp32 coefficients, y rounded once. */
    private Tensor halfBatchNormEval(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
            double eps, boolean relu) {
        DType dt = hc.half(x, "x");
        long[] d = c.ncs(x);
        c.batchNormEval(d, gamma, beta, runningMean, runningVar);
        Tensor y = empty(x.shape(), dt);
        try {
            dev.activate();
            k(CudaKernels.sevc_half_batchnorm_eval_forward(x.address(), addr(gamma), addr(beta), runningMean.address(),
                    runningVar.address(), y.address(), d[0], d[1], d[2], (float) eps, relu ? 1 : 0,
                    CudnnTypes.kernelCode(dt), st()), dt + " batch norm eval");
            return y;
        } catch (RuntimeException | Error e) {
            y.close();
            throw e;
        }
    }

    /** The arguments of a 16-bit conv -> BN (training or eval form), all checked before anything runs. */
    private void halfConvBnChecks(Tensor x, Tensor w, ConvSpec spec, Tensor gamma, Tensor beta, Tensor runningMean,
            Tensor runningVar, boolean training) {
        DType dt = hc.half(x, "x");
        hc.same(w, "weight", dt);
        c.conv(x.shape(), w.shape(), spec);
        Shape ys = spec.outputShape(x.shape(), w.dim(0));
        long[] d = {ys.get(0), w.dim(0), ys.sizeFrom(2)};
        if (training) {
            c.batchNormTrain(x, d, gamma, beta, runningMean, runningVar);
        } else {
            c.batchNormEval(d, gamma, beta, runningMean, runningVar);
        }
    }

    // ---- fused conv -> BN -> ReLU, BN -> (+ residual) -> ReLU (kernels/conv_bn_relu.cu; CUSTOM only) ----

    @Override
    public synchronized BatchNormResult batchNormTrainAct(Tensor x, Tensor residual, Tensor gamma, Tensor beta,
            Tensor runningMean, Tensor runningVar, double eps, double momentum, boolean relu) {
        if (x != null && x.isChannelsLast()) {
            return channelsLastBatchNormTrain(x, residual, gamma, beta, runningMean, runningVar, eps, momentum, relu);
        }
        if (x != null && OpChecks.isHalf(x.dtype())) {
            // one kernel in every mode: BN, + residual, ReLU with one rounding of y (the composition would round twice)
            return halfBatchNormTrain(x, residual, gamma, beta, runningMean, runningVar, eps, momentum, relu);
        }
        if (kernelMode != KernelMode.CUSTOM) {
            return Backend.super.batchNormTrainAct(x, residual, gamma, beta, runningMean, runningVar, eps, momentum, relu);
        }
        c.f32(x, "x");
        long[] d = c.ncs(x);
        c.batchNormTrain(x, d, gamma, beta, runningMean, runningVar);
        if (residual != null) {
            c.f32(residual, "residual");
            Checks.sameShape(x, "x", residual, "residual");
        }
        Tensor y = empty(x.shape());
        Tensor mean = empty(Shape.of(d[1]));
        Tensor invstd = empty(Shape.of(d[1]));
        dev.activate();
        k(CudaKernels.sevc_bn_act_train_forward(x.address(), addr(residual), addr(gamma), addr(beta), y.address(),
                mean.address(), invstd.address(), addr(runningMean), addr(runningVar), d[0], d[1], d[2], (float) eps,
                (float) momentum, relu ? 1 : 0, st()), "batch norm + relu");
        return new BatchNormResult(y, mean, invstd);
    }

    @Override
    public synchronized Tensor[] batchNormActBackward(Tensor x, Tensor y, Tensor dy, Tensor gamma, Tensor saveMean,
            Tensor saveInvstd, boolean relu, boolean residualGrad) {
        if (x != null && x.isChannelsLast()) {
            return channelsLastBatchNormBackward(x, y, dy, gamma, saveMean, saveInvstd, relu, residualGrad);
        }
        if (x != null && OpChecks.isHalf(x.dtype())) {
            return halfBatchNormBackward(x, y, dy, gamma, saveMean, saveInvstd, relu, residualGrad);
        }
        if (kernelMode != KernelMode.CUSTOM) {
            return Backend.super.batchNormActBackward(x, y, dy, gamma, saveMean, saveInvstd, relu, residualGrad);
        }
        c.f32(x, "x");
        c.f32(dy, "dy");
        long[] d = c.ncs(x);
        c.batchNormBackward(x, dy, d, gamma, saveMean, saveInvstd);
        if (relu) {
            c.f32(y, "y");
            Checks.sameShape(x, "x", y, "y");
        }
        Tensor dx = empty(x.shape());
        Tensor dg = empty(Shape.of(d[1]));
        Tensor db = empty(Shape.of(d[1]));
        Tensor dres = residualGrad ? empty(x.shape()) : null;
        dev.activate();
        k(CudaKernels.sevc_bn_act_backward(x.address(), relu ? y.address() : 0L, dy.address(), addr(gamma),
                saveMean.address(), saveInvstd.address(), dx.address(), dg.address(), db.address(), addr(dres), d[0],
                d[1], d[2], st()), "batch norm + relu backward");
        return new Tensor[] {dx, dg, db, dres};
    }

    /** Route name of the channels-last backward that recomputes the ReLU's mask from x ({@code sevnet.routes.off}). */
    static final String BN_MASK_FROM_X = "bn-mask-x";

    /**
     * Channels-last: the ReLU's mask recomputed from x (kernels/batchnorm_ndhwc.cu, sevc_bn_relu_backward_ndhwc_*: the
     * forward's element function, so the stored y's bits, without reading y) unless the route {@code bn-mask-x} is
     * off; elsewhere the y form.
     */
    @Override
    public synchronized Tensor[] batchNormReluBackward(Tensor x, Tensor y, Tensor dy, Tensor gamma, Tensor beta,
            Tensor saveMean, Tensor saveInvstd) {
        if (x == null || !x.isChannelsLast() || routeOff(BN_MASK_FROM_X)) {
            return Backend.super.batchNormReluBackward(x, y, dy, gamma, beta, saveMean, saveInvstd);
        }
        DType dt = cl.floating(x, "x");
        Checks.rank(x, "x", 5);
        cl.same(dy, "dy", dt);
        long[] d = cl.ncs(x);
        cl.batchNormBackward(x, dy, d, gamma, saveMean, saveInvstd);
        cl.channelVec(beta, "beta", d[1]);
        Checks.sameFormat(x, "x", dy, "dy");
        long m = d[0] * d[2];
        dev.activate();
        Tensor dx = null;
        Tensor dg = null;
        Tensor db = null;
        try (Tensor g1 = orFilled(gamma, d[1], 1f); Tensor b0 = orFilled(beta, d[1], 0f)) {
            dx = like(x, dt);
            dg = empty(Shape.of(d[1]));
            db = empty(Shape.of(d[1]));
            long g = gamma != null ? gamma.address() : g1.address();
            long b = beta != null ? beta.address() : b0.address();
            int rc = switch (dt) {
                case BFLOAT16 -> CudaKernels.sevc_bn_relu_backward_ndhwc_bf16(x.address(), dy.address(), g, b,
                        saveMean.address(), saveInvstd.address(), dx.address(), dg.address(), db.address(), m, d[1],
                        0L, 0L, st());
                case FLOAT16 -> CudaKernels.sevc_bn_relu_backward_ndhwc_f16(x.address(), dy.address(), g, b,
                        saveMean.address(), saveInvstd.address(), dx.address(), dg.address(), db.address(), m, d[1],
                        0L, 0L, st());
                default -> CudaKernels.sevc_bn_relu_backward_ndhwc_f32(x.address(), dy.address(), g, b,
                        saveMean.address(), saveInvstd.address(), dx.address(), dg.address(), db.address(), m, d[1],
                        0L, 0L, st());
            };
            k(rc, "channels-last batch norm + relu backward");
            return new Tensor[] {dx, dg, db};
        } catch (RuntimeException | Error e) {
            closeAll(dx, dg, db);
            throw e;
        }
    }

    @Override
    public synchronized ConvBatchNormResult convBatchNormTrain(Tensor x, Tensor w, ConvSpec spec, Tensor gamma,
            Tensor beta, Tensor runningMean, Tensor runningVar, double eps, double momentum, boolean relu) {
        if (x != null && x.isChannelsLast()) {
            // cuDNN's NDHWC conv, then the NDHWC BN (+ ReLU) kernel; the BN arguments checked before the conv runs
            Shape ys = spec == null || w == null ? null : spec.outputShape(x.shape(), w.dim(0));
            if (ys != null) {
                cl.batchNormTrain(x, new long[] {ys.get(0), w.dim(0), ys.sizeFrom(2)}, gamma, beta, runningMean,
                        runningVar);
            }
            return Backend.super.convBatchNormTrain(x, w, spec, gamma, beta, runningMean, runningVar, eps, momentum,
                    relu);
        }
        if (x != null && OpChecks.isHalf(x.dtype())) {
            // the fused conv kernels are fp32 only: the 16-bit cuDNN conv, then the 16-bit BN (+ ReLU) kernel; every
            // argument checked before the conv runs
            halfConvBnChecks(x, w, spec, gamma, beta, runningMean, runningVar, true);
            return Backend.super.convBatchNormTrain(x, w, spec, gamma, beta, runningMean, runningVar, eps, momentum,
                    relu);
        }
        c.f32(x, "x");
        c.f32(w, "weight");
        c.conv(x.shape(), w.shape(), spec);
        long cout = w.dim(0);
        if (!fusedConv(spec, x.shape(), cout)) {
            return Backend.super.convBatchNormTrain(x, w, spec, gamma, beta, runningMean, runningVar, eps, momentum, relu);
        }
        Shape ys = spec.outputShape(x.shape(), cout);
        long[] d = {ys.get(0), cout, ys.sizeFrom(2)};
        c.batchNormTrain(x, d, gamma, beta, runningMean, runningVar);
        int[] p = spec.nativeParams(x.shape(), cout);
        Tensor z = empty(ys);
        Tensor y = empty(ys);
        Tensor mean = empty(Shape.of(cout));
        Tensor invstd = empty(Shape.of(cout));
        dev.activate();
        if (isPointwise(spec)) {
            k(CudaKernels.sevc_pointwise_conv_bn_train(x.address(), w.address(), addr(gamma), addr(beta), z.address(),
                    y.address(), mean.address(), invstd.address(), addr(runningMean), addr(runningVar), (float) eps,
                    (float) momentum, relu ? 1 : 0, p[0], p[1], p[5], (long) p[2] * p[3] * p[4], st()),
                    "fused 1x1x1 conv + batch norm");
        } else {
            k(CudaKernels.sevc_grouped_conv3x3_bn_train(x.address(), w.address(), addr(gamma), addr(beta), z.address(),
                    y.address(), mean.address(), invstd.address(), addr(runningMean), addr(runningVar), (float) eps,
                    (float) momentum, relu ? 1 : 0, p[0], p[1], p[1] / p[15], p[2], p[3], p[4], p[10], st()),
                    "fused grouped conv + batch norm");
        }
        return new ConvBatchNormResult(z, y, mean, invstd);
    }

    @Override
    public synchronized Tensor convBatchNormEval(Tensor x, Tensor w, ConvSpec spec, Tensor gamma, Tensor beta,
            Tensor runningMean, Tensor runningVar, double eps, boolean relu) {
        if (x != null && x.isChannelsLast()) {
            return Backend.super.convBatchNormEval(x, w, spec, gamma, beta, runningMean, runningVar, eps, relu);
        }
        if (x != null && OpChecks.isHalf(x.dtype())) {
            // the 16-bit cuDNN conv, then the 16-bit BN eval kernel; every argument checked before the conv runs
            halfConvBnChecks(x, w, spec, gamma, beta, runningMean, runningVar, false);
            return Backend.super.convBatchNormEval(x, w, spec, gamma, beta, runningMean, runningVar, eps, relu);
        }
        c.f32(x, "x");
        c.f32(w, "weight");
        c.conv(x.shape(), w.shape(), spec);
        long cout = w.dim(0);
        if (!fusedConv(spec, x.shape(), cout)) {
            return Backend.super.convBatchNormEval(x, w, spec, gamma, beta, runningMean, runningVar, eps, relu);
        }
        Shape ys = spec.outputShape(x.shape(), cout);
        c.batchNormEval(new long[] {ys.get(0), cout, ys.sizeFrom(2)}, gamma, beta, runningMean, runningVar);
        Tensor y = empty(ys);
        dev.activate();
        fusedConvForward(x, w, 0L, addr(gamma), addr(beta), runningMean.address(), runningVar.address(), eps, relu, y,
                spec, spec.nativeParams(x.shape(), cout));
        return y;
    }

    // ---- element-wise (sevnet kernels) ----

    @Override
    public synchronized Tensor relu(Tensor x) {
        if (x != null && OpChecks.isHalf(x.dtype())) {
            DType dt = ck(x).floating(x, "x");
            Tensor y = like(x, dt);
            dev.activate();
            k(CudaKernels.sevc_half_add_act(x.address(), 0L, y.address(), x.size(), 1, CudnnTypes.kernelCode(dt), st()),
                    "16-bit relu");
            return y;
        }
        ck(x).f32(x, "x");
        Tensor y = like(x, DType.FLOAT32);
        dev.activate();
        k(CudaKernels.sevc_relu_forward(x.address(), y.address(), x.size(), st()), "relu");
        return y;
    }

    @Override
    public synchronized Tensor reluBackward(Tensor y, Tensor dy) {
        if (y != null && OpChecks.isHalf(y.dtype())) {
            DType dt = hcl.binary(y, "y", dy, "dy");
            Tensor dx = like(y, dt);
            return launched(dx, () -> CudaKernels.sevc_half_relu_backward(y.address(), dy.address(), dx.address(),
                    y.size(), CudnnTypes.kernelCode(dt), st()), "16-bit relu backward");
        }
        ck(y).unaryBackward(y, dy);
        Tensor dx = like(y, DType.FLOAT32);
        dev.activate();
        k(CudaKernels.sevc_relu_backward(y.address(), dy.address(), dx.address(), y.size(), st()), "relu backward");
        return dx;
    }

    @Override
    public synchronized Tensor add(Tensor a, Tensor b) {
        if (a != null && OpChecks.isHalf(a.dtype())) {
            // the 16-bit add is the add+ReLU kernel without the ReLU: one rounding of a + b
            DType dt = ck(a).floating(a, "a");
            ck(a).same(b, "b", dt);
            Checks.sameShape(a, "a", b, "b");
            Tensor y = like(a, dt);
            return launched(y, () -> CudaKernels.sevc_half_add_act(a.address(), b.address(), y.address(), a.size(), 0,
                    CudnnTypes.kernelCode(dt), st()), "16-bit add");
        }
        ck(a).binary(a, b);
        Tensor y = like(a, DType.FLOAT32);
        dev.activate();
        k(CudaKernels.sevc_add(a.address(), b.address(), y.address(), a.size(), st()), "add");
        return y;
    }

    @Override
    public synchronized Tensor addRelu(Tensor a, Tensor b) {
        if (a != null && OpChecks.isHalf(a.dtype())) {
            DType dt = ck(a).floating(a, "a");
            ck(b).same(b, "b", dt);
            Checks.sameShape(a, "a", b, "b");
            Tensor y = like(a, dt);
            dev.activate();
            k(CudaKernels.sevc_half_add_act(a.address(), b.address(), y.address(), a.size(), 1,
                    CudnnTypes.kernelCode(dt), st()), "16-bit add+relu");
            return y;
        }
        ck(a).binary(a, b);
        Tensor y = like(a, DType.FLOAT32);
        dev.activate();
        k(CudaKernels.sevc_add_relu(a.address(), b.address(), y.address(), a.size(), st()), "add+relu");
        return y;
    }

    @Override
    public synchronized Tensor mul(Tensor a, Tensor b) {
        ck(a).binary(a, b);
        Tensor y = like(a, DType.FLOAT32);
        dev.activate();
        k(CudaKernels.sevc_mul(a.address(), b.address(), y.address(), a.size(), st()), "mul");
        return y;
    }

    @Override
    public synchronized Tensor scale(Tensor x, float alpha) {
        ck(x).f32(x, "x");
        Tensor y = like(x, DType.FLOAT32);
        dev.activate();
        k(CudaKernels.sevc_scale(x.address(), alpha, y.address(), x.size(), st()), "scale");
        return y;
    }

    @Override
    public synchronized void axpby(float alpha, Tensor x, float beta, Tensor y) {
        if (y != null && OpChecks.isHalf(y.dtype())) {
            DType dt = hcl.axpby(x, y);
            dev.activate();
            k(CudaKernels.sevc_half_axpby(alpha, x.address(), beta, y.address(), y.size(), CudnnTypes.kernelCode(dt),
                    st()), "16-bit axpby");
            return;
        }
        ck(x).axpby(x, y);
        dev.activate();
        k(CudaKernels.sevc_axpby(alpha, x.address(), beta, y.address(), x.size(), st()), "axpby");
    }

    @Override
    public synchronized void fill(Tensor y, float value) {
        ck(y).f32(y, "y");
        dev.activate();
        k(CudaKernels.sevc_fill(y.address(), value, y.size(), st()), "fill");
    }

    @Override
    public synchronized Tensor sigmoid(Tensor x) {
        ck(x).f32(x, "x");
        Tensor y = like(x, DType.FLOAT32);
        dev.activate();
        k(CudaKernels.sevc_sigmoid_forward(x.address(), y.address(), x.size(), st()), "sigmoid");
        return y;
    }

    @Override
    public synchronized Tensor sigmoidBackward(Tensor y, Tensor dy) {
        ck(y).unaryBackward(y, dy);
        Tensor dx = like(y, DType.FLOAT32);
        dev.activate();
        k(CudaKernels.sevc_sigmoid_backward(y.address(), dy.address(), dx.address(), y.size(), st()), "sigmoid backward");
        return dx;
    }

    @Override
    public synchronized Tensor[] dropout(Tensor x, float p, long seed) {
        ck(x).dropout(x, p);
        Tensor y = like(x, DType.FLOAT32);
        Tensor mask = like(x, DType.FLOAT32);
        dev.activate();
        k(CudaKernels.sevc_dropout_forward(x.address(), y.address(), mask.address(), x.size(), p, seed, st()), "dropout");
        return new Tensor[] {y, mask};
    }

    // ---- shape ops ----

    @Override
    public synchronized Tensor concatChannels(Tensor a, Tensor b) {
        if (a != null && a.isChannelsLast()) {
            return channelsLastConcat(a, b);
        }
        c.concat(a, b);
        long s = a.shape().sizeFrom(2);
        Tensor y = empty(a.shape().with(1, a.dim(1) + b.dim(1)), a.dtype());
        dev.activate();
        if (OpChecks.isHalf(a.dtype())) {
            k(CudaKernels.sevc_half_concat_channels(a.address(), b.address(), y.address(), a.dim(0), a.dim(1), b.dim(1),
                    s, st()), "16-bit concat");
            return y;
        }
        k(CudaKernels.sevc_concat_channels(a.address(), b.address(), y.address(), a.dim(0), a.dim(1), b.dim(1), s, st()),
                "concat");
        return y;
    }

    @Override
    public synchronized Tensor[] splitChannels(Tensor y, long ca) {
        if (y != null && y.isChannelsLast()) {
            DType dt = cl.splitFloating(y, ca);
            Checks.rank(y, "y", 5);
            long cb = y.dim(1) - ca;
            long m = y.dim(0) * y.shape().sizeFrom(2);
            Tensor a = empty(y.shape().with(1, ca), dt, MemoryFormat.CHANNELS_LAST);
            Tensor b = empty(y.shape().with(1, cb), dt, MemoryFormat.CHANNELS_LAST);
            try {
                dev.activate();
                k(CudaKernels.sevc_split_channels_ndhwc(y.address(), a.address(), b.address(), m, ca, cb,
                        dt.byteSize(), st()), "channels-last split");
                return new Tensor[] {a, b};
            } catch (RuntimeException | Error e) {
                closeAll(a, b);
                throw e;
            }
        }
        if (y != null && OpChecks.isHalf(y.dtype())) {
            DType dt = hc.split(y, ca);
            long cb = y.dim(1) - ca;
            long s = y.shape().sizeFrom(2);
            Tensor a = empty(y.shape().with(1, ca), dt);
            Tensor b = empty(y.shape().with(1, cb), dt);
            try {
                dev.activate();
                k(CudaKernels.sevc_half_split_channels(y.address(), a.address(), b.address(), y.dim(0), ca, cb, s,
                        st()), "16-bit split");
                return new Tensor[] {a, b};
            } catch (RuntimeException | Error e) {
                closeAll(a, b);
                throw e;
            }
        }
        c.split(y, ca);
        long cb = y.dim(1) - ca;
        long s = y.shape().sizeFrom(2);
        Tensor a = empty(y.shape().with(1, ca));
        Tensor b = empty(y.shape().with(1, cb));
        dev.activate();
        k(CudaKernels.sevc_split_channels(y.address(), a.address(), b.address(), y.dim(0), ca, cb, s, st()), "split");
        return new Tensor[] {a, b};
    }

    @Override
    public synchronized Tensor channelScale(Tensor x, Tensor g) {
        if (x != null && x.isChannelsLast()) {
            return channelsLastChannelScale(x, g);
        }
        c.channelScale(x, g);
        Tensor y = empty(x.shape(), x.dtype());
        dev.activate();
        if (OpChecks.isHalf(x.dtype())) {
            k(CudaKernels.sevc_half_channel_scale_forward(x.address(), g.address(), y.address(), x.dim(0), x.dim(1),
                    x.shape().sizeFrom(2), CudnnTypes.kernelCode(x.dtype()), st()), "16-bit channel scale");
            return y;
        }
        k(CudaKernels.sevc_channel_scale_forward(x.address(), g.address(), y.address(), x.dim(0), x.dim(1),
                x.shape().sizeFrom(2), st()), "channel scale");
        return y;
    }

    @Override
    public synchronized Tensor[] channelScaleBackward(Tensor x, Tensor g, Tensor dy) {
        if (x != null && x.isChannelsLast()) {
            cl.channelScale(x, g);
            Checks.rank(x, "x", 5);
            cl.same(dy, "dy", x.dtype());
            Checks.sameShape(x, "x", dy, "dy");
            Checks.sameFormat(x, "x", dy, "dy");
            if (x.dtype() != DType.FLOAT32) {
                // no 16-bit NDHWC form of the SE backward: the NCDHW one over contiguous copies (dg needs no reorder)
                try (Tensor xc = contiguous(x); Tensor dyc = contiguous(dy)) {
                    Tensor[] r = channelScaleBackward(xc, g, dyc);
                    try (Tensor dxc = r[0]) {
                        return new Tensor[] {toMemoryFormat(dxc, MemoryFormat.CHANNELS_LAST), r[1]};
                    } catch (RuntimeException | Error e) {
                        r[1].close();
                        throw e;
                    }
                }
            }
            Tensor dx = like(x, DType.FLOAT32);
            Tensor dg = empty(g.shape());
            try {
                dev.activate();
                k(CudaKernels.sevc_channel_scale_ndhwc_backward(x.address(), g.address(), dy.address(), dx.address(),
                        dg.address(), x.dim(0), x.dim(1), x.shape().sizeFrom(2), st()), "channels-last channel scale backward");
                return new Tensor[] {dx, dg};
            } catch (RuntimeException | Error e) {
                closeAll(dx, dg);
                throw e;
            }
        }
        if (x != null && OpChecks.isHalf(x.dtype())) {
            DType dt = hc.channelScaleBackward(x, g, dy);
            Tensor dx = empty(x.shape(), dt);
            Tensor dg = empty(g.shape());
            try {
                dev.activate();
                k(CudaKernels.sevc_half_channel_scale_backward(x.address(), g.address(), dy.address(), dx.address(),
                        dg.address(), x.dim(0), x.dim(1), x.shape().sizeFrom(2), CudnnTypes.kernelCode(dt), st()),
                        "16-bit channel scale backward");
                return new Tensor[] {dx, dg};
            } catch (RuntimeException | Error e) {
                closeAll(dx, dg);
                throw e;
            }
        }
        c.channelScale(x, g);
        c.f32(x, "x");
        c.f32(dy, "dy");
        Checks.sameShape(x, "x", dy, "dy");
        Tensor dx = empty(x.shape());
        Tensor dg = empty(g.shape());
        dev.activate();
        k(CudaKernels.sevc_channel_scale_backward(x.address(), g.address(), dy.address(), dx.address(), dg.address(),
                x.dim(0), x.dim(1), x.shape().sizeFrom(2), st()), "channel scale backward");
        return new Tensor[] {dx, dg};
    }

    // ---- pooling ----

    @Override
    public synchronized Tensor avgPool3d(Tensor x, ConvSpec window) {
        if (x != null && x.isChannelsLast()) {
            return channelsLastAvgPool(x, window);
        }
        DType dt = c.floating(x, "x");
        c.pool(x.shape(), window);
        ConvSpec dw = OpChecks.depthwise(window, x.dim(1));
        Tensor y = empty(dw.outputShape(x.shape(), x.dim(1)), dt);
        dev.activate();
        if (OpChecks.isHalf(dt)) {
            k(CudaKernels.sevc_half_avgpool3d_forward(x.address(), y.address(), dw.nativeParams(x.shape(), x.dim(1)),
                    CudnnTypes.kernelCode(dt), st()), "16-bit avg-pool");
            return y;
        }
        k(CudaKernels.sevc_avgpool3d_forward(x.address(), y.address(), dw.nativeParams(x.shape(), x.dim(1)), st()),
                "avg-pool");
        return y;
    }

    @Override
    public synchronized Tensor avgPool3dBackward(Tensor dy, ConvSpec window, Shape xShape) {
        if (dy != null && dy.isChannelsLast()) {
            DType dt = cl.floating(dy, "dy");
            c.pool(xShape, window);
            ConvSpec dw = OpChecks.depthwise(window, xShape.get(1));
            Checks.shape(dy, "dy", dw.outputShape(xShape, xShape.get(1)));
            Tensor dx = empty(xShape, dt, MemoryFormat.CHANNELS_LAST);
            return launched(dx, () -> CudaKernels.sevc_avgpool3d_ndhwc_backward(dy.address(), dx.address(),
                    dw.nativeParams(xShape, xShape.get(1)), CudnnTypes.kernelCode(dt), st()),
                    "channels-last avg-pool backward");
        }
        if (dy != null && OpChecks.isHalf(dy.dtype())) {
            DType dt = hc.avgPoolBackward(dy, window, xShape);
            int[] p = OpChecks.depthwise(window, xShape.get(1)).nativeParams(xShape, xShape.get(1));
            Tensor dx = empty(xShape, dt);
            return launched(dx, () -> CudaKernels.sevc_half_avgpool3d_backward(dy.address(), dx.address(), p,
                    CudnnTypes.kernelCode(dt), st()), "16-bit avg-pool backward");
        }
        c.f32(dy, "dy");
        c.pool(xShape, window);
        ConvSpec dw = OpChecks.depthwise(window, xShape.get(1));
        Checks.shape(dy, "dy", dw.outputShape(xShape, xShape.get(1)));
        Tensor dx = empty(xShape);
        dev.activate();
        k(CudaKernels.sevc_avgpool3d_backward(dy.address(), dx.address(), dw.nativeParams(xShape, xShape.get(1)), st()),
                "avg-pool backward");
        return dx;
    }

    @Override
    public synchronized Tensor globalAvgPool(Tensor x) {
        if (x != null && x.isChannelsLast()) {
            return channelsLastGlobalAvgPool(x);
        }
        c.globalPool(x);
        Tensor y = empty(Shape.of(x.dim(0), x.dim(1)));
        dev.activate();
        if (OpChecks.isHalf(x.dtype())) {
            // 16-bit in, fp32 out: the classifier head runs in fp32
            k(CudaKernels.sevc_half_global_avgpool_forward(x.address(), y.address(), x.dim(0), x.dim(1),
                    x.shape().sizeFrom(2), CudnnTypes.kernelCode(x.dtype()), st()), "16-bit global avg-pool");
            return y;
        }
        k(CudaKernels.sevc_global_avgpool_forward(x.address(), y.address(), x.dim(0), x.dim(1), x.shape().sizeFrom(2),
                st()), "global avg-pool");
        return y;
    }

    @Override
    public synchronized Tensor globalAvgPoolBackward(Tensor dy, Shape xShape) {
        c.globalPoolBackward(dy, xShape);
        Tensor dx = empty(xShape);
        dev.activate();
        k(CudaKernels.sevc_global_avgpool_backward(dy.address(), dx.address(), xShape.get(0), xShape.get(1),
                xShape.sizeFrom(2), st()), "global avg-pool backward");
        return dx;
    }

    @Override
    public synchronized Tensor globalAvgPoolBackward(Tensor dy, Shape xShape, DType dxType, MemoryFormat format) {
        if (format != MemoryFormat.CHANNELS_LAST || xShape == null || MemoryFormat.isLayoutInvariant(xShape)) {
            return Backend.super.globalAvgPoolBackward(dy, xShape, dxType, MemoryFormat.CONTIGUOUS);
        }
        c.globalPoolBackward(dy, xShape);
        DType dt = OpChecks.storageType(dxType, "global avg-pool input type");
        if (xShape.rank() != 5) {
            throw new IllegalArgumentException("a channels-last global avg-pool input is 5-d, got " + xShape);
        }
        Tensor dx = empty(xShape, dt, MemoryFormat.CHANNELS_LAST);
        return launched(dx, () -> CudaKernels.sevc_global_avgpool_ndhwc_backward(dy.address(), dx.address(),
                xShape.get(0), xShape.get(1), xShape.sizeFrom(2), CudnnTypes.kernelCode(dt), st()),
                "channels-last global avg-pool backward");
    }

    // ---- dense (cuBLAS) ----

    /** Row-major C[m,n] = alpha op(A) op(B) + beta C, as the column-major C^T = op(B)^T op(A)^T. */
    private void sgemm(boolean transA, boolean transB, long m, long n, long k, float alpha, long a, long lda, long b,
            long ldb, float beta, long cc, long ldc) {
        for (long v : new long[] {m, n, k, lda, ldb, ldc}) {
            Checks.intRange(v, "gemm dimension");
        }
        try (FloatPointer al = new FloatPointer(alpha); FloatPointer be = new FloatPointer(beta)) {
            Cuda.checkCublas(cublas.cublasSgemm_v2(dev.cublas(), transB ? cublas.CUBLAS_OP_T : cublas.CUBLAS_OP_N,
                    transA ? cublas.CUBLAS_OP_T : cublas.CUBLAS_OP_N, (int) n, (int) m, (int) k, al, Cuda.fptr(b),
                    (int) ldb, Cuda.fptr(a), (int) lda, be, Cuda.fptr(cc), (int) ldc), "cublasSgemm");
        }
    }

    @Override
    public synchronized Tensor linear(Tensor x, Tensor w, Tensor bias) {
        c.linear(x, w, bias);
        long n = x.dim(0), out = w.dim(0), in = w.dim(1);
        Tensor y = empty(Shape.of(n, out));
        dev.activate();
        sgemm(false, true, n, out, in, 1f, x.address(), in, w.address(), in, 0f, y.address(), out);
        if (bias != null) {
            k(CudaKernels.sevc_bias_relu(y.address(), bias.address(), n, out, 1, 0, st()), "linear bias");
        }
        return y;
    }

    @Override
    public synchronized Tensor[] linearBackward(Tensor x, Tensor w, Tensor dy, boolean hasBias) {
        c.linearBackward(x, w, dy);
        long n = x.dim(0), out = w.dim(0), in = w.dim(1);
        Tensor dx = empty(x.shape());
        Tensor dw = empty(w.shape());
        dev.activate();
        sgemm(false, false, n, in, out, 1f, dy.address(), out, w.address(), in, 0f, dx.address(), in);
        sgemm(true, false, out, in, n, 1f, dy.address(), out, x.address(), in, 0f, dw.address(), in);
        Tensor db = null;
        if (hasBias) {
            db = empty(Shape.of(out));
            try (Tensor ones = empty(Shape.of(1, n))) {
                k(CudaKernels.sevc_fill(ones.address(), 1f, n, st()), "fill");
                // [1, N] x [N, out]: the column sums of dy
                sgemm(false, false, 1, out, n, 1f, ones.address(), n, dy.address(), out, 0f, db.address(), out);
            }
        }
        return new Tensor[] {dx, dw, db};
    }

    @Override
    public synchronized void gemm(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor cc) {
        long[] mnk = c.gemm(transA, transB, a, b, cc);
        dev.activate();
        sgemm(transA, transB, mnk[0], mnk[1], mnk[2], alpha, a.address(), a.dim(1), b.address(), b.dim(1), beta,
                cc.address(), mnk[1]);
    }

    // ---- losses ----

    /** Labels checked on the host and placed on this device (uploaded when given on the host). */
    private Tensor deviceLabels(Tensor logits, Tensor labels) {
        c.f32(logits, "logits");
        Checks.rank(logits, "logits", 2);
        if (labels == null || labels.isClosed()) {
            throw new IllegalArgumentException("labels is " + (labels == null ? "null" : "closed"));
        }
        if (!labels.device().isCpu() && !labels.device().equals(device())) {
            throw new IllegalArgumentException("labels is on " + labels.device() + " but this backend runs on " + device());
        }
        // labels already on the device are read back for the range check, except inside a CUDA graph capture (no
        // device-to-host copy may be recorded; GraphedTrainStep checks them on the host before copying them in)
        boolean readBack = labels.device().isCpu() || !dev.allocator().capturingOnThisThread();
        long[] host = readBack && labels.rank() == 1 && labels.dtype() == DType.INT64 ? labels.toLongArray()
                : new long[0];
        c.labels(logits, labels, host);
        return labels.device().isCpu() ? upload(labels) : labels.reshape(labels.shape());
    }

    private Tensor deviceTargets(Tensor logits, Tensor targets) {
        if (targets != null && !targets.isClosed() && targets.device().isCpu()) {
            Checks.tensor(targets, "targets", Device.CPU, DType.FLOAT32);
            try (Tensor t = upload(targets)) {
                c.targets(logits, t);
                return t.reshape(t.shape());
            }
        }
        c.targets(logits, targets);
        return targets.reshape(targets.shape());
    }

    private Tensor upload(Tensor host) {
        Tensor d = empty(host.shape(), host.dtype());
        d.copyFrom(host);
        return d;
    }

    @Override
    public synchronized Tensor[] softmaxCrossEntropy(Tensor logits, Tensor labels) {
        try (Tensor l = deviceLabels(logits, labels)) {
            Tensor probs = empty(logits.shape());
            Tensor loss = empty(Shape.of(1));
            dev.activate();
            k(CudaKernels.sevc_softmax_xent_forward(logits.address(), l.address(), probs.address(), loss.address(),
                    logits.dim(0), logits.dim(1), st()), "softmax cross-entropy");
            return new Tensor[] {loss, probs};
        }
    }

    @Override
    public synchronized Tensor softmaxCrossEntropyBackward(Tensor probs, Tensor labels, float scale) {
        try (Tensor l = deviceLabels(probs, labels)) {
            Tensor d = empty(probs.shape());
            dev.activate();
            k(CudaKernels.sevc_softmax_xent_backward(probs.address(), l.address(), d.address(), scale, probs.dim(0),
                    probs.dim(1), st()), "softmax cross-entropy backward");
            return d;
        }
    }

    @Override
    public synchronized Tensor softmaxCrossEntropyBackward(Tensor probs, Tensor labels, Tensor dy) {
        if (!deviceScalar(dy)) {
            return Backend.super.softmaxCrossEntropyBackward(probs, labels, dy);
        }
        Tensor d = softmaxCrossEntropyBackward(probs, labels, 1f);
        return scaledByDeviceScalar(d, dy);
    }

    @Override
    public synchronized Tensor bceWithLogitsBackward(Tensor logits, Tensor targets, Tensor dy) {
        if (!deviceScalar(dy)) {
            return Backend.super.bceWithLogitsBackward(logits, targets, dy);
        }
        Tensor d = bceWithLogitsBackward(logits, targets, 1f);
        return scaledByDeviceScalar(d, dy);
    }

    private boolean deviceScalar(Tensor t) {
        return t != null && !t.isClosed() && t.device().equals(device()) && t.dtype() == DType.FLOAT32 && t.size() == 1;
    }

    /**
     * {@code y *= alpha[0]} with alpha read on the device (cuBLAS in device pointer mode): no host synchronisation.
     */
    private Tensor scaledByDeviceScalar(Tensor y, Tensor alpha) {
        try {
            if (y.size() > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("scaling " + y.size() + " elements at once");
            }
            dev.activate();
            Cuda.checkCublas(cublas.cublasSetPointerMode_v2(dev.cublas(), cublas.CUBLAS_POINTER_MODE_DEVICE),
                    "cublasSetPointerMode");
            try {
                Cuda.checkCublas(cublas.cublasSscal_v2(dev.cublas(), (int) y.size(), Cuda.fptr(alpha.address()),
                        Cuda.fptr(y.address()), 1), "cublasSscal (loss gradient scale)");
            } finally {
                cublas.cublasSetPointerMode_v2(dev.cublas(), cublas.CUBLAS_POINTER_MODE_HOST);
            }
            return y;
        } catch (RuntimeException | Error e) {
            y.close();
            throw e;
        }
    }

    @Override
    public synchronized Tensor bceWithLogits(Tensor logits, Tensor targets) {
        try (Tensor t = deviceTargets(logits, targets)) {
            Tensor loss = empty(Shape.of(1));
            dev.activate();
            k(CudaKernels.sevc_bce_logits_forward(logits.address(), t.address(), loss.address(), logits.dim(0),
                    logits.dim(1), st()), "BCE with logits");
            return loss;
        }
    }

    @Override
    public synchronized Tensor bceWithLogitsBackward(Tensor logits, Tensor targets, float scale) {
        try (Tensor t = deviceTargets(logits, targets)) {
            Tensor d = empty(logits.shape());
            dev.activate();
            k(CudaKernels.sevc_bce_logits_backward(logits.address(), t.address(), d.address(), scale, logits.dim(0),
                    logits.dim(1), st()), "BCE with logits backward");
            return d;
        }
    }

    @Override
    public synchronized Tensor softmax(Tensor logits) {
        c.softmax(logits);
        Tensor y = empty(logits.shape());
        dev.activate();
        k(CudaKernels.sevc_softmax(logits.address(), y.address(), logits.dim(0), logits.dim(1), st()), "softmax");
        return y;
    }

    // ---- optimizer ----

    @Override
    public synchronized void sgdMomentumStep(Tensor w, Tensor grad, Tensor velocity, float lr, float momentum,
            float weightDecay) {
        ck(w).sgd(w, grad, velocity);
        dev.activate();
        k(CudaKernels.sevc_sgd_momentum_step(w.address(), grad.address(), velocity.address(), w.size(), lr, momentum,
                weightDecay, st()), "sgd step");
    }

    /**
     * Every parameter in one launch ({@code sevc_sgd_momentum_step_multi}) in kernel modes AUTO and CUSTOM (LIBRARY
     * keeps one launch per parameter as the baseline; there is no library SGD). The launch reads a device table of the tensors' addresses and sizes, copied
     * asynchronously from pinned host memory each step into a scratch buffer; the host copy is rewritten
     * (after a synchronisation) only when the set of tensors changes, so a steady training loop adds one
     * small asynchronous copy and no synchronisation.
     */
    @Override
    public synchronized void sgdMomentumStepAll(List<Tensor> w, List<Tensor> grads, List<Tensor> velocities, float lr,
            float momentum, float weightDecay) {
        Checks.sgdLists(w, grads, velocities);
        int n = w.size();
        for (int i = 0; i < n; i++) {
            ck(w.get(i)).sgd(w.get(i), grads.get(i), velocities.get(i));
        }
        if (n == 0) {
            return;
        }
        if (kernelMode == KernelMode.LIBRARY) {
            // LIBRARY keeps the per-parameter kernel as the baseline; AUTO and CUSTOM take the one-launch path
            // since CudaFusedKernelsTest and CudaTrainingStepTest passed on an H200 (2026-11-26)
            for (int i = 0; i < n; i++) {
                sgdMomentumStep(w.get(i), grads.get(i), velocities.get(i), lr, momentum, weightDecay);
            }
            return;
        }
        // [w][g][v][sizes] (n each), then the chunk prefix (n + 1): a block per chunk of MultiTensorChunks.CHUNK
        long[] sizes = new long[n];
        for (int i = 0; i < n; i++) {
            sizes[i] = w.get(i).size();
        }
        long[] prefix = MultiTensorChunks.prefix(sizes, MultiTensorChunks.CHUNK);
        long[] table = new long[5 * n + 1];
        for (int i = 0; i < n; i++) {
            table[i] = w.get(i).address();
            table[n + i] = grads.get(i).address();
            table[2 * n + i] = velocities.get(i).address();
            table[3 * n + i] = sizes[i];
        }
        System.arraycopy(prefix, 0, table, 4 * n, n + 1);
        dev.activate();
        // scratch from the caching allocator, freed once enqueued: the stream orders any reuse after the launch
        try (Tensor t = sgdTable.onDevice(table)) {
            long a = t.address();
            k(CudaKernels.sevc_sgd_momentum_step_multi(a, a + 8L * n, a + 16L * n, a + 24L * n, a + 32L * n, n,
                    prefix[n], MultiTensorChunks.CHUNK, lr, momentum, weightDecay, st()), "sgd step (all parameters)");
        }
    }

    /**
     * A table of int64 (device addresses, element counts) for a multi-tensor launch, staged in pinned host memory
     * and copied to the device asynchronously on the stream at each launch; the host copy is rewritten (after a
     * synchronisation: earlier copies may still read it) only when the table changes, so a steady training loop
     * adds one small asynchronous copy and no synchronisation. Used under the backend's lock.
     */
    private final class PinnedTable {
        private final String what;
        private long[] staged;
        private LongPointer staging;

        PinnedTable(String what) {
            this.what = what;
        }

        /** A device scratch tensor that {@code table} is being copied into on the stream (close it once enqueued). */
        Tensor onDevice(long[] table) {
            if (!Arrays.equals(table, staged)) {
                // earlier launches' copies may still be reading the staging buffer, on any worker's stream: let them
                // finish before rewriting it
                dev.synchronizeAllStreams();
                if (staging == null || staging.capacity() < table.length) {
                    if (staging != null) {
                        cudart.cudaFreeHost(staging);
                    }
                    Pointer p = new Pointer();
                    Cuda.check(cudart.cudaMallocHost(p, 8L * table.length), "cudaMallocHost (" + what + " table)");
                    staging = new LongPointer(p).capacity(table.length);
                }
                staging.put(table, 0, table.length);
                staged = table;
            }
            Tensor t = empty(Shape.of(table.length), DType.INT64);
            try {
                Cuda.check(cudart.cudaMemcpyAsync(Cuda.ptr(t.address()), staging, 8L * table.length,
                        cudart.cudaMemcpyHostToDevice, dev.stream()), "copy " + what + " table host -> device");
            } catch (RuntimeException e) {
                t.close();
                throw e;
            }
            return t;
        }
    }

    // ---- loss scaling (fp16 training) ----

    /** (addresses, sizes) of the tensors: the table of sevc_all_finite_multi / sevc_scale_multi. */
    /** [addresses][sizes] (n each), then the chunk prefix (n + 1) of a multi-tensor launch ({@link MultiTensorChunks}). */
    private static long[] ampTableOf(List<Tensor> tensors) {
        int n = tensors.size();
        long[] sizes = new long[n];
        for (int i = 0; i < n; i++) {
            sizes[i] = tensors.get(i).size();
        }
        long[] table = new long[3 * n + 1];
        for (int i = 0; i < n; i++) {
            table[i] = tensors.get(i).address();
            table[n + i] = sizes[i];
        }
        System.arraycopy(MultiTensorChunks.prefix(sizes, MultiTensorChunks.CHUNK), 0, table, 2 * n, n + 1);
        return table;
    }

    /**
     * In kernel modes AUTO and CUSTOM: every tensor in one launch ({@code sevc_all_finite_multi}, the table staged
     * as the SGD's) and one copy of the device flag to the host, the only synchronisation (its GPU test passed on
     * an H200, 2026-11-26). LIBRARY keeps {@link Backend}'s per-tensor sum as the baseline, as
     * {@link #sgdMomentumStepAll} keeps its per-parameter kernel.
     */
    @Override
    public synchronized boolean allFinite(List<Tensor> tensors) {
        Checks.floatList(tensors, "allFinite", device());
        int n = tensors.size();
        if (n == 0) {
            return true;
        }
        if (kernelMode == KernelMode.LIBRARY) {
            return Backend.super.allFinite(tensors);
        }
        dev.activate();
        // the flag: one int in a 4-byte scratch (there is no int32 dtype), cleared on the stream by the call
        long[] table = ampTableOf(tensors);
        try (Tensor t = ampTable.onDevice(table); Tensor flag = empty(Shape.of(1), DType.FLOAT32);
                org.bytedeco.javacpp.IntPointer h = new org.bytedeco.javacpp.IntPointer(1)) {
            long a = t.address();
            k(CudaKernels.sevc_all_finite_multi(a, a + 8L * n, a + 16L * n, n, table[3 * n], MultiTensorChunks.CHUNK,
                    flag.address(), st()), "allFinite (all tensors)");
            flag.storage().copyToHost(0, h.address(), 4); // stream-ordered, then synchronises
            return h.get() == 0;
        }
    }

    /**
     * In kernel modes AUTO and CUSTOM: every tensor scaled in one launch ({@code sevc_scale_multi}), asynchronous;
     * LIBRARY keeps the per-tensor {@code axpby} (see {@link #allFinite}).
     */
    @Override
    public synchronized void scaleAll(List<Tensor> tensors, float alpha) {
        Checks.floatList(tensors, "scaleAll", device());
        Checks.disjoint(tensors, "scaleAll");
        int n = tensors.size();
        if (n == 0) {
            return;
        }
        if (kernelMode == KernelMode.LIBRARY) {
            Backend.super.scaleAll(tensors, alpha);
            return;
        }
        dev.activate();
        long[] table = ampTableOf(tensors);
        try (Tensor t = ampTable.onDevice(table)) {
            long a = t.address();
            k(CudaKernels.sevc_scale_multi(a, a + 8L * n, a + 16L * n, n, table[3 * n], MultiTensorChunks.CHUNK, alpha,
                    st()), "scaleAll (all tensors)");
        }
    }

    /**
     * In kernel modes AUTO and CUSTOM: a launch per 64 pairs ({@code sevc_axpby_list}, the list in the kernel's
     * parameters: nothing staged, no synchronisation, a CUDA graph captures it by value) — a backward's ~160 gradient
     * accumulations in three launches; LIBRARY keeps the per-tensor {@code axpby} (see {@link #allFinite}).
     */
    @Override
    public boolean batchesLeafGradients() {
        return kernelMode != KernelMode.LIBRARY;
    }

    @Override
    public synchronized void axpbyAll(float alpha, List<Tensor> xs, float beta, List<Tensor> ys) {
        Checks.axpbyLists(xs, ys, "axpbyAll", device());
        int n = xs.size();
        if (n == 0) {
            return;
        }
        if (kernelMode == KernelMode.LIBRARY) {
            Backend.super.axpbyAll(alpha, xs, beta, ys);
            return;
        }
        long[] xp = new long[n];
        long[] yp = new long[n];
        long[] sizes = new long[n];
        for (int i = 0; i < n; i++) {
            xp[i] = xs.get(i).address();
            yp[i] = ys.get(i).address();
            sizes[i] = xs.get(i).size();
        }
        dev.activate();
        k(CudaKernels.sevc_axpby_list(alpha, xp, beta, yp, sizes, n, st()), "axpby (all tensors)");
    }

    // ---- reductions / transfer ----

    @Override
    public synchronized double sum(Tensor x) {
        ck(x).f32(x, "x");
        try (Tensor out = empty(Shape.of(1), DType.INT64)) { // 8 bytes for the double
            dev.activate();
            k(CudaKernels.sevc_sum(x.address(), x.size(), out.address(), st()), "sum");
            double[] r = new double[1];
            try (org.bytedeco.javacpp.DoublePointer h = new org.bytedeco.javacpp.DoublePointer(1)) {
                out.storage().copyToHost(0, h.address(), 8);
                r[0] = h.get();
            }
            return r[0];
        }
    }

    @Override
    public synchronized Tensor toDevice(Tensor t) {
        if (t == null || t.isClosed()) {
            throw new IllegalArgumentException("toDevice of a " + (t == null ? "null" : "closed") + " tensor");
        }
        Tensor d = empty(t.shape(), t.dtype(), t.memoryFormat());
        if (t.device().equals(device())) {
            dev.activate();
            Cuda.check(cudart.cudaMemcpyAsync(Cuda.ptr(d.address()), Cuda.ptr(t.address()), t.byteSize(),
                    cudart.cudaMemcpyDeviceToDevice, dev.stream()), "copy device -> device");
        } else {
            d.copyFrom(t);
        }
        return d;
    }

    /**
     * Copies {@code src} (on the host or this device) into {@code dst} (this device), same shape and dtype; a
     * device source is an asynchronous copy on the stream (what refills a CUDA graph's static input).
     */
    public synchronized void copyInto(Tensor src, Tensor dst) {
        if (src == null || src.isClosed() || dst == null || dst.isClosed()) {
            throw new IllegalArgumentException("copyInto of a null or closed tensor");
        }
        if (!dst.device().equals(device())) {
            throw new IllegalArgumentException("copyInto: the destination is on " + dst.device() + ", not " + device());
        }
        if (!src.shape().equals(dst.shape()) || src.dtype() != dst.dtype()) {
            throw new IllegalArgumentException("copyInto: " + src.dtype() + " " + src.shape() + " into " + dst.dtype()
                    + " " + dst.shape());
        }
        if (src.device().equals(device())) {
            Checks.sameFormat(src, "src", dst, "dst");
        }
        if (src.device().equals(device())) {
            dev.activate();
            Cuda.check(cudart.cudaMemcpyAsync(Cuda.ptr(dst.address()), Cuda.ptr(src.address()), src.byteSize(),
                    cudart.cudaMemcpyDeviceToDevice, dev.stream()), "copy device -> device");
        } else if (src.device().isCpu()) {
            dst.copyFrom(src);
        } else {
            throw new IllegalArgumentException("copyInto: the source is on " + src.device());
        }
    }

    @Override
    public synchronized Tensor toHost(Tensor t) {
        if (t == null || t.isClosed()) {
            throw new IllegalArgumentException("toHost of a " + (t == null ? "null" : "closed") + " tensor");
        }
        return t.toHostCopy();
    }

    @Override
    public synchronized Tensor cast(Tensor x, DType dtype) {
        DType from = ck(x).cast(x, dtype);
        if (from == dtype) {
            return toDevice(x);
        }
        Tensor y = like(x, dtype);
        dev.activate();
        try {
            castInto(x, y);
        } catch (RuntimeException e) {
            y.close();
            throw e;
        }
        return y;
    }

    /** Allocates an uninitialised tensor on this device (for callers that fill it themselves). */
    public synchronized Tensor allocate(Shape shape, DType dtype) {
        return empty(shape, dtype);
    }
}
