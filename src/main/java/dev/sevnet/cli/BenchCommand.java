package dev.sevnet.cli;

import com.google.gson.Gson;
import dev.sevnet.autograd.Autocast;
import dev.sevnet.autograd.F;
import dev.sevnet.autograd.GradMode;
import dev.sevnet.autograd.Var;
import dev.sevnet.backend.Backend;
import dev.sevnet.backend.Backends;
import dev.sevnet.backend.CachingAllocator;
import dev.sevnet.backend.ExecutionStream;
import dev.sevnet.backend.OpProfiler;
import dev.sevnet.backend.cuda.CudaBackend;
import dev.sevnet.backend.cpu.CpuBackend;
import dev.sevnet.data.ClipLoader;
import dev.sevnet.data.ClipSource;
import dev.sevnet.data.SyntheticMotionDataset;
import dev.sevnet.infer.FoldedSevNet;
import dev.sevnet.infer.GraphedInference;
import dev.sevnet.nn.SevNet;
import dev.sevnet.nn.SevNetConfig;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Device;
import dev.sevnet.tensor.MemoryFormat;
import dev.sevnet.tensor.MemoryStats;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import dev.sevnet.train.Datasets;
import dev.sevnet.train.GraphedTrainStep;
import dev.sevnet.train.LossScaler;
import dev.sevnet.train.Precision;
import dev.sevnet.train.SgdOptimizer;
import dev.sevnet.train.TrainConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code sevnet bench}: steady-state clips/s and peak memory of a model, inference or one training
 * step (forward, softmax CE backward, SGD update), after warm-up. The CPU throughput harness in
 * {@code bench/} runs it beside PyTorch.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Measure steady-state clips/s and peak memory of inference or a training step, or the training "
                + "data pipeline's clips/s (--mode load).")
public final class BenchCommand implements Callable<Integer> {
    @Option(names = "--model", defaultValue = "sevnet-g8", description = "Model name (default: ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--classes", defaultValue = "174", description = "Classes (default: ${DEFAULT-VALUE}).")
    int classes;

    @Option(names = "--mode", defaultValue = "infer", description = "infer, train, or load: the training data pipeline "
            + "alone — the embedded synthetic dataset's fresh clips through the ClipLoader with --workers threads, "
            + "batches of --batch; is training data-bound? (default: ${DEFAULT-VALUE}).")
    String mode;

    @Option(names = "--workers", defaultValue = "0", description = "--mode load: loader threads, 0 = one per core, as "
            + "train's default (default: ${DEFAULT-VALUE}).")
    int workers;

    @Option(names = "--train-list", paramLabel = "FILE", description = "--mode load: decode this list's videos or frame "
            + "folders (mmaction2 format, as train's) instead of rendering synthetic clips.")
    Path trainList;

    @Option(names = "--data-root", paramLabel = "DIR", description = "--mode load: the folder --train-list's paths are "
            + "relative to (default: the current folder).")
    Path dataRoot;

    @Option(names = "--batch", defaultValue = "1", description = "Clips per batch (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--frames", defaultValue = "16", description = "Frames per clip (default: ${DEFAULT-VALUE}).")
    int frames;

    @Option(names = "--size", defaultValue = "224", description = "Frame height and width (default: ${DEFAULT-VALUE}).")
    int size;

    @Option(names = "--device", defaultValue = "cpu", description = "cpu, cuda[:i] or auto (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--warmup", defaultValue = "2", description = "Untimed iterations (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--iters", defaultValue = "5", description = "Timed iterations (default: ${DEFAULT-VALUE}).")
    int iters;

    @Option(names = "--json", description = "Print one JSON object.")
    boolean json;

    @Option(names = "--kernels", defaultValue = "auto",
            description = "GPU: auto (per op, whichever measured faster; default), library (cuDNN/cuBLAS wherever they "
                    + "have the op) or custom (sevnet's kernels wherever one exists: batch norm, the temporal conv, "
                    + "the fused conv -> BN -> ReLU, and with --memory-format channels-last the NDHWC grouped and "
                    + "temporal convs).")
    String kernels;

    @Option(names = "--tf32", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "GPU: let fp32 convolutions use TF32 tensor cores, as PyTorch does by default (default: on).")
    boolean tf32;

