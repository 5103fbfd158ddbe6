package dev.sevnet.train;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RecipeTest {
    @Test
    void paperValues() {
        Recipe ssv2 = Recipe.get("ssv2");
        assertEquals(174, ssv2.numClasses());
        assertEquals(16, ssv2.frames());
        assertEquals(Recipe.Sampling.TSN, ssv2.sampling());
        assertEquals(0.5, ssv2.dropout());
        assertEquals(64, ssv2.epochs());
        Recipe k400 = Recipe.get("K400");
        assertEquals(400, k400.numClasses());
        assertEquals(Recipe.Sampling.DENSE, k400.sampling());
        assertEquals(0.2, k400.dropout());
        assertEquals(100, k400.epochs());
        assertEquals(10, k400.testClips());
        assertEquals(3, k400.testCrops());
        assertEquals(99, Recipe.get("gym99").numClasses());
        assertEquals(288, Recipe.get("gym288").numClasses());
        Recipe mmit = Recipe.get("mmit");
        assertEquals(313, mmit.numClasses());
        assertTrue(mmit.multiLabel());
        assertEquals(0.2, mmit.dropout());
        assertThrows(IllegalArgumentException.class, () -> Recipe.get("imagenet"));
    }

    @Test
    void recipeFillsDefaultsAndEveryValueCanBeOverridden() {
        TrainConfig c = Recipe.get("k400").applyTo(TrainConfig.builder()).build();
        assertEquals(400, c.numClasses());
        assertEquals(224, c.size());
        assertEquals(224, c.trainShortMin());
        assertEquals(256, c.trainShortMax());
        assertEquals(64, c.effectiveBatch());
        assertEquals(0.08, c.baseLr(), 1e-12);                 // 0.01 per 8 clips x 64
        assertEquals(4.0, c.warmupEpochs());
        assertEquals(0.9, c.momentum());
        assertEquals(1e-4, c.weightDecay());

        TrainConfig o = Recipe.get("k400").applyTo(TrainConfig.builder())
                .numClasses(10).frames(8).size(112).epochs(3).dropout(0.3).batch(4).accum(2).lr(0.5)
                .sampling(Recipe.Sampling.TSN).views("1").multiLabel(true).build();
        assertEquals(10, o.numClasses());
        assertEquals(8, o.frames());
        assertEquals(112, o.size());
        assertEquals(112, o.trainShortMin());
        assertEquals(128, o.trainShortMax());
        assertEquals(3, o.epochs());
        assertEquals(3.0, o.warmupEpochs());                    // clamped to the epochs
        assertEquals(0.3, o.dropout());
        assertEquals(8, o.effectiveBatch());
        assertEquals(0.5, o.baseLr());
        assertEquals(Recipe.Sampling.TSN, o.sampling());
        assertEquals(1, o.testClips());
        assertTrue(o.multiLabel());
        assertEquals("k400", o.recipe());
    }

    /** The mmit recipe keeps its best checkpoint by mmaction2's per-sample MMIT mAP, and the runs record it. */
    @Test
    void multiLabelRunsPickAndRecordTheirMap() {
        TrainConfig mmit = Recipe.get("mmit").applyTo(TrainConfig.builder()).build();
        assertEquals("mmit_map", Trainer.primaryMetric(mmit));
        TrainConfig other = TrainConfig.builder().numClasses(5).multiLabel(true).build();
        assertEquals("map", Trainer.primaryMetric(other));
        Metrics.Result r = new Metrics.Result(4, 0.5, 1, 0.5, 0.25, 0.75, 1.0, new long[5][5]);
        assertEquals(0.75, Trainer.score(r, "mmit_map"));
        assertEquals(0.25, Trainer.score(r, "map"));
        EpochRecord e = new EpochRecord(1, 10, 0.1, 1, 0.5, 1, 0.5, 1, 0.5, 0.25, 100, 2, 0, 0, 0.75);
        com.google.gson.JsonObject o = RunDirectory.toJson(e);
        assertEquals(0.75, o.get("val_mmit_map").getAsDouble());
        assertEquals(0.25, o.get("val_map").getAsDouble());
        assertTrue(Trainer.summaryLine(e, mmit, false).contains("MMIT mAP 75.0%"), Trainer.summaryLine(e, mmit, false));
        // a single-label record has no per-sample mAP (NaN), and the line says nothing of it
        EpochRecord single = new EpochRecord(1, 10, 0.1, 1, 0.5, 1, 0.5, 1, 0.5, Double.NaN, 100, 2, 0, 0);
        assertTrue(Double.isNaN(single.valSampleMap()));
    }

    /** The dense window bounds --frames only with dense sampling (TSN with 80 frames is fine). */
    @Test
    void theDenseWindowBoundsFramesOnlyForDenseSampling() {
        assertEquals(80, TrainConfig.builder().frames(80).sampling(Recipe.Sampling.TSN).build().frames());
        var e = assertThrows(IllegalArgumentException.class,
                () -> TrainConfig.builder().frames(80).sampling(Recipe.Sampling.DENSE).build());
        assertTrue(e.getMessage().contains("--frames must be at most 64"), e.getMessage());
    }

    @Test
    void configRoundTripsThroughJson() {
        TrainConfig c = Recipe.get("mmit").applyTo(TrainConfig.builder()).dataRoot("/d").trainList("a.txt")
                .valList("b.txt").views("10x3").build();
        TrainConfig back = TrainConfig.fromJson(c.toJson());
        assertEquals(c, back);
        assertTrue(Double.isNaN(back.lrOverride()));
        assertFalse(back.isSynthetic());
        assertEquals(10, back.testClips());
        assertEquals(3, back.testCrops());
    }

    @Test
    void badValuesAreRejectedWithAMessage() {
        var e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.builder().batch(0).build());
        assertTrue(e.getMessage().contains("batch"));
        assertThrows(IllegalArgumentException.class, () -> TrainConfig.builder().views("10x2").build());
        assertThrows(IllegalArgumentException.class, () -> TrainConfig.builder().trainList("a").build());
    }
}
