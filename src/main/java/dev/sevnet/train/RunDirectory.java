package dev.sevnet.train;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * A run's folder {@code runs/NAME/}:
 * <pre>
 *   metrics.jsonl     one JSON line per epoch (losses, accuracies, lr, clips/s)
 *   summary.json      at the end: final validation top1/top5/mean_class_acc (+ map), epochs, wall time
 *   curves.png        loss and accuracy per epoch
 *   config.json       the run's configuration
 *   checkpoints/last/ after every epoch; checkpoints/best/ for the best validation score
 *   confusion.csv     the final validation confusion matrix
 * </pre>
 */
public final class RunDirectory {
    private static final Gson GSON = new GsonBuilder().serializeSpecialFloatingPointValues().create();
    private static final Gson PRETTY = new GsonBuilder().serializeSpecialFloatingPointValues().setPrettyPrinting().create();

    private final Path root;

    public RunDirectory(Path root) {
        this.root = root.toAbsolutePath().normalize();
        try {
            Files.createDirectories(this.root);
        } catch (java.nio.file.FileAlreadyExistsException e) {
            throw new IllegalArgumentException("cannot create run directory " + root + ": a file of that name exists", e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create run directory " + root + ": " + reason(e), e);
        }
    }

    /** What went wrong with a file, in words (the JDK's message is often the path alone). */
    static String reason(IOException e) {
        if (e instanceof java.nio.file.FileSystemException f && f.getReason() != null) {
            return f.getReason();
        }
        if (e instanceof java.nio.file.AccessDeniedException) {
            return "permission denied";
        }
        if (e instanceof java.nio.file.NoSuchFileException) {
            return "no such file or directory";
        }
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }

    /**
     * Takes this folder for one training: a lock on {@code .lock} held until the returned handle is closed.
     *
     * @throws IllegalArgumentException when another training (in any process) holds it: two runs writing one folder
     *                                  interleave their metrics and checkpoints
     */
    public AutoCloseable lock() {
        try {
            java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(root.resolve(".lock"),
                    StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            java.nio.channels.FileLock held;
            try {
                held = ch.tryLock();
            } catch (java.nio.channels.OverlappingFileLockException e) {
                held = null;
            }
            if (held == null) {
                ch.close();
                throw new IllegalArgumentException("another training is writing " + root + " (it holds " + root.resolve(
                        ".lock") + "); wait for it to end or give another --out");
            }
            java.nio.channels.FileLock lock = held;
            return () -> {
                lock.release();
                ch.close();
            };
        } catch (IOException e) {
            throw new UncheckedIOException("cannot lock run directory " + root + ": " + reason(e), e);
        }
    }

    /**
     * Tidies what a killed run left (call while holding {@link #lock}): temp files and half-written checkpoint folders
     * are removed, and a checkpoint a crash left under {@code .NAME.old} (between the two renames of a replacement) is
     * put back in place. Without this every kill during a checkpoint write left another copy of the model behind.
     */
    public void removeDebris() {
        for (Path dir : List.of(root, checkpoints())) {
            if (!Files.isDirectory(dir)) {
                continue;
            }
            try (java.util.stream.Stream<Path> files = Files.list(dir)) {
                for (Path p : files.toList()) {
                    String n = p.getFileName().toString();
                    if (n.startsWith(".") && (n.endsWith(".tmp") || n.contains(".tmp-"))) {
                        AtomicFiles.deleteTree(p);
                    } else if (n.startsWith(".") && n.endsWith(".old") && n.length() > 5) {
                        Path target = dir.resolve(n.substring(1, n.length() - 4));
                        if (Files.exists(target)) {
                            AtomicFiles.deleteTree(p);
                        } else {
                            AtomicFiles.move(p, target);
                        }
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot tidy " + dir + ": " + reason(e), e);
            }
        }
    }

    /**
     * Removes the run files of a folder that holds no checkpoint (a run stopped before its first one), so a new run can
     * start there. Only the files a run writes are touched.
     */
    public void clearUnstarted() {
        if (holdsRun(root)) {
            throw new IllegalStateException(root + " holds a checkpoint");
        }
        for (Path p : List.of(metricsFile(), configFile(), summaryFile(), curvesFile(), confusionFile(), checkpoints(),
                root.resolve(DATA_IN_CODE))) {
            AtomicFiles.deleteTree(p);
        }
    }

    /** {@code runs/<timestamp>} under the working directory. */
    public static Path defaultPath(String prefix) {
        String ts = java.time.LocalDateTime.now().format(java.time.format.DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
        return Path.of("runs", prefix + "-" + ts);
    }

    public Path root() {
        return root;
    }

    private static final String METRICS = "metrics.jsonl";
    private static final String CONFIG = "config.json";
    private static final String CHECKPOINTS = "checkpoints";

    /**
     * Whether {@code dir} holds a run that can be continued: a complete checkpoint (what a new run must not overwrite).
     * A folder a run left before its first checkpoint (config, a metrics line, temp files) does not: a new run may
     * start there again.
     */
    public static boolean holdsRun(Path dir) {
        for (String c : List.of("last", ".last.old")) {
            if (Files.isRegularFile(dir.resolve(CHECKPOINTS).resolve(c).resolve(Checkpoint.STATE_FILE))) {
                return true;
            }
        }
        return false;
    }

    private static final String DATA_IN_CODE = "data-in-code.txt";

    /** Records that this run's data was given in code ({@link Trainer#data}), not by the config's files. */
    void markDataInCode(String train, String val) throws IOException {
        AtomicFiles.write(root.resolve(DATA_IN_CODE), ("This run trained on data given in code (Trainer.data):\n  train: "
                + train + "\n  val:   " + val + "\nResume it from code with the same sources; config.json's data fields "
                + "do not describe it.\n").getBytes(StandardCharsets.UTF_8));
    }

    /** Whether the run in {@code dir} trained on data given in code (so the command line cannot resume it). */
    public static boolean hasDataInCode(Path dir) {
        return Files.exists(dir.resolve(DATA_IN_CODE));
    }

    /** Whether {@code dir} holds a run's files but no checkpoint: a run stopped before its first one ended. */
    public static boolean holdsUnstartedRun(Path dir) {
        return !holdsRun(dir) && (Files.isDirectory(dir.resolve(CHECKPOINTS)) || Files.exists(dir.resolve(METRICS))
                || Files.exists(dir.resolve(CONFIG)));
    }

    public Path metricsFile() {
        return root.resolve(METRICS);
    }

    public Path summaryFile() {
        return root.resolve("summary.json");
    }

    public Path curvesFile() {
        return root.resolve("curves.png");
    }

    public Path configFile() {
        return root.resolve(CONFIG);
    }

    public Path checkpoints() {
        return root.resolve(CHECKPOINTS);
    }

    public Path lastCheckpoint() {
        return checkpoints().resolve("last");
    }

    public Path bestCheckpoint() {
        return checkpoints().resolve("best");
    }

    public Path confusionFile() {
        return root.resolve("confusion.csv");
    }

    public void writeConfig(TrainConfig config) throws IOException {
        AtomicFiles.write(configFile(), PRETTY.toJson(config.toJsonObject()).getBytes(StandardCharsets.UTF_8));
    }

    /** Appends one epoch's line to metrics.jsonl (flushed to disk before returning). */
    public void appendEpoch(EpochRecord r) throws IOException {
        String line = GSON.toJson(toJson(r)) + "\n";
        Files.writeString(metricsFile(), line, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                StandardOpenOption.APPEND, StandardOpenOption.WRITE, StandardOpenOption.SYNC);
    }

    /**
     * Keeps only the lines of epochs {@code <= lastEpoch} (used by resume, so a run stopped after a
     * line was written but before its checkpoint does not list an epoch twice).
     */
    public void truncateEpochs(int lastEpoch) throws IOException {
        if (!Files.exists(metricsFile())) {
            return;
        }
        StringBuilder sb = new StringBuilder();
        for (String line : Files.readAllLines(metricsFile(), StandardCharsets.UTF_8)) {
            if (line.isBlank()) {
                continue;
            }
            try {
                JsonObject o = JsonParser.parseString(line).getAsJsonObject();
                if (o.get("epoch").getAsInt() <= lastEpoch) {
                    sb.append(line).append('\n');
                }
            } catch (RuntimeException e) {
                // a torn last line from a crash: drop it
            }
        }
        AtomicFiles.write(metricsFile(), sb.toString().getBytes(StandardCharsets.UTF_8));
    }

    /** Every epoch line of metrics.jsonl. */
    public List<EpochRecord> readEpochs() throws IOException {
        List<EpochRecord> out = new ArrayList<>();
        if (!Files.exists(metricsFile())) {
            return out;
        }
        for (String line : Files.readAllLines(metricsFile(), StandardCharsets.UTF_8)) {
            if (line.isBlank()) {
                continue;
            }
            JsonObject o = JsonParser.parseString(line).getAsJsonObject();
            out.add(new EpochRecord(o.get("epoch").getAsInt(), o.get("step").getAsLong(), d(o, "lr"), d(o, "train_loss"),
                    d(o, "train_top1"), d(o, "val_loss"), d(o, "val_top1"), d(o, "val_top5"), d(o, "val_mean_class_acc"),
                    d(o, "val_map"), d(o, "clips_per_sec"), d(o, "epoch_seconds"),
                    o.has("skipped_videos") ? o.get("skipped_videos").getAsInt() : 0,
                    o.has("val_skipped_videos") ? o.get("val_skipped_videos").getAsInt() : 0, d(o, "val_mmit_map")));
        }
        return out;
    }

    private static double d(JsonObject o, String k) {
        return o.has(k) && !o.get(k).isJsonNull() ? o.get(k).getAsDouble() : Double.NaN;
    }

    static JsonObject toJson(EpochRecord r) {
        JsonObject o = new JsonObject();
        o.addProperty("epoch", r.epoch());
        o.addProperty("step", r.step());
        put(o, "lr", r.lr());
        put(o, "train_loss", r.trainLoss());
        put(o, "train_top1", r.trainTop1());
        put(o, "val_loss", r.valLoss());
        put(o, "val_top1", r.valTop1());
        put(o, "val_top5", r.valTop5());
        put(o, "val_mean_class_acc", r.valMeanClassAcc());
        put(o, "val_map", r.valMap());
        put(o, "val_mmit_map", r.valSampleMap());
        put(o, "clips_per_sec", r.clipsPerSec());
        put(o, "epoch_seconds", r.epochSeconds());
        o.addProperty("skipped_videos", r.skippedVideos());
        o.addProperty("val_skipped_videos", r.valSkippedVideos());
        return o;
    }

    private static void put(JsonObject o, String k, double v) {
        if (!Double.isNaN(v) && !Double.isInfinite(v)) {
            o.addProperty(k, v);
        }
    }

    /** Writes summary.json from the final validation result. */
    public void writeSummary(Metrics.Result finalVal, boolean multiLabel, int epochs, double wallSeconds,
            TrainConfig config, JsonObject extra) throws IOException {
        JsonObject o = new JsonObject();
        put(o, "top1", finalVal.top1());
        put(o, "top5", finalVal.top5());
        put(o, "mean_class_acc", finalVal.meanClassAcc());
        if (multiLabel) {
            put(o, "map", finalVal.map());
            put(o, "mmit_map", finalVal.sampleMap());
        }
        put(o, "val_loss", finalVal.loss());
        o.addProperty("val_samples", finalVal.samples());
        o.addProperty("epochs", epochs);
        o.addProperty("wall_seconds", wallSeconds);
        o.addProperty("model", config.model());
        o.addProperty("classes", config.numClasses());
        o.addProperty("frames", config.frames());
        o.addProperty("size", config.size());
        o.addProperty("views", config.testClips() + "x" + config.testCrops());
        if (extra != null) {
            for (var e : extra.entrySet()) {
                o.add(e.getKey(), e.getValue());
            }
        }
        AtomicFiles.write(summaryFile(), PRETTY.toJson(o).getBytes(StandardCharsets.UTF_8));
    }

    /** Redraws curves.png from metrics.jsonl. */
    public void writeCurves(String title) throws IOException {
        Curves.write(readEpochs(), curvesFile(), title);
    }
}
