package dev.sevnet.cli;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.sevnet.infer.Prediction;
import dev.sevnet.infer.Predictor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code sevnet predict}: top-k labels and probabilities for video files, through the {@link Predictor}. */
@Command(name = "predict", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Predict the action in video files with a checkpoint: prints the top labels with "
                + "probabilities for each file (or JSON with --json).",
                "A file that cannot be decoded gets a one-line error; the others are still predicted and the exit "
                        + "status is 2 (1 when a prediction itself failed)."})
public final class PredictCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, paramLabel = "DIR",
            description = "Checkpoint folder (or a run directory: its checkpoints/last).")
    Path checkpoint;

    @Option(names = "--top", paramLabel = "K", defaultValue = "5", description = "Labels per video (default: ${DEFAULT-VALUE}).")
    int top;

    @Option(names = "--json", description = "Print one JSON document.")
    boolean json;

    @Mixin
    Int8Calibration int8 = new Int8Calibration();

    @Option(names = "--device", paramLabel = "auto|cpu|cuda[:i]", defaultValue = "auto",
            description = "Where the model runs (default: ${DEFAULT-VALUE}: a usable GPU, else the CPU).")
    String device;

    @Parameters(arity = "1..*", paramLabel = "VIDEO", description = "Video files (anything FFmpeg reads).")
    List<Path> videos;

    /** One file's prediction or error message. */
    private record Outcome(Path video, Prediction prediction, String error) {
        boolean ok() {
            return error == null;
        }
    }

    @Mixin
    Fp32PrecisionOption fp32 = new Fp32PrecisionOption();

    @Mixin
    NativeThreadsOption nativeThreads = new NativeThreadsOption();

    @Override
    public Integer call() throws Exception {
        fp32.apply();
        nativeThreads.apply();
        if (top < 1) {
            throw new IllegalArgumentException("--top must be >= 1");
        }
        List<Outcome> preds = new ArrayList<>();
        // one request at a time, run as soon as it is queued (no waiting for a batch to fill)
        Predictor.Builder builder = Predictor.builder().checkpoint(checkpoint).device(device).topK(top)
                .maxQueueDelay(Duration.ZERO).inFlight(1).decodeThreads(1).preallocate(false);
        int8.applyTo(builder);
        boolean runFailed = false;
        try (Predictor p = builder.build()) {
            for (Path v : videos) {
                try {
                    preds.add(new Outcome(v, p.predict(v), null));
                } catch (RuntimeException e) {
                    // bad input (exit 2) unless the model failed on a good file (exit 1), as everywhere in the CLI
                    runFailed |= !(e instanceof dev.sevnet.data.VideoDecodeException || e instanceof IllegalArgumentException);
                    String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
                    preds.add(new Outcome(v, null, m.lines().findFirst().orElse(m)));
                }
            }
        }
        int failed = 0;
        if (json) {
            JsonArray arr = new JsonArray();
            for (Outcome pr : preds) {
                JsonObject o = new JsonObject();
                o.addProperty("video", pr.video().toString());
                if (pr.ok()) {
                    JsonArray tops = new JsonArray();
                    for (Prediction.ClassScore c : pr.prediction().top()) {
                        JsonObject t = new JsonObject();
                        // the names serve's answers and Prediction use
                        t.addProperty("label", c.label());
                        t.addProperty("index", c.index());
                        t.addProperty("prob", c.prob());
                        tops.add(t);
                    }
                    o.add("top", tops);
                } else {
                    failed++;
                    o.addProperty("error", pr.error());
                }
                arr.add(o);
            }
            System.out.println(new GsonBuilder().setPrettyPrinting().create().toJson(arr));
        } else {
            for (Outcome pr : preds) {
                if (!pr.ok()) {
                    failed++;
                    System.err.println("error: " + pr.video() + ": " + pr.error());
                    continue;
                }
                System.out.println(pr.video());
                List<Prediction.ClassScore> tops = pr.prediction().top();
                int rankWidth = String.valueOf(tops.size()).length(); // columns stay aligned past rank 9
                for (int j = 0; j < tops.size(); j++) {
                    System.out.printf(Locale.ROOT, "  %" + rankWidth + "d. %-32s %6.2f%%%n", j + 1, tops.get(j).label(),
                            100 * tops.get(j).prob());
                }
            }
        }
        return failed == 0 ? 0 : runFailed ? 1 : 2;
    }
}
