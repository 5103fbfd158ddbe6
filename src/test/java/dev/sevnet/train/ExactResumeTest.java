package dev.sevnet.train;

import dev.sevnet.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A run stopped after epoch 1 and resumed from its last checkpoint reaches the same weights, BN
 * statistics and momentum buffers as the same run left uninterrupted.
 */
class ExactResumeTest {
    static TrainConfig tiny() {
        return TrainConfig.builder().model("sevnet-g1").frames(4).size(16).epochs(3).warmupEpochs(1).batch(4).accum(2)
                .syntheticTrain(16).syntheticVal(4).dropout(0.3).workers(2).seed(7).device("cpu").build();
    }

    @Test
    void stoppedAndResumedEqualsUninterrupted(@TempDir Path dir) {
        TrainConfig c = tiny();
        Trainer.Result a = new Trainer(c, dir.resolve("a"), Progress.Mode.QUIET).writeCurves(false).run();
        assertEquals(3, a.epochsDone());
        assertFalse(a.stoppedEarly());

        Trainer.Result stopped = new Trainer(c, dir.resolve("b"), Progress.Mode.QUIET).writeCurves(false)
                .stopAfterEpoch(1).run();
        assertTrue(stopped.stoppedEarly());
        assertEquals(1, Checkpoint.readState(dir.resolve("b")).epoch());
        // a fresh process would do this: a new Trainer from the saved state
        Trainer.Result b = new Trainer(Checkpoint.readState(dir.resolve("b")).config(), dir.resolve("b"),
                Progress.Mode.QUIET).writeCurves(false).resume(dir.resolve("b").resolve("checkpoints").resolve("last"));
        assertEquals(3, b.epochsDone());
        assertEquals(a.steps(), b.steps());

        Path la = dir.resolve("a/checkpoints/last");
        Path lb = dir.resolve("b/checkpoints/last");
        assertSameTensors(Checkpoint.readModel(la), Checkpoint.readModel(lb));
        assertSameTensors(Checkpoint.readOptimizer(la), Checkpoint.readOptimizer(lb));
        assertEquals(Checkpoint.readState(la).rngState(), Checkpoint.readState(lb).rngState());
        assertEquals(a.finalVal().top1(), b.finalVal().top1());
        // metrics.jsonl of the resumed run lists each epoch once
        try {
            assertEquals(3, new RunDirectory(dir.resolve("b")).readEpochs().size());
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }

    static void assertSameTensors(Map<String, Tensor> x, Map<String, Tensor> y) {
        try {
            assertEquals(x.keySet(), y.keySet());
            assertFalse(x.isEmpty());
            for (String k : x.keySet()) {
                Tensor tx = x.get(k);
                Tensor ty = y.get(k);
                assertEquals(tx.shape(), ty.shape(), k);
                float[] fx = tx.toFloatArray();
                float[] fy = ty.toFloatArray();
                for (int i = 0; i < fx.length; i++) {
                    assertEquals(fx[i], fy[i], 1e-6f * Math.max(1f, Math.abs(fx[i])), k + "[" + i + "]");
                }
            }
        } finally {
            x.values().forEach(Tensor::close);
            y.values().forEach(Tensor::close);
        }
    }
}
