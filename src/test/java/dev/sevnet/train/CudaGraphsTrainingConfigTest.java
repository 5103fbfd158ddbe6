package dev.sevnet.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code train --cuda-graphs} without a GPU: the combinations a graph cannot hold are refused when the config is
 * built, the flag survives the run directory's config.json (a resume keeps it), and on the CPU it is ignored with a
 * warning — the run is the eager run. The graphed step itself is {@code GraphedTrainStepGpuTest}'s.
 */
class CudaGraphsTrainingConfigTest {

    @Test
    void combinationsAGraphCannotHoldAreRefused() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> ExactResumeTest.tiny().toBuilder().cudaGraphs(true).accum(2).build());
        assertTrue(e.getMessage().contains("--accum 1"), e.getMessage());
        assertTrue(ExactResumeTest.tiny().toBuilder().cudaGraphs(true).accum(1).precision(Precision.FP16).build()
                .cudaGraphs(), "fp16 graphs: the loss scale is a static seed, its check stays with the optimizer step");
        TrainConfig ok = ExactResumeTest.tiny().toBuilder().cudaGraphs(true).accum(1).precision(Precision.BF16).build();
        assertTrue(ok.cudaGraphs());
        assertTrue(TrainConfig.fromJson(ok.toJson()).cudaGraphs(), "kept in config.json");
        assertEquals(false, TrainConfig.fromJson(ExactResumeTest.tiny().toJson()).cudaGraphs());
        TrainConfig det = ExactResumeTest.tiny().toBuilder().deterministic(true).build();
        assertTrue(TrainConfig.fromJson(det.toJson()).deterministic(), "--deterministic kept in config.json");
        assertTrue(det.toBuilder().build().deterministic());
        assertEquals(false, TrainConfig.fromJson(ExactResumeTest.tiny().toJson()).deterministic());
    }

    @Test
    void onTheCpuTheFlagIsIgnoredAndTheRunIsTheEagerRun(@TempDir Path dir) {
        TrainConfig eager = ExactResumeTest.tiny().toBuilder().epochs(1).accum(1).build();
        TrainConfig graphs = eager.toBuilder().cudaGraphs(true).build();
        Trainer te = new Trainer(eager, dir.resolve("eager"), Progress.Mode.QUIET).writeCurves(false);
        Trainer tg = new Trainer(graphs, dir.resolve("graphs"), Progress.Mode.QUIET).writeCurves(false);
        Trainer.Result a = te.run();
        Trainer.Result b = tg.run();
        assertEquals(0, tg.graphReplays());
        assertEquals(a.steps(), b.steps());
        ExactResumeTest.assertSameTensors(Checkpoint.readModel(dir.resolve("eager/checkpoints/last")),
                Checkpoint.readModel(dir.resolve("graphs/checkpoints/last")));
    }
}
