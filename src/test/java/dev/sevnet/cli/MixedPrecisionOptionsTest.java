package dev.sevnet.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.train.Precision;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code train --precision} and {@code bench --mode train --precision}: parsing, help, the CPU refusal. */
class MixedPrecisionOptionsTest {
    static TrainCommand parse(String... args) {
        TrainCommand t = new TrainCommand();
        new CommandLine(t).parseArgs(args);
        return t;
    }

    @Test
    void trainParsesPrecisionIntoTheConfig() {
        assertEquals(Precision.FP32, parse().buildConfig().precision());
        assertEquals(Precision.BF16, parse("--precision", "bf16").buildConfig().precision());
        assertEquals(Precision.FP16, parse("--precision", "FP16").buildConfig().precision());
        ServeCommandTest.Run help = ServeCommandTest.run("train", "--help");
        assertTrue(help.out().contains("--precision") && help.out().contains("bf16") && help.out().contains("fp16")
                && help.out().contains(Precision.CPU_REFERENCE_PROPERTY), help.out());
        ServeCommandTest.Run bad = ServeCommandTest.run("train", "--precision", "fp8", "--epochs", "1");
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("fp32, bf16 or fp16"), bad.err());
    }

    @Test
    void trainOnTheCpuRefusesSixteenBitUnlessThePropertyIsSet(@TempDir Path dir) {
        String previous = System.clearProperty(Precision.CPU_REFERENCE_PROPERTY);
        try {
            ServeCommandTest.Run r = ServeCommandTest.run("train", "--model", "sevnet-g1", "--frames", "2", "--size", "16",
                    "--epochs", "1", "--batch", "2", "--train-samples", "4", "--val-samples", "2", "--predict", "0",
                    "--progress", "quiet", "--device", "cpu", "--precision", "bf16", "--out", dir.resolve("r").toString());
            assertEquals(2, r.code());
            assertTrue(r.err().contains("16-bit training runs on the GPU; on the CPU bf16/fp16 is a slower numerics "
                    + "reference: set -Dsevnet.cpuHalfReference=true to run it anyway"), r.err());
        } finally {
            if (previous != null) {
                System.setProperty(Precision.CPU_REFERENCE_PROPERTY, previous);
            }
        }
    }

    @Test
    void benchTrainsInSixteenBitOnTheCpuOnlyWithTheProperty() {
        String[] args = {"bench", "--model", "sevnet-g1", "--classes", "3", "--mode", "train", "--batch", "2", "--frames",
            "2", "--size", "32", "--iters", "1", "--warmup", "0", "--device", "cpu", "--json", "--precision", "fp16"};
        String previous = System.clearProperty(Precision.CPU_REFERENCE_PROPERTY);
        PrintStream old = System.out;
        try {
            assertEquals(2, ServeCommandTest.run(args).code());
            System.setProperty(Precision.CPU_REFERENCE_PROPERTY, "true");
            ByteArrayOutputStream buf = new ByteArrayOutputStream();
            System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
            assertEquals(0, ServeCommandTest.run(args).code());
            String json = buf.toString(StandardCharsets.UTF_8);
            assertTrue(json.contains("\"precision\":\"fp16\"") && json.contains("\"loss_scale\""), json);
        } finally {
            System.setOut(old);
            if (previous == null) {
                System.clearProperty(Precision.CPU_REFERENCE_PROPERTY);
            } else {
                System.setProperty(Precision.CPU_REFERENCE_PROPERTY, previous);
            }
        }
    }
}
