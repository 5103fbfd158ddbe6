package dev.sevnet.cli;

import dev.sevnet.infer.PredictServer;
import dev.sevnet.infer.Predictor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/** {@code sevnet serve}: an HTTP endpoint classifying posted videos with a checkpoint. */
@Command(name = "serve", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Serve a checkpoint over HTTP (the JDK's built-in server):",
            "  POST /v1/predict   the video file as the body (Content-Type video/mp4, video/webm or "
                    + "application/octet-stream), or a decoded float32 clip [3,T,H,W] as application/x-npy "
                    + "-> {\"top\":[{\"label\",\"index\",\"prob\"}...],\"logits\":[...]}",
            "  GET  /healthz      liveness and the model served",
            "  GET  /metrics      Prometheus text: requests by status, latency, batch sizes, queue depth, errors",
            "Requests from all clients are batched dynamically. Stop with Ctrl-C (in-flight requests are answered)."})
public final class ServeCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, paramLabel = "DIR",
            description = "Checkpoint folder (or a run directory: its checkpoints/last).")
    Path checkpoint;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to bind (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", defaultValue = "8080", description = "Port (default: ${DEFAULT-VALUE}; 0: any free port).")
    int port;

    @Option(names = "--device", paramLabel = "auto|cpu|cuda[:i]", defaultValue = "auto",
            description = "Where the model runs (default: ${DEFAULT-VALUE}: a usable GPU, else the CPU).")
    String device;

    @Option(names = "--max-body-mb", paramLabel = "N", defaultValue = "64",
            description = "Largest accepted video in MiB (default: ${DEFAULT-VALUE}); larger bodies get 413.")
    double maxBodyMb;

    @Option(names = "--max-batch", defaultValue = "8", description = "Most clips per forward pass (default: ${DEFAULT-VALUE}).")
    int maxBatch;

    @Option(names = "--max-delay-ms", defaultValue = "5",
            description = "Longest wait for a batch to fill, in ms (default: ${DEFAULT-VALUE}).")
    long maxDelayMs;

    @Option(names = "--in-flight", defaultValue = "1", description = "Batches run at once (default: ${DEFAULT-VALUE}).")
    int inFlight;

    @Option(names = "--intra-op-threads", defaultValue = "0", description = "On the CPU: native threads each in-flight "
            + "batch runs on (default 0: the cores shared among the --in-flight batches, at least 1 each).")
    int intraOpThreads;

    @Option(names = "--cuda-graphs", description = "On a CUDA device: replay each batch size's forward pass as a CUDA "
            + "graph (captured the first time that size comes; one launch per batch instead of a few hundred).")
    boolean cudaGraphs;

    @Option(names = "--queue", defaultValue = "64",
            description = "Queued requests before answering 503 (default: ${DEFAULT-VALUE}).")
    int queue;

    @Option(names = "--timeout-ms", defaultValue = "30000", description = "Per-request time limit (default: ${DEFAULT-VALUE}).")
    long timeoutMs;

    @Option(names = "--threads", defaultValue = "8",
            description = "Requests decoded and predicted at once; up to --queue more wait their turn, within "
                    + "--timeout-ms (default: ${DEFAULT-VALUE}).")
    int threads;

    @Option(names = "--read-timeout-s", defaultValue = "60", paramLabel = "S",
            description = "Time a request may take to arrive whole, headers and body; slower connections are "
                    + "closed (default: ${DEFAULT-VALUE}).")
    long readTimeoutS;

    @Option(names = "--views", paramLabel = "CLIPSxCROPS", description = "Test views, 1x1 or 10x3 (default: the checkpoint's).")
    String views;

    @Option(names = "--top", paramLabel = "K", defaultValue = "5", description = "Labels per answer (default: ${DEFAULT-VALUE}).")
    int top;

    @Option(names = "--no-fold", description = "Run the model as trained instead of folding BatchNorm into the convs.")
    boolean noFold;

    @Mixin
    Int8Calibration int8 = new Int8Calibration();

    private static void positive(long v, String option) {
        if (v < 1) {
            throw new IllegalArgumentException(option + " must be >= 1, got " + v);
        }
    }

    @Mixin
    Fp32PrecisionOption fp32 = new Fp32PrecisionOption();

    @Override
    public Integer call() throws Exception {
        fp32.apply();
        if (!(maxBodyMb > 0)) {
            throw new IllegalArgumentException("--max-body-mb must be > 0");
        }
        // named as the options are (the builder's own checks name its methods)
        positive(maxBatch, "--max-batch");
        positive(inFlight, "--in-flight");
        positive(queue, "--queue");
        positive(timeoutMs, "--timeout-ms");
        positive(top, "--top");
        positive(threads, "--threads");
        positive(readTimeoutS, "--read-timeout-s");
        if (intraOpThreads < 0) {
            throw new IllegalArgumentException("--intra-op-threads must be >= 0 (0: the cores shared among the "
                    + "--in-flight batches), got " + intraOpThreads);
        }
        if (maxDelayMs < 0) {
            throw new IllegalArgumentException("--max-delay-ms must be >= 0, got " + maxDelayMs);
        }
        Predictor.Builder b = Predictor.builder().checkpoint(checkpoint).device(device).maxBatch(maxBatch)
                .maxQueueDelay(Duration.ofMillis(maxDelayMs)).inFlight(inFlight).intraOpThreads(intraOpThreads)
                .queueCapacity(queue).timeout(Duration.ofMillis(timeoutMs)).topK(top).foldBatchNorm(!noFold)
                .cudaGraphs(cudaGraphs);
        if (views != null) {
            b.views(views);
        }
        int8.applyTo(b);
        Predictor predictor = b.build();
        PredictServer server;
        try {
            server = PredictServer.start(predictor, host, port, (long) (maxBodyMb * 1048576), threads, null,
                    Duration.ofSeconds(readTimeoutS));
        } catch (RuntimeException e) {
            predictor.close();
            throw e;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            server.close();
            predictor.close();
            stopped.countDown();
        }, "sevnet-serve-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        if (cudaGraphs && predictor.device().isCpu()) {
            System.err.println("warning: --cuda-graphs needs a CUDA device; on " + predictor.device()
                    + " every batch runs eagerly");
        }
        java.net.InetAddress bound = server.address().getAddress();
        if (!bound.isLoopbackAddress()) {
            System.err.println("warning: listening on " + (bound.isAnyLocalAddress() ? "every interface" : host)
                    + ": anyone who can reach this machine can use the model; there is no authentication");
        }
        String shown = bound.isAnyLocalAddress() ? host : bound.getHostAddress();
        System.out.printf("sevnet serve: %s (%d classes, %s, %s, views %d) on %s (%s), listening on http://%s:%d%n",
                predictor.modelName(), predictor.numClasses(), predictor.isFolded() ? "BN folded" : "unfolded",
                predictor.precision() + (predictor.memoryFormat() == dev.sevnet.tensor.MemoryFormat.CONTIGUOUS ? ""
                        : " " + predictor.memoryFormat().label()), predictor.views(), predictor.device(),
                predictor.deviceReason(),
                shown.contains(":") ? "[" + shown + "]" : shown, server.port());
        System.out.flush();
        try {
            stopped.await();
        } catch (InterruptedException e) {
            // serve run on a thread of an embedding program (or a test) stops when that thread is interrupted
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook runs anyway; both closes are idempotent
            }
            server.close();
            predictor.close();
            Thread.currentThread().interrupt();
        }
        return 0;
    }
}
