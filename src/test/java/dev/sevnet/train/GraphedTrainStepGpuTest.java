package dev.sevnet.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.tensor.Tensor;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code train --cuda-graphs} on a GPU: after two eager steps the step is captured and replayed, and the run reaches
 * the eager run's weights, momentum, batch-norm statistics (num_batches_tracked included) and validation loss —
 * dropout masks included (drawn from the same seeds into static masks). Skipped without a GPU.
 */
@Tag("gpu")
class GraphedTrainStepGpuTest {

    @BeforeAll
    static void needGpu() {
        dev.sevnet.backend.cuda.GpuTestSupport.assumeUsableGpu();
    }

    @ParameterizedTest
    @ValueSource(strings = {"fp32", "bf16", "fp16"})
    void aGraphedRunIsTheEagerRun(String precision, @TempDir Path dir) {
        TrainConfig eager = TrainConfig.builder().model("sevnet-g1").frames(4).size(16).epochs(2).warmupEpochs(1)
                .batch(4).accum(1).syntheticTrain(24).syntheticVal(8).dropout(0.3).workers(2).seed(7).device("cuda")
                .precision(precision).deterministic(true).build(); // the fastest cuDNN backward algorithms sum with atomics
        TrainConfig graphs = eager.toBuilder().cudaGraphs(true).build();
        Trainer te = new Trainer(eager, dir.resolve("eager"), Progress.Mode.QUIET).writeCurves(false);
        Trainer tg = new Trainer(graphs, dir.resolve("graphs"), Progress.Mode.QUIET).writeCurves(false);
        Trainer.Result a = te.run();
        Trainer.Result b = tg.run();
        // 6 steps per epoch: 2 eager, then the capture (replayed at once) and replays
        assertEquals(10, tg.graphReplays(), "steps replayed from the graph");
        assertEquals(a.steps(), b.steps());
        double tol = precision.equals("fp32") ? 1e-4 : 2e-2; // fp16: same loss scale, same skipped steps
        assertClose(Checkpoint.readModel(dir.resolve("eager/checkpoints/last")),
                Checkpoint.readModel(dir.resolve("graphs/checkpoints/last")), tol);
        assertClose(Checkpoint.readOptimizer(dir.resolve("eager/checkpoints/last")),
                Checkpoint.readOptimizer(dir.resolve("graphs/checkpoints/last")), tol);
        assertEquals(a.finalVal().loss(), b.finalVal().loss(), tol * Math.max(1, a.finalVal().loss()));
    }

    /** Same names; every value within {@code tol} of the larger magnitude (num_batches_tracked exactly). */
    static void assertClose(Map<String, Tensor> x, Map<String, Tensor> y, double tol) {
        try {
            assertEquals(x.keySet(), y.keySet());
            for (String k : x.keySet()) {
                float[] a = x.get(k).toFloatArray();
                float[] b = y.get(k).toFloatArray();
                double scale = 1e-3;
                for (float v : a) {
                    scale = Math.max(scale, Math.abs(v));
                }
                for (int i = 0; i < a.length; i++) {
                    double t = k.endsWith("num_batches_tracked") ? 0 : tol * scale;
                    assertTrue(Math.abs(a[i] - b[i]) <= t, k + "[" + i + "]: eager " + a[i] + ", graphed " + b[i]);
                }
            }
        } finally {
            x.values().forEach(Tensor::close);
            y.values().forEach(Tensor::close);
        }
    }
}
