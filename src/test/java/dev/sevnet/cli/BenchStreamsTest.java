package dev.sevnet.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * {@code sevnet bench --streams N}: N concurrent forward passes per iteration (on the CPU each worker's stream is the
 * no-op one), counted in clips/s; the option's limits are clear errors (and those of --cuda-profiler-range, a GPU
 * option).
 */
class BenchStreamsTest {
    private static final String[] TINY = {"bench", "--model", "sevnet-g1", "--classes", "3", "--batch", "2",
        "--frames", "2", "--size", "32", "--iters", "2", "--warmup", "1", "--device", "cpu", "--json"};

    private static String[] with(String... more) {
        String[] a = java.util.Arrays.copyOf(TINY, TINY.length + more.length);
        System.arraycopy(more, 0, a, TINY.length, more.length);
        return a;
    }

    /** The JSON line of a successful `bench ... --json` run. */
    private static JsonObject benchJson(String... more) {
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
            ServeCommandTest.Run run = ServeCommandTest.run(with(more));
            assertEquals(0, run.code(), run.err());
        } finally {
            System.setOut(old);
        }
        String out = buf.toString(StandardCharsets.UTF_8).trim();
        return JsonParser.parseString(out.substring(out.lastIndexOf('\n') + 1)).getAsJsonObject();
    }

    @Test
    void threeStreamsRunThreeForwardPassesAnIteration() {
        JsonObject r = benchJson("--streams", "3");
        assertEquals(3, r.get("streams").getAsInt());
        double perIter = r.get("ms_per_iter_median").getAsDouble() / 1e3;
        assertEquals(2 * 3 / perIter, r.get("clips_per_s").getAsDouble(), 1e-6 * r.get("clips_per_s").getAsDouble(),
                "clips/s counts every stream's batch");
        int threads = r.get("threads").getAsInt();
        assertEquals(Math.max(1, threads / 3), r.get("intra_op_threads").getAsInt(), "the threads shared among streams");
        assertEquals(5, benchJson("--streams", "2", "--intra-op-threads", "5").get("intra_op_threads").getAsInt());
    }

    @Test
    void streamsOutsideInferenceOrOutOfRangeAreRefused() {
        assertEquals(2, ServeCommandTest.run(with("--streams", "2", "--mode", "train")).code());
        assertEquals(2, ServeCommandTest.run(with("--streams", "0")).code());
        assertEquals(2, ServeCommandTest.run(with("--streams", "65")).code());
        assertEquals(2, ServeCommandTest.run(with("--streams", "2", "--intra-op-threads", "-1")).code());
    }

    @Test
    void profileAddsTheStepOpByOpAndIsRefusedWithStreams() {
        JsonObject r = benchJson("--profile", "--mode", "train");
        JsonObject prof = r.getAsJsonObject("profile");
        org.junit.jupiter.api.Assertions.assertTrue(prof.get("total_ms").getAsDouble() > 0, prof.toString());
        java.util.Set<String> phases = new java.util.HashSet<>();
        prof.getAsJsonArray("rows").forEach(e -> phases.add(e.getAsJsonObject().get("phase").getAsString()));
        assertEquals(java.util.Set.of("", "forward", "backward", "optimizer"), phases, prof.toString());
        assertEquals(2, ServeCommandTest.run(with("--profile", "--streams", "2")).code());
    }

    @Test
    void theCudaProfilerRangeNeedsAGpuAndOneStream() {
        PrintStream old = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try {
            System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
            assertEquals(2, ServeCommandTest.run(with("--cuda-profiler-range")).code());
        } finally {
            System.setErr(old);
        }
        String err = buf.toString(StandardCharsets.UTF_8);
        org.junit.jupiter.api.Assertions.assertTrue(err.contains("--cuda-profiler-range needs a CUDA device"), err);
    }

    @Test
    void channelsLastRunsAsTheCpuReferenceAndABadFormatIsRefused() {
        JsonObject r = benchJson("--memory-format", "channels-last", "--mode", "train");
        assertEquals("channels-last", r.get("memory_format").getAsString());
        assertEquals(2, ServeCommandTest.run(with("--memory-format", "nhwc4")).code());
    }

    /** --mode load: the synthetic data pipeline alone, clips/s over the timed batches; bad values are errors. */
    @Test
    void loadModeTimesTheDataPipeline() {
        JsonObject r = benchJson("--mode", "load", "--workers", "2");
        assertEquals("load", r.get("mode").getAsString());
        assertEquals(2, r.get("workers").getAsInt());
        assertEquals(2, r.get("batch").getAsInt());
        double rate = r.get("clips_per_s").getAsDouble();
        org.junit.jupiter.api.Assertions.assertTrue(rate > 0 && Double.isFinite(rate), r.toString());
        assertEquals(1e3 * 2 / rate, r.get("ms_per_clip_per_worker").getAsDouble(), 1e-9 * (1e3 * 2 / rate));
        assertEquals(2, ServeCommandTest.run(with("--mode", "load", "--workers", "-1")).code());
        assertEquals(2, ServeCommandTest.run(with("--mode", "fetch")).code());
    }
}
