package dev.sevnet.cli;

import dev.sevnet.train.Checkpoint;
import dev.sevnet.train.Progress;
import dev.sevnet.train.Recipe;
import dev.sevnet.train.RunDirectory;
import dev.sevnet.train.TrainConfig;
import dev.sevnet.train.Trainer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code sevnet train}: trains a SEVNet. With no data options it runs the main job: a small SEVNet on
 * the embedded synthetic motion dataset, then evaluation, the run directory, and predictions on a
 * few freshly generated videos.
 */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = {"Train a SEVNet from scratch.",
                "",
                "With no arguments: the main job. Trains a small SEVNet on the synthetic motion dataset (10 classes "
                        + "that only motion tells apart), evaluates it, writes runs/NAME/ (metrics.jsonl, summary.json, "
                        + "curves.png, checkpoints/last and best) and predicts a few freshly generated videos.",
                "",
                "On a video dataset: --data-root DIR --train-list A.txt --val-list B.txt --classes K "
                        + "(mmaction2 lists: 'path label [label ...]' for videos, 'dir total_frames label ...' for "
                        + "frame folders), optionally --recipe ssv1|ssv2|k400|gym99|gym288|mmit for the paper's settings; "
                        + "every option overrides the recipe."},
        sortOptions = false)
public final class TrainCommand implements Callable<Integer> {
    private static final Logger LOG = LoggerFactory.getLogger(TrainCommand.class);

    @Option(names = "--data-root", paramLabel = "DIR", description = "Folder the list files' paths start from.")
    Path dataRoot;

    @Option(names = "--train-list", paramLabel = "FILE", description = "Training annotation list (mmaction2 format).")
    Path trainList;

    @Option(names = "--val-list", paramLabel = "FILE", description = "Validation annotation list.")
    Path valList;

    @Option(names = "--classes", paramLabel = "K", description = "Number of classes.")
    Integer classes;

    @Option(names = "--labels", paramLabel = "FILE", description = "Class names, one per line (label i = line i).")
    Path labels;

    @Option(names = "--recipe", paramLabel = "NAME", description = "Paper recipe: ssv1, ssv2, k400, gym99, gym288, mmit.")
    String recipe;

    @Option(names = "--model", paramLabel = "NAME", description = "sevnet-g<g>, sevnet-se-g<g>, r2plus1d-g<g>, r3d-g<g> "
            + "(default: sevnet-g8 with --recipe, else the main job's small model).")
    String model;

    @Option(names = "--frames", paramLabel = "T", description = "Frames per clip.")
    Integer frames;

    @Option(names = "--size", paramLabel = "PX", description = "Crop size (train: short side resized into size..size*8/7, random crop; test: short side = size, centre crop).")
    Integer size;

    @Option(names = "--sampling", paramLabel = "tsn|dense", description = "Temporal sampling.")
    String sampling;

    @Option(names = "--views", paramLabel = "CxS", description = "Test views: clips x crops, e.g. 1 or 10x3.")
    String views;

    @Option(names = "--epochs", paramLabel = "N", description = "Training epochs.")
    Integer epochs;

    @Option(names = "--warmup", paramLabel = "EPOCHS", description = "Linear warm-up epochs before the cosine decay.")
    Double warmup;

    @Option(names = "--batch", paramLabel = "B", description = "Clips per micro-batch.")
    Integer batch;

    @Option(names = "--accum", paramLabel = "N", description = "Micro-batches per optimizer step (effective batch = batch x accum).")
    Integer accum;

    @Option(names = "--lr", paramLabel = "LR", description = "Base learning rate (default 0.01 per 8 clips of effective batch).")
    Double lr;

    @Option(names = "--dropout", paramLabel = "P", description = "Dropout before the classifier.")
    Double dropout;

    @Option(names = "--weight-decay", paramLabel = "WD", description = "Weight decay (default 1e-4).")
    Double weightDecay;

    @Option(names = "--multi-label", description = "Multi-label training (BCE with logits, mAP).")
    Boolean multiLabel;

    @Option(names = "--flip", description = "Random horizontal flip in training.")
    Boolean flip;

