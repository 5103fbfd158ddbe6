package dev.sevnet.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** {@code --precision bf16|fp16}: documented on predict/serve/bench; refused where it cannot run (no GPU needed). */
class HalfPrecisionOptionsTest {
    @Test
    void predictAndServeDocumentSixteenBit() {
        for (String cmd : new String[] {"predict", "serve"}) {
            ServeCommandTest.Run r = ServeCommandTest.run(cmd, "--help");
            assertEquals(0, r.code());
            assertTrue(r.out().contains("bf16") && r.out().contains("fp16") && r.out().contains("int8"), r.out());
        }
        ServeCommandTest.Run b = ServeCommandTest.run("bench", "--help");
        assertTrue(b.out().contains("bf16") && b.out().contains("--fold"), b.out());
    }

    @Test
    void benchRefusesSixteenBitOnTheCpuInTrainingAndUnknownPrecisions() {
        String[] common = {"bench", "--model", "sevnet-g2", "--classes", "3", "--batch", "1", "--frames", "2", "--size",
            "32", "--iters", "1", "--warmup", "0"};
        assertEquals(2, ServeCommandTest.run(concat(common, "--device", "cpu", "--precision", "bf16")).code());
        assertEquals(2, ServeCommandTest.run(concat(common, "--device", "cpu", "--precision", "fp16")).code());
        assertEquals(2, ServeCommandTest.run(concat(common, "--mode", "train", "--precision", "bf16")).code());
        assertEquals(2, ServeCommandTest.run(concat(common, "--device", "cpu", "--precision", "fp8")).code());
        // fp32 with the folded graph runs on the CPU
        assertEquals(0, ServeCommandTest.run(concat(common, "--device", "cpu", "--fold", "--json")).code());
    }

    @Test
    void benchCudaGraphsNeedAGpu() {
        String[] common = {"bench", "--model", "sevnet-g2", "--classes", "3", "--batch", "1", "--frames", "2", "--size",
            "32", "--iters", "1", "--warmup", "0"};
        ServeCommandTest.Run infer = ServeCommandTest.run(concat(common, "--device", "cpu", "--cuda-graphs"));
        assertEquals(2, infer.code());
        assertEquals(2, ServeCommandTest.run(concat(common, "--device", "cpu", "--cuda-graphs", "--mode", "train")).code());
        String help = ServeCommandTest.run("bench", "--help").out();
        assertTrue(help.contains("--cuda-graphs") && help.contains("GraphedTrainStep"), help);
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
