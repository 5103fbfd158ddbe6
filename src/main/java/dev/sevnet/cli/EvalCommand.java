package dev.sevnet.cli;

import dev.sevnet.data.ClipSource;
import dev.sevnet.nn.SevNet;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.train.Checkpoint;
import dev.sevnet.train.Datasets;
import dev.sevnet.train.Evaluator;
import dev.sevnet.train.Metrics;
import dev.sevnet.train.Progress;
import dev.sevnet.train.TrainConfig;
import dev.sevnet.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code sevnet eval}: evaluates a checkpoint on its validation set (or another list). */
@Command(name = "eval", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Evaluate a checkpoint: top-1, top-5, mean class accuracy (and mAP for multi-label), "
                + "with 1-view or multi-view (e.g. 10x3) testing; writes the confusion matrix as CSV.",
                "Without --val-list it uses the run's own validation data (the synthetic split for the main job)."})
public final class EvalCommand implements Callable<Integer> {
    @Option(names = "--device", paramLabel = "auto|cpu|cuda[:i]", defaultValue = "auto",
            description = "Where the model runs (default: ${DEFAULT-VALUE}: a usable GPU, else the CPU).")
    String device;

    @Option(names = "--checkpoint", required = true, paramLabel = "DIR",
            description = "Checkpoint folder (or a run directory: its checkpoints/last).")
    Path checkpoint;

    @Option(names = "--data-root", paramLabel = "DIR", description = "Folder the list's paths start from.")
    Path dataRoot;

    @Option(names = "--val-list", paramLabel = "FILE", description = "Annotation list to evaluate on.")
    Path valList;

    @Option(names = "--views", paramLabel = "CxS", description = "Test views: clips x crops, e.g. 1 or 10x3 (default: the run's).")
    String views;

    @Option(names = "--batch", paramLabel = "B", description = "Clips per forward pass (default: the run's batch).")
    Integer batch;

    @Option(names = "--workers", paramLabel = "N", description = "Loader threads (default: the run's; a run left at its "
            + "default: 2 on the CPU, on a GPU the cores less two, 2 to 16).")
    Integer workers;

    @Option(names = "--confusion", paramLabel = "FILE", description = "Where to write the confusion matrix CSV "
            + "(default: confusion-eval.csv beside the checkpoint).")
    Path confusion;

    @Option(names = "--progress", paramLabel = "MODE", defaultValue = "auto", description = "auto, bar, log, quiet.")
    String progress;

    @Mixin
    Fp32PrecisionOption fp32 = new Fp32PrecisionOption();

    @Mixin
    NativeThreadsOption nativeThreads = new NativeThreadsOption();

    @Override
    public Integer call() throws Exception {
        fp32.apply();
        nativeThreads.apply();
        if (batch != null && batch < 1) {
            throw new IllegalArgumentException("--batch must be >= 1, got " + batch);
        }
        if (confusion != null && java.nio.file.Files.isDirectory(confusion)) {
            throw new IllegalArgumentException("--confusion " + confusion + " is a folder: give the CSV file to write");
        }
        Path ck = Checkpoint.resolve(checkpoint);
        Checkpoint.State st = Checkpoint.readState(ck);
        TrainConfig.Builder b = st.config().toBuilder();
        if (valList != null) {
            b.valList(valList.toString());
            if (st.config().trainList() == null) {
                b.trainList(valList.toString());
            }
        }
        if (dataRoot != null) {
            b.dataRoot(dataRoot.toString());
        }
        if (views != null) {
            b.views(views);
        }
        if (workers != null) {
            b.workers(workers);
        }
        TrainConfig c = b.build();
        ClipSource val = Datasets.val(c);
        List<String> labels = st.labels().size() == c.numClasses() ? st.labels() : Datasets.classNames(c);
        Metrics.Result r;
        long t0 = System.nanoTime();
        try (SevNet model = Trainer.createModel(c)) {
            Map<String, Tensor> w = Checkpoint.readModel(ck);
            try {
                model.loadStateDict(w, true);
            } finally {
                w.values().forEach(Tensor::close);
            }
            dev.sevnet.train.DeviceChoice chosen = dev.sevnet.train.DeviceChoice.resolve(device);
            model.to(chosen.backend());
            Progress.Mode mode = TrainCommand.parseProgress(progress);
            try (Progress p = new Progress("eval", (long) val.size() * val.testViews(), mode, 15)) {
                r = Evaluator.evaluate(model, val, c.multiLabel(), batch != null ? batch : c.batch(),
                        c.loaderThreads(!chosen.device().isCpu()),
                        c.seed(), p, null);
            }
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        System.out.printf(Locale.ROOT, "checkpoint %s (epoch %d, %s)%n", ck, st.epoch(), c.model());
        int listed = val.size();
        System.out.printf(Locale.ROOT, "samples        %d%s (%dx%d views)%n", r.samples(),
                r.samples() < listed ? " of " + listed + " (" + (listed - r.samples()) + " skipped as undecodable, "
                        + "named in the warnings above)" : "", c.testClips(), c.testCrops());
        System.out.printf(Locale.ROOT, "top-1          %.2f%%%n", 100 * r.top1());
        System.out.printf(Locale.ROOT, "top-5          %.2f%%%n", 100 * r.top5());
        System.out.printf(Locale.ROOT, "mean class acc %.2f%%%n", 100 * r.meanClassAcc());
        if (c.multiLabel()) {
            System.out.printf(Locale.ROOT, "mAP            %.2f%% (per class, mmaction2 mean_average_precision)%n",
                    100 * r.map());
            System.out.printf(Locale.ROOT, "MMIT mAP       %.2f%% (per sample, mmaction2 mmit_mean_average_precision)%n",
                    100 * r.sampleMap());
        }
        System.out.printf(Locale.ROOT, "loss           %.4f%n", r.loss());
        Path cm = confusion != null ? confusion : ck.resolveSibling("confusion-eval.csv");
        if (ck.getParent() != null && ck.getParent().getFileName() != null
                && ck.getParent().getFileName().toString().equals("checkpoints") && confusion == null) {
            cm = ck.getParent().getParent().resolve("confusion-eval.csv");
        }
        Metrics.writeConfusionCsv(r.confusion(), labels, cm);
        System.out.printf(Locale.ROOT, "confusion matrix: %s%ntime %.1f s%n", cm, secs);
        return 0;
    }
}