    @Option(names = "--cuda-graphs", description = "On a GPU, run the training step (forward, loss, backward) as one "
            + "CUDA graph after two eager steps: one launch instead of hundreds (--accum 1).")
    Boolean cudaGraphs;

    @Option(names = "--deterministic", description = "On a GPU, only cuDNN's deterministic convolution algorithms "
            + "(PyTorch's cudnn.deterministic): a run repeats exactly; some backward passes are slower.")
    Boolean deterministic;

    @Option(names = "--frame-template", paramLabel = "T", description = "Frame file names in frame folders, e.g. img_{:05d}.jpg or {:05d}.jpg (SSV1).")
    String frameTemplate;

    @Option(names = "--train-samples", paramLabel = "N", description = "Synthetic training clips (main job).")
    Integer trainSamples;

    @Option(names = "--val-samples", paramLabel = "N", description = "Synthetic validation clips (main job).")
    Integer valSamples;

    @Option(names = "--workers", paramLabel = "N", description = "Loader threads (default: 2 on the CPU, whose training "
            + "takes every core; on a GPU the cores less two, 2 to 16).")
    Integer workers;

    @Option(names = "--device", paramLabel = "auto|cpu|cuda[:i]", defaultValue = "auto",
            description = "Where to train; auto uses a GPU when one is usable and otherwise the CPU (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--precision", paramLabel = "fp32|bf16|fp16",
            description = "fp32 (default), or mixed precision: bf16 / fp16 convolutions and activations with fp32 "
                    + "master weights, batch-norm parameters, head and loss (fp16 with dynamic loss scaling). 16-bit "
                    + "training runs on a CUDA device; on the CPU it is a slow numerics reference, refused unless "
                    + "-D" + dev.sevnet.train.Precision.CPU_REFERENCE_PROPERTY + "=true. With --resume: overrides the "
                    + "saved precision.")
    String precision;

    @Option(names = "--memory-format", paramLabel = "contiguous|channels-last",
            description = "channels-last keeps activations and their gradients NDHWC and conv weights in KTRSC: on a "
                    + "CUDA device the layout of cuDNN's tensor-core convolutions; on the CPU a slower reference (every "
                    + "op on NCDHW copies). Default: contiguous. With --resume: overrides the saved format.")
    String memoryFormat;

    @Option(names = "--out", paramLabel = "DIR", description = "Run directory (default runs/<model>-<time>).")
    Path out;

    @Option(names = "--resume", paramLabel = "DIR", description = "Continue a run from a checkpoint (or run) directory.")
    Path resume;

    @Option(names = "--seed", paramLabel = "S", description = "Seed of weights, data order, augmentation and dropout.")
    Long seed;

    @Option(names = "--predict", paramLabel = "N", defaultValue = "4",
            description = "Main job: fresh synthetic videos to predict at the end (default: ${DEFAULT-VALUE}; 0 = none).")
    int predictCount;

    @Option(names = "--progress", paramLabel = "MODE", defaultValue = "auto",
            description = "Progress display: auto, bar, log, quiet (default: ${DEFAULT-VALUE}).")
    String progress;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    /** What a resumed run may change; the rest of its configuration is the saved one. */
    // what a resumed run may change: how and where it runs, how long, and where its data now lives (a moved dataset)
    private static final java.util.Set<String> RESUME_OPTIONS = java.util.Set.of("--resume", "--epochs", "--workers",
            "--precision", "--memory-format", "--device", "--cuda-graphs", "--deterministic", "--out", "--progress",
            "--predict", "--data-root", "--train-list", "--val-list", "--labels", "--fp32-precision", "--threads");

    @picocli.CommandLine.Mixin
    Fp32PrecisionOption fp32 = new Fp32PrecisionOption();

    @picocli.CommandLine.Mixin
    NativeThreadsOption nativeThreads = new NativeThreadsOption();

