package dev.sevnet.infer;

import dev.sevnet.autograd.GradMode;
import dev.sevnet.autograd.Var;
import dev.sevnet.backend.CachingAllocator;
import dev.sevnet.backend.ExecutionStream;
import dev.sevnet.backend.cpu.HostMemoryPool;
import dev.sevnet.data.AnnotationReaders;
import dev.sevnet.data.Clip;
import dev.sevnet.data.SyntheticMotionDataset;
import dev.sevnet.nn.Module;
import dev.sevnet.nn.SevNet;
import dev.sevnet.nn.SevNetConfig;
import dev.sevnet.nn.io.WeightsLoader;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Device;
import dev.sevnet.tensor.HostAllocator;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import dev.sevnet.train.Checkpoint;
import dev.sevnet.train.Datasets;
import dev.sevnet.train.DeviceChoice;
import dev.sevnet.train.Metrics;
import dev.sevnet.train.Recipe;
import dev.sevnet.train.TrainConfig;
import dev.sevnet.train.Trainer;

import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A thread-safe, dynamically batching SEVNet classifier for JVM services.
 *
 * <pre>{@code
 * try (Predictor p = Predictor.builder().checkpoint(Path.of("runs/main/checkpoints/best")).build()) {
 *     Prediction r = p.predict(Path.of("clip.mp4"));          // from any number of threads at once
 *     System.out.println(r.top1().label() + " " + r.top1().prob());
 * }
 * }</pre>
 *
 * <p><b>Loading.</b> From a checkpoint folder (its {@code state.json} gives the model, the input
 * geometry, the test views and the label names) or from a safetensors file plus a model name and
 * labels. At load, every BatchNorm is folded into the convolution before it and the ReLUs are fused
 * ({@link FoldedSevNet}); then the weights move to the chosen device.
 *
 * <p><b>Batching.</b> Calls put a request (the clip views of one video) into a bounded queue and wait.
 * {@code inFlight} batching threads each take up to {@code maxBatch} clips from the queue &mdash; waiting
 * at most {@code maxQueueDelay} after the oldest request arrived for more to come &mdash; run one
 * forward pass under {@link GradMode#noGrad()} inside a {@link TensorScope}, and complete the
 * requests' futures. A request with more views than {@code maxBatch} runs in several passes. Videos
 * are decoded on the calling thread ({@link #predict(Path)}) or on a small decode pool
 * ({@link #predictAsync(Path)}), never on a batching thread. On a GPU each batching thread queues its work on a
 * CUDA stream of its own ({@link ExecutionStream}), so with {@code inFlight > 1} one batch's kernels run while
 * another's are queued, uploaded or read back (eagerly: with {@code cudaGraphs(true)} the replays share one memory
 * pool and run one at a time). On the CPU the batching threads share the cores: each runs its forward passes on
 * {@code intraOpThreads} native threads (default: the library's thread count divided among them).
 *
 * <p><b>Back-pressure and time limits.</b> When the queue holds {@code queueCapacity} requests a
 * call fails at once with {@link QueueFullException}. A call that has not finished {@code timeout}
 * after it was made fails: the synchronous methods throw {@link PredictionTimeoutException}, the
 * futures of the asynchronous ones complete with {@link TimeoutException}; a timed-out request that is
 * still queued is dropped without being run.
 *
 * <p><b>Closing.</b> {@link #close()} rejects new calls, lets every call already accepted finish
 * (queued requests included), stops the threads and frees every native buffer the predictor owns.
 *
 * <p>Future callbacks attached with the non-async {@code CompletableFuture} methods run on a
 * batching thread: keep them short, or use the {@code ...Async} variants.
 */
public final class Predictor implements AutoCloseable {
    /** Views one {@link #predict(Tensor)} call may hold: the largest {@code --views} (100 clips x 3 crops). */
    public static final int MAX_VIEWS = dev.sevnet.train.TrainConfig.MAX_TEST_CLIPS * 3;

    /** Upper bounds of the builder's settings: beyond them a setting is a mistake, not a configuration. */
    static final int MAX_BATCH = 4096;
    static final int MAX_IN_FLIGHT = 256;
    static final int MAX_INTRA_OP_THREADS = 4096;
    static final int MAX_QUEUE = 1 << 20;

    /** Fires per-call timeouts (one daemon thread for every predictor). */
    private static final ScheduledThreadPoolExecutor TIMER = timer();

    private final TrainConfig config;
    private final List<String> labels;
    private final Module model;
    private final DeviceChoice device;
    /** CUDA graphs of the model's forward pass, one per batch size (builder cudaGraphs), or null. */
    private final GraphedInference graphed;
    private final dev.sevnet.backend.Uploader uploader;
    private final boolean folded;
    private final String precision;
    private final dev.sevnet.tensor.MemoryFormat memoryFormat;
    private final int maxBatch;
    /** CPU: the native threads of each batching thread's forward passes (0: the library's own setting). */
    private final int intraOpThreads;
    private final long maxDelayNanos;
    private final int queueCapacity;
    private final Duration timeout;
    private final int topK;
    private final Shape clipShape;
    private final Thread[] workers;
    /**
     * One per batching thread: on a GPU a CUDA stream with its own cuDNN and cuBLAS handles, so that in-flight batches
     * run side by side on the device (on the CPU, {@link ExecutionStream#NONE}).
     */
    private final ExecutionStream[] streams;
    /** One per batching thread: after the warm-up pass, forward passes take every host buffer from here. */
    private final HostMemoryPool[] pools;
    private final long warmupMallocs;
    private final ThreadPoolExecutor decodePool;

    // queue state, guarded by lock
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition notEmpty = lock.newCondition();
    private final Condition idle = lock.newCondition();
    private final ArrayDeque<Request> queue = new ArrayDeque<>();
    private int queuedClips;
    private int activeCalls;
    private int runningBatches;
    private boolean closing;
    private boolean drained;
    private final Object closeMonitor = new Object();
    /** True on this predictor's batching and decode threads (close() from a callback there must not wait for itself). */
    private final ThreadLocal<Boolean> internalThread = ThreadLocal.withInitial(() -> Boolean.FALSE);
    private volatile boolean closed;

    // statistics
    private final AtomicLong accepted = new AtomicLong();
    private final AtomicLong completed = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final AtomicLong rejected = new AtomicLong();
    private final AtomicLong timedOut = new AtomicLong();
    private final AtomicLong batches = new AtomicLong();
    private final AtomicLong clips = new AtomicLong();
    private final AtomicLongArray batchSizes;

    /** One video's (or clip's) views waiting for a forward pass. */
    private static final class Request {
        final float[][] views;
        final Shape clipShape;
        final CompletableFuture<Prediction> future;
        final long enqueuedNanos;

        Request(float[][] views, Shape clipShape, CompletableFuture<Prediction> future) {
            this.views = views;
            this.clipShape = clipShape;
            this.future = future;
            this.enqueuedNanos = System.nanoTime();
        }
    }

    /**
     * Counters since the predictor was built.
     *
     * @param accepted   requests queued
     * @param completed  requests answered with a prediction
     * @param failed     requests whose forward pass failed
     * @param rejected   calls refused because the queue was full
     * @param timedOut   calls that ran past the timeout
     * @param batches    forward passes run
     * @param clips      clips (views) run through the model
     * @param queueDepth requests waiting now
     * @param running    batches in a forward pass now
     * @param batchSizes {@code batchSizes[n]}: forward passes of {@code n} clips ({@code n} = 1..maxBatch)
     * @param poolBytes  host memory held by the batching threads' buffer pools (in use + cached)
     * @param poolMallocs native allocations those pools made since the warm-up pass at load: 0 in steady
     *                    state, when every batch up to maxBatch reuses the buffers it sized
     */
    public record Stats(long accepted, long completed, long failed, long rejected, long timedOut, long batches,
            long clips, int queueDepth, int running, long[] batchSizes, long poolBytes, long poolMallocs) {
        public Stats {
            batchSizes = batchSizes.clone();
        }

        @Override
        public long[] batchSizes() {
            return batchSizes.clone();
        }

        // a record compares and prints an array component by identity: by value here, as for the other fields
        @Override
        public boolean equals(Object o) {
            return o instanceof Stats s && accepted == s.accepted && completed == s.completed && failed == s.failed
                    && rejected == s.rejected && timedOut == s.timedOut && batches == s.batches && clips == s.clips
                    && queueDepth == s.queueDepth && running == s.running && java.util.Arrays.equals(batchSizes,
                    s.batchSizes) && poolBytes == s.poolBytes && poolMallocs == s.poolMallocs;
        }

        @Override
        public int hashCode() {
            return java.util.Objects.hash(accepted, completed, failed, rejected, timedOut, batches, clips, queueDepth,
                    running, java.util.Arrays.hashCode(batchSizes), poolBytes, poolMallocs);
        }

        @Override
        public String toString() {
            return "Stats[accepted=" + accepted + ", completed=" + completed + ", failed=" + failed + ", rejected="
                    + rejected + ", timedOut=" + timedOut + ", batches=" + batches + ", clips=" + clips + ", queueDepth="
                    + queueDepth + ", running=" + running + ", batchSizes=" + java.util.Arrays.toString(batchSizes)
                    + ", poolBytes=" + poolBytes + ", poolMallocs=" + poolMallocs + "]";
        }
    }

    private Predictor(Builder b, TrainConfig config, List<String> labels, Module model, DeviceChoice device) {
        this.config = config;
        this.labels = List.copyOf(labels);
        this.model = model;
        this.device = device;
        this.graphed = b.cudaGraphs && device.backend() instanceof dev.sevnet.backend.cuda.CudaBackend gpu
                ? new GraphedInference(model, gpu) : null;
        // on a GPU each batch goes through pinned memory on the copy stream: no wait for the other batching
        // threads' queued work (a pageable copy synchronises the stream), one slot per thread plus one
        this.uploader = device.device().isCpu() ? null : device.backend().uploader(Math.min(b.inFlight + 1, 64));
        this.folded = model instanceof FoldedSevNet || model instanceof QuantizedSevNet;
        this.precision = precisionOf(model);
        this.memoryFormat = model instanceof FoldedSevNet f ? f.activationFormat() : dev.sevnet.tensor.MemoryFormat.CONTIGUOUS;
        this.maxBatch = b.maxBatch;
        this.intraOpThreads = !device.device().isCpu() ? 0
                : b.intraOpThreads > 0 ? b.intraOpThreads
                : b.inFlight > 1 ? Math.max(1, dev.sevnet.backend.cpu.CpuBackend.numThreads() / b.inFlight) : 0;
        this.maxDelayNanos = b.maxQueueDelay.toNanos();
        this.queueCapacity = b.queueCapacity;
        this.timeout = b.timeout;
        this.topK = Math.min(b.topK, labels.size());
        this.clipShape = Shape.of(3, config.frames(), config.size(), config.size());
        this.batchSizes = new AtomicLongArray(maxBatch + 1);
        AtomicInteger decodeIds = new AtomicInteger();
        this.decodePool = new ThreadPoolExecutor(b.decodeThreads, b.decodeThreads, 30, TimeUnit.SECONDS,
                new java.util.concurrent.LinkedBlockingQueue<>(queueCapacity), r -> { // bounded, not preallocated
                    Thread t = new Thread(() -> {
                        internalThread.set(Boolean.TRUE);
                        r.run();
                    }, "sevnet-decode-" + decodeIds.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
        decodePool.allowCoreThreadTimeOut(true);
        this.workers = new Thread[b.inFlight];
        this.pools = new HostMemoryPool[b.inFlight];
        this.streams = new ExecutionStream[b.inFlight];
        long warm = 0;
        for (int i = 0; i < pools.length; i++) {
            try {
                pools[i] = new HostMemoryPool("sevnet-batcher-" + i);
                streams[i] = device.backend().newStream();
                if (b.preallocate) {
                    // on the batching thread's own stream: the device blocks it caches are that stream's
                    warmUp(pools[i], streams[i]);
                }
            } catch (RuntimeException | Error e) {
                decodePool.shutdown();
                closeAll(ownedResources(false), e);
                throw e;
            }
            warm += pools[i].stats().deviceAllocs();
        }
        this.warmupMallocs = warm;
        for (int i = 0; i < workers.length; i++) {
            HostMemoryPool pool = pools[i];
            ExecutionStream stream = streams[i];
            Thread w = new Thread(() -> workerLoop(pool, stream), "sevnet-batcher-" + i);
            w.setDaemon(true);
            try {
                w.start();
            } catch (RuntimeException | Error e) { // no thread left in the process: stop the ones started
                lock.lock();
                try {
                    drained = true;
                    notEmpty.signalAll();
                } finally {
                    lock.unlock();
                }
                for (int j = 0; j < i; j++) {
                    try {
                        workers[j].join();
                    } catch (InterruptedException ie) {
                        Thread.currentThread().interrupt();
                    }
                }
                decodePool.shutdown();
                closeAll(ownedResources(false), e);
                throw e;
            }
            workers[i] = w;
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    private static String precisionOf(Module model) {
        if (model instanceof QuantizedSevNet) {
            return "int8";
        }
        if (model instanceof FoldedSevNet f) {
            return switch (f.dtype()) {
                case BFLOAT16 -> "bf16";
                case FLOAT16 -> "fp16";
                default -> "fp32";
            };
        }
        return "fp32";
    }

    private static ScheduledThreadPoolExecutor timer() {
        ScheduledThreadPoolExecutor t = new ScheduledThreadPoolExecutor(1, r -> {
            Thread th = new Thread(r, "sevnet-predictor-timeouts");
            th.setDaemon(true);
            return th;
        });
        t.setRemoveOnCancelPolicy(true);
        // the thread ends when no predictor has had a timeout pending for a while: nothing of sevnet's stays alive
        // after the last predictor closes (an app server's redeploy can unload the classes)
        t.setKeepAliveTime(10, java.util.concurrent.TimeUnit.SECONDS);
        t.allowCoreThreadTimeOut(true);
        return t;
    }

    // ---- public API ----

    /**
     * Decodes {@code video} (any file FFmpeg reads, or a folder of extracted frames) on this thread with
     * the model's test-time sampling, transform and views, then classifies it.
     *
     * @throws dev.sevnet.data.VideoDecodeException when the file is missing, not a video or unreadable
     * @throws QueueFullException                   when the queue is full
     * @throws PredictionTimeoutException           after the per-call timeout
     * @throws RejectedExecutionException           when the predictor is closed
     */
    public Prediction predict(Path video) {
        return predict(video, timeout);
    }

    /** {@link #predict(Path)} with this call's own time limit instead of the builder's {@code timeout}. */
    public Prediction predict(Path video, Duration callTimeout) {
        Duration limit = checkTimeout(callTimeout);
        long t0 = System.nanoTime();
        CompletableFuture<Prediction> f;
        enter();
        try {
            List<Clip> views = decode(video);
            f = newFuture(t0, limit);
            if (!f.isDone()) {
                enqueue(requestOf(views, f));
            }
        } finally {
            leave();
        }
        return await(f, limit);
    }

    /**
     * Classifies a normalised float32 clip {@code [3, T, H, W]}, or the views {@code [V, 3, T, H, W]} of
     * one video (their probabilities are averaged). The tensor is copied: the caller keeps it.
     */
    public Prediction predict(Tensor clip) {
        return predict(clip, timeout);
    }

    /** {@link #predict(Tensor)} with this call's own time limit instead of the builder's {@code timeout}. */
    public Prediction predict(Tensor clip, Duration callTimeout) {
        Duration limit = checkTimeout(callTimeout);
        return await(predictAsync(clip, limit), limit);
    }

    /**
     * {@link #predict(Path)} without waiting: the video is decoded on the predictor's decode pool. A
     * full queue is reported at once with {@link QueueFullException} (or, when the queue fills while the
     * video is decoded, by the future).
     */
    public CompletableFuture<Prediction> predictAsync(Path video) {
        return predictAsync(video, timeout);
    }

    /**
     * {@link #predictAsync(Path)} with this call's own time limit: past it the future fails with a
     * {@link TimeoutException} and the request, if still queued, is never run.
     */
    public CompletableFuture<Prediction> predictAsync(Path video, Duration callTimeout) {
        Objects.requireNonNull(video, "video");
        Duration limit = checkTimeout(callTimeout);
        long t0 = System.nanoTime();
        enter();
        CompletableFuture<Prediction> f = newFuture(t0, limit);
        try {
            decodePool.execute(() -> {
                Throwable failure = null;
                try {
                    if (!f.isDone()) {
                        List<Clip> views = decode(video);
                        if (!f.isDone()) {
                            enqueue(requestOf(views, f));
                        }
                    }
                } catch (RuntimeException | Error e) {
                    failure = e;
                } finally {
                    leave();
                }
                if (failure != null) {
                    f.completeExceptionally(failure); // after leave(): a callback may call close()
                }
            });
        } catch (RejectedExecutionException e) {
            leave();
            rejected.incrementAndGet();
            QueueFullException q = new QueueFullException(queueCapacity);
            f.completeExceptionally(q);
            throw q;
        }
        return f;
    }

    /** {@link #predict(Tensor)} without waiting. */
    public CompletableFuture<Prediction> predictAsync(Tensor clip) {
        return predictAsync(clip, timeout);
    }

    /** {@link #predictAsync(Tensor)} with this call's own time limit. */
    public CompletableFuture<Prediction> predictAsync(Tensor clip, Duration callTimeout) {
        Duration limit = checkTimeout(callTimeout);
        Request r = requestOf(clip, null);
        long t0 = System.nanoTime();
        enter();
        try {
            CompletableFuture<Prediction> f = newFuture(t0, limit);
            enqueue(new Request(r.views, r.clipShape, f));
            return f;
        } finally {
            leave();
        }
    }

    /** Class names, index i = output i. */
    public List<String> labels() {
        return labels;
    }

    public int numClasses() {
        return labels.size();
    }

    /** The device the model runs on. */
    public Device device() {
        return device.device();
    }

    /** Why that device (e.g. "no GPU: ..."). */
    public String deviceReason() {
        return device.reason();
    }

    /** The model name, e.g. {@code sevnet-g8}. */
    public String modelName() {
        return config.model();
    }

    /** The shape of one view that {@link #predict(Path)} decodes: {@code [3, T, size, size]}. */
    public Shape clipShape() {
        return clipShape;
    }

    /** Views per video that {@link #predict(Path)} decodes (clips x crops). */
    public int views() {
        return config.testClips() * config.testCrops();
    }

    /** Whether the model runs in its folded (BN-free) form. */
    public boolean isFolded() {
        return folded;
    }

    /**
     * {@code fp32}; {@code int8} (every convolution in 8-bit: {@link QuantizedSevNet}, CPU); or {@code bf16} /
     * {@code fp16} (16-bit weights and activations, fp32 accumulation and logits: {@link FoldedSevNet#dtype()}, CUDA).
     */
    public String precision() {
        return precision;
    }

    /** The activations' memory format ({@link Builder#memoryFormat}). */
    public dev.sevnet.tensor.MemoryFormat memoryFormat() {
        return memoryFormat;
    }

    public int maxBatch() {
        return maxBatch;
    }

    public int queueCapacity() {
        return queueCapacity;
    }

    public Duration timeout() {
        return timeout;
    }

    /**
     * On the CPU, the native threads each batching thread's forward pass runs on ({@link Builder#intraOpThreads}, or
     * the library's thread count when that is 0); 0 on a GPU.
     */
    public int intraOpThreads() {
        if (!device.device().isCpu()) {
            return 0;
        }
        return intraOpThreads > 0 ? intraOpThreads : dev.sevnet.backend.cpu.CpuBackend.numThreads();
    }

    /** Requests waiting for a batching thread now. */
    public int queueDepth() {
        lock.lock();
        try {
            return queue.size();
        } finally {
            lock.unlock();
        }
    }

    public Stats stats() {
        long[] sizes = new long[batchSizes.length()];
        for (int i = 0; i < sizes.length; i++) {
            sizes[i] = batchSizes.get(i);
        }
        int depth;
        int running;
        lock.lock();
        try {
            depth = queue.size();
            running = runningBatches;
        } finally {
            lock.unlock();
        }
        long poolBytes = 0;
        long mallocs = 0;
        for (HostMemoryPool pool : pools) {
            CachingAllocator.Stats ps = pool.stats();
            poolBytes += ps.reservedBytes();
            mallocs += ps.deviceAllocs();
        }
        return new Stats(accepted.get(), completed.get(), failed.get(), rejected.get(), timedOut.get(), batches.get(),
                clips.get(), depth, running, sizes, poolBytes, mallocs - warmupMallocs);
    }

    public boolean isClosed() {
        return closed;
    }

    /**
     * Rejects new calls, waits for every accepted call to finish (queued requests are still run), stops
     * the batching and decode threads and frees the model. Idempotent.
     */
    @Override
    public void close() {
        if (internalThread.get()) {
            // called from a future callback on one of this predictor's own threads: waiting here for those
            // threads would wait for itself, so another thread closes
            Thread t = new Thread(this::close, "sevnet-predictor-close");
            t.setDaemon(false);
            t.start();
            return;
        }
        synchronized (closeMonitor) {
            if (closed) {
                return;
            }
            lock.lock();
            try {
                closing = true;
                while (activeCalls > 0) {
                    idle.awaitUninterruptibly();
                }
                drained = true;
                notEmpty.signalAll();
            } finally {
                lock.unlock();
            }
            decodePool.shutdown();
            boolean interrupted = false;
            for (Thread w : workers) {
                while (w.isAlive()) {
                    try {
                        w.join();
                    } catch (InterruptedException e) {
                        interrupted = true;
                    }
                }
            }
            try {
                while (!decodePool.awaitTermination(1, TimeUnit.SECONDS)) {
                    // its tasks have all run (activeCalls reached 0); threads are exiting
                }
            } catch (InterruptedException e) {
                interrupted = true;
            }
            // in ownedResources order; one failure does not stop the rest
            Throwable failed = closeAll(ownedResources(true), null);
            closed = true;
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            if (failed instanceof RuntimeException r) {
                throw r;
            }
            if (failed instanceof Error err) {
                throw err;
            }
            if (failed != null) {
                throw new IllegalStateException("closing the predictor failed: " + failed, failed);
            }
        }
    }

    /**
     * What this predictor frees, in order: the graphs first (their replays used the capturing streams' library
     * handles), then the streams, the uploader, the model when {@code withModel} (a failed constructor leaves it to
     * the builder), the host pools. Nulls (not made yet) are skipped by {@link #closeAll}.
     */
    private List<AutoCloseable> ownedResources(boolean withModel) {
        List<AutoCloseable> owned = new ArrayList<>();
        owned.add(graphed);
        owned.addAll(Arrays.asList(streams));
        owned.add(uploader);
        if (withModel) {
            owned.add(model);
        }
        owned.addAll(Arrays.asList(pools));
        return owned;
    }

    /**
     * Closes each of {@code resources} (nulls skipped) even when one fails; the failures are added to {@code primary}
     * when given, else the first is returned with the others suppressed (null: all closed).
     */
    private static Throwable closeAll(List<AutoCloseable> resources, Throwable primary) {
        Throwable first = primary;
        for (AutoCloseable r : resources) {
            if (r == null) {
                continue;
            }
            try {
                r.close();
            } catch (Exception | Error e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        return primary == null ? first : null;
    }

    // ---- requests ----

    private List<Clip> decode(Path video) {
        return Datasets.files(config, List.of(video), labels).loadViews(0);
    }

    /** {@code net} with {@code weights} loaded (strict), or closed when they do not fit; the weights are freed either way. */
    private static SevNet loadOrClose(SevNet net, Map<String, Tensor> weights) {
        try {
            net.loadStateDict(weights, true);
            return net;
        } catch (RuntimeException e) {
            net.close();
            throw e;
        } finally {
            weights.values().forEach(Tensor::close);
        }
    }

    private static Request requestOf(List<Clip> views, CompletableFuture<Prediction> f) {
        Clip first = views.get(0);
        float[][] data = new float[views.size()][];
        for (int i = 0; i < data.length; i++) {
            data[i] = views.get(i).data();
        }
        return new Request(data, Shape.of(3, first.frames(), first.height(), first.width()), f);
    }

    private static Request requestOf(Tensor clip, CompletableFuture<Prediction> f) {
        Objects.requireNonNull(clip, "clip");
        if (clip.isClosed()) {
            throw new IllegalArgumentException("clip tensor is closed");
        }
        if (clip.dtype() != DType.FLOAT32) {
            throw new IllegalArgumentException("clip must be float32, got " + clip.dtype());
        }
        Shape s = clip.shape();
        boolean one = s.rank() == 4;
        if (!(one || s.rank() == 5) || s.get(one ? 0 : 1) != 3 || s.size() == 0) {
            throw new IllegalArgumentException("clip must be [3, T, H, W] or the views of one video [V, 3, T, H, W], got "
                    + s);
        }
        if (!one && s.get(0) > MAX_VIEWS) {
            // each view is a forward pass: one small request must not hold the model for minutes
            throw new IllegalArgumentException("clip holds " + s.get(0) + " views; at most " + MAX_VIEWS
                    + " (10x3 is the usual test protocol)");
        }
        int v = one ? 1 : Math.toIntExact(s.get(0));
        Shape view = one ? s : Shape.of(s.get(1), s.get(2), s.get(3), s.get(4));
        if (view.size() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("clip " + s + " is too large");
        }
        int per = (int) view.size();
        float[] all = clip.toFloatArray();
        int bad = Tensor.countNonFinite(all);
        if (bad > 0) {
            // a NaN passes through the convs and ReLUs as something finite-looking: refuse it instead of answering
            throw new IllegalArgumentException("clip holds " + bad + " non-finite values (NaN or infinity) of "
                    + all.length);
        }
        float[][] data = new float[v][];
        for (int i = 0; i < v; i++) {
            data[i] = java.util.Arrays.copyOfRange(all, i * per, (i + 1) * per);
        }
        return new Request(data, view, f);
    }

    private static Duration checkTimeout(Duration d) {
        Objects.requireNonNull(d, "timeout");
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException("timeout must be > 0, got " + d);
        }
        return d;
    }

    private CompletableFuture<Prediction> newFuture(long startNanos, Duration limit) {
        CompletableFuture<Prediction> f = new CompletableFuture<>();
        long left = limit.toNanos() - (System.nanoTime() - startNanos);
        if (left <= 0) {
            expire(f, limit);
        } else {
            ScheduledFuture<?> timer = TIMER.schedule(() -> expire(f, limit), left, TimeUnit.NANOSECONDS);
            f.whenComplete((p, e) -> timer.cancel(false));
        }
        return f;
    }

    /**
     * Fails {@code f} with a TimeoutException naming the call's own limit ({@code limit}: the builder's timeout or a
     * per-call one) unless it is done; counted before anyone can see it.
     */
    private void expire(CompletableFuture<Prediction> f, Duration limit) {
        if (f.isDone()) {
            return;
        }
        timedOut.incrementAndGet();
        if (!f.completeExceptionally(new TimeoutException("no prediction within " + limit.toMillis() + " ms"))) {
            timedOut.decrementAndGet();
        }
    }

    /** Completes a request, counting it first (so a caller who sees the answer sees the count too). */
    private void complete(Request r, Prediction p) {
        if (r.future.isDone()) {
            return;
        }
        completed.incrementAndGet();
        if (!r.future.complete(p)) {
            completed.decrementAndGet();
        }
    }

    private void fail(Request r, Throwable e) {
        if (r.future.isDone()) {
            return;
        }
        failed.incrementAndGet();
        if (!r.future.completeExceptionally(e)) {
            failed.decrementAndGet();
        }
    }

    private Prediction await(CompletableFuture<Prediction> f, Duration limit) {
        try {
            return f.get();
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof TimeoutException te) {
                throw new PredictionTimeoutException(limit, te);
            }
            if (c instanceof RuntimeException re) {
                throw re;
            }
            if (c instanceof Error er) {
                throw er;
            }
            throw new IllegalStateException(c);
        } catch (InterruptedException e) {
            f.cancel(false);
            Thread.currentThread().interrupt();
            throw new CancellationException("interrupted while waiting for a prediction");
        }
    }

    private void enter() {
        lock.lock();
        try {
            if (closing) {
                throw new RejectedExecutionException("predictor is closed");
            }
            activeCalls++;
        } finally {
            lock.unlock();
        }
    }

    private void leave() {
        lock.lock();
        try {
            if (--activeCalls == 0) {
                idle.signalAll();
            }
        } finally {
            lock.unlock();
        }
    }

    /** {@link #submit}, failing the request's future too when it is refused (its timer stops with it). */
    private void enqueue(Request r) {
        try {
            submit(r);
        } catch (RuntimeException e) {
            r.future.completeExceptionally(e);
            throw e;
        }
    }

    private void submit(Request r) {
        lock.lock();
        try {
            if (drained) {
                throw new RejectedExecutionException("predictor is closed");
            }
            if (queue.size() >= queueCapacity) {
                rejected.incrementAndGet();
                throw new QueueFullException(queueCapacity);
            }
            queue.addLast(r);
            queuedClips += r.views.length;
            accepted.incrementAndGet();
            notEmpty.signalAll();
        } finally {
            lock.unlock();
        }
    }

    // ---- batching threads ----

    /**
     * One forward pass of {@code maxBatch} zero clips with {@code pool} bound, so that the pool holds every
     * host buffer a batch needs (and, on a GPU, the convolution algorithms are chosen) before the first
     * request.
     */
    private void warmUp(HostMemoryPool pool, ExecutionStream stream) {
        try (GradMode.Guard g = GradMode.noGrad(); HostAllocator.Binding b = pool.bind();
                ExecutionStream.Binding onStream = stream.bind(); TensorScope scope = TensorScope.open()) {
            Tensor x = Tensor.zeros(Shape.of(maxBatch, clipShape.get(0), clipShape.get(1), clipShape.get(2),
                    clipShape.get(3)));
            forwardToHost(x);
        }
    }

    /** The model's logits for the host batch {@code x}: eager, or a replay of the batch size's CUDA graph. */
    private float[] forwardToHost(Tensor x) {
        if (uploader != null) {
            // a replay copies the staged clips into its static input on the device (no host synchronisation)
            try (dev.sevnet.backend.Uploader.Upload u = uploader.start(x); Tensor onDevice = u.take()) {
                return graphed != null ? graphed.forwardToHost(onDevice)
                        : model.forward(Var.of(onDevice)).value().toFloatArray();
            }
        }
        if (graphed != null) {
            return graphed.forwardToHost(x);
        }
        return model.forward(Var.of(device.upload(x))).value().toFloatArray();
    }

    private void workerLoop(HostMemoryPool pool, ExecutionStream stream) {
        internalThread.set(Boolean.TRUE);
        if (intraOpThreads > 0) {
            dev.sevnet.backend.cpu.CpuBackend.setCurrentThreadNumThreads(intraOpThreads);
        }
        try (GradMode.Guard g = GradMode.noGrad(); HostAllocator.Binding b = pool.bind();
                ExecutionStream.Binding onStream = bindOrShare(stream)) {
            for (;;) {
                List<Request> batch = takeBatch();
                if (batch == null) {
                    return;
                }
                try {
                    run(batch);
                } catch (RuntimeException | Error e) {
                    for (Request r : batch) {
                        fail(r, e);
                    }
                } finally {
                    lock.lock();
                    try {
                        runningBatches--;
                    } finally {
                        lock.unlock();
                    }
                }
            }
        }
    }

    /**
     * Binds this batching thread's stream; if that fails (a device error at start), the thread serves on the device's
     * default stream instead of dying with its share of the queue unserved.
     */
    private static ExecutionStream.Binding bindOrShare(ExecutionStream stream) {
        try {
            return stream.bind();
        } catch (RuntimeException e) {
            org.slf4j.LoggerFactory.getLogger(Predictor.class).warn("{}: no stream of its own ({}); batches run on the "
                    + "device's default stream", Thread.currentThread().getName(), e.toString());
            return () -> { };
        }
    }

    /** The next requests to run (up to maxBatch clips, at least one request), or null once drained. */
    private List<Request> takeBatch() {
        lock.lock();
        try {
            for (;;) {
                while (!queue.isEmpty() && queue.peekFirst().future.isDone()) {
                    queuedClips -= queue.pollFirst().views.length; // timed out or cancelled while queued
                }
                if (queue.isEmpty()) {
                    if (drained) {
                        return null;
                    }
                    notEmpty.awaitUninterruptibly();
                    continue;
                }
                long wait = queue.peekFirst().enqueuedNanos + maxDelayNanos - System.nanoTime();
                if (!drained && queuedClips < maxBatch && wait > 0) {
                    try {
                        notEmpty.awaitNanos(wait);
                    } catch (InterruptedException e) {
                        // batching threads are never interrupted on purpose; keep serving
                    }
                    continue;
                }
                List<Request> out = new ArrayList<>();
                int n = 0;
                while (!queue.isEmpty()) {
                    Request r = queue.peekFirst();
                    if (!r.future.isDone() && !out.isEmpty() && n + r.views.length > maxBatch) {
                        break;
                    }
                    queue.pollFirst();
                    queuedClips -= r.views.length;
                    if (!r.future.isDone()) {
                        out.add(r);
                        n += r.views.length;
                    }
                }
                if (out.isEmpty()) {
                    continue;
                }
                runningBatches++;
                if (!queue.isEmpty()) {
                    notEmpty.signalAll();
                }
                return out;
            }
        } finally {
            lock.unlock();
        }
    }

    private void run(List<Request> batch) {
        Map<Shape, List<Request>> groups = new LinkedHashMap<>();
        for (Request r : batch) {
            groups.computeIfAbsent(r.clipShape, k -> new ArrayList<>()).add(r);
        }
        for (Map.Entry<Shape, List<Request>> g : groups.entrySet()) {
            try {
                runGroup(g.getKey(), g.getValue());
            } catch (RuntimeException | Error e) {
                for (Request r : g.getValue()) {
                    fail(r, e);
                }
            }
        }
    }

    /** Forward passes over the views of requests of one clip shape, {@code maxBatch} clips at a time. */
    private void runGroup(Shape shape, List<Request> reqs) {
        int k = labels.size();
        int total = 0;
        for (Request r : reqs) {
            total += r.views.length;
        }
        int[] owner = new int[total];
        int[] viewOf = new int[total];
        float[][][] logits = new float[reqs.size()][][];
        for (int i = 0, j = 0; i < reqs.size(); i++) {
            logits[i] = new float[reqs.get(i).views.length][];
            for (int v = 0; v < reqs.get(i).views.length; v++, j++) {
                owner[j] = i;
                viewOf[j] = v;
            }
        }
        int per = Math.toIntExact(shape.size());
        for (int start = 0; start < total; start += maxBatch) {
            int m = Math.min(maxBatch, total - start);
            boolean wanted = false;
            for (int j = 0; j < m && !wanted; j++) {
                wanted = !reqs.get(owner[start + j]).future.isDone();
            }
            if (!wanted) {
                continue; // every request of these clips timed out meanwhile: their views are not run
            }
            float[] out;
            try (TensorScope scope = TensorScope.open()) {
                Tensor x = Tensor.empty(Shape.of(m, shape.get(0), shape.get(1), shape.get(2), shape.get(3)));
                FloatBuffer fb = x.floatBuffer();
                for (int j = 0; j < m; j++) {
                    fb.put(j * per, reqs.get(owner[start + j]).views[viewOf[start + j]]);
                }
                out = forwardToHost(x);
            }
            if (out.length != m * k) {
                throw new IllegalStateException("model returned " + out.length + " values for " + m + " clips x " + k
                        + " classes");
            }
            for (int j = 0; j < m; j++) {
                logits[owner[start + j]][viewOf[start + j]] = java.util.Arrays.copyOfRange(out, j * k, (j + 1) * k);
            }
            batches.incrementAndGet();
            clips.addAndGet(m);
            batchSizes.incrementAndGet(m);
        }
        for (int i = 0; i < reqs.size(); i++) {
            if (!reqs.get(i).future.isDone()) { // a timed-out request may lack views that were skipped
                complete(reqs.get(i), prediction(logits[i]));
            }
        }
    }

    /** Mean logits and mean per-view probabilities of one request, with its top classes. */
    private Prediction prediction(float[][] viewLogits) {
        int k = labels.size();
        int v = viewLogits.length;
        double[] meanLogits = new double[k];
        double[] meanProbs = new double[k];
        double[] p = new double[k];
        for (float[] l : viewLogits) {
            if (config.multiLabel()) {
                for (int c = 0; c < k; c++) {
                    p[c] = 1 / (1 + Math.exp(-l[c]));
                }
            } else {
                double max = Double.NEGATIVE_INFINITY;
                for (float x : l) {
                    max = Math.max(max, x);
                }
                double sum = 0;
                for (int c = 0; c < k; c++) {
                    p[c] = Math.exp(l[c] - max);
                    sum += p[c];
                }
                for (int c = 0; c < k; c++) {
                    p[c] /= sum;
                }
            }
            for (int c = 0; c < k; c++) {
                meanLogits[c] += l[c] / (double) v;
                meanProbs[c] += p[c] / v;
            }
        }
        float[] logits = new float[k];
        float[] probs = new float[k];
        for (int c = 0; c < k; c++) {
            logits[c] = (float) meanLogits[c];
            probs[c] = (float) meanProbs[c];
        }
        int[] best = Metrics.topKIndices(probs, topK);
        List<Prediction.ClassScore> top = new ArrayList<>(best.length);
        for (int i : best) {
            top.add(new Prediction.ClassScore(labels.get(i), i, probs[i]));
        }
        return new Prediction(top, logits, probs, v);
    }

    // ---- builder ----

    /** Configuration of a {@link Predictor}; {@link #checkpoint} or {@link #weights} is required. */
    public static final class Builder {
        private Path checkpoint;
        private Path weights;
        private SevNet source;
        private String modelName;
        private List<String> weightLabels;
        private String device = "auto";
        private int maxBatch = 8;
        private Duration maxQueueDelay = Duration.ofMillis(5);
        private int inFlight = 1;
        private int queueCapacity = 64;
        private String views;
        private Duration timeout = Duration.ofSeconds(30);
        private int topK = 5;
        private int frames;
        private int size;
        private Recipe.Sampling sampling;
        private boolean fold = true;
        private int decodeThreads = 2;
        private int intraOpThreads;
        private String precision = "fp32";
        private List<Tensor> calibration;
        private List<Path> calibrationVideos;
        private int calibrationClips = 8;
        private boolean preallocate = true;
        private boolean cudaGraphs;
        private dev.sevnet.tensor.MemoryFormat memoryFormat = dev.sevnet.tensor.MemoryFormat.CONTIGUOUS;

        private Builder() {
        }

        /** A checkpoint folder ({@code state.json} + {@code model.safetensors}) or a run directory. */
        public Builder checkpoint(Path dir) {
            this.checkpoint = Objects.requireNonNull(dir, "dir");
            this.weights = null;
            this.source = null;
            return this;
        }

        /**
         * A model in this JVM (one just trained, say) and its class names. {@link #build} copies its weights, so the
         * caller may go on training it or close it; geometry as for {@link #weights}. Like DJL's
         * {@code model.newPredictor()}, without a trip through a file.
         */
        public Builder model(SevNet model, List<String> labels) {
            this.source = Objects.requireNonNull(model, "model");
            this.weightLabels = List.copyOf(Objects.requireNonNull(labels, "labels"));
            this.checkpoint = null;
            this.weights = null;
            return this;
        }

        /**
         * A safetensors file with PyTorch {@code state_dict} names, the model it belongs to
         * ({@code sevnet-g8}, ...) and its class names (their count is the model's class count). Input
         * geometry defaults to the paper's 16 frames (TSN segments) at 224 x 224; see {@link #frames},
         * {@link #size}.
         */
        public Builder weights(Path safetensors, String model, List<String> labels) {
            this.weights = Objects.requireNonNull(safetensors, "safetensors");
            this.modelName = Objects.requireNonNull(model, "model");
            this.weightLabels = List.copyOf(labels);
            this.checkpoint = null;
            return this;
        }

        /** {@code auto} (a usable GPU, else the CPU; the default), {@code cpu} or {@code cuda[:i]}. */
        public Builder device(String device) {
            this.device = Objects.requireNonNull(device, "device");
            return this;
        }

        /** Most clips per forward pass (default 8). */
        public Builder maxBatch(int n) {
            this.maxBatch = n;
            return this;
        }

        /** Longest time the oldest queued request waits for a batch to fill (default 5 ms; 0: never waits). */
        public Builder maxQueueDelay(Duration d) {
            this.maxQueueDelay = Objects.requireNonNull(d, "maxQueueDelay");
            return this;
        }

        /** Batches that may run at once, one batching thread each (default 1); on a GPU each has its own CUDA stream. */
        public Builder inFlight(int n) {
            this.inFlight = n;
            return this;
        }

        /** Requests the queue holds before calls are refused with {@link QueueFullException} (default 64). */
        public Builder queueCapacity(int n) {
            this.queueCapacity = n;
            return this;
        }

        /** Test views of {@link Predictor#predict(Path)}: {@code 1x1} or {@code 10x3} (default: the checkpoint's, else 1x1). */
        public Builder views(String clipsByCrops) {
            this.views = Objects.requireNonNull(clipsByCrops, "views");
            return this;
        }

        public Builder views(int clips, int crops) {
            return views(clips + "x" + crops);
        }

        /** Per-call time limit, from the call to its answer (default 30 s). */
        public Builder timeout(Duration d) {
            this.timeout = Objects.requireNonNull(d, "timeout");
            return this;
        }

        /** Classes in {@link Prediction#top()} (default 5). */
        public Builder topK(int k) {
            this.topK = k;
            return this;
        }

        /** Frames per clip decoded by {@link Predictor#predict(Path)} (default: the checkpoint's, else 16). */
        public Builder frames(int t) {
            this.frames = t;
            return this;
        }

        /** Crop size decoded by {@link Predictor#predict(Path)} (default: the checkpoint's, else 224). */
        public Builder size(int s) {
            this.size = s;
            return this;
        }

        /** Frame sampling of {@link Predictor#predict(Path)}: TSN segments or dense (default: the checkpoint's, else TSN). */
        public Builder sampling(Recipe.Sampling s) {
            this.sampling = Objects.requireNonNull(s, "sampling");
            return this;
        }

        /** Fold BatchNorm into the convolutions at load (default true; false runs the eval-mode model as is). */
        public Builder foldBatchNorm(boolean on) {
            this.fold = on;
            return this;
        }

        /**
         * {@code fp32} (the default) or {@code int8}: 8-bit weights (per output channel) and activations
         * (per tensor, calibrated) in every convolution ({@link QuantizedSevNet}); CPU only, needs
         * {@link #foldBatchNorm} on, and calibration clips: {@link #calibration}, or for a checkpoint of the
         * synthetic dataset, {@link #calibrationClips} clips of its training distribution.
         *
         * <p>{@code bf16} or {@code fp16}: on a CUDA device only, with {@link #foldBatchNorm} on. The folded weights
         * are rounded once to bfloat16 / float16 (biases and the classifier stay fp32), the clip is rounded to 16
         * bits at entry, activations stay 16-bit between ops (cuDNN tensor-core convolutions with fp32
         * accumulation), the global average pool and the classifier give fp32 logits ({@link FoldedSevNet}).
         * Logits differ from fp32's by about the 16-bit rounding (see the README's precision section).
         */
        public Builder precision(String precision) {
            String p = Objects.requireNonNull(precision, "precision").toLowerCase(java.util.Locale.ROOT);
            require(p.equals("fp32") || p.equals("int8") || p.equals("bf16") || p.equals("fp16"),
                    "precision must be fp32, int8 (CPU), bf16 or fp16 (CUDA), got '" + precision + "'");
            this.precision = p;
            return this;
        }

        /**
         * Clips that calibrate int8 activation ranges: float32 {@code [3, T, H, W]} or
         * {@code [N, 3, T, H, W]}, normalised like the model's inputs, on the CPU (the caller keeps them).
         * Give clips of the frames and size the predictor will serve: activation ranges depend on them, and clips
         * calibrated at another size gave 16–85% relative logit error in the tenth session's audit (0.2–0.9% at
         * the served size). {@link #calibrationVideos} decodes exactly as requests are.
         */
        public Builder calibration(List<Tensor> clips) {
            this.calibration = List.copyOf(Objects.requireNonNull(clips, "calibration clips"));
            return this;
        }

        /**
         * Videos (or frame folders) that calibrate int8 activation ranges: decoded at load with the
         * checkpoint's test sampling and transform, every view of each — a few dozen clips of the data the
         * model will serve, for a checkpoint of any dataset.
         */
        public Builder calibrationVideos(List<Path> videos) {
            this.calibrationVideos = List.copyOf(Objects.requireNonNull(videos, "calibration videos"));
            return this;
        }

        /** Synthetic calibration clips when none are given (default 8). */
        public Builder calibrationClips(int n) {
            this.calibrationClips = n;
            return this;
        }

        /**
         * Run one forward pass of {@code maxBatch} clips per batching thread at load (default true), so
         * that each thread's buffer pool holds every host buffer a batch needs and steady state makes no
         * native allocation ({@link Stats#poolMallocs()}); false: the pools fill on the first requests.
         */
        /**
         * On a CUDA device, run each batch size's forward pass as a CUDA graph ({@link GraphedInference}): captured
         * the first time that size comes (an eager pass, then the capture), replayed with one launch after — what
         * small batches are bound by. Each captured size keeps its activations' memory. Off by default; ignored on
         * the CPU.
         */
        public Builder cudaGraphs(boolean on) {
            this.cudaGraphs = on;
            return this;
        }

        /**
         * The activations' memory format on a CUDA device: {@code CONTIGUOUS} (NCDHW, the default) or
         * {@code CHANNELS_LAST} (NDHWC from the first conv to the global pool, conv weights in KTRSC: the layout of
         * cuDNN's tensor-core convolutions, where 16-bit grouped convs are fastest). Needs the folded model
         * ({@link #foldBatchNorm} on) and precision fp32, bf16 or fp16; the logits match the contiguous model's up to
         * the convolution algorithms' summation order ({@link FoldedSevNet#toMemoryFormat}).
         */
        public Builder memoryFormat(dev.sevnet.tensor.MemoryFormat format) {
            this.memoryFormat = Objects.requireNonNull(format, "memory format");
            return this;
        }

        public Builder preallocate(boolean on) {
            this.preallocate = on;
            return this;
        }

        /** Threads decoding the videos of {@link Predictor#predictAsync(Path)} (default 2). */
        public Builder decodeThreads(int n) {
            this.decodeThreads = n;
            return this;
        }

        /**
         * On the CPU, the native threads each batching thread's forward pass runs on (default 0: the library's thread
         * count, {@link dev.sevnet.backend.cpu.CpuBackend#setNumThreads}, shared out among the {@link #inFlight}
         * threads, at least 1 each; with one batching thread, all of it). Each of several in-flight batches on every
         * core would run inFlight x cores threads on the cores, their barriers waiting on each other's preempted
         * threads. Ignored on a GPU.
         */
        public Builder intraOpThreads(int n) {
            this.intraOpThreads = n;
            return this;
        }

        /**
         * Loads the weights, prepares the inference graph, moves it to the device and starts the
         * batching threads.
         *
         * @throws IllegalArgumentException for a bad option, a missing checkpoint folder, or an unusable device
         * @throws dev.sevnet.nn.io.WeightsFormatException for weights that are missing, corrupt, hold non-finite
         *                                  values or do not match the model
         */
        public Predictor build() {
            require(checkpoint != null || weights != null || source != null,
                    "a checkpoint folder, a weights file or a model is required");
            require(maxBatch >= 1 && maxBatch <= MAX_BATCH, "maxBatch must be 1.." + MAX_BATCH + ", got " + maxBatch);
            require(!maxQueueDelay.isNegative(), "maxQueueDelay must be >= 0, got " + maxQueueDelay);
            require(inFlight >= 1 && inFlight <= MAX_IN_FLIGHT, "inFlight must be 1.." + MAX_IN_FLIGHT + ", got "
                    + inFlight);
            require(queueCapacity >= 1 && queueCapacity <= MAX_QUEUE, "queueCapacity must be 1.." + MAX_QUEUE + ", got "
                    + queueCapacity);
            require(!timeout.isNegative() && !timeout.isZero(), "timeout must be > 0, got " + timeout);
            require(topK >= 1, "topK must be >= 1, got " + topK);
            require(frames >= 0 && size >= 0, "frames and size must be >= 0 (0: the checkpoint's), got " + frames
                    + " and " + size);
            require(decodeThreads >= 1 && decodeThreads <= MAX_IN_FLIGHT, "decodeThreads must be 1.." + MAX_IN_FLIGHT
                    + ", got " + decodeThreads);
            require(intraOpThreads >= 0 && intraOpThreads <= MAX_INTRA_OP_THREADS, "intraOpThreads must be 0.."
                    + MAX_INTRA_OP_THREADS + " (0: the library's thread count shared among the batching threads), got "
                    + intraOpThreads);
            require(calibrationClips >= 1, "calibrationClips must be >= 1, got " + calibrationClips);
            boolean int8 = precision.equals("int8");
            require(!int8 || fold, "int8 runs the folded model: foldBatchNorm(false) cannot be combined with it");
            require(!int8 || !device.trim().toLowerCase(java.util.Locale.ROOT).startsWith("cuda"),
                    "int8 inference runs on the CPU only: use device(\"cpu\") (or \"auto\") with precision int8, "
                            + "or precision fp32 on " + device);
            boolean half = precision.equals("bf16") || precision.equals("fp16");
            require(!half || fold, precision + " runs the folded model: foldBatchNorm(false) cannot be combined with it");
            require(!half || !device.trim().equalsIgnoreCase("cpu"), halfOnCpu(precision, "the device is cpu"));
            // auto with int8: the CPU, the only device with int8 kernels
            DeviceChoice choice = DeviceChoice.resolve(int8 && device.trim().equalsIgnoreCase("auto") ? "cpu" : device);
            if (int8 && !choice.device().isCpu()) {
                throw new IllegalArgumentException("int8 inference runs on the CPU only, but the device is "
                        + choice.device() + " (" + choice.reason() + "): use device(\"cpu\") or precision fp32");
            }
            if (half && choice.device().isCpu()) {
                throw new IllegalArgumentException(halfOnCpu(precision, "device " + device + " resolved to the CPU ("
                        + choice.reason() + ")"));
            }
            boolean channelsLast = memoryFormat == dev.sevnet.tensor.MemoryFormat.CHANNELS_LAST;
            require(!channelsLast || fold && !int8, "channels-last activations run the folded fp32/bf16/fp16 model:"
                    + " not with foldBatchNorm(false) or int8");
            if (channelsLast && !choice.backend().supportsChannelsLast()) {
                throw new IllegalArgumentException("the " + choice.backend().name() + " backend has no channels-last "
                        + "tensors: use the contiguous format on " + choice.device());
            }
            if (channelsLast && choice.device().isCpu()) {
                org.slf4j.LoggerFactory.getLogger(Predictor.class).warn("channels-last on the CPU runs every op on "
                        + "NCDHW copies (the reference of the GPU path): slower than contiguous there");
            }

            TrainConfig config;
            List<String> labels;
            SevNet net;
            if (checkpoint != null) {
                Checkpoint.State st = Checkpoint.readState(checkpoint);
                config = st.config();
                labels = st.labels().size() == config.numClasses() ? st.labels()
                        : AnnotationReaders.numberedClasses(config.numClasses());
                net = loadOrClose(Trainer.createModel(config), Checkpoint.readModel(checkpoint));
            } else if (source != null) {
                SevNetConfig mc = source.config();
                require(weightLabels.size() == mc.numClasses(), "the model has " + mc.numClasses() + " classes but "
                        + weightLabels.size() + " labels were given");
                config = TrainConfig.builder().model(mc.modelName()).numClasses(mc.numClasses()).frames(16).size(224)
                        .build();
                labels = weightLabels;
                Map<String, Tensor> w = source.stateDictCopy(k -> true); // the caller's model stays its own
                try {
                    dev.sevnet.nn.io.Safetensors.requireFinite(Path.of("the given model"), w);
                } catch (RuntimeException e) {
                    w.values().forEach(Tensor::close);
                    throw e;
                }
                net = loadOrClose(SevNet.create(mc, 0), w);
            } else {
                require(!weightLabels.isEmpty(), "labels must not be empty");
                SevNetConfig mc = SevNetConfig.parse(modelName).toBuilder().numClasses(weightLabels.size()).build();
                config = TrainConfig.builder().model(mc.modelName()).numClasses(weightLabels.size()).frames(16).size(224)
                        .build();
                labels = weightLabels;
                net = SevNet.create(mc, 0);
                try {
                    WeightsLoader.load(net, weights, true);
                } catch (RuntimeException e) {
                    net.close();
                    throw e;
                }
            }
            Module model = net;
            try {
                TrainConfig.Builder cb = config.toBuilder();
                if (frames > 0) {
                    cb.frames(frames);
                }
                if (size > 0) {
                    cb.size(size);
                }
                if (views != null) {
                    cb.views(views);
                }
                if (sampling != null) {
                    cb.sampling(sampling);
                }
                if (config.denseSpan() < (frames > 0 ? frames : config.frames())) {
                    cb.denseSpan(frames);
                }
                config = cb.build();
                net.eval();
                if (fold) {
                    model = FoldedSevNet.fold(net, switch (precision) {
                        case "bf16" -> DType.BFLOAT16;
                        case "fp16" -> DType.FLOAT16;
                        default -> DType.FLOAT32;
                    });
                    net.close();
                }
                if (int8) {
                    FoldedSevNet f = (FoldedSevNet) model;
                    try {
                        model = quantize(f, config);
                    } finally {
                        f.close();
                    }
                }
                model.to(choice.backend());
                if (channelsLast) {
                    ((FoldedSevNet) model).toMemoryFormat(memoryFormat);
                }
                model.eval();
                return new Predictor(this, config, labels, model, choice);
            } catch (RuntimeException | Error e) {
                net.close();
                model.close();
                throw e;
            }
        }

        private QuantizedSevNet quantize(FoldedSevNet f, TrainConfig config) {
            if (calibration != null) {
                List<Tensor> clips = new ArrayList<>();
                try (TensorScope scope = TensorScope.open()) {
                    for (Tensor c : calibration) {
                        require(!c.isClosed() && (c.rank() == 4 || c.rank() == 5),
                                "calibration clips must be [3, T, H, W] or [N, 3, T, H, W], got "
                                        + (c.isClosed() ? "a closed tensor" : c.shape().toString()));
                        clips.add(c.rank() == 4 ? c.reshape(1, c.dim(0), c.dim(1), c.dim(2), c.dim(3)) : c);
                    }
                    return QuantizedSevNet.quantize(f, clips);
                }
            }
            if (calibrationVideos != null) {
                require(!calibrationVideos.isEmpty(), "calibrationVideos must not be empty");
                List<Tensor> clips = new ArrayList<>();
                try (TensorScope scope = TensorScope.open()) {
                    dev.sevnet.data.VideoListDataset ds = Datasets.files(config, calibrationVideos,
                            AnnotationReaders.numberedClasses(config.numClasses()));
                    for (int i = 0; i < calibrationVideos.size(); i++) {
                        List<Clip> views;
                        try {
                            views = ds.loadViews(i);
                        } catch (RuntimeException e) {
                            throw new IllegalArgumentException("calibration video " + calibrationVideos.get(i)
                                    + " cannot be used: " + e.getMessage(), e);
                        }
                        for (Clip c : views) {
                            clips.add(Tensor.of(c.data(), 1, 3, c.frames(), c.height(), c.width()));
                        }
                    }
                    return QuantizedSevNet.quantize(f, clips);
                }
            }
            require(config.isSynthetic(), "int8 needs calibration clips of the data to serve: give videos with "
                    + "calibrationVideos(...) (command line: --calibration VIDEOS) or clip tensors with calibration(...); "
                    + "only a checkpoint of the synthetic dataset has default ones");
            SyntheticMotionDataset ds = SyntheticMotionDataset.builder().size(calibrationClips).seed(config.seed())
                    .frames(config.frames()).resolution(config.size()).build();
            List<Tensor> clips = new ArrayList<>();
            try (TensorScope scope = TensorScope.open()) {
                for (int i = 0; i < calibrationClips; i++) {
                    Clip c = ds.load(i, new Random(i), false);
                    clips.add(Tensor.of(c.data(), 1, 3, c.frames(), c.height(), c.width()));
                }
                return QuantizedSevNet.quantize(f, clips);
            }
        }

        private static String halfOnCpu(String precision, String why) {
            // named for both readers: the API's builder and the command line's options
            return precision + " inference runs on CUDA devices only, but " + why + ": use device cuda (--device cuda, "
                    + "or auto on a machine with a usable GPU) with precision " + precision + ", or on the CPU "
                    + "precision fp32 or int8 (--precision); fp32 computes its GEMM convolutions in bf16 on "
                    + "AMX or AVX512-BF16 with CpuBackend.setFp32Precision(BF16) (--fp32-precision bf16)";
        }

        private static void require(boolean ok, String message) {
            if (!ok) {
                throw new IllegalArgumentException(message);
            }
        }
    }
}
