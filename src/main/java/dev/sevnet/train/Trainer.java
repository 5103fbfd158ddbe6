package dev.sevnet.train;

import com.google.gson.JsonObject;
import dev.sevnet.autograd.Autocast;
import dev.sevnet.autograd.F;
import dev.sevnet.autograd.Var;
import dev.sevnet.data.Batch;
import dev.sevnet.data.ClipLoader;
import dev.sevnet.data.ClipSource;
import dev.sevnet.data.Seeds;
import dev.sevnet.nn.Dropout;
import dev.sevnet.nn.Module;
import dev.sevnet.nn.SevNet;
import dev.sevnet.nn.SevNetConfig;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The training loop: epochs over a {@link ClipLoader}, each step in a {@link TensorScope} (everything
 * but parameters, gradients and optimizer state is freed at the end of the step), forward in train
 * mode, softmax cross-entropy (BCE with logits for multi-label), backward, gradient accumulation over
 * {@code accum} micro-batches, an SGD step at the scheduled learning rate; validation after each
 * epoch; atomic checkpoints ({@code last/} every epoch, {@code best/} on a new best score); the run
 * directory's metrics, summary and curves.
 *
 * <p><b>Exact resume.</b> Everything random is a function of saved state: the loader's order and
 * augmentation of epoch {@code e} depend only on {@code (seed, e)}, dropout masks are reseeded at the
 * start of every epoch from the trainer's {@link Rng} (whose state the checkpoint saves), the learning
 * rate depends only on the saved step counter, and the checkpoint holds the weights, BN statistics
 * and momentum buffers. So a run stopped after epoch k and resumed from {@code last/} reaches the same
 * weights as a run that never stopped.
 *
 * <p><b>Mixed precision</b> ({@link TrainConfig#precision()} bf16 / fp16): the forward pass runs under
 * {@link Autocast} (16-bit convolutions and activations, float32 batch-norm parameters, head and loss); the weights
 * the optimizer updates stay float32 (master weights), and so do their gradients. fp16 scales the loss gradient
 * with a {@link LossScaler} and skips (logging it) an optimizer step whose gradients are not finite; its state is
 * in the checkpoint. On the CPU, 16-bit training is refused unless {@value Precision#CPU_REFERENCE_PROPERTY} is
 * set (there it is the slow numerics reference of the GPU path).
 */
public final class Trainer {
    private static final Logger LOG = LoggerFactory.getLogger(Trainer.class);

    private final TrainConfig config;
    private final RunDirectory run;
    private final Progress.Mode progressMode;
    private int stopAfterEpoch = Integer.MAX_VALUE;
    private boolean writeCurves = true;
    private ClipSource trainData;
    private ClipSource valData;
    private final List<Listener> listeners = new java.util.concurrent.CopyOnWriteArrayList<>();
    private volatile boolean stopRequested;
    private LearningRate learningRate;

    /**
     * The learning rate of each optimizer step, in place of the config's warm-up + cosine. It must depend on its
     * arguments only (a resume recomputes it from the saved step count).
     */
    @FunctionalInterface
    public interface LearningRate {
        /** The rate for optimizer step {@code step} (0-based) of a run with {@code stepsPerEpoch} steps an epoch. */
        double at(long step, long stepsPerEpoch);
    }

    /**
     * What a finished (or stopped) run reports. {@code finalVal} is the last validation (null when the run was stopped
     * by {@link #requestStop()} before its first epoch ended); {@code stoppedEarly}: it ended before its last epoch.
     */
    public record Result(Path runDir, Metrics.Result finalVal, int epochsDone, long steps, double wallSeconds,
            List<String> labels, boolean stoppedEarly) {
    }

    /**
     * Follows a run as it goes (Lightning's callbacks, DJL's TrainingListener). Called on the training thread; keep it
     * quick. An exception thrown here ends the run (the last checkpoint stays complete).
     */
    public interface Listener {
        /** After each optimizer step: the step count so far, the last micro-batch's loss, the learning rate used. */
        default void afterStep(long step, double loss, double lr) {
        }

        /**
         * After each epoch's validation and checkpoints. Return false to end the run there (early stopping): the run
         * then ends as a finished one, with its summary, and can still be continued with more epochs.
         */
        default boolean afterEpoch(EpochRecord epoch, boolean best) {
            return true;
        }
    }

    public Trainer(TrainConfig config, Path runDir, Progress.Mode progressMode) {
        this.config = config;
        this.createdRunDir = !java.nio.file.Files.exists(runDir);
        this.run = new RunDirectory(runDir);
        this.progressMode = progressMode;
    }

    /**
     * Trains on these sources instead of the data the config names (files or the synthetic set): any
     * {@link ClipSource}, e.g. clips made in memory. Their class names must agree and count
     * {@link TrainConfig#numClasses()}. A resume of such a run needs the same sources given again.
     */
    public Trainer data(ClipSource train, ClipSource val) {
        java.util.Objects.requireNonNull(train, "train");
        java.util.Objects.requireNonNull(val, "val");
        if (!train.classNames().equals(val.classNames())) {
            throw new IllegalArgumentException("training and validation data have different classes: "
                    + train.numClasses() + " vs " + val.numClasses());
        }
        this.trainData = train;
        this.valData = val;
        return this;
    }

    /** Trains with this learning-rate policy instead of the config's (see {@link LearningRate}). */
    public Trainer learningRate(LearningRate policy) {
        this.learningRate = java.util.Objects.requireNonNull(policy, "policy");
        return this;
    }

    /** Adds a listener (see {@link Listener}); several may be added. */
    public Trainer addListener(Listener l) {
        listeners.add(java.util.Objects.requireNonNull(l, "listener"));
        return this;
    }

    /**
     * Asks the run to stop after the optimizer step in progress, from any thread. The epoch under way is dropped: the
     * last checkpoint is the previous epoch's, complete, and {@code resume} continues from it exactly.
     */
    public void requestStop() {
        stopRequested = true;
    }

    /** Stops (as if the process died) right after epoch {@code k}'s checkpoint; for resume tests. */
    public Trainer stopAfterEpoch(int k) {
        this.stopAfterEpoch = k;
        return this;
    }

    public Trainer writeCurves(boolean on) {
        this.writeCurves = on;
        return this;
    }

    public RunDirectory runDirectory() {
        return run;
    }

    /** The model a config describes, with deterministic initial weights. */
    public static SevNet createModel(TrainConfig c) {
        SevNetConfig mc = SevNetConfig.parse(c.model()).toBuilder().numClasses(c.numClasses()).dropout(c.dropout()).build();
        return SevNet.create(mc, c.seed());
    }

    /**
     * The metric that picks the best checkpoint: for multi-label the per-sample MMIT mAP with the {@code mmit} recipe
     * (what mmaction2's Multi-Moments in Time configs evaluate) and the per-class mAP otherwise, mean class accuracy
     * for FineGym, else top-1.
     */
    public static String primaryMetric(TrainConfig c) {
        if (c.multiLabel()) {
            return "mmit".equals(c.recipe()) ? "mmit_map" : "map";
        }
        if (c.recipe() != null && c.recipe().startsWith("gym")) {
            return "mean_class_acc";
        }
        return "top1";
    }

    static double score(Metrics.Result r, String metric) {
        return switch (metric) {
            case "map" -> r.map();
            case "mmit_map" -> r.sampleMap();
            case "mean_class_acc" -> r.meanClassAcc();
            default -> r.top1();
        };
    }

    /** Trains from scratch. */
    public Result run() {
        return removingAnEmptyRun(() -> train(null));
    }

    /** Continues the run saved in {@code checkpointDir} (its config wins over this trainer's). */
    public Result resume(Path checkpointDir) {
        Checkpoint.resolve(checkpointDir); // fails early, before the run folder is touched
        return removingAnEmptyRun(() -> train(checkpointDir));
    }

    /** Whether this trainer made its run folder (it did not exist before). */
    private final boolean createdRunDir;

    /**
     * Runs {@code body}; when it fails before any checkpoint was written (bad data, bad options found late), the run
     * folder this trainer made is removed again, so failed starts do not leave empty runs behind.
     */
    private Result removingAnEmptyRun(java.util.function.Supplier<Result> body) {
        try {
            return body.get();
        } catch (RuntimeException | Error e) {
            if (createdRunDir && !java.nio.file.Files.exists(run.checkpoints())) {
                try (java.util.stream.Stream<Path> files = java.nio.file.Files.walk(run.root())) {
                    for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                        java.nio.file.Files.deleteIfExists(p);
                    }
                } catch (java.io.IOException | RuntimeException cleanup) {
                    e.addSuppressed(cleanup);
                }
            }
            throw e;
        }
    }

    private Result train(Path resumeFrom) {
        try (AutoCloseable held = run.lock()) {
            run.removeDebris();
            if (resumeFrom == null) {
                if (RunDirectory.holdsRun(run.root())) {
                    throw new IllegalArgumentException(run.root() + " already holds a run: continue it with --resume "
                            + run.root() + ", or train into another folder (nothing was overwritten)");
                }
                if (RunDirectory.holdsUnstartedRun(run.root())) {
                    LOG.info("{} holds a run stopped before its first checkpoint: starting it over", run.root());
                    run.clearUnstarted();
                }
            }
            // resolved after the tidy-up, which may have put a checkpoint left under .last.old back in place
            return trainLocked(resumeFrom == null ? null : Checkpoint.resolve(resumeFrom));
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) { // only the lock's release declares one
            throw new UncheckedIOException(new IOException("cannot release the lock of " + run.root(), e));
        }
    }

    private Result trainLocked(Path resumeFrom) {
        long t0 = System.nanoTime();
        DeviceChoice device = DeviceChoice.resolve(config.device());
        if (!"requested".equals(device.reason())) {
            LOG.info("device {}: using {} ({})", config.device(), device.device(), device.reason());
        }
        if (config.deterministic() && device.backend() instanceof dev.sevnet.backend.cuda.CudaBackend gpu
                && !gpu.deterministic()) {
            gpu.setDeterministic(true); // for this run only: the backend is shared by the whole JVM
            LOG.info("--deterministic: cuDNN convolutions use deterministic algorithms only");
            try {
                return trainOn(device, resumeFrom, t0);
            } finally {
                gpu.setDeterministic(false);
            }
        }
        return trainOn(device, resumeFrom, t0);
    }

    private Result trainOn(DeviceChoice device, Path resumeFrom, long t0) {
        Precision.checkTrainingDevice(config.precision(), device.device().isCpu(),
                "requested".equals(device.reason()) ? null : config.device() + " -> " + device.reason());
        if (config.precision().isHalf() && device.device().isCpu()) {
            LOG.warn("{} training on the CPU: the numerics reference of the GPU path (-D{}=true), slower than fp32",
                    config.precision(), Precision.CPU_REFERENCE_PROPERTY);
        }
        ClipSource trainSet = trainData != null ? trainData : Datasets.train(config);
        ClipSource valSet = valData != null ? valData : Datasets.val(config);
        List<String> labels = trainData != null ? trainData.classNames() : Datasets.classNames(config);
        if (trainSet.numClasses() != config.numClasses()) {
            throw new IllegalArgumentException("the training data has " + trainSet.numClasses() + " classes, the run "
                    + config.numClasses() + " (TrainConfig numClasses, --classes on the command line)");
        }
        int batch = config.batch();
        boolean dropLast = trainSet.size() >= batch;
        String metric = primaryMetric(config);
        int loaders = config.loaderThreads(!device.device().isCpu());

        try (SevNet model = createModel(config);
                SgdOptimizer opt = new SgdOptimizer(model.namedParameters(), config.momentum(), config.weightDecay());
                ClipLoader loader = ClipLoader.builder(trainSet).batchSize(batch).workers(loaders)
                        .seed(config.seed()).train(true).shuffle(true).dropLast(dropLast).build();
                // the next batch assembled and uploaded (pinned memory, copy stream) while this one computes
                dev.sevnet.backend.Uploader uploader = BatchPrefetcher.enabledFor(device.device())
                        ? device.backend().uploader(2) : null) {
            model.to(device.backend());
            if (config.memoryFormat() != dev.sevnet.tensor.MemoryFormat.CONTIGUOUS) {
                if (device.backend().supportsChannelsLast()) {
                    model.toMemoryFormat(config.memoryFormat());
                    if (device.device().isCpu()) {
                        LOG.warn("{} on the CPU runs every op on NCDHW copies (the reference of the GPU path): slower "
                                + "than contiguous there", config.memoryFormat().label());
                    }
                } else {
                    LOG.warn("the {} backend has no {} tensors; training runs contiguous", device.backend().name(),
                            config.memoryFormat().label());
                }
            }
            this.device = device;
            graphStep = null;
            if (config.cudaGraphs()) {
                if (device.backend() instanceof dev.sevnet.backend.cuda.CudaBackend gpu) {
                    graphStep = new GraphedTrainStep(model, gpu, config);
                } else {
                    LOG.warn("--cuda-graphs needs a CUDA device; training on {} runs eagerly", device.device());
                }
            }
            Path algorithms = run.root().resolve("cudnn-algorithms.json");
            if (device.backend() instanceof dev.sevnet.backend.cuda.CudaBackend gpu
                    && java.nio.file.Files.exists(algorithms)) {
                try {
                    LOG.info("reused {} cuDNN algorithm choices from {}", gpu.loadAlgorithmCache(algorithms), algorithms);
                } catch (IOException e) {
                    LOG.warn("ignoring {}: {}", algorithms, e.getMessage());
                }
            }
            int microPerEpoch = loader.batchesPerEpoch();
            if (microPerEpoch == 0) {
                throw new IllegalArgumentException("the training set is empty");
            }
            long stepsPerEpoch = (microPerEpoch + config.accum() - 1) / config.accum();
            LrSchedule warmupCosine = new LrSchedule(config.baseLr(), config.warmupEpochs(), config.epochs(),
                    stepsPerEpoch);
            LearningRate policy = learningRate;
            java.util.function.LongToDoubleFunction schedule = policy == null ? warmupCosine::lr : s -> {
                double lr = policy.at(s, stepsPerEpoch);
                if (!(lr >= 0) || Double.isInfinite(lr)) {
                    throw new IllegalStateException("the learning-rate policy gave " + lr + " for step " + s);
                }
                return lr;
            };
            Rng rng = new Rng(Seeds.mix(config.seed(), 0x747261696eL));
            scaler = config.precision().needsLossScaling() ? new LossScaler() : null;
            int startEpoch = 1;
            long step = 0;
            double best = Double.NaN;
            int bestEpoch = 0;
            double priorWall = 0;
            if (resumeFrom != null) {
                Checkpoint.State st = Checkpoint.readState(resumeFrom);
                Map<String, Tensor> w = Checkpoint.readModel(resumeFrom);
                Map<String, Tensor> o = Checkpoint.readOptimizer(resumeFrom);
                try {
                    model.loadStateDict(w, true);
                    opt.loadStateDict(o);
                } finally {
                    w.values().forEach(Tensor::close);
                    o.values().forEach(Tensor::close);
                }
                rng.setState(st.rngState());
                if (scaler != null && st.lossScaler() != null) {
                    scaler.load(st.lossScaler());
                }
                startEpoch = st.epoch() + 1;
                step = st.step();
                best = st.bestScore();
                bestEpoch = st.bestEpoch();
                priorWall = st.wallSeconds();
                run.truncateEpochs(st.epoch());
                LOG.info("resuming {} after epoch {} (step {})", resumeFrom, st.epoch(), st.step());
            } else {
                run.truncateEpochs(0);
            }
            run.writeConfig(config);
            if (trainData != null) {
                run.markDataInCode(trainSet.getClass().getName() + " (" + trainSet.size() + " samples)",
                        valSet.getClass().getName() + " (" + valSet.size() + " samples)");
            }
            logStart(model, trainSet, valSet, policy == null ? String.format(Locale.ROOT, "base lr %.4g", warmupCosine.baseLr())
                    : "lr from Trainer.learningRate", stepsPerEpoch, device);

            Metrics.Result lastVal = null;
            int epoch = startEpoch - 1;
            boolean stopped = false;
            boolean cancelled = false;
            boolean endedEarly = false;
            boolean drawCurves = writeCurves;
            for (epoch = startEpoch; epoch <= config.epochs(); epoch++) {
                long te = System.nanoTime();
                // dropout masks of this epoch: a function of the saved RNG state only
                long dropoutSeed = rng.nextLong();
                int dropoutIndex = 0;
                for (Module m : model.namedModules().values()) {
                    if (m instanceof Dropout d) {
                        d.reseed(Seeds.mix(dropoutSeed, dropoutIndex++), 0);
                    }
                }
                model.train(true);
                opt.zeroGrad();
                gradMicroBatches = 0;
                double lossSum = 0;
                float lastLoss = Float.NaN;
                long seen = 0;
                long correct = 0;
                int micro = 0;
                int skipped;
                double lastLr = schedule.applyAsDouble(step);
                long skippedBefore = scaler == null ? 0 : scaler.skippedSteps();
                String task = String.format(Locale.ROOT, "epoch %d/%d", epoch, config.epochs());
                try (Progress bar = new Progress(task, (long) microPerEpoch * batch, progressMode, 15);
                        ClipLoader.Epoch data = loader.epoch(epoch);
                        BatchPrefetcher prefetcher = uploader == null ? null
                                : new BatchPrefetcher(data, uploader, "sevnet-prefetch-epoch-" + epoch)) {
                    java.util.Iterator<BatchPrefetcher.Item> batches =
                            prefetcher != null ? prefetcher : BatchPrefetcher.direct(data);
                    while (batches.hasNext()) {
                        try (BatchPrefetcher.Item item = batches.next(); TensorScope scope = TensorScope.open()) {
                            Batch b = item.batch();
                            pendingUpload = item.clips();
                            float loss;
                            try {
                                loss = trainStep(model, b, config.accum());
                                gradMicroBatches++;
                            } finally {
                                pendingUpload = null;
                            }
                            if (!Float.isFinite(loss) && scaler == null) {
                                // fp32/bf16 have no loss scale to back off: the weights are (or are about to be) lost,
                                // so stop before this epoch writes a checkpoint
                                throw new IllegalStateException(String.format(Locale.ROOT, "training diverged at epoch "
                                        + "%d, step %d: the loss is %s (learning rate %.4g); lower --lr, or resume "
                                        + "from the last checkpoint", epoch, step, loss, lastLr));
                            }
                            int n = b.size();
                            lastLoss = loss;
                            lossSum += (double) loss * n;
                            seen += n;
                            correct += lastCorrect;
                            micro++;
                            bar.step(n, String.format(Locale.ROOT, "loss %.3f", lossSum / seen));
                        }
                        if (micro % config.accum() == 0 || !batches.hasNext()) {
                            lastLr = schedule.applyAsDouble(step);
                            optimizerStep(model, opt, lastLr, step);
                            if (graphStep == null || !graphStep.captured()) {
                                opt.zeroGrad(); // a captured step zeroes the gradients itself, first thing
                            }
                            gradMicroBatches = 0;
                            step++;
                            for (Listener l : listeners) {
                                l.afterStep(step, lastLoss, lastLr);
                            }
                            if (stopRequested) {
                                cancelled = true;
                                break;
                            }
                        }
                    }
                    if (cancelled) {
                        LOG.info("stop requested: epoch {} dropped; the last checkpoint is epoch {}'s", epoch, epoch - 1);
                        break;
                    }
                    skipped = data.skippedCount();
                    if (seen == 0) {
                        throw new IllegalArgumentException(noSamples("training", trainSet.size(), data.skipped()));
                    }
                }
                if (scaler != null) {
                    LOG.info("epoch {}: fp16 loss scale {}, {} of its steps skipped for non-finite gradients", epoch,
                            scaler.scale(), scaler.skippedSteps() - skippedBefore);
                }
                double trainSeconds = (System.nanoTime() - te) / 1e9;
                double clipsPerSec = seen / Math.max(trainSeconds, 1e-9);

                Metrics.Result val;
                try (Progress vbar = new Progress("val " + epoch, (long) valSet.size() * valSet.testViews(), progressMode, 15)) {
                    val = Evaluator.evaluate(model, valSet, config.multiLabel(), batch, loaders, config.seed(), vbar,
                            null);
                }
                lastVal = val;
                double epochSeconds = (System.nanoTime() - te) / 1e9;
                EpochRecord rec = new EpochRecord(epoch, step, lastLr, lossSum / Math.max(seen, 1),
                        correct / (double) Math.max(seen, 1), val.loss(), val.top1(), val.top5(), val.meanClassAcc(),
                        config.multiLabel() ? val.map() : Double.NaN, clipsPerSec, epochSeconds, skipped,
                        Math.max(0, valSet.size() - val.samples()), config.multiLabel() ? val.sampleMap() : Double.NaN);
                run.appendEpoch(rec);
                double s = score(val, metric);
                boolean isBest = !Double.isNaN(s) && (Double.isNaN(best) || s > best);
                if (isBest) {
                    best = s;
                    bestEpoch = epoch;
                }
                double wall = priorWall + (System.nanoTime() - t0) / 1e9;
                Checkpoint.State st = new Checkpoint.State(epoch, step, rng.state(), best, bestEpoch, s, wall, config, labels,
                        scaler == null ? null : scaler.state());
                // best before last: a crash between them then repeats this epoch, which writes best again; the other
                // order left a last naming this epoch best beside a best of an older epoch (or none)
                if (isBest) {
                    Checkpoint.write(run.bestCheckpoint(), model.stateDict(), opt.stateDict(), st);
                }
                Checkpoint.write(run.lastCheckpoint(), model.stateDict(), opt.stateDict(), st);
                if (device.backend() instanceof dev.sevnet.backend.cuda.CudaBackend gpu) {
                    // the algorithm search of every layer shape, kept for a resume or the next run here
                    try {
                        gpu.saveAlgorithmCache(run.root().resolve("cudnn-algorithms.json"));
                    } catch (IOException e) {
                        LOG.warn("could not save the cuDNN algorithm cache: {}", e.getMessage());
                    }
                }
                if (drawCurves) {
                    try {
                        run.writeCurves(config.model());
                    } catch (IOException | RuntimeException | LinkageError e) {
                        // a headless machine without the fonts' native libraries (libharfbuzz, fontconfig) fails the
                        // same way every epoch: say it once; metrics.jsonl still has every figure
                        LOG.warn("could not draw {} ({}); no more curves this run, {} has every figure",
                                run.curvesFile(), e.toString(), run.metricsFile().getFileName());
                        drawCurves = false;
                    }
                }
                LOG.info(summaryLine(rec, config, isBest));
                boolean goOn = true;
                for (Listener l : listeners) {
                    goOn &= l.afterEpoch(rec, isBest);
                }
                if (!goOn && epoch < config.epochs()) {
                    LOG.info("a listener ended the run after epoch {} of {}", epoch, config.epochs());
                    endedEarly = true;
                    break;
                }
                if (epoch >= stopAfterEpoch && epoch < config.epochs()) {
                    stopped = true;
                    break;
                }
            }
            if (cancelled) {
                double wall = priorWall + (System.nanoTime() - t0) / 1e9;
                return new Result(run.root(), lastVal, epoch - 1, step, wall, labels, true);
            }
            int epochsDone = stopped || endedEarly ? epoch : config.epochs();
            double wall = priorWall + (System.nanoTime() - t0) / 1e9;
            if (lastVal == null) {
                // resumed after the last epoch: evaluate what was saved
                lastVal = Evaluator.evaluate(model, valSet, config.multiLabel(), batch, loaders, config.seed(),
                        null, null);
            }
            if (!stopped) {
                Metrics.writeConfusionCsv(lastVal.confusion(), labels, run.confusionFile());
                JsonObject extra = new JsonObject();
                if (Double.isFinite(best)) { // strict JSON has no NaN: absent when no epoch scored
                    extra.addProperty("best_" + metric, best);
                }
                extra.addProperty("best_epoch", bestEpoch);
                extra.addProperty("steps", step);
                extra.addProperty("val_skipped_videos", Math.max(0, valSet.size() - lastVal.samples()));
                extra.addProperty("effective_batch", config.effectiveBatch());
                extra.addProperty("device", device.device().toString());
                extra.addProperty("precision", config.precision().cliName());
                if (scaler != null) {
                    extra.addProperty("loss_scale", scaler.scale());
                }
                run.writeSummary(lastVal, config.multiLabel(), epochsDone, wall, config, extra);
            }
            return new Result(run.root(), lastVal, epochsDone, step, wall, labels, stopped || endedEarly);
        } catch (IOException e) {
            // the file and the reason in words, not "java.nio.file.FileSystemException: <path>"
            String file = e instanceof java.nio.file.FileSystemException f && f.getFile() != null ? f.getFile() : "";
            throw new UncheckedIOException("cannot write " + (file.isEmpty() ? run.root().toString() : file) + ": "
                    + RunDirectory.reason(e), e);
        } finally {
            if (graphStep != null) {
                graphReplays = graphStep.replays();
                try {
                    graphStep.close();
                } catch (RuntimeException e) {
                    LOG.warn("could not free the training step's CUDA graph: {}", e.toString()); // not over the run's own error
                }
                graphStep = null;
            }
        }
    }

    private long graphReplays;

    /** Training steps the last run replayed from a CUDA graph ({@code --cuda-graphs}); 0 otherwise. */
    public long graphReplays() {
        return graphReplays;
    }

    private int lastCorrect;
    /** The training step as a CUDA graph ({@link TrainConfig#cudaGraphs()}), or null. */
    private GraphedTrainStep graphStep;
    /** The current batch's prefetched clips, until the step takes them. */
    private dev.sevnet.backend.Uploader.Upload pendingUpload;
    private DeviceChoice device;
    private LossScaler scaler;

    /**
     * The optimizer step at {@code lr}: for fp16 first the loss scaler's check and unscale of every parameter
     * gradient, and no update when one is not finite (logged; the scale backs off). With gradient accumulation
     * this runs once per optimizer step, after the last micro-batch.
     */
    private void optimizerStep(SevNet model, SgdOptimizer opt, double lr, long step) {
        averageOverMicroBatches(model);
        if (scaler == null) {
            opt.step(lr);
            return;
        }
        double scale = scaler.scale();
        List<Tensor> grads = new java.util.ArrayList<>();
        for (dev.sevnet.nn.Parameter p : model.namedParameters().values()) {
            grads.add(p.grad());
        }
        if (scaler.unscaleAndUpdate(grads)) {
            opt.step(lr);
        } else {
            LOG.info("step {}: non-finite fp16 gradients at loss scale {}: step skipped, scale now {}", step, scale,
                    scaler.scale());
        }
    }

    private final OutOfMemorySplitter splitter = new OutOfMemorySplitter();

    /**
     * Micro-batches whose gradients the parameters hold now (since the last zeroing): {@code accum} except after an
     * epoch's last, shorter accumulation group (the epoch's micro-batches not a multiple of {@code accum}, or
     * skipped videos) or after an out-of-memory retry dropped this step's earlier micro-batches.
     */
    private int gradMicroBatches;

    /** Test seam: called before each chunk of a micro-batch runs (may throw, e.g. a fake out-of-memory error). */
    OutOfMemorySplitter.Chunk chunkProbe;

    /**
     * Makes the accumulated gradient the mean over the micro-batches it holds: each was seeded with 1/accum, so when
     * fewer than {@code accum} contributed (an epoch's last group, micro-batches dropped by an out-of-memory retry)
     * the sum is rescaled by accum / contributed — mmengine's remainder loss factor — instead of stepping with a
     * gradient shrunk by that ratio.
     */
    private void averageOverMicroBatches(SevNet model) {
        int accum = config.accum();
        if (gradMicroBatches <= 0 || gradMicroBatches == accum) {
            return;
        }
        float factor = (float) (accum / (double) gradMicroBatches);
        Map<dev.sevnet.backend.Backend, List<Tensor>> byBackend = new java.util.LinkedHashMap<>();
        java.util.Set<Tensor> seen = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        for (dev.sevnet.nn.Parameter p : model.namedParameters().values()) {
            Tensor g = p.grad();
            if (g != null && seen.add(g)) {
                byBackend.computeIfAbsent(dev.sevnet.backend.Backends.of(g), k -> new java.util.ArrayList<>()).add(g);
            }
        }
        byBackend.forEach((b, grads) -> b.scaleAll(grads, factor));
    }

    /**
     * Forward, loss, backward (seeded with 1/accum so accumulated gradients average; a step over fewer micro-batches
     * is rescaled by {@link #averageOverMicroBatches}); returns the
     * loss. On a device out-of-memory error the batch runs again in smaller chunks (and so do the
     * following ones): see {@link OutOfMemorySplitter}.
     */
    private float trainStep(Module model, Batch b, int accum) {
        int n = b.size();
        float[] logitsAll = new float[n * config.numClasses()];
        double[] lossSum = new double[1];
        if (graphStep != null && n == config.batch() && splitter.chunks() == 1) {
            double graphed = graphStep.run(b, pendingUpload, logitsAll, scaler == null ? 1f : (float) scaler.scale());
            if (!Double.isNaN(graphed)) {
                pendingUpload = null;
                lastCorrect = countCorrect(b, logitsAll);
                return (float) graphed;
            }
        }
        if (graphStep != null && graphStep.captured()) {
            model.zeroGrad(); // the gradients were left as the last replay wrote them
        }
        splitter.run(n, (from, to, weight) -> {
            if (chunkProbe != null) {
                chunkProbe.run(from, to, weight);
            }
            try (TensorScope chunkScope = TensorScope.open()) {
                lossSum[0] += weight * trainChunk(model, b, from, to, weight / accum, logitsAll);
            }
        }, () -> {
            lossSum[0] = 0;
            model.zeroGrad();
            gradMicroBatches = 0; // this step's earlier micro-batches are gone: the step averages over what follows
        });
        lastCorrect = countCorrect(b, logitsAll);
        return (float) lossSum[0];
    }

    /** Samples of {@code b} whose top-1 prediction is one of their labels. */
    private int countCorrect(Batch b, float[] logits) {
        int k = config.numClasses();
        int c = 0;
        float[] row = new float[k];
        for (int i = 0; i < b.size(); i++) {
            System.arraycopy(logits, i * k, row, 0, k);
            int pred = Metrics.argmax(row);
            for (int lab : b.labelSet(i)) {
                if (lab == pred) {
                    c++;
                    break;
                }
            }
        }
        return c;
    }

    /** One chunk [from, to) of the batch: forward, loss, backward seeded with {@code seedScale}; copies the logits out. */
    private float trainChunk(Module model, Batch b, int from, int to, double seedScale, float[] logitsOut) {
        int n = to - from;
        int k = config.numClasses();
        Tensor clips = b.clips();
        boolean whole = from == 0 && to == b.size();
        Var x; // owned by the chunk's scope
        if (whole && pendingUpload != null) {
            x = Var.of(pendingUpload.take()); // prefetched (after an out-of-memory split: rows from the host)
            pendingUpload = null;
        } else {
            x = Var.of(device.upload(whole ? clips.reshape(clips.shape()) : rows(clips, from, to)));
        }
        Var logits;
        try (Autocast.Guard ac = Autocast.enable(config.precision().autocastType())) {
            logits = model.forward(x); // 16-bit convs and activations under bf16/fp16; fp32 logits either way
        }
        Var loss;
        if (config.multiLabel()) {
            float[] all = b.multiHot();
            float[] part = java.util.Arrays.copyOfRange(all, from * k, to * k);
            loss = F.bceWithLogits(logits, Tensor.of(part, n, k));
        } else {
            long[] labels = java.util.Arrays.copyOfRange(b.labels(), from, to);
            loss = F.softmaxCrossEntropy(logits, Tensor.ofLongs(labels, n));
        }
        // fp16: the loss gradient scaled by the loss scale (unscaled before the optimizer step)
        double lossScale = scaler == null ? 1.0 : scaler.scale();
        try (Tensor seed = Tensor.full(loss.shape(), (float) (seedScale * lossScale))) {
            loss.backward(seed);
        }
        System.arraycopy(logits.value().toFloatArray(), 0, logitsOut, from * k, n * k);
        return loss.item();
    }

    /** Rows [from, to) of a host tensor [N, ...] (a copy). */
    private static Tensor rows(Tensor t, int from, int to) {
        long per = t.shape().sizeFrom(1);
        Tensor out = Tensor.empty(t.shape().with(0, to - from));
        out.hostBuffer().put(0, t.hostBuffer(), (int) (from * per * 4), (int) ((to - from) * per * 4));
        return out;
    }

    private void logStart(SevNet model, ClipSource trainSet, ClipSource valSet, String lr, long stepsPerEpoch,
            DeviceChoice device) {
        LOG.info(String.format(Locale.ROOT,
                "training %s (%.2f M params, %d classes) on %s in %s: %d train / %d val clips of %dx%dx%d, batch %d x "
                        + "accum %d, %s, %d epochs x %d steps, %d loader threads, run dir %s",
                config.model(), model.parameterCount() / 1e6, config.numClasses(), device.device(),
                config.precision().cliName() + (device.device().isCpu()
                        && dev.sevnet.backend.cpu.CpuBackend.effectiveFp32Precision()
                        == dev.sevnet.backend.cpu.CpuBackend.Fp32Precision.BF16
                        ? " (GEMM convs in bf16 on " + dev.sevnet.backend.cpu.CpuBackend.bf16Kernel() + ")" : ""),
                trainSet.size(),
                valSet.size(), config.frames(), config.size(), config.size(), config.batch(), config.accum(), lr,
                config.epochs(), stepsPerEpoch, config.loaderThreads(!device.device().isCpu()), run.root()));
    }

    static String summaryLine(EpochRecord r, TrainConfig c, boolean best) {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT,
                "epoch %d/%d  train loss %.4f top1 %.1f%%  |  val loss %.4f top1 %.1f%% top5 %.1f%% mean-class %.1f%%",
                r.epoch(), c.epochs(), r.trainLoss(), 100 * r.trainTop1(), r.valLoss(), 100 * r.valTop1(),
                100 * r.valTop5(), 100 * r.valMeanClassAcc()));
        if (c.multiLabel()) {
            sb.append(String.format(Locale.ROOT, " mAP %.1f%% MMIT mAP %.1f%%", 100 * r.valMap(), 100 * r.valSampleMap()));
        }
        sb.append(String.format(Locale.ROOT, "  |  lr %.4g  %.1f clips/s  %s", r.lr(), r.clipsPerSec(),
                Progress.formatDuration(Math.round(r.epochSeconds()))));
        if (r.skippedVideos() > 0) {
            sb.append("  skipped ").append(r.skippedVideos());
        }
        if (r.valSkippedVideos() > 0) {
            sb.append("  val skipped ").append(r.valSkippedVideos());
        }
        if (best) {
            sb.append("  *best*");
        }
        return sb.toString();
    }

    /**
     * Why a pass over {@code total} samples produced nothing: an empty list, or every sample skipped as undecodable
     * (wrong data root, corrupt videos, frame counts that do not match) — a run or a report on zero clips would
     * look like success.
     */
    static String noSamples(String what, int total, java.util.List<String> skipped) {
        if (total == 0) {
            return "no samples for " + what + ": the list is empty";
        }
        return "no sample of the " + total + " for " + what + " could be read: " + skipped.size() + " skipped as "
                + "undecodable" + (skipped.isEmpty() ? "" : " (first: " + skipped.get(0) + ")")
                + "; check --data-root and the list file (the warnings above name each one)";
    }
}
