package dev.sevnet.train;

import dev.sevnet.data.Seeds;
import dev.sevnet.data.SyntheticMotionDataset;
import dev.sevnet.data.VideoWriter;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** The end of the main job: generate a few fresh synthetic videos and predict them with the trained model. */
public final class MainJob {
    private MainJob() {
    }

    /**
     * Writes {@code n} fresh synthetic mp4 files (scenes never seen in training or validation) under
     * {@code runDir/predict/} and prints the top-5 predictions of each. Returns how many were right.
     */
    public static int predictFresh(TrainConfig config, Path checkpoint, int n, Path runDir) throws IOException {
        return predictFresh(config, checkpoint, n, runDir, System.out);
    }

    public static int predictFresh(TrainConfig config, Path checkpoint, int n, Path runDir, PrintStream out)
            throws IOException {
        long seed = Seeds.mix(config.seed(), 0x70726564L);
        List<Path> files = new ArrayList<>();
        List<Integer> truth = new ArrayList<>();
        List<String> names = SyntheticMotionDataset.classNamesList();
        java.util.Random pick = new java.util.Random(seed);
        for (int i = 0; i < n; i++) {
            int label = pick.nextInt(SyntheticMotionDataset.NUM_CLASSES);
            var frames = SyntheticMotionDataset.render(label, Seeds.mix(seed, i), config.frames(), config.size(), config.size());
            Path f = runDir.resolve("predict").resolve(String.format(Locale.ROOT, "fresh-%02d-%s.mp4", i, names.get(label)));
            VideoWriter.write(f, frames, 8, VideoWriter.Codec.H264_MP4);
            files.add(f);
            truth.add(label);
        }
        int right = 0;
        out.println();
        out.println("predictions on " + n + " freshly generated videos:");
        try (VideoPredictor p = VideoPredictor.load(checkpoint)) {
            List<VideoPredictor.Prediction> preds = p.predict(files, 5);
            for (int i = 0; i < preds.size(); i++) {
                VideoPredictor.Prediction pr = preds.get(i);
                String t = names.get(truth.get(i));
                if (!pr.ok()) {
                    out.println("  " + runDir.relativize(pr.video()) + ": error: " + pr.error());
                    continue;
                }
                boolean ok = pr.classes()[0] == truth.get(i);
                if (ok) {
                    right++;
                }
                out.printf(Locale.ROOT, "  %s (true: %s) %s%n", pr.video().getFileName(), t, ok ? "correct" : "WRONG");
                for (int j = 0; j < pr.classes().length; j++) {
                    out.printf(Locale.ROOT, "      %d. %-28s %6.2f%%%n", j + 1, pr.names().get(j), 100 * pr.probabilities()[j]);
                }
            }
        }
        out.printf(Locale.ROOT, "%d of %d fresh videos predicted correctly%n", right, n);
        return right;
    }
}
