package dev.sevnet.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ExactResumeTest} on a GPU: a run stopped after epoch 1 and resumed reaches the uninterrupted run's weights,
 * BN statistics and momentum — with {@code --deterministic}, without which cuDNN's atomics-based backward algorithms
 * make any two GPU runs drift apart (seen on an H100, eleventh session). Skipped without a GPU.
 */
@Tag("gpu")
class ExactResumeGpuTest {

    @BeforeAll
    static void needGpu() {
        dev.sevnet.backend.cuda.GpuTestSupport.assumeUsableGpu();
    }

    @Test
    void stoppedAndResumedEqualsUninterruptedOnTheGpu(@TempDir Path dir) {
        TrainConfig c = ExactResumeTest.tiny().toBuilder().device("cuda").deterministic(true).build();
        Trainer.Result a = new Trainer(c, dir.resolve("a"), Progress.Mode.QUIET).writeCurves(false).run();
        Trainer.Result stopped = new Trainer(c, dir.resolve("b"), Progress.Mode.QUIET).writeCurves(false)
                .stopAfterEpoch(1).run();
        assertTrue(stopped.stoppedEarly());
        Trainer.Result b = new Trainer(Checkpoint.readState(dir.resolve("b")).config(), dir.resolve("b"),
                Progress.Mode.QUIET).writeCurves(false).resume(dir.resolve("b").resolve("checkpoints").resolve("last"));
        assertEquals(a.steps(), b.steps());
        Path la = dir.resolve("a/checkpoints/last");
        Path lb = dir.resolve("b/checkpoints/last");
        ExactResumeTest.assertSameTensors(Checkpoint.readModel(la), Checkpoint.readModel(lb));
        ExactResumeTest.assertSameTensors(Checkpoint.readOptimizer(la), Checkpoint.readOptimizer(lb));
        assertEquals(a.finalVal().loss(), b.finalVal().loss(), 1e-6 * Math.max(1, a.finalVal().loss()));
    }
}
