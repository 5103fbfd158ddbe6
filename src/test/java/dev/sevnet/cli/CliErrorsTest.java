package dev.sevnet.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.data.SyntheticExport;
import dev.sevnet.data.SyntheticMotionDataset;
import dev.sevnet.nn.SevNet;
import dev.sevnet.nn.io.Safetensors;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.train.Checkpoint;
import dev.sevnet.train.Metrics;
import dev.sevnet.train.TrainConfig;
import dev.sevnet.train.Trainer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad input on the command line is one line and exit code 2, never a stack trace, and loses nothing: corrupt or
 * non-finite weights, data of which nothing decodes, a new run over an existing one, a resume asked to change its
 * configuration, output paths of the wrong kind.
 */
class CliErrorsTest {
    private static Path checkpoint(Path dir, String name, boolean nan) {
        TrainConfig c = TrainConfig.builder().seed(3).build();
        Path ck = dir.resolve(name);
        try (SevNet net = Trainer.createModel(c)) {
            Map<String, Tensor> sd = new LinkedHashMap<>(net.stateDict());
            if (nan) {
                Tensor b = sd.get("head.fc.bias");
                float[] v = b.toFloatArray();
                v[1] = Float.NaN;
                try (Tensor bad = Tensor.of(v, v.length)) {
                    b.copyFrom(bad);
                }
            }
            Checkpoint.write(ck, sd, Map.of(), new Checkpoint.State(0, 0, 0, 0.0, 0, 0.0, 0, c,
                    SyntheticMotionDataset.classNamesList()));
        }
        return ck;
    }

    private static Path video(Path dir) throws Exception {
        SyntheticMotionDataset t = SyntheticMotionDataset.builder().seed(11).frames(8).resolution(32).build();
        SyntheticExport.Summary s = SyntheticExport.write(dir.resolve("videos"), 0, 1, t);
        return s.outDir().resolve("val/000000.mp4");
    }

