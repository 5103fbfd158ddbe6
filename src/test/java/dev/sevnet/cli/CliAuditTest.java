package dev.sevnet.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.data.SyntheticMotionDataset;
import dev.sevnet.nn.SevNet;
import dev.sevnet.train.Checkpoint;
import dev.sevnet.train.TrainConfig;
import dev.sevnet.train.Trainer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Supplier;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's error policy held to on every command line path an audit found off it: errors are one line on stderr
 * with exit code 2 for bad input, whatever part of the program finds them.
 */
class CliAuditTest {
    private static void assertOneLine(ServeCommandTest.Run r, int code, String... expected) {
        assertEquals(code, r.code(), r.err());
        assertTrue(r.err().startsWith("error: "), r.err());
        assertEquals(1, r.err().strip().lines().count(), "one line:\n" + r.err());
        for (String e : expected) {
            assertTrue(r.err().contains(e), e + " in " + r.err());
        }
    }

    /** What the command wrote to System.out / System.err (the commands that print there directly). */
    private record Captured(ServeCommandTest.Run run, String stdout, String stderr) {
    }

    private static synchronized Captured captured(Supplier<ServeCommandTest.Run> command) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
        try {
            ServeCommandTest.Run r = command.get();
            return new Captured(r, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    @Test
    void usageErrorsAreOneLineNotTheWholeHelp() {
        assertOneLine(ServeCommandTest.run("info", "--bogus"), 2, "Unknown option: '--bogus'", "sevnet info --help");
        assertOneLine(ServeCommandTest.run("info", "--size", "abc"), 2, "'abc' is not an int");
        assertOneLine(ServeCommandTest.run("train", "--epochs"), 2, "--epochs", "sevnet train --help");
        assertOneLine(ServeCommandTest.run("synth"), 2, "--out", "sevnet synth --help");
        assertOneLine(ServeCommandTest.run("frobnicate"), 2, "'frobnicate'", "sevnet --help` lists the commands");
        assertOneLine(ServeCommandTest.run("predikt"), 2, "did you mean", "predict");
    }

    @Test
    void benchAndInfoErrorsFollowThePolicy() {
        Captured warm = captured(() -> ServeCommandTest.run("bench", "--warmup", "-1"));
        assertEquals(2, warm.run().code());
        assertTrue(warm.stderr().startsWith("error: ") && warm.stderr().contains("--warmup >= 0"), warm.stderr());
        assertOneLine(ServeCommandTest.run("info", "--classes", "0"), 2, "class count");
    }

    @Test
    void benchOnAnUnusableCudaDeviceIsBadInputAsEverywhere() {
        Assumptions.assumeFalse(dev.sevnet.backend.cuda.CudaRuntime.status().usable(), "this machine has a GPU");
        Captured c = captured(() -> ServeCommandTest.run("bench", "--device", "cuda", "--model", "sevnet-g2",
                "--frames", "4", "--size", "32", "--iters", "1"));
        assertEquals(2, c.run().code(), c.stderr() + c.run().err());
        String all = c.stderr() + c.run().err();
        assertTrue(all.startsWith("error: device cuda is not usable"), all);
        assertEquals(1, all.strip().lines().count(), all);
    }

    @Test
    void trainRefusesAbsurdSizesAndNegativeCountsInOneLine(@TempDir Path dir) {
        assertOneLine(ServeCommandTest.run("train", "--size", "100000", "--out", dir.resolve("a").toString()), 2,
                "--size 100000", "lower --size or --frames");
        assertOneLine(ServeCommandTest.run("train", "--frames", "60", "--size", "4096", "--out",
                dir.resolve("b").toString()), 2, "--size 4096 with --frames 60 is too large");
        assertOneLine(ServeCommandTest.run("train", "--predict", "-1", "--out", dir.resolve("c").toString()), 2,
                "--predict must be >= 0");
        assertFalse(java.nio.file.Files.exists(dir.resolve("a")), "nothing written");
    }

    @Test
    void aResumedRunSaysItsTrainingTimeSpansItsSessions(@TempDir Path dir) {
        String run = dir.resolve("run").toString();
        Captured first = captured(() -> ServeCommandTest.run("train", "--train-samples", "8", "--val-samples", "8",
                "--frames", "4", "--size", "32", "--batch", "4", "--epochs", "1", "--predict", "0", "--progress", "quiet",
                "--device", "cpu", "--out", run));
        assertEquals(0, first.run().code(), first.run().err());
        assertFalse(first.stdout().contains("in all"), first.stdout());
        Captured resumed = captured(() -> ServeCommandTest.run("train", "--resume", run, "--epochs", "2",
                "--progress", "quiet", "--predict", "0", "--device", "cpu"));
        assertEquals(0, resumed.run().code(), resumed.run().err());
        assertTrue(resumed.stdout().contains("in all, with the sessions before this resume"), resumed.stdout());
    }

    @Test
    void serveWarnsThatCudaGraphsDoNothingOnTheCpu(@TempDir Path dir) throws Exception {
        TrainConfig c = TrainConfig.builder().seed(3).build();
        Path ck = dir.resolve("ck");
        try (SevNet net = Trainer.createModel(c)) {
            Checkpoint.write(ck, net.stateDict(), Map.of(), new Checkpoint.State(0, 0, 0, 0.0, 0, 0.0, 0, c,
                    SyntheticMotionDataset.classNamesList()));
        }
        Thread t;
        PrintStream err = System.err;
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        PrintStream out = System.out;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
        System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
        try {
            // serve runs until its thread is interrupted (or the JVM stops): stopped below, so no server outlives
            // the test (other tests count sevnet's threads)
            t = new Thread(() -> ServeCommandTest.run("serve", "--checkpoint", ck.toString(), "--port", "0",
                    "--device", "cpu", "--cuda-graphs", "--max-batch", "1", "--threads", "1"), "serve-under-test");
            t.setDaemon(true);
            t.start();
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (!o.toString(StandardCharsets.UTF_8).contains("listening on") && t.isAlive()
                    && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
        } finally {
            System.setErr(err);
            System.setOut(out);
        }
        assertTrue(o.toString(StandardCharsets.UTF_8).contains("listening on"), o + " / " + e);
        assertTrue(e.toString(StandardCharsets.UTF_8).contains("warning: --cuda-graphs needs a CUDA device"),
                e.toString(StandardCharsets.UTF_8));
        t.interrupt(); // serve closes its server and predictor and returns
        t.join(30_000);
        assertFalse(t.isAlive(), "serve ended when its thread was interrupted");
    }
}
