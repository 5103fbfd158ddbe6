package dev.sevnet.train;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sevnet.nn.io.Safetensors;
import dev.sevnet.tensor.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A training checkpoint: a folder holding
 * <pre>
 *   model.safetensors       the model's state_dict (parameters and BN buffers, PyTorch names)
 *   optimizer.safetensors   SGD momentum buffers keyed "&lt;param&gt;.momentum_buffer"
 *   state.json              epoch, step, RNG state, best score, config (with its precision), label names,
 *                           and for fp16 the loss scaler's state
 * </pre>
 *
 * <p>Written atomically: every file goes into a fresh temp folder beside the target, which is
 * renamed into place only once it is complete. A crash at any point leaves either the previous
 * complete checkpoint or the new complete one, never a mixture; a crash between the two renames of a
 * replacement leaves the previous one under {@code .NAME.old}, which {@link #resolve} finds.
 */
public final class Checkpoint {
    public static final String MODEL_FILE = "model.safetensors";
    public static final String OPTIMIZER_FILE = "optimizer.safetensors";
    public static final String STATE_FILE = "state.json";
    public static final int FORMAT = 1;

    private static final Gson GSON = new GsonBuilder().serializeSpecialFloatingPointValues().setPrettyPrinting().create();

    private Checkpoint() {
    }

    /**
     * The training state saved beside the weights.
     *
     * @param epoch       epochs completed (the resumed run starts at epoch {@code epoch + 1}, 1-based)
     * @param step        optimizer steps taken
     * @param rngState    the trainer's {@link Rng} state after this epoch
     * @param bestScore   the best validation score so far (NaN when none)
     * @param bestEpoch   the epoch that reached it (0 when none)
     * @param score       this checkpoint's own validation score (NaN when not evaluated)
     * @param wallSeconds training time spent so far (for the summary's wall time across resumes)
     * @param lossScaler  the fp16 loss scaler's state (scale, finite steps towards the next growth); null when the
     *                    run has no scaler (fp32, bf16)
     */
    public record State(int epoch, long step, long rngState, double bestScore, int bestEpoch, double score,
            double wallSeconds, TrainConfig config, List<String> labels, LossScaler.State lossScaler) {
        public State {
            labels = List.copyOf(labels);
        }

        /** A state without a loss scaler (fp32 and bf16 runs). */
        public State(int epoch, long step, long rngState, double bestScore, int bestEpoch, double score,
                double wallSeconds, TrainConfig config, List<String> labels) {
            this(epoch, step, rngState, bestScore, bestEpoch, score, wallSeconds, config, labels, null);
        }

        JsonObject toJson() {
            JsonObject o = new JsonObject();
            o.addProperty("format", FORMAT);
            o.addProperty("epoch", epoch);
            o.addProperty("step", step);
            JsonObject rng = new JsonObject();
            rng.addProperty("splitmix64_state", Long.toUnsignedString(rngState));
            rng.addProperty("seed", config.seed());
            o.add("rng", rng);
            putNum(o, "best_score", bestScore);
            o.addProperty("best_epoch", bestEpoch);
            putNum(o, "score", score);
            o.addProperty("wall_seconds", wallSeconds);
            o.addProperty("model", config.model());
            o.add("config", config.toJsonObject());
            JsonArray l = new JsonArray();
            labels.forEach(l::add);
            o.add("labels", l);
            if (lossScaler != null) {
                JsonObject ls = new JsonObject();
                ls.addProperty("scale", lossScaler.scale());
                ls.addProperty("good_steps", lossScaler.goodSteps());
                o.add("loss_scaler", ls);
            }
            return o;
        }

        static State fromJson(JsonObject o) {
            int format = o.has("format") ? o.get("format").getAsInt() : FORMAT;
            if (format > FORMAT) {
                throw new IllegalArgumentException("checkpoint format " + format + " is newer than this build reads (" + FORMAT + ")");
            }
            List<String> labels = new ArrayList<>();
            if (o.has("labels")) {
                for (JsonElement e : o.getAsJsonArray("labels")) {
                    labels.add(e.getAsString());
                }
            }
            long rng = Long.parseUnsignedLong(o.getAsJsonObject("rng").get("splitmix64_state").getAsString());
            LossScaler.State ls = null;
            if (o.has("loss_scaler") && o.get("loss_scaler").isJsonObject()) {
                JsonObject s = o.getAsJsonObject("loss_scaler");
                ls = new LossScaler.State(s.get("scale").getAsDouble(), s.get("good_steps").getAsInt());
            }
            return new State(o.get("epoch").getAsInt(), o.get("step").getAsLong(), rng, num(o, "best_score"),
                    o.has("best_epoch") ? o.get("best_epoch").getAsInt() : 0, num(o, "score"),
                    o.has("wall_seconds") ? o.get("wall_seconds").getAsDouble() : 0,
                    TrainConfig.fromJsonObject(o.getAsJsonObject("config")), labels, ls);
        }
    }

    private static void putNum(JsonObject o, String k, double v) {
        if (!Double.isNaN(v) && !Double.isInfinite(v)) {
            o.addProperty(k, v);
        }
    }

    private static double num(JsonObject o, String k) {
        return o.has(k) && !o.get(k).isJsonNull() ? o.get(k).getAsDouble() : Double.NaN;
    }

    /**
     * Writes a checkpoint folder at {@code dir} atomically (replacing an existing one).
     *
     * @param model     the model's state dict (host tensors; not closed)
     * @param optimizer the optimizer's state (host tensors; not closed)
     */
    public static void write(Path dir, Map<String, Tensor> model, Map<String, Tensor> optimizer, State state) {
        Path target = dir.toAbsolutePath().normalize();
        Path parent = target.getParent();
        String name = target.getFileName().toString();
        String suffix = ProcessHandle.current().pid() + "-" + Long.toHexString(System.nanoTime());
        Path tmp = parent.resolve("." + name + ".tmp-" + suffix);
        Path old = parent.resolve("." + name + ".old");
        boolean committed = false;
        try {
            Files.createDirectories(parent);
            Files.createDirectory(tmp);
            Safetensors.write(tmp.resolve(MODEL_FILE), model, Map.of("format", "pt"));
            Safetensors.write(tmp.resolve(OPTIMIZER_FILE), optimizer, Map.of("format", "pt"));
            AtomicFiles.write(tmp.resolve(STATE_FILE), GSON.toJson(state.toJson()).getBytes(StandardCharsets.UTF_8));
            // swap: target -> .old, tmp -> target, then drop .old
            AtomicFiles.deleteTree(old);
            if (Files.exists(target)) {
                Files.move(target, old, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            }
            Files.move(tmp, target, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            committed = true;
            AtomicFiles.deleteTree(old);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write checkpoint " + target + ": " + e.getMessage(), e);
        } finally {
            if (!committed) {
                AtomicFiles.deleteTree(tmp);
                // a failure between the two renames: put the previous checkpoint back
                if (!Files.exists(target) && Files.exists(old)) {
                    try {
                        Files.move(old, target, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
                    } catch (IOException ignored) {
                        // resolve() still finds it under .old
                    }
                }
            }
        }
    }

    /**
     * The complete checkpoint folder to read for {@code dir}: {@code dir} itself, a run directory's
     * {@code checkpoints/last}, or the {@code .NAME.old} a crash mid-replacement left behind.
     */
    public static Path resolve(Path dir) {
        Path d = dir.toAbsolutePath().normalize();
        String n = d.getFileName() == null ? "" : d.getFileName().toString();
        if (!Files.exists(d) && n.startsWith(".") && n.endsWith(".old") && n.length() > 5) {
            d = d.resolveSibling(n.substring(1, n.length() - 4)); // put back in place since (RunDirectory.removeDebris)
        }
        if (Files.isRegularFile(d.resolve(STATE_FILE))) {
            return d;
        }
        // a crash between the two renames of a replacement leaves the previous checkpoint under .last.old
        for (Path c : List.of(d.resolve("checkpoints").resolve("last"), d.resolve("last"),
                d.resolve("checkpoints").resolve(".last.old"), d.resolve(".last.old"))) {
            if (Files.isRegularFile(c.resolve(STATE_FILE))) {
                return c;
            }
        }
        Path old = d.resolveSibling("." + d.getFileName() + ".old");
        if (Files.isRegularFile(old.resolve(STATE_FILE))) {
            return old;
        }
        throw new IllegalArgumentException("no checkpoint at " + dir + " (expected a folder with " + STATE_FILE + ", "
                + MODEL_FILE + " and " + OPTIMIZER_FILE + ", or a run directory with checkpoints/last)");
    }

    public static State readState(Path dir) {
        Path d = resolve(dir);
        try {
            JsonObject o = JsonParser.parseString(Files.readString(d.resolve(STATE_FILE), StandardCharsets.UTF_8))
                    .getAsJsonObject();
            return State.fromJson(o);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + d.resolve(STATE_FILE), e);
        } catch (com.google.gson.JsonParseException | IllegalStateException e) {
            // Gson's own words (EOFException at $.epoch, "Not a JSON Object: null") say little to a user
            throw new IllegalArgumentException("bad " + d.resolve(STATE_FILE) + ": not a complete JSON object (the file is "
                    + "empty, truncated or damaged; a checkpoint is written atomically, so it was changed afterwards)",
                    e);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("bad " + d.resolve(STATE_FILE) + ": " + e.getMessage(), e);
        }
    }

    /** The model weights (new host tensors the caller owns). */
    public static Map<String, Tensor> readModel(Path dir) {
        return readFinite(resolve(dir).resolve(MODEL_FILE));
    }

    /** Every tensor of {@code file}, refused (and freed) when a floating-point one holds a NaN or infinity. */
    private static Map<String, Tensor> readFinite(Path file) {
        Map<String, Tensor> t = Safetensors.read(file);
        try {
            Safetensors.requireFinite(file, t);
            return t;
        } catch (RuntimeException e) {
            t.values().forEach(Tensor::close);
            throw e;
        }
    }

    /**
     * The optimizer state (new host tensors the caller owns).
     *
     * @throws IllegalArgumentException when the file is missing: the momentum would restart from zero and the resumed
     *                                  run would silently differ from an uninterrupted one
     */
    public static Map<String, Tensor> readOptimizer(Path dir) {
        Path f = resolve(dir).resolve(OPTIMIZER_FILE);
        if (!Files.exists(f)) {
            throw new IllegalArgumentException("checkpoint " + resolve(dir) + " has no " + OPTIMIZER_FILE + ": without its "
                    + "momentum buffers a resume would not continue the run exactly (to train on from these weights, "
                    + "start a new run from them)");
        }
        return readFinite(f);
    }
}