    private static void assertOneLineError(ServeCommandTest.Run r, String expected) {
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().startsWith("error: ") && r.err().contains(expected), r.err());
        assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
    }

    @Test
    void corruptOrNonFiniteWeightsAreOneLineErrors(@TempDir Path dir) throws Exception {
        Path clip = video(dir);
        Path truncated = checkpoint(dir, "truncated", false);
        Path model = truncated.resolve("model.safetensors");
        byte[] all = Files.readAllBytes(model);
        Files.write(model, java.util.Arrays.copyOf(all, all.length / 2));
        assertOneLineError(ServeCommandTest.run("predict", "--checkpoint", truncated.toString(), clip.toString()),
                "truncated");
        Path nan = checkpoint(dir, "nan", true);
        assertOneLineError(ServeCommandTest.run("predict", "--checkpoint", nan.toString(), clip.toString()),
                "not finite");
        try (Tensor ok = Tensor.of(new float[] {1, 2}, 2); Tensor bad = Tensor.of(new float[] {1, Float.NaN}, 2)) {
            Safetensors.requireFinite(model, Map.of("ok", ok));
            assertTrue(org.junit.jupiter.api.Assertions.assertThrows(dev.sevnet.nn.io.WeightsFormatException.class,
                    () -> Safetensors.requireFinite(model, Map.of("bad", bad))).getMessage().contains("1 of 2"));
        }
    }

    @Test
    void aNanScoreIsNeverAHit() {
        assertFalse(Metrics.inTopK(new float[] {Float.NaN, Float.NaN}, 0, 1));
        assertEquals(0.0, Metrics.topK(new float[][] {{Float.NaN, 0f}}, new int[] {0}, 1));
        assertTrue(Metrics.inTopK(new float[] {2f, 1f}, 0, 1));
    }

    @Test
    void dataOfWhichNothingDecodesIsAnErrorNotAReport(@TempDir Path dir) throws Exception {
        Path ck = checkpoint(dir, "ck", false);
        Path list = dir.resolve("val.txt");
        Files.writeString(list, "missing/a.mp4 0\nmissing/b.mp4 1\n");
        Path csv = dir.resolve("confusion.csv");
        assertOneLineError(ServeCommandTest.run("eval", "--checkpoint", ck.toString(), "--val-list", list.toString(),
                "--data-root", dir.toString(), "--confusion", csv.toString(), "--progress", "quiet"), "could be read");
        assertFalse(Files.exists(csv), "no report of zero clips");
        assertOneLineError(ServeCommandTest.run("eval", "--checkpoint", ck.toString(), "--confusion", dir.toString()),
                "is a folder");
        Path run = dir.resolve("new-run");
        assertOneLineError(ServeCommandTest.run("train", "--train-list", list.toString(), "--val-list", list.toString(),
                "--data-root", dir.toString(), "--classes", "2", "--model", "sevnet-g1", "--frames", "4", "--size", "32",
                "--epochs", "1", "--out", run.toString(), "--progress", "quiet"), "could be read");
        assertFalse(Files.exists(run), "a run that never wrote a checkpoint leaves no folder behind");
    }

    @Test
    void runsAreNeverOverwrittenAndResumesKeepTheirConfiguration(@TempDir Path dir) throws Exception {
        Path ck = checkpoint(dir, "standalone", false);
        assertOneLineError(ServeCommandTest.run("train", "--resume", ck.toString(), "--lr", "0.5", "--batch", "2"),
                "--lr, --batch cannot change it");
        assertOneLineError(ServeCommandTest.run("train", "--resume", ck.toString(), "--epochs", "2"), "outside a run");
        assertOneLineError(ServeCommandTest.run("train", "--progress", "bogus"), "--progress must be");
        TrainConfig c = TrainConfig.builder().seed(3).build();
        Path done = dir.resolve("done");
        try (SevNet net = Trainer.createModel(c)) {
            Checkpoint.write(done.resolve("checkpoints").resolve("last"), net.stateDict(), Map.of(),
                    new Checkpoint.State(c.epochs(), 1, 0, 0.0, 1, 0.0, 0, c, SyntheticMotionDataset.classNamesList()));
        }
        Files.writeString(done.resolve("summary.json"), "{}"); // finished (without it, a resume writes the summary)
        assertOneLineError(ServeCommandTest.run("train", "--resume", done.toString()), "to train further");
        // a folder with a checkpoint is a run: a new one there is refused (one without is started over)
        assertOneLineError(ServeCommandTest.run("train", "--out", done.toString(), "--epochs", "1"), "already holds a run");
    }

    @Test
    void outputPathsOfTheWrongKindAndAbsurdSizesAreRefused(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("afile"), "x");
        assertOneLineError(ServeCommandTest.run("synth", "--out", file.toString()), "is a file");
        assertOneLineError(ServeCommandTest.run("synth", "--out", file.getParent().toString()), "is not empty");
        assertOneLineError(ServeCommandTest.run("synth", "--out", dir.resolve("s").toString(), "--size", "100000"),
                "--size must be");
        assertFalse(Files.exists(dir.resolve("s")), "nothing written");
        ServeCommandTest.Run info = ServeCommandTest.run("info", "--size", "2000000000");
        assertEquals(2, info.code(), info.err());
        assertFalse(info.err().contains("\tat "), info.err());
    }

    @Test
    void numbersOutOfRangeNameTheOption(@TempDir Path dir) {
        assertOneLineError(ServeCommandTest.run("train", "--lr", "NaN", "--out", dir.resolve("r").toString()),
                "--lr must be");
        Path ck = checkpoint(dir, "ck", false);
        assertOneLineError(ServeCommandTest.run("eval", "--checkpoint", ck.toString(), "--batch", "0"), "--batch must");
        assertOneLineError(ServeCommandTest.run("serve", "--checkpoint", ck.toString(), "--max-batch", "0"),
                "--max-batch must");
        assertOneLineError(ServeCommandTest.run("bench", "--kernels", "bogus"), "unknown kernel mode");
        assertOneLineError(ServeCommandTest.run("bench", "--threads", "-1"), "--threads must be >= 0");
        assertOneLineError(ServeCommandTest.run("train", "--threads", "-1", "--out", dir.resolve("t").toString()),
                "--threads must be >= 0");
        assertOneLineError(ServeCommandTest.run("eval", "--checkpoint", ck.toString(), "--threads", "-2"),
                "--threads must be >= 0");
        assertOneLineError(ServeCommandTest.run("serve", "--checkpoint", ck.toString(), "--intra-op-threads", "-1"),
                "--intra-op-threads must be >= 0");
    }
}
