package dev.sevnet.cli;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.sevnet.train.VideoPredictor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code sevnet predict}: top-k labels and probabilities for video files. */
@Command(name = "predict", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Predict the action in video files with a checkpoint: prints the top labels with "
                + "probabilities for each file (or JSON with --json).",
                "A file that cannot be decoded gets a one-line error; the others are still predicted and the exit "
                        + "status is 1."})
public final class PredictCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, paramLabel = "DIR",
            description = "Checkpoint folder (or a run directory: its checkpoints/last).")
    Path checkpoint;

    @Option(names = "--top", paramLabel = "K", defaultValue = "5", description = "Labels per video (default: ${DEFAULT-VALUE}).")
    int top;

    @Option(names = "--json", description = "Print one JSON document.")
    boolean json;

    @Option(names = "--device", paramLabel = "auto|cpu|cuda", defaultValue = "auto",
            description = "Where the model runs (default: ${DEFAULT-VALUE}: a usable GPU, else the CPU).")
    String device;

    @Parameters(arity = "1..*", paramLabel = "VIDEO", description = "Video files (anything FFmpeg reads).")
    List<Path> videos;

    @Override
    public Integer call() throws Exception {
        if (top < 1) {
            throw new IllegalArgumentException("--top must be >= 1");
        }
        List<VideoPredictor.Prediction> preds;
        try (VideoPredictor p = VideoPredictor.load(checkpoint, device)) {
            preds = p.predict(videos, top);
        }
        int failed = 0;
        if (json) {
            JsonArray arr = new JsonArray();
            for (VideoPredictor.Prediction pr : preds) {
                JsonObject o = new JsonObject();
                o.addProperty("video", pr.video().toString());
                if (pr.ok()) {
                    JsonArray tops = new JsonArray();
                    for (int j = 0; j < pr.classes().length; j++) {
                        JsonObject t = new JsonObject();
                        t.addProperty("label", pr.names().get(j));
                        t.addProperty("class", pr.classes()[j]);
                        t.addProperty("probability", pr.probabilities()[j]);
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
            for (VideoPredictor.Prediction pr : preds) {
                if (!pr.ok()) {
                    failed++;
                    System.err.println("error: " + pr.video() + ": " + pr.error());
                    continue;
                }
                System.out.println(pr.video());
                for (int j = 0; j < pr.classes().length; j++) {
                    System.out.printf(Locale.ROOT, "  %d. %-32s %6.2f%%%n", j + 1, pr.names().get(j), 100 * pr.probabilities()[j]);
                }
            }
        }
        return failed == 0 ? 0 : 1;
    }
}