    @Override
    public Integer call() throws Exception {
        fp32.apply();
        nativeThreads.apply();
        long t0 = System.nanoTime();
        if (predictCount < 0) {
            throw new IllegalArgumentException("--predict must be >= 0 (0: none), got " + predictCount);
        }
        TrainConfig config;
        Path runDir;
        Progress.Mode mode = parseProgress(progress);
        if (resume != null) {
            java.util.List<String> ignored = new java.util.ArrayList<>();
            if (spec != null && spec.commandLine().getParseResult() != null) {
                for (picocli.CommandLine.Model.OptionSpec o : spec.commandLine().getParseResult().matchedOptions()) {
                    if (!RESUME_OPTIONS.contains(o.longestName())) {
                        ignored.add(o.longestName());
                    }
                }
            }
            if (!ignored.isEmpty()) {
                throw new IllegalArgumentException("--resume continues the saved run's configuration: "
                        + String.join(", ", ignored) + " cannot change it (a resumed run may change "
                        + String.join(", ", new java.util.TreeSet<>(RESUME_OPTIONS)).replace("--resume, ", "")
                        + "); start a new run to change the others");
            }
            Checkpoint.State st = Checkpoint.readState(resume);
            TrainConfig.Builder b = st.config().toBuilder();
            if (epochs != null) {
                b.epochs(epochs);
            }
            if (workers != null) {
                b.workers(workers);
            }
            if (precision != null) {
                b.precision(precision);
            }
            if (memoryFormat != null) {
                b.memoryFormat(memoryFormat);
            }
            if (cudaGraphs != null) {
                b.cudaGraphs(cudaGraphs);
            }
            if (deterministic != null) {
                b.deterministic(deterministic);
            }
            // the same data in a new place (the run stores absolute paths)
            if (dataRoot != null) {
                b.dataRoot(abs(dataRoot));
            }
            if (trainList != null) {
                b.trainList(abs(trainList));
            }
            if (valList != null) {
                b.valList(abs(valList));
            }
            if (labels != null) {
                b.labelsFile(abs(labels));
            }
            config = b.device(device).build();
            Path source = runDirOf(Checkpoint.resolve(resume));
            if (source != null && RunDirectory.hasDataInCode(source)) {
                throw new IllegalArgumentException("--resume " + resume + ": that run trained on data given in code "
                        + "(Trainer.data), which the command line cannot supply; resume it from code");
            }
            // a run stopped after its last checkpoint but before its summary may finish: evaluate and write it
            boolean unfinished = config.epochs() == st.epoch() && source != null
                    && !Files.exists(source.resolve("summary.json"));
            if (config.epochs() < st.epoch() || config.epochs() == st.epoch() && !unfinished) {
                throw new IllegalArgumentException("--resume " + resume + ": that run has trained " + st.epoch()
                        + " of its " + st.config().epochs() + " epochs; give --epochs N (above " + st.epoch()
                        + ") to train further");
            }
            runDir = out != null ? out : source;
            if (runDir == null) {
                throw new IllegalArgumentException("--resume " + resume + " is a checkpoint folder outside a run (no "
                        + "runs/NAME/checkpoints/ above it): give --out DIR for the continued run");
            }
            boolean elsewhere = source == null || !sameFolder(source, runDir);
            if (elsewhere && RunDirectory.holdsRun(runDir)) {
                throw new IllegalArgumentException("--out " + out + " already holds another run; give a new folder "
                        + "(nothing was overwritten)");
            }
            if (elsewhere && source != null) {
                carryHistory(source, runDir);
            }
        } else {
            config = buildConfig();
            if (out != null && RunDirectory.holdsRun(out)) {
                throw new IllegalArgumentException("--out " + out + " already holds a run: continue it with --resume "
                        + out + ", or give another --out (nothing was overwritten)");
            }
            runDir = out != null ? out : RunDirectory.defaultPath(config.isSynthetic() ? "synthetic-" + config.model()
                    : (config.recipe() != null ? config.recipe() + "-" : "") + config.model());
        }
        Trainer trainer = new Trainer(config, runDir, mode);
        // Ctrl-C (or a kill) mid-run: say how to continue; the last checkpoint is complete (written atomically)
        Path shownRun = runDir;
        Thread interrupted = new Thread(() -> System.err.println(RunDirectory.holdsRun(shownRun)
                ? String.format("%ninterrupted: continue with `sevnet train --resume %s` (from its last complete "
                        + "epoch)", shownRun)
                : out != null || resume != null
                        ? String.format("%ninterrupted before the first checkpoint: run the same command again to start "
                                + "over (%s is reused)", shownRun)
                        : String.format("%ninterrupted before the first checkpoint: nothing to resume; %s can be "
                                + "removed", shownRun)), "sevnet-train-interrupted");
        Runtime.getRuntime().addShutdownHook(interrupted);
        Trainer.Result r;
        try {
            r = resume != null ? trainer.resume(resume) : trainer.run();
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(interrupted);
            } catch (IllegalStateException shuttingDown) {
                // the JVM is exiting: the hook runs
            }
        }
        Path best = trainer.runDirectory().bestCheckpoint();
        System.out.printf(Locale.ROOT, "%nvalidation: top-1 %.2f%%  top-5 %.2f%%  mean class accuracy %.2f%%%s  (%d clips, %s)%n",
                100 * r.finalVal().top1(), 100 * r.finalVal().top5(), 100 * r.finalVal().meanClassAcc(),
                config.multiLabel() ? String.format(Locale.ROOT, "  mAP %.2f%%", 100 * r.finalVal().map()) : "",
                r.finalVal().samples(), config.testClips() + "x" + config.testCrops() + " views");
        System.out.println("run directory: " + r.runDir());
        if (config.isSynthetic() && predictCount > 0) {
            dev.sevnet.train.MainJob.predictFresh(config, trainer.runDirectory().lastCheckpoint(), predictCount, r.runDir());
        }
        double total = (System.nanoTime() - t0) / 1e9;
        // a resumed run's training time counts its earlier sessions too, so it can exceed this command's time
        System.out.printf(Locale.ROOT, "done in %s (training %s%s); best checkpoint: %s%n",
                dev.sevnet.train.Progress.formatDuration(Math.round(total)),
                dev.sevnet.train.Progress.formatDuration(Math.round(r.wallSeconds())),
                resume != null ? " in all, with the sessions before this resume" : "",
                Files.isDirectory(best) ? best : "none (no epoch was scored)");
        return 0;
    }

    private static boolean sameFolder(Path a, Path b) {
        return a.toAbsolutePath().normalize().equals(b.toAbsolutePath().normalize());
    }

    /**
     * A run continued in another folder takes its history along: the epoch lines (the trainer keeps those up to the
     * checkpoint), the best checkpoint and the cuDNN algorithm choices, so its curves, summary and best are whole.
     */
    private static void carryHistory(Path source, Path target) throws java.io.IOException {
        Files.createDirectories(target);
        for (String f : new String[] {"metrics.jsonl", "cudnn-algorithms.json"}) {
            if (Files.isRegularFile(source.resolve(f)) && !Files.exists(target.resolve(f))) {
                Files.copy(source.resolve(f), target.resolve(f));
            }
        }
        Path best = source.resolve("checkpoints").resolve("best");
        Path to = target.resolve("checkpoints").resolve("best");
        if (Files.isRegularFile(best.resolve(Checkpoint.STATE_FILE)) && !Files.exists(to)) {
            Files.createDirectories(to);
            try (java.util.stream.Stream<Path> files = Files.list(best)) {
                for (Path f : files.toList()) {
                    Files.copy(f, to.resolve(f.getFileName()));
                }
            }
        }
    }

    /** runs/NAME/checkpoints/last -> runs/NAME; null for a checkpoint folder outside a run. */
    private static Path runDirOf(Path checkpoint) {
        // checkpoints/.last.old (a crash between the renames) belongs to the run as much as checkpoints/last
        Path parent = checkpoint.toAbsolutePath().normalize().getParent();
        if (parent != null && parent.getFileName() != null && parent.getFileName().toString().equals("checkpoints")) {
            return parent.getParent();
        }
        return null;
    }

    private static String abs(Path p) {
        return p.toAbsolutePath().normalize().toString();
    }

    static Progress.Mode parseProgress(String s) {
        try {
            return Progress.Mode.valueOf(s.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--progress must be auto, bar, log or quiet, got '" + s + "'");
        }
    }

    TrainConfig buildConfig() {
        boolean data = trainList != null || valList != null || dataRoot != null;
        if (data && (trainList == null || valList == null)) {
            throw new IllegalArgumentException("training on a dataset needs both --train-list and --val-list");
        }
        TrainConfig.Builder b = TrainConfig.synthetic();
        if (recipe != null) {
            b = Recipe.get(recipe).applyTo(TrainConfig.builder()).model("sevnet-g8");
        } else if (data) {
            // a plain dataset: the paper's defaults at a quick-run size
            b = TrainConfig.builder().model("sevnet-g8").dropout(0.5).frames(16).size(112)
                    .trainShortSide(112, 128).testShortSide(112).epochs(64).warmupEpochs(4).batch(8).accum(8);
        }
        if (data) {
            if (classes == null && recipe == null) {
                throw new IllegalArgumentException("--classes K is required with --train-list (or use --recipe)");
            }
            // absolute: the run folder's config is read again by eval/predict/resume from wherever they run
            b.dataRoot(dataRoot == null ? null : abs(dataRoot)).trainList(abs(trainList)).valList(abs(valList));
        }
        if (classes != null) {
            b.numClasses(classes);
        }
        if (labels != null) {
            b.labelsFile(abs(labels));
        }
        if (model != null) {
            b.model(model);
        }
        if (frames != null) {
            b.frames(frames);
        }
        if (size != null) {
            b.size(size);
        }
        if (sampling != null) {
            b.sampling(Recipe.Sampling.parse(sampling));
        }
        if (views != null) {
            b.views(views);
        }
        if (epochs != null) {
            b.epochs(epochs);
        }
        if (warmup != null) {
            b.warmupEpochs(warmup);
        }
        if (batch != null) {
            b.batch(batch);
        }
        if (accum != null) {
            b.accum(accum);
        }
        if (lr != null) {
            if (!Double.isFinite(lr) || lr <= 0) {
                throw new IllegalArgumentException("--lr must be a positive number, got " + lr);
            }
            b.lr(lr);
        }
        if (dropout != null) {
            b.dropout(dropout);
        }
        if (weightDecay != null) {
            b.weightDecay(weightDecay);
        }
        if (multiLabel != null) {
            b.multiLabel(multiLabel);
        }
        if (flip != null) {
            b.flip(flip);
        }
        if (cudaGraphs != null) {
            b.cudaGraphs(cudaGraphs);
        }
        if (deterministic != null) {
            b.deterministic(deterministic);
        }
        if (frameTemplate != null) {
            b.frameTemplate(frameTemplate);
        }
        if (trainSamples != null) {
            b.syntheticTrain(trainSamples);
        }
        if (valSamples != null) {
            b.syntheticVal(valSamples);
        }
        if (workers != null) {
            b.workers(workers);
        }
        if (seed != null) {
            b.seed(seed);
        }
        if (precision != null) {
            b.precision(precision);
        }
        if (memoryFormat != null) {
            b.memoryFormat(memoryFormat);
        }
        b.device(device);
        if (out != null) {
            b.out(out.toString());
        }
        if (!data && b.numClassesValue() != dev.sevnet.data.SyntheticMotionDataset.NUM_CLASSES) {
            throw new IllegalArgumentException("the synthetic dataset has " + dev.sevnet.data.SyntheticMotionDataset.NUM_CLASSES + " classes; --classes must be that without --train-list");
        }
        TrainConfig built = b.build();
        requireClipFits(built);
        return built;
    }

    /** Largest --size: far above any recipe's, and every decoded frame at it still fits one Java array. */
    static final int MAX_SIZE = 4096;

    /**
     * A clip (3 x frames x side x side at the widest training short side) must fit one array: an absurd --size or
     * --frames is a one-line refusal before anything runs, not an overflow deep in the loader.
     */
    static void requireClipFits(TrainConfig c) {
        long side = Math.max(c.size(), Math.max(c.trainShortMax(), c.testShortSide()));
        if (c.size() > MAX_SIZE || 3L * c.frames() * side * side > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("--size " + c.size() + " with --frames " + c.frames() + " is too large: "
                    + "--size must be at most " + MAX_SIZE + " and a clip (3 x " + c.frames() + " x " + side + " x " + side
                    + ") at most " + Integer.MAX_VALUE + " values; lower --size or --frames");
        }
    }

    static {
        LOG.debug("train command loaded");
    }
}
