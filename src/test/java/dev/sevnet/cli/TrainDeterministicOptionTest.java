package dev.sevnet.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.train.TrainConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code train --deterministic} (PyTorch's cudnn.deterministic): documented in the help, kept in the run's
 * config.json (a resume keeps it), and harmless on the CPU, whose kernels are deterministic already. What it changes
 * on a GPU is checked there: GraphedTrainStepGpuTest and PinnedUploaderGpuTest compare two runs with it.
 */
class TrainDeterministicOptionTest {

    @Test
    void theFlagIsDocumentedAndKeptInTheRunConfig(@TempDir Path dir) throws Exception {
        String help = ServeCommandTest.run("train", "--help").out();
        assertTrue(help.contains("--deterministic") && help.contains("cudnn.deterministic"), help);
        String[] common = {"train", "--model", "sevnet-g1", "--frames", "2", "--size", "16", "--epochs", "1", "--batch",
            "2", "--train-samples", "4", "--val-samples", "2", "--predict", "0", "--progress", "quiet", "--device",
            "cpu"};
        ServeCommandTest.Run on = ServeCommandTest.run(concat(common, "--deterministic", "--out",
                dir.resolve("on").toString()));
        assertEquals(0, on.code(), on.err());
        assertTrue(TrainConfig.fromJson(Files.readString(dir.resolve("on/config.json"))).deterministic());
        ServeCommandTest.Run off = ServeCommandTest.run(concat(common, "--out", dir.resolve("off").toString()));
        assertEquals(0, off.code(), off.err());
        assertFalse(TrainConfig.fromJson(Files.readString(dir.resolve("off/config.json"))).deterministic());
        // how a run runs, like --cuda-graphs: a resume may switch it on
        ServeCommandTest.Run resumed = ServeCommandTest.run("train", "--resume", dir.resolve("off").toString(),
                "--epochs", "2", "--deterministic", "--progress", "quiet", "--predict", "0");
        assertEquals(0, resumed.code(), resumed.err());
        assertTrue(TrainConfig.fromJson(Files.readString(dir.resolve("off/config.json"))).deterministic());
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
