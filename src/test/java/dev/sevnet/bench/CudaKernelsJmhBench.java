package dev.sevnet.bench;

import dev.sevnet.backend.Backend;
import dev.sevnet.backend.Backends;
import dev.sevnet.backend.ConvSpec;
import dev.sevnet.backend.cuda.CudaBackend;
import dev.sevnet.backend.cuda.CudaDevice;
import dev.sevnet.backend.cuda.CudaRuntime;
import dev.sevnet.tensor.MemoryFormat;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.runner.RunnerException;

/**
 * The CUDA kernels against the library sequences they replace, as a JMH suite: each op of a SEVNet-G8 block at each
 * stage's shape (batch 8, 16 frames by default), through {@code CudaBackend} in kernel mode {@code custom} (sevnet's
 * kernels: the temporal 3x1x1 conv, batch norm, the fused conv → BN → ReLU of kernels/conv_bn_relu.cu, and on
 * channels-last tensors ({@code grouped-cl-*}) the grouped conv of kernels/grouped_conv_ndhwc.cu against cuDNN's NDHWC one,
 * and ({@code temporal-cl-*}) the temporal conv on tensor cores of kernels/temporal_conv_ndhwc_tc.cu — the folded form
 * with bias + residual + ReLU in its store — against cuDNN's NDHWC conv and epilogue kernel), and the channels-last
 * glue every mode runs on sevnet's kernels ({@code cl-*}: the clip's NCDHW -> NDHWC reorder at the stage's 4x input
 * side, the shortcut's 1x3x3/(1,2,2) average pool and its backward, BN + ReLU training forward and backward),
 * {@code library} (the cuDNN sequence) or {@code auto} (what the backend picks, measured per problem). The primary
 * figure is JMH's wall time per op, the op's work waited for (so it holds the launches' host cost); the secondary
 * {@code deviceMsPerOp} is the device time between CUDA events around the op on the backend's stream. With
 * {@code -p device=cpu} the same ops run on the CPU backend (the references the GPU path is tested against;
 * {@code kernels} does not apply there), so the suite runs everywhere. The Markdown tables of the same comparisons
 * are {@link CudaKernelsBench}'s.
 *
 * <pre>java -cp CLASSPATH dev.sevnet.bench.CudaKernelsJmhBench -p op=grouped-folded,temporal-fwd -p stage=64x56
 *     -p kernels=custom,library        (JMH options pass through; on the CPU: -p device=cpu -p batch=1 -p frames=4)</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(1)
public class CudaKernelsJmhBench {
    /** The ops; stride 1 (the stride-2 grouped conv is CudaKernelsBench's {@code fused} section). */
    static final String[] OPS = {"temporal-fwd", "temporal-bwd-data", "temporal-bwd-weight", "bn-train", "bn-backward",
        "bn-eval-relu", "pointwise-bn-relu-train", "pointwise-folded", "grouped-bn-relu-train", "grouped-folded",
        "grouped-bwd-data", "grouped-bwd-weight", "bn-relu-bwd", "bn-add-relu-fwd", "bn-add-relu-bwd", "grouped-cl-folded",
        "grouped-cl-bwd-data", "grouped-cl-bwd-weight", "temporal-cl-folded", "temporal-cl-bwd-data",
        "temporal-cl-bwd-weight", "cl-reorder-clip", "cl-pool", "cl-pool-bwd", "cl-bn-relu-train", "cl-bn-relu-bwd",
        "cl-bn-relu-bwd-x", "leaf-grads"};

    @Param({"temporal-fwd", "temporal-bwd-data", "temporal-bwd-weight", "bn-train", "bn-backward", "bn-eval-relu",
        "pointwise-bn-relu-train", "pointwise-folded", "grouped-bn-relu-train", "grouped-folded", "grouped-bwd-data",
        "grouped-bwd-weight", "bn-relu-bwd", "bn-add-relu-fwd", "bn-add-relu-bwd", "grouped-cl-folded",
        "grouped-cl-bwd-data", "grouped-cl-bwd-weight", "temporal-cl-folded", "temporal-cl-bwd-data",
        "temporal-cl-bwd-weight", "cl-reorder-clip", "cl-pool", "cl-pool-bwd", "cl-bn-relu-train", "cl-bn-relu-bwd",
        "cl-bn-relu-bwd-x", "leaf-grads"})
    public String op;

    /** A G8 stage: its width x its frame side. */
    @Param({"64x56", "128x28", "256x14", "512x7"})
    public String stage;

    @Param({"custom", "library", "auto"})
    public String kernels;

    @Param("cuda")
    public String device;

    @Param("8")
    public int batch;

    @Param("16")
    public int frames;

    /** The G8 grouped conv's channels per group. */
    static final int GROUP_WIDTH = 8;

    private Backend backend;
    private CudaBackend gpu;
    private CudaBackend.KernelMode previousMode;
    private CudaDevice.EventTimer timer;
    private final List<Tensor> owned = new ArrayList<>();
    private Runnable body;

    /**
     * Device time beside JMH's wall time: CUDA events around each op on a GPU, the op's wall time on the CPU (its ops
     * are synchronous). JMH sums event counters over the measured iterations, so the two are totals: {@code deviceMs
     * / ops} is the device time per op, which {@link #main} prints in its table.
     */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class DeviceTime {
        public double deviceMs;
        public long ops;

        @Setup(Level.Iteration)
        public void reset() {
            deviceMs = 0;
            ops = 0;
        }

        void add(double ms) {
            deviceMs += ms;
            ops++;
        }
    }

    @Setup(Level.Trial)
    public void setUp() {
        if (device.equals("cuda")) {
            CudaRuntime.Status s = CudaRuntime.status();
            if (!s.usable() || !s.customKernels()) {
                throw new IllegalStateException("no usable GPU (" + s.reason() + "): run with -p device=cpu for the CPU "
                        + "references");
            }
            gpu = CudaBackend.get(0);
            previousMode = gpu.kernelMode();
            gpu.setKernelMode(CudaBackend.KernelMode.parse(kernels));
            backend = gpu;
            timer = gpu.cudaDevice().newEventTimer();
        } else if (device.equals("cpu")) {
            backend = Backends.cpu();
        } else {
            throw new IllegalArgumentException("device must be cuda or cpu, got " + device);
        }
        try {
            body = body(op, stage);
            body.run(); // the first call measures the routes and searches cuDNN's algorithms: not part of any iteration
            if (gpu != null) {
                gpu.cudaDevice().synchronize();
            }
        } catch (RuntimeException | Error e) {
            tearDown(); // JMH does not tear down a trial whose set-up failed
            throw e;
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        owned.forEach(Tensor::close);
        owned.clear();
        if (timer != null) {
            timer.close();
            timer = null;
        }
        if (gpu != null) {
            gpu.setKernelMode(previousMode);
        }
    }

    @Benchmark
    public void run(DeviceTime t) {
        if (timer != null) {
            timer.start();
            body.run();
            t.add(timer.stopMillis());
        } else {
            long t0 = System.nanoTime();
            body.run();
            t.add((System.nanoTime() - t0) / 1e6);
        }
    }

    /** The op at the stage's shape, its inputs made once (owned by this trial), its outputs closed per call. */
    Runnable body(String name, String stageName) {
        String[] cs = stageName.split("x");
        if (cs.length != 2) {
            throw new IllegalArgumentException("stage must be CxHW like 64x56, got " + stageName);
        }
        int c = Integer.parseInt(cs[0]);
        int hw = Integer.parseInt(cs[1]);
        if (c % GROUP_WIDTH != 0) {
            throw new IllegalArgumentException("stage width must be a multiple of " + GROUP_WIDTH + ", got " + c);
        }
        Shape xs = Shape.of(batch, c, frames, hw, hw);
        Random r = new Random(7);
        Tensor x = rand(r, xs);
        Tensor dy = rand(r, xs);
        Tensor gamma = rand(r, Shape.of(c));
        Tensor beta = rand(r, Shape.of(c));
        Tensor bias = rand(r, Shape.of(c));
        Tensor rm = rand(r, Shape.of(c));
        Tensor rv = put(Tensor.full(Shape.of(c), 1f));
        Tensor mean = put(Tensor.zeros(Shape.of(c)));
        Tensor invstd = put(Tensor.full(Shape.of(c), 1f));
        ConvSpec temporal = ConvSpec.builder().kernel(3, 1, 1).padding(1, 0, 0).build();
        ConvSpec pointwise = ConvSpec.of(1);
        ConvSpec grouped = ConvSpec.builder().kernel(1, 3, 3).padding(0, 1, 1).groups(c / GROUP_WIDTH).build();
        Backend be = backend;
        switch (name) {
            case "temporal-fwd": {
                Tensor w = rand(r, Shape.of(c, c, 3, 1, 1));
                return () -> be.conv3d(x, w, null, temporal, false).close();
            }
            case "temporal-bwd-data": {
                Tensor w = rand(r, Shape.of(c, c, 3, 1, 1));
                return () -> be.conv3dBackwardData(dy, w, temporal, xs).close();
            }
            case "temporal-bwd-weight":
                return () -> be.conv3dBackwardWeight(x, dy, temporal, Shape.of(c, c, 3, 1, 1)).close();
            case "bn-train":
                return () -> {
                    Backend.BatchNormResult res = be.batchNormTrain(x, gamma, beta, rm, rv, 1e-5, 0.1);
                    closeAll(res.y(), res.saveMean(), res.saveInvstd());
                };
            case "bn-backward":
                return () -> closeAll(be.batchNormBackward(x, dy, gamma, mean, invstd));
            case "bn-eval-relu":
                return () -> be.batchNormEval(x, gamma, beta, rm, rv, 1e-5, true).close();
            case "pointwise-bn-relu-train": {
                Tensor w = rand(r, Shape.of(c, c, 1, 1, 1));
                return () -> closeAll(be.convBatchNormTrain(x, w, pointwise, gamma, beta, rm, rv, 1e-5, 0.1, true));
            }
            case "pointwise-folded": {
                Tensor w = rand(r, Shape.of(c, c, 1, 1, 1));
                return () -> be.conv3d(x, w, bias, pointwise, true).close();
            }
            case "grouped-bn-relu-train": {
                Tensor w = rand(r, Shape.of(c, GROUP_WIDTH, 1, 3, 3));
                return () -> closeAll(be.convBatchNormTrain(x, w, grouped, gamma, beta, rm, rv, 1e-5, 0.1, true));
            }
            case "grouped-folded": {
                Tensor w = rand(r, Shape.of(c, GROUP_WIDTH, 1, 3, 3));
                return () -> be.conv3d(x, w, bias, grouped, true).close();
            }
            case "grouped-bwd-data": {
                Tensor w = rand(r, Shape.of(c, GROUP_WIDTH, 1, 3, 3));
                return () -> be.conv3dBackwardData(dy, w, grouped, xs).close();
            }
            case "grouped-bwd-weight":
                return () -> be.conv3dBackwardWeight(x, dy, grouped, Shape.of(c, GROUP_WIDTH, 1, 3, 3)).close();
            case "bn-relu-bwd": {
                Tensor y = own(be.relu(x));
                return () -> closeAll(be.batchNormActBackward(x, y, dy, gamma, mean, invstd, true, false));
            }
            case "bn-add-relu-fwd":
                return () -> {
                    Backend.BatchNormResult res = be.batchNormTrainAct(x, dy, gamma, beta, rm, rv, 1e-5, 0.1, true);
                    closeAll(res.y(), res.saveMean(), res.saveInvstd());
                };
            case "bn-add-relu-bwd": {
                Tensor y = own(be.relu(x));
                return () -> closeAll(be.batchNormActBackward(x, y, dy, gamma, mean, invstd, true, true));
            }
            case "grouped-cl-folded": {
                Tensor xc = own(be.toMemoryFormat(x, MemoryFormat.CHANNELS_LAST));
                Tensor w = own(be.toMemoryFormat(rand(r, Shape.of(c, GROUP_WIDTH, 1, 3, 3)), MemoryFormat.CHANNELS_LAST));
                return () -> be.conv3d(xc, w, bias, grouped, true).close();
            }
            case "grouped-cl-bwd-data": {
                Tensor dyc = own(be.toMemoryFormat(dy, MemoryFormat.CHANNELS_LAST));
                Tensor w = own(be.toMemoryFormat(rand(r, Shape.of(c, GROUP_WIDTH, 1, 3, 3)), MemoryFormat.CHANNELS_LAST));
                return () -> be.conv3dBackwardData(dyc, w, grouped, xs).close();
            }
            case "grouped-cl-bwd-weight": {
                Tensor xc = own(be.toMemoryFormat(x, MemoryFormat.CHANNELS_LAST));
                Tensor dyc = own(be.toMemoryFormat(dy, MemoryFormat.CHANNELS_LAST));
                return () -> be.conv3dBackwardWeight(xc, dyc, grouped, Shape.of(c, GROUP_WIDTH, 1, 3, 3)).close();
            }
            case "temporal-cl-folded": {
                Tensor xc = own(be.toMemoryFormat(x, MemoryFormat.CHANNELS_LAST));
                Tensor res = own(be.toMemoryFormat(dy, MemoryFormat.CHANNELS_LAST));
                Tensor w = own(be.toMemoryFormat(rand(r, Shape.of(c, c, 3, 1, 1)), MemoryFormat.CHANNELS_LAST));
                return () -> be.conv3dResidual(xc, w, bias, temporal, res, true).close();
            }
            case "temporal-cl-bwd-data": {
                Tensor dyc = own(be.toMemoryFormat(dy, MemoryFormat.CHANNELS_LAST));
                Tensor w = own(be.toMemoryFormat(rand(r, Shape.of(c, c, 3, 1, 1)), MemoryFormat.CHANNELS_LAST));
                return () -> be.conv3dBackwardData(dyc, w, temporal, xs).close();
            }
            case "temporal-cl-bwd-weight": {
                Tensor xc = own(be.toMemoryFormat(x, MemoryFormat.CHANNELS_LAST));
                Tensor dyc = own(be.toMemoryFormat(dy, MemoryFormat.CHANNELS_LAST));
                return () -> be.conv3dBackwardWeight(xc, dyc, temporal, Shape.of(c, c, 3, 1, 1)).close();
            }
            case "cl-reorder-clip": {
                // the clip as the model gets it: 3 channels at four times the stage's side (64x56: 16x224x224)
                Tensor clip = rand(r, Shape.of(batch, 3, frames, 4L * hw, 4L * hw));
                return () -> be.toMemoryFormat(clip, MemoryFormat.CHANNELS_LAST).close();
            }
            case "cl-pool": {
                Tensor xc = own(be.toMemoryFormat(x, MemoryFormat.CHANNELS_LAST));
                return () -> be.avgPool3d(xc, SHORTCUT_POOL).close();
            }
            case "cl-pool-bwd": {
                Shape ys = SHORTCUT_POOL.outputShape(xs, c);
                Tensor dyc = own(be.toMemoryFormat(rand(r, ys), MemoryFormat.CHANNELS_LAST));
                return () -> be.avgPool3dBackward(dyc, SHORTCUT_POOL, xs).close();
            }
            case "cl-bn-relu-train": {
                Tensor xc = own(be.toMemoryFormat(x, MemoryFormat.CHANNELS_LAST));
                return () -> {
                    Backend.BatchNormResult res = be.batchNormTrainAct(xc, null, gamma, beta, rm, rv, 1e-5, 0.1, true);
                    closeAll(res.y(), res.saveMean(), res.saveInvstd());
                };
            }
            case "cl-bn-relu-bwd": {
                Tensor xc = own(be.toMemoryFormat(x, MemoryFormat.CHANNELS_LAST));
                Tensor yc = own(be.relu(xc));
                Tensor dyc = own(be.toMemoryFormat(dy, MemoryFormat.CHANNELS_LAST));
                return () -> closeAll(be.batchNormActBackward(xc, yc, dyc, gamma, mean, invstd, true, false));
            }
            case "cl-bn-relu-bwd-x": {
                // the same backward with the ReLU's mask recomputed from x (y not read; route bn-mask-x)
                Tensor xc = own(be.toMemoryFormat(x, MemoryFormat.CHANNELS_LAST));
                Tensor yc = own(be.relu(xc));
                Tensor dyc = own(be.toMemoryFormat(dy, MemoryFormat.CHANNELS_LAST));
                return () -> closeAll(be.batchNormReluBackward(xc, yc, dyc, gamma, beta, mean, invstd));
            }
            case "leaf-grads": {
                // a backward's end: every SEVNet-G8 parameter's gradient added into its leaf (the stage is ignored) —
                // custom/auto one launch per 64 tensors (axpby_list), library one axpby each
                List<Tensor> gs = new ArrayList<>();
                List<Tensor> acc = new ArrayList<>();
                for (Shape ps : g8ParameterShapes()) {
                    gs.add(rand(r, ps));
                    acc.add(rand(r, ps));
                }
                return () -> be.axpbyAll(1f, gs, 1f, acc);
            }
            default:
                throw new IllegalArgumentException("unknown op " + name + "; one of " + String.join(", ", OPS));
        }
    }

    private static List<Shape> g8Shapes;

    /** The parameters of SEVNet-G8 (174 classes), in the model's order. */
    static synchronized List<Shape> g8ParameterShapes() {
        if (g8Shapes == null) {
            List<Shape> shapes = new ArrayList<>();
            try (dev.sevnet.nn.SevNet net = dev.sevnet.nn.SevNet.create(dev.sevnet.nn.SevNetConfig.parse("sevnet-g8",
                    174), 0)) {
                net.namedParameters().values().forEach(v -> shapes.add(v.shape()));
            }
            g8Shapes = List.copyOf(shapes);
        }
        return g8Shapes;
    }

    /** The downsampling block's shortcut pool: 1x3x3, stride (1,2,2), padding (0,1,1). */
    static final ConvSpec SHORTCUT_POOL = ConvSpec.builder().kernel(1, 3, 3).stride(1, 2, 2).padding(0, 1, 1).build();

    private Tensor rand(Random r, Shape s) {
        float[] a = new float[Math.toIntExact(s.size())];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return put(Tensor.of(a, s));
    }

    /** A host tensor on the benchmark's device, owned by the trial. */
    private Tensor put(Tensor host) {
        if (gpu == null) {
            return own(host);
        }
        try (host) {
            return own(gpu.toDevice(host));
        }
    }

    private Tensor own(Tensor t) {
        owned.add(t);
        return t;
    }

    private static void closeAll(Backend.ConvBatchNormResult r) {
        closeAll(r.z(), r.y(), r.saveMean(), r.saveInvstd());
    }

    private static void closeAll(Tensor... ts) {
        for (Tensor t : ts) {
            if (t != null) {
                t.close();
            }
        }
    }

    public static void main(String[] args) throws RunnerException {
        java.util.Collection<org.openjdk.jmh.results.RunResult> results = JmhMain.run(CudaKernelsJmhBench.class, args);
        List<Row> rows = new ArrayList<>();
        boolean cuda = false;
        for (org.openjdk.jmh.results.RunResult rr : results) {
            Row row = Row.of(rr);
            cuda |= row.device().equals("cuda");
            rows.add(row);
        }
        System.out.print(table(rows, cuda ? gpuPeaks() : cpuPeaks()));
    }

    /** The GPU's ceilings for an fp32 op (TF32 tensor cores where the backend allows TF32, as it does by default). */
    private static Peaks gpuPeaks() {
        CudaBackend g = CudaBackend.get(0);
        dev.sevnet.backend.cuda.DevicePeaks p = g.cudaDevice().peaks();
        return new Peaks(p.memoryGBs(), p.fp32OpTflops(g.allowTf32()), p.arch() + (g.allowTf32() ? ", TF32" : ", fp32"));
    }

    /**
     * The CPU's ceilings, when given ({@code -Dsevnet.peak.gbs=…}, {@code -Dsevnet.peak.tflops=…}: the machine's
     * measured STREAM bandwidth and cores × clock × FMA width × 2); otherwise unknown and the fractions are left out.
     */
    private static Peaks cpuPeaks() {
        return new Peaks(Double.parseDouble(System.getProperty("sevnet.peak.gbs", "NaN")),
                Double.parseDouble(System.getProperty("sevnet.peak.tflops", "NaN")), "cpu");
    }

    /** Bandwidth (GB/s) and arithmetic (TFLOP/s) ceilings the table divides by; NaN: unknown. */
    record Peaks(double gbs, double tflops, String what) {
    }

    /**
     * The least work an op must do at a stage: bytes (each input read once, each output written once, fp32) and
     * operations (2 per multiply-add; 0 for the memory-bound ops, whose few operations per element say nothing). A
     * roofline's numerators: an op at 100% of either ceiling cannot go faster.
     */
    record Work(double bytes, double flops) {
    }

    static Work work(String op, int batch, int c, int frames, int hw) {
        double e = (double) batch * c * frames * hw * hw; // one activation's elements
        double temporalW = 3.0 * c * c;
        double pointwiseW = (double) c * c;
        double groupedW = 9.0 * c * GROUP_WIDTH;
        double temporalF = 2 * e * 3 * c;
        double groupedF = 2 * e * 9 * GROUP_WIDTH;
        double[] bf = switch (op) {
            // forward: x -> y; backward-data: dy -> dx; backward-weight: x, dy -> dw; the training forms x -> y
            case "temporal-fwd", "temporal-bwd-data", "temporal-bwd-weight", "temporal-cl-bwd-data",
                    "temporal-cl-bwd-weight" -> new double[] {2 * e + temporalW, temporalF};
            case "temporal-cl-folded" -> new double[] {3 * e + temporalW + c, temporalF}; // x, residual, bias -> y
            case "pointwise-bn-relu-train" -> new double[] {2 * e + pointwiseW, 2 * e * c};
            case "pointwise-folded" -> new double[] {2 * e + pointwiseW + c, 2 * e * c};
            case "grouped-bn-relu-train", "grouped-bwd-data", "grouped-bwd-weight", "grouped-cl-bwd-data",
                    "grouped-cl-bwd-weight" -> new double[] {2 * e + groupedW, groupedF};
            case "grouped-folded", "grouped-cl-folded" -> new double[] {2 * e + groupedW + c, groupedF};
            case "bn-train", "bn-eval-relu", "cl-bn-relu-train" -> new double[] {2 * e, 0};
            case "cl-reorder-clip" -> new double[] {2.0 * batch * 3 * frames * 16L * hw * hw, 0}; // 4x the side
            case "cl-pool" -> new double[] {e + pooled(batch, c, frames, hw), 0}; // x -> y
            case "cl-pool-bwd" -> new double[] {pooled(batch, c, frames, hw) + e, 0}; // dy -> dx
            case "cl-bn-relu-bwd" -> new double[] {4 * e, 0}; // x, y (the mask), dy -> dx
            case "cl-bn-relu-bwd-x" -> new double[] {3 * e, 0}; // x, dy -> dx (the mask from x)
            case "bn-backward" -> new double[] {3 * e, 0}; // x, dy -> dx
            case "bn-relu-bwd" -> new double[] {4 * e, 0}; // x, y (the mask), dy -> dx
            case "bn-add-relu-fwd" -> new double[] {3 * e, 0}; // x, residual -> y
            case "bn-add-relu-bwd" -> new double[] {5 * e, 0}; // x, y, dy -> dx, dresidual
            // every parameter's gradient read, its leaf's read and written: the whole model, whatever the stage
            case "leaf-grads" -> new double[] {3.0 * g8ParameterShapes().stream().mapToLong(Shape::size).sum(), 0};
            default -> throw new IllegalArgumentException("unknown op " + op + "; one of " + String.join(", ", OPS));
        };
        return new Work(4 * bf[0], bf[1]);
    }

    /** Elements of the shortcut pool's output at a stage. */
    private static double pooled(int batch, int c, int frames, int hw) {
        return SHORTCUT_POOL.outputShape(Shape.of(batch, c, frames, hw, hw), c).size();
    }

    /** One run's figures: its parameters, JMH's wall ms per op and the device ms per op (events). */
    record Row(String op, String stage, String device, String kernels, int batch, int frames, double wallMs,
            double deviceMs) {
        static Row of(org.openjdk.jmh.results.RunResult rr) {
            org.openjdk.jmh.infra.BenchmarkParams p = rr.getParams();
            java.util.Map<String, org.openjdk.jmh.results.Result> aux = rr.getSecondaryResults();
            org.openjdk.jmh.results.Result ms = aux.get("deviceMs");
            org.openjdk.jmh.results.Result n = aux.get("ops");
            double device = ms == null || n == null || n.getScore() == 0 ? Double.NaN : ms.getScore() / n.getScore();
            return new Row(p.getParam("op"), p.getParam("stage"), p.getParam("device"), p.getParam("kernels"),
                    Integer.parseInt(p.getParam("batch")), Integer.parseInt(p.getParam("frames")),
                    rr.getPrimaryResult().getScore(), device);
        }
    }

    /**
     * A Markdown table of the runs: op, stage, device, kernels, JMH's wall ms/op, device ms/op (events), and from the
     * device time and {@link #work} the achieved GB/s and TFLOP/s with their fractions of the device's peaks.
     */
    static String table(List<Row> rows, Peaks peaks) {
        StringBuilder b = new StringBuilder(String.format(java.util.Locale.ROOT, "%n| op | stage | device | kernels | "
                + "wall ms/op | device ms/op | GB/s | TFLOP/s | %% of %s GB/s | %% of %s TFLOP/s |%n"
                + "|---|---|---|---|---|---|---|---|---|---|%n", num(peaks.gbs(), "%.0f"),
                num(peaks.tflops(), "%.1f") + " (" + peaks.what() + ")"));
        for (Row r : rows) {
            String[] cs = r.stage().split("x");
            Work w = work(r.op(), r.batch(), Integer.parseInt(cs[0]), r.frames(), Integer.parseInt(cs[1]));
            double sec = r.deviceMs() / 1e3;
            double gbs = w.bytes() / sec / 1e9;
            double tflops = w.flops() > 0 ? w.flops() / sec / 1e12 : Double.NaN;
            b.append(String.format(java.util.Locale.ROOT, "| %s | %s | %s | %s | %.3f | %.3f | %s | %s | %s | %s |%n",
                    r.op(), r.stage(), r.device(), r.kernels(), r.wallMs(), r.deviceMs(), num(gbs, "%.0f"),
                    num(tflops, "%.2f"), num(100 * gbs / peaks.gbs(), "%.0f%%"), num(100 * tflops / peaks.tflops(),
                            "%.0f%%")));
        }
        return b.toString();
    }

    private static String num(double v, String fmt) {
        return Double.isFinite(v) ? String.format(java.util.Locale.ROOT, fmt, v) : "-";
    }
}
