package dev.sevnet.train;

import dev.sevnet.data.SyntheticMotionDataset;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sevnet.cli.Main;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The CLI end to end on tiny data: the synthetic main job (2 epochs), its run directory, eval,
 * synth -> train on the exported mp4 list, and predict on exported videos plus a corrupt one.
 */
class EndToEndTest {
    @TempDir
    static Path dir;
    static Path run;

    record Out(int code, String stdout) {
    }

    static Out cli(String... args) {
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try (PrintStream ps = new PrintStream(buf, true, StandardCharsets.UTF_8)) {
            System.setOut(ps);
            int code = Main.run(args);
            ps.flush();
            return new Out(code, buf.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(old);
            System.out.print(buf.toString(StandardCharsets.UTF_8));
        }
    }

    @BeforeAll
    static void trainTinyMainJob() {
        run = dir.resolve("runs/tiny");
        Out o = cli("train", "--model", "sevnet-g1", "--frames", "4", "--size", "16", "--epochs", "2", "--batch", "4",
                "--train-samples", "16", "--val-samples", "8", "--predict", "2", "--progress", "log", "--device", "cpu",
                "--out", run.toString());
        assertEquals(0, o.code(), o.stdout());
        assertTrue(o.stdout().contains("predictions on 2 freshly generated videos"), o.stdout());
        assertTrue(o.stdout().contains("validation: top-1"), o.stdout());
    }

    @Test
    void runDirectoryHoldsMetricsSummaryCurvesAndCheckpoints() throws Exception {
        List<String> lines = Files.readAllLines(run.resolve("metrics.jsonl"));
        assertEquals(2, lines.size());
        JsonObject first = JsonParser.parseString(lines.get(0)).getAsJsonObject();
        for (String k : List.of("epoch", "step", "lr", "train_loss", "train_top1", "val_top1", "val_top5",
                "val_mean_class_acc", "clips_per_sec")) {
            assertTrue(first.has(k), k + " in " + first);
        }
        JsonObject summary = JsonParser.parseString(Files.readString(run.resolve("summary.json"))).getAsJsonObject();
        for (String k : List.of("top1", "top5", "mean_class_acc", "epochs", "wall_seconds")) {
            assertTrue(summary.has(k), k + " in " + summary);
        }
        assertEquals(2, summary.get("epochs").getAsInt());
        byte[] png = Files.readAllBytes(run.resolve("curves.png"));
        assertTrue(png.length > 1000 && png[1] == 'P' && png[2] == 'N' && png[3] == 'G');
        for (String ck : List.of("last", "best")) {
            for (String f : List.of(Checkpoint.MODEL_FILE, Checkpoint.OPTIMIZER_FILE, Checkpoint.STATE_FILE)) {
                assertTrue(Files.isRegularFile(run.resolve("checkpoints").resolve(ck).resolve(f)), ck + "/" + f);
            }
        }
        assertTrue(Files.isRegularFile(run.resolve("confusion.csv")));
    }

    @Test
    void evalPrintsMetricsAndWritesTheConfusionMatrix() throws Exception {
        Out o = cli("eval", "--checkpoint", run.toString(), "--progress", "quiet");
        assertEquals(0, o.code());
        assertTrue(o.stdout().contains("top-1"), o.stdout());
        assertTrue(o.stdout().contains("mean class acc"), o.stdout());
        assertTrue(Files.isRegularFile(run.resolve("confusion-eval.csv")));
        assertEquals(SyntheticMotionDataset.NUM_CLASSES + 1, Files.readAllLines(run.resolve("confusion-eval.csv")).size());
    }

    @Test
    void synthThenTrainOnVideosThenPredictWithACorruptFile() throws Exception {
        Path data = dir.resolve("synth");
        Out s = cli("synth", "--out", data.toString(), "--train", "8", "--val", "4", "--frames", "4", "--size", "16");
        assertEquals(0, s.code(), s.stdout());
        assertEquals(8, Files.readAllLines(data.resolve("train.txt")).size());
        assertEquals(SyntheticMotionDataset.NUM_CLASSES, Files.readAllLines(data.resolve("labels.txt")).size());

        // one validation video that does not decode: skipped, and counted (it used to vanish from the reports)
        Files.write(data.resolve("val/broken.mp4"), new byte[] {0, 0, 0, 24, 'f', 't', 'y', 'p', 9, 9});
        Files.writeString(data.resolve("val.txt"), "val/broken.mp4 0\n", java.nio.file.StandardOpenOption.APPEND);
        Path vrun = dir.resolve("runs/videos");
        Out t = cli("train", "--data-root", data.toString(), "--train-list", data.resolve("train.txt").toString(),
                "--val-list", data.resolve("val.txt").toString(), "--classes", "10", "--labels",
                data.resolve("labels.txt").toString(), "--model", "sevnet-g1", "--frames", "4", "--size", "16",
                "--epochs", "1", "--batch", "4", "--progress", "quiet", "--device", "cpu", "--out", vrun.toString());
        assertEquals(0, t.code(), t.stdout());
        assertTrue(Files.isRegularFile(vrun.resolve("summary.json")));
        var epochLine = JsonParser.parseString(Files.readAllLines(vrun.resolve("metrics.jsonl")).get(0)).getAsJsonObject();
        assertEquals(1, epochLine.get("val_skipped_videos").getAsInt());
        EpochRecord rec = new RunDirectory(vrun).readEpochs().get(0);
        assertEquals(1, rec.valSkippedVideos());
        String line = Trainer.summaryLine(rec, TrainConfig.builder().epochs(1).build(), false);
        assertTrue(line.contains("val skipped 1"), line);
        var summary = JsonParser.parseString(Files.readString(vrun.resolve("summary.json"))).getAsJsonObject();
        assertEquals(1, summary.get("val_skipped_videos").getAsInt());
        assertEquals(4, summary.get("val_samples").getAsInt());

        Path corrupt = dir.resolve("corrupt.mp4");
        Files.write(corrupt, new byte[] {0, 0, 0, 24, 'f', 't', 'y', 'p', 1, 2, 3, 4, 5});
        Path good1 = data.resolve("val/000000.mp4");
        Path good2 = data.resolve("val/000001.mp4");
        Out p = cli("predict", "--checkpoint", vrun.toString(), good1.toString(), corrupt.toString(), good2.toString());
        assertEquals(2, p.code(), "a bad file is bad input: exit status 2");
        assertTrue(p.stdout().contains("000000.mp4") && p.stdout().contains("000001.mp4"), p.stdout());
        assertTrue(p.stdout().contains("1. "), p.stdout());

        Out j = cli("predict", "--checkpoint", vrun.resolve("checkpoints/best").toString(), "--json", "--top", "3",
                good1.toString());
        assertEquals(0, j.code());
        var arr = JsonParser.parseString(j.stdout()).getAsJsonArray();
        assertEquals(3, arr.get(0).getAsJsonObject().getAsJsonArray("top").size());
        var top0 = arr.get(0).getAsJsonObject().getAsJsonArray("top").get(0).getAsJsonObject();
        double p0 = top0.get("prob").getAsDouble();
        assertTrue(p0 > 0 && p0 <= 1);
        // the fields of serve's answers (label, index, prob)
        assertTrue(top0.has("label") && top0.has("index"), top0.toString());
    }
}