    @Option(names = "--precision", defaultValue = "fp32",
            description = "fp32 (default), or bf16 / fp16 on a CUDA device. --mode infer: the folded model with "
                    + "16-bit weights and activations (fp32 accumulation and logits), as Predictor runs it. --mode "
                    + "train: mixed precision as 'train --precision' (autocast, fp32 master weights, fp16 loss "
                    + "scaling); on the CPU only with -D" + Precision.CPU_REFERENCE_PROPERTY + "=true (the slow "
                    + "numerics reference).")
    String precision;

    @Option(names = "--fold", description = "infer: run the BN-folded inference graph (FoldedSevNet, what Predictor "
            + "runs) instead of the eval-mode model; always on with bf16/fp16.")
    boolean fold;

    @Option(names = "--cuda-graphs", description = "On a CUDA device: infer captures one forward pass per input shape "
            + "into a CUDA graph and replays it (GraphedInference); train captures the step (forward, loss, backward) "
            + "after two eager steps (GraphedTrainStep). One launch instead of a few hundred.")
    boolean cudaGraphs;

    @Option(names = "--memory-format", paramLabel = "contiguous|channels-last", defaultValue = "contiguous",
            description = "On a CUDA device: channels-last keeps activations NDHWC (infer: the folded model, "
                    + "FoldedSevNet.toMemoryFormat, implies --fold; train: SevNet.toMemoryFormat, activations, gradients "
                    + "and conv weights) (default: ${DEFAULT-VALUE}).")
    String memoryFormat;

    @Option(names = "--streams", defaultValue = "1", description = "infer: this many threads run a forward pass each at "
            + "once, every iteration, each on a stream of its own on a GPU (what `serve --in-flight N` does); clips/s "
            + "counts them all (default: ${DEFAULT-VALUE}).")
    int streams;

    @Option(names = "--intra-op-threads", defaultValue = "0", description = "CPU, with --streams above 1: native "
            + "threads each stream's forward pass runs on (default 0: --threads shared among the streams, at least 1 "
            + "each, as serve --in-flight does; --threads' value gives every stream all the cores).")
    int intraOpThreads;

    @Option(names = "--cuda-profiler-range", description = "On a CUDA device: the first timed iteration runs inside "
            + "cudaProfilerStart/Stop, so that `ncu --profile-from-start off` or `nsys --capture-range=cudaProfilerApi` "
            + "record that step alone (bench/device_session.sh profile sums its kernels with bench/ncu_summary.py).")
    boolean cudaProfilerRange;

    @Option(names = "--profile", description = "After the timed steps, more steps op by op (OpProfiler, like "
            + "torch.profiler's table): each backend op's time per phase (forward, backward, optimizer), device time "
            + "from CUDA events on a GPU, the median over 5 profiled steps after 2 unreported ones (system properties "
            + "sevnet.profileSteps, sevnet.profileWarmup); printed after the result (with --json: in it). Eager steps "
            + "only.")
    boolean profile;

    @Option(names = "--profile-shapes", description = "As --profile, with each op's row split by its arguments' "
            + "shapes (torch.profiler's group_by_input_shape): which layer the time went to.")
    boolean profileShapes;

    @Option(names = "--algo-cache", paramLabel = "FILE",
            description = "GPU: load cuDNN algorithm choices from FILE if it exists, save them there after the run.")
    Path algoCache;

    @Mixin
    Fp32PrecisionOption fp32 = new Fp32PrecisionOption();

    @Mixin
    NativeThreadsOption nativeThreads = new NativeThreadsOption();

