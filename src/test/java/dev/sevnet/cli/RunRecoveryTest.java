package dev.sevnet.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.train.Checkpoint;
import dev.sevnet.train.RunDirectory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a killed or damaged run leaves behind can always be continued or started over, never silently wrong (found by
 * a crash audit: kill -9 and Ctrl-C at chosen moments, disk full, two trainings on one folder).
 */
class RunRecoveryTest {
    @TempDir
    static Path dir;
    /** A finished two-epoch run, copied by the tests that damage one. */
    static Path done;

    static ServeCommandTest.Run train(String... more) {
        List<String> a = new ArrayList<>(List.of("train", "--model", "sevnet-g1", "--frames", "4", "--size", "16",
                "--batch", "4", "--train-samples", "16", "--val-samples", "8", "--predict", "0", "--progress", "quiet",
                "--device", "cpu", "--seed", "3"));
        a.addAll(List.of(more));
        return ServeCommandTest.run(a.toArray(String[]::new));
    }

    static ServeCommandTest.Run resume(Path run, String... more) {
        List<String> a = new ArrayList<>(List.of("train", "--resume", run.toString(), "--progress", "quiet", "--predict",
                "0", "--device", "cpu"));
        a.addAll(List.of(more));
        return ServeCommandTest.run(a.toArray(String[]::new));
    }

    @BeforeAll
    static void finishedRun() {
        done = dir.resolve("done");
        ServeCommandTest.Run r = train("--epochs", "2", "--out", done.toString());
        assertEquals(0, r.code(), r.err());
    }

    static Path copy(Path from, String name) throws IOException {
        Path to = dir.resolve(name);
        try (Stream<Path> files = Files.walk(from)) {
            for (Path p : files.toList()) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(p, t);
                }
            }
        }
        return to;
    }

    @Test
    void aRunStoppedBeforeItsFirstCheckpointIsStartedOverInTheSameFolder() throws IOException {
        Path e = dir.resolve("unstarted");
        Files.createDirectories(e.resolve("checkpoints/.last.tmp-123-abc"));
        Files.writeString(e.resolve("config.json"), "{}");
        Files.writeString(e.resolve("metrics.jsonl"), "{\"epoch\": 1}\n");
        assertFalse(RunDirectory.holdsRun(e));
        // it used to be refused as "already holds a run" while --resume found no checkpoint: a dead end
        ServeCommandTest.Run r = train("--epochs", "1", "--out", e.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(RunDirectory.holdsRun(e));
        assertFalse(Files.exists(e.resolve("checkpoints/.last.tmp-123-abc")), "debris removed");
    }

    @Test
    void debrisIsRemovedAndACheckpointLeftUnderOldIsFoundFromTheRunFolder() throws IOException {
        Path run = copy(done, "debris");
        Files.move(run.resolve("checkpoints/last"), run.resolve("checkpoints/.last.old"));
        Files.createDirectories(run.resolve("checkpoints/.best.tmp-1-2"));
        Files.writeString(run.resolve("checkpoints/.best.tmp-1-2/model.safetensors"), "half");
        Files.writeString(run.resolve(".config.json.77.tmp"), "{");
        assertTrue(RunDirectory.holdsRun(run));
        // pointing at the run folder (what the Ctrl-C message says) used to find no checkpoint here
        ServeCommandTest.Run r = resume(run, "--epochs", "3");
        assertEquals(0, r.code(), r.err());
        assertTrue(Files.isRegularFile(run.resolve("checkpoints/last/state.json")));
        assertEquals(3, Checkpoint.readState(run).epoch());
        try (Stream<Path> left = Stream.concat(Files.list(run), Files.list(run.resolve("checkpoints")))) {
            List<String> hidden = left.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".") && !n.equals(
                    ".lock")).toList();
            assertEquals(List.of(), hidden, "no temp or .old folders left");
        }
    }

    @Test
    void aRunKilledAfterItsLastCheckpointCanStillWriteItsSummary() throws IOException {
        Path run = copy(done, "no-summary");
        Files.delete(run.resolve("summary.json"));
        ServeCommandTest.Run r = resume(run);
        assertEquals(0, r.code(), r.err());
        assertTrue(Files.isRegularFile(run.resolve("summary.json")));
        // a finished run still asks for more epochs
        ServeCommandTest.Run again = resume(run);
        assertEquals(2, again.code());
        assertTrue(again.err().contains("give --epochs"), again.err());
    }

    @Test
    void aCheckpointWithoutItsOptimizerStateIsNotResumedInexactly() throws IOException {
        Path run = copy(done, "no-optimizer");
        Files.delete(run.resolve("checkpoints/last/optimizer.safetensors"));
        ServeCommandTest.Run r = resume(run, "--epochs", "3");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("optimizer.safetensors") && r.err().contains("exactly"), r.err());
    }

    @Test
    void resumingIntoAnotherFolderNeverOverwritesARunAndCarriesTheHistory() throws IOException {
        Path other = copy(done, "other");
        ServeCommandTest.Run refused = resume(done, "--epochs", "3", "--out", other.toString());
        assertEquals(2, refused.code(), refused.err());
        assertTrue(refused.err().contains("already holds another run"), refused.err());

        Path fresh = dir.resolve("continued");
        ServeCommandTest.Run r = resume(done, "--epochs", "3", "--out", fresh.toString());
        assertEquals(0, r.code(), r.err());
        List<String> lines = Files.readAllLines(fresh.resolve("metrics.jsonl"));
        assertEquals(3, lines.size(), "epochs 1-2 carried over, epoch 3 trained: " + lines);
        assertTrue(Files.isRegularFile(fresh.resolve("checkpoints/best/state.json")), "the best checkpoint too");
        assertEquals(2, Checkpoint.readState(done).epoch(), "the source run is untouched");
    }

    @Test
    void twoTrainingsNeverWriteOneFolderAtOnce() throws Exception {
        Path run = dir.resolve("locked");
        Files.createDirectories(run);
        try (AutoCloseable held = new RunDirectory(run).lock()) {
            ServeCommandTest.Run r = train("--epochs", "1", "--out", run.toString());
            assertEquals(2, r.code(), r.err());
            assertTrue(r.err().contains("another training is writing"), r.err());
        }
    }

    @Test
    void aFullDiskIsAFailedRunNotBadInput() {
        Throwable full = new java.io.UncheckedIOException("cannot write x", new java.nio.file.FileSystemException("/x",
                null, "No space left on device"));
        assertEquals(1, Main.exitCode(full));
        assertEquals(1, Main.exitCode(new java.io.UncheckedIOException(new java.nio.file.FileSystemException("/x", null,
                "Read-only file system"))));
        assertEquals(2, Main.exitCode(new java.io.UncheckedIOException(new java.nio.file.NoSuchFileException("/x"))));
    }
}
