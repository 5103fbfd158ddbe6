package dev.sevnet.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/**
 * Loader threads by device when a run leaves them unset: 2 beside CPU training (its compute takes every core), the
 * host's cores less two on a GPU (2 to 16); a set count is kept on either; the choice survives the run's config.json.
 */
class LoaderThreadsTest {
    @Test
    void unsetThreadsFollowTheDevice() {
        assertEquals(TrainConfig.AUTO_WORKERS, TrainConfig.synthetic().build().workers(), "unset by default");
        assertEquals(2, TrainConfig.loaderThreads(TrainConfig.AUTO_WORKERS, false, 64), "CPU: 2 at any core count");
        assertEquals(2, TrainConfig.loaderThreads(TrainConfig.AUTO_WORKERS, false, 2));
        assertEquals(14, TrainConfig.loaderThreads(TrainConfig.AUTO_WORKERS, true, 16), "GPU: the cores less two");
        assertEquals(2, TrainConfig.loaderThreads(TrainConfig.AUTO_WORKERS, true, 2), "at least 2");
        assertEquals(16, TrainConfig.loaderThreads(TrainConfig.AUTO_WORKERS, true, 128), "at most 16");
        for (boolean gpu : new boolean[] {false, true}) {
            assertEquals(0, TrainConfig.loaderThreads(0, gpu, 16), "0: load on the training thread");
            assertEquals(5, TrainConfig.loaderThreads(5, gpu, 16));
        }
        assertEquals(2, TrainConfig.synthetic().build().loaderThreads(false));
    }

    @Test
    void theChoiceSurvivesTheConfigFileAndBadCountsAreRefused() {
        TrainConfig unset = TrainConfig.synthetic().build();
        assertEquals(TrainConfig.AUTO_WORKERS, TrainConfig.fromJson(unset.toJson()).workers());
        TrainConfig set = TrainConfig.synthetic().workers(3).build();
        assertEquals(3, TrainConfig.fromJson(set.toJson()).workers());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TrainConfig.synthetic().workers(-2).build());
        assertEquals(true, e.getMessage().contains("workers"), e.getMessage());
    }
}