    @Override
    public Integer call() {
        fp32.apply();
        if (!mode.equals("infer") && !mode.equals("train") && !mode.equals("load")) {
            System.err.println("error: --mode must be infer, train or load, got '" + mode + "'");
            return 2;
        }
        if (mode.equals("load")) {
            return loadBench();
        }
        if (trainList != null || dataRoot != null) {
            System.err.println("error: --train-list and --data-root are options of --mode load");
            return 2;
        }
        nativeThreads.apply(); // a negative count: IllegalArgumentException, exit code 2
        CudaBackend.KernelMode.parse(kernels); // a bad name is an error on every device, not only on a GPU
        if (intraOpThreads < 0 || intraOpThreads > 4096) {
            System.err.println("error: --intra-op-threads must be 0 to 4096, got " + intraOpThreads);
            return 2;
        }
        if (streams < 1 || streams > 64 || (streams > 1 && !mode.equals("infer"))) {
            System.err.println("error: --streams must be 1 to 64, and above 1 only with --mode infer");
            return 2;
        }
        if (batch < 1 || frames < 1 || size < 8 || iters < 1 || warmup < 0) {
            System.err.println("error: --batch, --frames and --iters must be >= 1, --size >= 8 and --warmup >= 0, got "
                    + "--batch " + batch + " --frames " + frames + " --iters " + iters + " --size " + size + " --warmup "
                    + warmup);
            return 2;
        }
        if (mode.equals("train") && batch * frames * (size / 32) * (size / 32) < 2) {
            System.err.println("error: training needs more than one value per channel at the last stage "
                    + "(raise --batch or --size)");
            return 2;
        }
        String[] why = new String[1];
        Device dev = Backends.resolve(device, why);
        if (why[0] != null && !json) {
            System.err.println("device auto: using the CPU (" + why[0] + ")");
        }
        if (!dev.isCpu() && why[0] == null && device.equalsIgnoreCase("auto") && !json) {
            System.err.println("device auto: using " + dev);
        }
        precision = precision.trim().toLowerCase(java.util.Locale.ROOT);
        if (!precision.equals("fp32") && !precision.equals("bf16") && !precision.equals("fp16")) {
            System.err.println("error: --precision must be fp32, bf16 or fp16, got '" + precision + "'");
            return 2;
        }
        boolean half = !precision.equals("fp32");
        Precision trainPrecision = Precision.parse(precision);
        if (half && mode.equals("train") && dev.isCpu()) {
            if (!Precision.cpuReferenceAllowed()) {
                System.err.println("error: " + Precision.cpuRefusal(trainPrecision)
                        + (why[0] != null ? " (device auto: " + why[0] + ")" : ""));
                return 2;
            }
        } else if (half && dev.isCpu()) {
            System.err.println("error: --precision " + precision + " runs on CUDA devices only, but the device is "
                    + "the CPU" + (why[0] != null ? " (" + why[0] + ")" : "") + ": use --device cuda, or on the CPU "
                    + "--precision fp32 (predict/serve also offer int8 on the CPU)");
            return 2;
        }
        MemoryFormat format;
        try {
            format = MemoryFormat.parse(memoryFormat);
        } catch (IllegalArgumentException e) {
            System.err.println("error: --memory-format: " + e.getMessage());
            return 2;
        }
        boolean channelsLast = format == MemoryFormat.CHANNELS_LAST;
        if (channelsLast && dev.isCpu()) {
            System.err.println("warning: channels-last on the CPU runs every op on NCDHW copies (the reference of "
                    + "the GPU path): expect it slower than contiguous");
        }
        boolean folded = mode.equals("infer") && (fold || half || channelsLast);
        Backend backend;
        try {
            backend = Backends.forDevice(dev);
        } catch (RuntimeException | LinkageError e) {
            // as train, eval, predict and serve say it: an explicit device this machine cannot use is bad input
            String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage().lines().findFirst().orElse("");
            System.err.println("error: device " + device + " is not usable: " + m);
            return 2;
        }
        CudaBackend gpu = backend instanceof CudaBackend cb ? cb : null;
        if (cudaGraphs && gpu == null) {
            System.err.println("error: --cuda-graphs needs a CUDA device");
            return 2;
        }
        profile |= profileShapes;
        if (profile && (cudaGraphs || streams > 1)) {
            System.err.println("error: --profile times an eager step: not with --cuda-graphs or --streams above 1");
            return 2;
        }
        if (cudaProfilerRange && (gpu == null || streams > 1)) {
            System.err.println("error: --cuda-profiler-range needs a CUDA device and one stream (--streams 1)");
            return 2;
        }
        if (cudaGraphs && streams > 1) {
            System.err.println("error: --streams with --cuda-graphs: the graphs share one memory pool and replay "
                    + "one at a time; measure concurrent streams eagerly");
            return 2;
        }
        if (gpu != null) {
            gpu.setKernelMode(CudaBackend.KernelMode.parse(kernels));
            gpu.setAllowTf32(tf32);
            if (algoCache != null && Files.exists(algoCache)) {
                try {
                    gpu.loadAlgorithmCache(algoCache);
                } catch (IOException e) {
                    System.err.println("warning: ignoring " + algoCache + ": " + e.getMessage());
                }
            }
        }
        SevNetConfig config = SevNetConfig.parse(model, classes);
        boolean train = mode.equals("train");
        double[] times = new double[iters];
        long graphReplays = 0;
        long graphPoolBytes = 0; // free blocks the graphs' private pools hold for their replays (timed steps' end)
        long warmupPeakDevice = -1; // the device peak of the warm-up steps (cuDNN's algorithm search included)
        OpProfiler.Profile opProfile = null;
        long memBefore = MemoryStats.liveHostBytes();
        LossScaler scaler = train && trainPrecision.needsLossScaling() ? new LossScaler() : null;
        try (SevNet net = SevNet.create(config, 0);
                SgdOptimizer opt = train ? new SgdOptimizer(net.namedParameters(), 0.9, 1e-4) : null;
                Tensor hostX = randomInput(batch, frames, size);
                Tensor x = gpu == null ? hostX.reshape(hostX.shape()) : backend.toDevice(hostX);
                Tensor labels = randomLabels(batch, classes)) {
            net.to(backend);
            if (channelsLast && train) {
                net.toMemoryFormat(format);
            }
            net.train(train);
            dev.sevnet.nn.Module runner = net;
            if (folded) {
                net.eval();
                FoldedSevNet f = FoldedSevNet.fold(net, switch (precision) {
                    case "bf16" -> DType.BFLOAT16;
                    case "fp16" -> DType.FLOAT16;
                    default -> DType.FLOAT32;
                });
                runner = channelsLast ? f.toMemoryFormat(format) : f;
            }
            GraphedInference graphed = cudaGraphs && !train ? new GraphedInference(runner, gpu) : null;
            int perStream = backend instanceof CpuBackend ? streamThreads() : 0;
            ConcurrentForward concurrent = streams > 1 ? new ConcurrentForward(backend, runner, x, streams, perStream)
                    : null;
            GraphedTrainStep graphedTrain;
            try {
                graphedTrain = cudaGraphs && train
                        ? new GraphedTrainStep(net, gpu, trainPrecision, false, classes) : null;
            } catch (IllegalArgumentException e) {
                System.err.println("error: " + e.getMessage());
                return 2;
            }
            long[] labelArray = labels.toLongArray();
            // the graphed step runs eagerly for its first steps and is captured on the next: all warm-up, not timed
            int warm = graphedTrain == null ? warmup : Math.max(warmup, GraphedTrainStep.WARMUP_STEPS + 1);
            try {
                MemoryStats.resetPeak();
                if (gpu != null) {
                    gpu.cudaDevice().allocator().resetPeak();
                }
                for (int i = 0; i < warm + iters; i++) {
                    if (i == warm && warm > 0 && gpu != null) {
                        // steady state from here, as the PyTorch peer measures it (its reset after the warm-up):
                        // the warm-up's peak holds the algorithm search's workspace, reported apart
                        warmupPeakDevice = gpu.cudaDevice().allocator().stats().peakInUseBytes();
                        gpu.cudaDevice().allocator().resetPeak();
                    }
                    boolean profiled = cudaProfilerRange && i == warm;
                    if (profiled) {
                        gpu.profilerRange(true);
                    }
                    long t0 = System.nanoTime();
                    if (concurrent != null) {
                        concurrent.runOnce(); // every worker's forward pass done on its stream before it returns
                        if (i >= warm) {
                            times[i - warm] = (System.nanoTime() - t0) / 1e9;
                        }
                        continue;
                    }
                    try (TensorScope scope = TensorScope.open()) {
                        if (train && graphedTrain != null && !Double.isNaN(graphedTrain.step(x, labelArray, null, null,
                                scaler == null ? 1f : (float) scaler.scale()))) {
                            // the replay zeroed the gradients first, then wrote them
                            if (scaler == null) {
                                opt.step(0.01);
                            } else {
                                java.util.List<Tensor> grads = new java.util.ArrayList<>();
                                net.namedParameters().values().forEach(p -> grads.add(p.grad()));
                                if (scaler.unscaleAndUpdate(grads)) {
                                    opt.step(0.01);
                                }
                            }
                        } else if (train) {
                            eagerTrainStep(net, x, labels, trainPrecision, scaler, opt, null);
                        } else if (graphed != null) {
                            graphed.forward(x);
                        } else {
                            eagerForward(runner, x, null);
                        }
                    }
                    if (gpu != null) {
                        gpu.cudaDevice().synchronize(); // the step's GPU work is done before the clock stops
                    }
                    if (profiled) {
                        gpu.profilerRange(false);
                    }
                    if (i >= warm) {
                        times[i - warm] = (System.nanoTime() - t0) / 1e9;
                    }
                }
                // after the timed steps, op by op: PROFILE_WARMUP steps that let the JIT compile the glue that now
                // calls the profiler's proxies instead of the backend, then PROFILE_STEPS steps whose per-row median
                // is reported (on 2 vCPUs a compiler thread that preempts one op of a single profiled step doubled
                // that op's time: 7.6 ms for a 5.2 ms temporal weight gradient)
                java.util.List<OpProfiler.Profile> profiles = new java.util.ArrayList<>();
                for (int k = 0; profile && k < PROFILE_WARMUP + PROFILE_STEPS; k++) {
                    try (TensorScope scope = TensorScope.open(); OpProfiler p = OpProfiler.start(backend,
                            profileShapes ? OpProfiler.Grouping.INPUT_SHAPES : OpProfiler.Grouping.OP)) {
                        if (train) {
                            eagerTrainStep(net, x, labels, trainPrecision, scaler, opt, p);
                        } else {
                            eagerForward(runner, x, p);
                        }
                        OpProfiler.Profile one = p.stop();
                        if (k >= PROFILE_WARMUP) {
                            profiles.add(one);
                        }
                    }
                }
                if (!profiles.isEmpty()) {
                    opProfile = OpProfiler.Profile.median(profiles);
                }
            } finally {
                if (gpu != null && (graphed != null || graphedTrain != null)) {
                    // read while the graphs are open: closing them hands their pools' blocks back to the cache
                    graphPoolBytes = gpu.cudaDevice().allocator().stats().pooledBytes();
                }
                if (concurrent != null) {
                    concurrent.close();
                }
                if (graphed != null) {
                    graphed.close();
                }
                if (graphedTrain != null) {
                    graphReplays = graphedTrain.replays();
                    graphedTrain.close();
                }
                if (runner != net) {
                    runner.close();
                }
            }
        }
        if (gpu != null && algoCache != null) {
            try {
                gpu.saveAlgorithmCache(algoCache);
            } catch (IOException e) {
                System.err.println("warning: could not save " + algoCache + ": " + e.getMessage());
            }
        }
        double[] sorted = times.clone();
        Arrays.sort(sorted);
        double median = sorted[sorted.length / 2];
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("impl", "sevnet " + Main.VERSION);
        r.put("model", model);
        r.put("mode", mode);
        r.put("device", dev.toString());
        r.put("batch", batch);
        r.put("frames", frames);
        r.put("size", size);
        r.put("threads", CpuBackend.numThreads());
        r.put("fp32_precision", CpuBackend.effectiveFp32Precision().toString());
        if (CpuBackend.effectiveFp32Precision() == CpuBackend.Fp32Precision.BF16) {
            r.put("bf16_kernel", CpuBackend.bf16Kernel().toString());
        }
        if (mode.equals("infer")) {
            r.put("folded", folded);
        }
        r.put("cuda_graphs", cudaGraphs);
        if (cudaProfilerRange) {
            r.put("cuda_profiler_range", true);
        }
        if (mode.equals("infer")) {
            r.put("streams", streams);
            if (streams > 1 && dev.isCpu()) {
                r.put("intra_op_threads", streamThreads());
            }
        }
        if (cudaGraphs && train) {
            r.put("graph_replays", graphReplays); // 0: the capture failed and every step ran eagerly (see the log)
        }
        r.put("precision", precision);
        r.put("memory_format", format.label());
        if (scaler != null) {
            r.put("loss_scale", scaler.scale());
            r.put("skipped_steps", scaler.skippedSteps());
        }
        r.put("clips_per_s", (double) batch * streams / median);
        r.put("ms_per_iter_median", median * 1e3);
        r.put("ms_per_iter_min", sorted[0] * 1e3);
        r.put("peak_rss_mb", peakRssMb());
        r.put("peak_tensor_mb", (MemoryStats.peakHostBytes() - memBefore) / 1048576.0);
        if (gpu != null) {
            r.put("gpu", gpu.cudaDevice().name());
            r.put("kernels", gpu.kernelMode().toString().toLowerCase(java.util.Locale.ROOT));
            r.put("tf32", gpu.allowTf32());
            r.put("half_grouped", gpu.halfGroupedRoute().toString().toLowerCase(java.util.Locale.ROOT).replace('_', '-'));
            CachingAllocator.Stats mem = gpu.cudaDevice().allocator().stats();
            // the timed steps' peaks, as the PyTorch peer's (torch.cuda.max_memory_allocated / max_memory_reserved
            // after its warm-up); the warm-up's apart: the first steps also hold cuDNN's search workspace (<= 1 GiB)
            // a replay writes its graph's pool blocks, which the allocator counts free (the capture freed them into
            // the pool): without them a graphed step's peak would be only what ran outside the graph
            r.put("peak_device_mb", (mem.peakInUseBytes() + graphPoolBytes) / 1048576.0);
            r.put("peak_device_reserved_mb", mem.peakReservedBytes() / 1048576.0);
            if (cudaGraphs) {
                r.put("graph_pool_mb", graphPoolBytes / 1048576.0);
            }
            if (warmupPeakDevice >= 0) {
                r.put("peak_device_warmup_mb", warmupPeakDevice / 1048576.0);
            }
            r.put("conv_algorithms_cached", gpu.algorithmCache().size());
            // conv / BN problems per measured route (kernel mode auto), e.g. {"channels-last": 9, "cublas": 12, "cudnn": 30}
            java.util.Map<String, Integer> routes = new java.util.TreeMap<>();
            gpu.measuredRoutes().values().forEach(v -> routes.merge(v, 1, Integer::sum));
            r.put("routes_measured", routes);
            r.put("measured", gpu.measureKernels() && gpu.halfGroupedRoute() == CudaBackend.HalfGroupedRoute.MEASURE);
        }
        if (opProfile != null) {
            Map<String, Object> prof = new LinkedHashMap<>();
            prof.put("steps", PROFILE_STEPS);
            prof.put("total_ms", opProfile.totalMillis());
            prof.put("host_ms", opProfile.hostMillis());
            java.util.List<Map<String, Object>> rows = new java.util.ArrayList<>();
            for (OpProfiler.Row row : opProfile.rows()) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("phase", row.phase());
                m.put("op", row.op());
                if (!row.shapes().isEmpty()) {
                    m.put("shapes", row.shapes());
                }
                m.put("calls", row.calls());
                m.put("ms", row.millis());
                m.put("host_ms", row.hostMillis());
                rows.add(m);
            }
            prof.put("rows", rows);
            r.put("profile", prof);
        }
        if (json) {
            System.out.println(new Gson().toJson(r));
        } else {
            String bf16 = dev.isCpu() && CpuBackend.effectiveFp32Precision() == CpuBackend.Fp32Precision.BF16
                    ? ", fp32 precision bf16 on " + CpuBackend.bf16Kernel() : "";
            System.out.printf("%s %s batch %d, %dx%dx%d on %s (%d threads%s): %.3f clips/s, median %.1f ms/iter, "
                    + "peak RSS %.0f MiB%n", model, mode, batch, frames, size, size, dev, CpuBackend.numThreads(), bf16,
                    (double) batch * streams / median, median * 1e3, peakRssMb());
            if (opProfile != null) {
                System.out.printf("%nop by op, each row the median of %d profiled step%s:%n%n", PROFILE_STEPS,
                        PROFILE_STEPS == 1 ? "" : "s");
                System.out.print(opProfile.table(profileShapes ? 2 * PROFILE_ROWS : PROFILE_ROWS));
            }
        }
        return 0;
    }

    /** Profiled steps of --profile before the ones reported (the JIT compiles the profiler's path meanwhile). */
    static final int PROFILE_WARMUP = Math.max(0, Integer.getInteger("sevnet.profileWarmup", 2));

    /** Profiled steps of --profile reported: each row the median over them ({@link OpProfiler.Profile#median}). */
    static final int PROFILE_STEPS = Math.max(1, Integer.getInteger("sevnet.profileSteps", 5));

    /** Rows of the --profile table printed (the JSON has them all). */
    private static final int PROFILE_ROWS = 30;

    /** One eager training step: forward (under autocast), loss, backward (loss-scaled for fp16), SGD, zeroed grads. */
    private static void eagerTrainStep(SevNet net, Tensor x, Tensor labels, Precision precision, LossScaler scaler,
            SgdOptimizer opt, OpProfiler prof) {
        phase(prof, "forward");
        Var logits;
        try (Autocast.Guard ac = Autocast.enable(precision.autocastType())) {
            logits = net.forward(Var.of(x));
        }
        Var loss = F.softmaxCrossEntropy(logits, labels);
        phase(prof, "backward");
        if (scaler == null) {
            loss.backward();
            phase(prof, "optimizer");
            opt.step(0.01);
        } else {
            try (Tensor seed = Tensor.full(loss.shape(), (float) scaler.scale())) {
                loss.backward(seed);
            }
            phase(prof, "optimizer");
            java.util.List<Tensor> grads = new java.util.ArrayList<>();
            net.namedParameters().values().forEach(p -> grads.add(p.grad()));
            if (scaler.unscaleAndUpdate(grads)) {
                opt.step(0.01);
            }
        }
        opt.zeroGrad();
    }

    /** One eager forward pass without a graph. */
    private static void eagerForward(dev.sevnet.nn.Module runner, Tensor x, OpProfiler prof) {
        phase(prof, "forward");
        try (GradMode.Guard g = GradMode.noGrad()) {
            runner.forward(Var.of(x));
        }
    }

    private static void phase(OpProfiler prof, String name) {
        if (prof != null) {
            prof.phase(name);
        }
    }

    /** --streams on the CPU: each stream's native threads (--intra-op-threads, else --threads shared out). */
    private int streamThreads() {
        return intraOpThreads > 0 ? intraOpThreads : Math.max(1, CpuBackend.numThreads() / streams);
    }

    /**
     * {@code --streams N}: N threads, each with a stream of its own on the backend's device ({@link ExecutionStream}),
     * run one forward pass of the same model on the same input together at every {@link #runOnce}, which returns when
     * all of them are done on the device.
     */
    private static final class ConcurrentForward implements AutoCloseable {
        private final java.util.concurrent.ExecutorService[] workers;
        private final ExecutionStream[] streams;
        private final ExecutionStream.Binding[] bindings;
        private final dev.sevnet.nn.Module runner;
        private final Tensor x;

        /** threads: each worker's native thread count on the CPU (0: the library's). */
        ConcurrentForward(Backend backend, dev.sevnet.nn.Module runner, Tensor x, int n, int threads) {
            this.runner = runner;
            this.x = x;
            this.workers = new java.util.concurrent.ExecutorService[n];
            this.streams = new ExecutionStream[n];
            this.bindings = new ExecutionStream.Binding[n];
            try {
                for (int w = 0; w < n; w++) {
                    String name = "bench-stream-" + w;
                    workers[w] = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
                        Thread t = new Thread(r, name);
                        t.setDaemon(true);
                        return t;
                    });
                    ExecutionStream s = backend.newStream();
                    streams[w] = s;
                    bindings[w] = await(workers[w].submit(s::bind)); // bound on the worker's thread for its life
                    if (threads > 0) {
                        await(workers[w].submit(() -> CpuBackend.setCurrentThreadNumThreads(threads)));
                    }
                }
            } catch (RuntimeException | Error e) {
                close();
                throw e;
            }
        }

        private static <T> T await(java.util.concurrent.Future<T> f) {
            try {
                return f.get();
            } catch (java.util.concurrent.ExecutionException e) {
                Throwable c = e.getCause();
                if (c instanceof RuntimeException r) {
                    throw r;
                }
                if (c instanceof Error err) {
                    throw err;
                }
                throw new IllegalStateException("a --streams worker failed: " + c, c);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while the --streams workers ran", e);
            }
        }

        void runOnce() {
            java.util.List<java.util.concurrent.Future<?>> running = new java.util.ArrayList<>();
            for (int w = 0; w < workers.length; w++) {
                ExecutionStream s = streams[w];
                running.add(workers[w].submit(() -> {
                    try (GradMode.Guard g = GradMode.noGrad(); TensorScope scope = TensorScope.open()) {
                        runner.forward(Var.of(x));
                    }
                    s.synchronize();
                }));
            }
            for (java.util.concurrent.Future<?> f : running) {
                await(f);
            }
        }

        @Override
        public void close() {
            RuntimeException failed = null;
            for (int w = 0; w < workers.length; w++) {
                if (workers[w] == null) {
                    continue;
                }
                try {
                    ExecutionStream.Binding b = bindings[w];
                    if (b != null) {
                        await(workers[w].submit(b::close)); // on the thread that bound it
                    }
                    workers[w].shutdown();
                    if (streams[w] != null) {
                        streams[w].close();
                    }
                } catch (RuntimeException e) {
                    if (failed == null) {
                        failed = e;
                    } else {
                        failed.addSuppressed(e);
                    }
                }
            }
            if (failed != null) {
                throw failed;
            }
        }
    }

    /**
     * {@code --mode load}: batches of fresh synthetic clips (what `train` without a dataset reads: rendered, normalised,
     * stacked) through the ClipLoader, {@code warmup} untimed and {@code iters} timed batches per run; clips/s.
     */
    private int loadBench() {
        if (batch < 1 || frames < 1 || size < 8 || iters < 1 || warmup < 0 || workers < 0) {
            System.err.println("error: --batch, --frames and --iters must be >= 1, --size >= 8, --warmup and --workers "
                    + ">= 0");
            return 2;
        }
        int threads = workers == 0 ? Runtime.getRuntime().availableProcessors() : workers;
        int clips = batch * (warmup + iters);
        ClipSource source;
        try {
            source = trainList == null ? SyntheticMotionDataset.builder().size(clips).seed(1)
                    .frames(frames).resolution(size).freshSamplesEachEpoch(true).build()
                    : Datasets.train(TrainConfig.builder().model(model)
                            .numClasses(classes).frames(frames).size(size).trainList(trainList.toString())
                            .valList(trainList.toString()) // required beside a train list; only the train side is read
                            .dataRoot(dataRoot == null ? null : dataRoot.toString()).build());
        } catch (RuntimeException e) {
            System.err.println("error: " + e.getMessage());
            return 2;
        }
        if (source.size() < batch) {
            System.err.println("error: --train-list has " + source.size() + " entries, fewer than one batch of " + batch);
            return 2;
        }
        double seconds;
        int skipped = 0;
        try (ClipLoader loader = ClipLoader.builder(source).batchSize(batch)
                .workers(threads).seed(1).train(true).dropLast(true).build()) {
            // warmup + iters batches, over as many epochs as a short list needs
            long t0 = 0;
            int done = 0;
            for (int e = 0; done < warmup + iters; e++) {
                try (ClipLoader.Epoch epoch = loader.epoch(e)) {
                    boolean any = false;
                    while (done < warmup + iters && epoch.hasNext()) {
                        if (done == warmup) {
                            t0 = System.nanoTime();
                        }
                        epoch.next().close();
                        any = true;
                        done++;
                    }
                    skipped += epoch.skippedCount();
                    if (!any) {
                        System.err.println("error: no sample of --train-list could be decoded");
                        return 2;
                    }
                }
            }
            seconds = (System.nanoTime() - t0) / 1e9;
        }
        double rate = batch * iters / seconds;
        if (json) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("impl", "sevnet");
            r.put("mode", "load");
            r.put("data", trainList == null ? "synthetic" : trainList.toString());
            r.put("skipped", skipped);
            r.put("batch", batch);
            r.put("frames", frames);
            r.put("size", size);
            r.put("workers", threads);
            r.put("clips_per_s", rate);
            r.put("ms_per_clip_per_worker", 1e3 * threads / rate);
            r.put("peak_rss_mb", peakRssMb());
            System.out.println(new Gson().toJson(r));
        } else {
            System.out.printf(java.util.Locale.ROOT, "%s clips %dx%dx%d, batches of %d, %d loader threads: %.1f "
                    + "clips/s (%.2f ms a clip per thread), peak RSS %.0f MiB%s%n", trainList == null ? "synthetic"
                    : "decoded", frames, size, size, batch, threads, rate, 1e3 * threads / rate, peakRssMb(),
                    skipped > 0 ? ", " + skipped + " samples skipped (undecodable)" : "");
        }
        return 0;
    }

    private static Tensor randomInput(int n, int t, int s) {
        Random r = new Random(1);
        Tensor x = Tensor.empty(Shape.of(n, 3, t, s, s));
        java.nio.FloatBuffer b = x.floatBuffer();
        for (int i = 0; i < b.capacity(); i++) {
            b.put(i, (float) r.nextGaussian());
        }
        return x;
    }

    private static Tensor randomLabels(int n, int k) {
        long[] l = new long[n];
        for (int i = 0; i < n; i++) {
            l[i] = i % k;
        }
        return Tensor.ofLongs(l, n);
    }

    /** VmHWM of this process: the peak resident set, JVM heap and native memory together. */
    static double peakRssMb() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("\\D", "")) / 1024.0;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // not Linux: fall through
        }
        return Double.NaN;
    }
}
