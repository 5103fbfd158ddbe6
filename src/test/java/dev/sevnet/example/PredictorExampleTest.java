package dev.sevnet.example;

import dev.sevnet.data.SyntheticExport;
import dev.sevnet.data.SyntheticMotionDataset;
import dev.sevnet.infer.Prediction;
import dev.sevnet.infer.Predictor;
import dev.sevnet.nn.SevNet;
import dev.sevnet.train.Checkpoint;
import dev.sevnet.train.TrainConfig;
import dev.sevnet.train.Trainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The README's "Inference engine" example as a JVM program outside the library's packages would write
 * it, with the public API only: a checkpoint, then one {@link Predictor} shared by 8 threads.
 */
class PredictorExampleTest {
    @TempDir
    Path dir;

    @Test
    void eightThreadsShareOnePredictor() throws Exception {
        // a checkpoint (an untrained sevnet-g2 at 8x32x32, as `sevnet train` would save it) and 4 videos
        TrainConfig config = TrainConfig.builder().build();
        Path checkpoint = dir.resolve("best");
        try (SevNet net = Trainer.createModel(config)) {
            Checkpoint.write(checkpoint, net.stateDict(), Map.of(), new Checkpoint.State(0, 0, 0, Double.NaN, 0,
                    Double.NaN, 0, config, SyntheticMotionDataset.classNamesList()));
        }
        SyntheticExport.write(dir.resolve("videos"), 0, 4,
                SyntheticMotionDataset.builder().frames(8).resolution(32).build());
        List<Path> videos = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            videos.add(dir.resolve("videos/val/00000" + i + ".mp4"));
        }

        // --- the README example ---
        try (Predictor predictor = Predictor.builder()
                .checkpoint(checkpoint)              // or .weights(file, "sevnet-g8", labels)
                .device("cpu")                       // auto | cpu | cuda[:i]
                .maxBatch(8).maxQueueDelay(Duration.ofMillis(5))
                .queueCapacity(64).timeout(Duration.ofSeconds(30))
                .build()) {
            List<Prediction> alone = new ArrayList<>();
            for (Path v : videos) {
                alone.add(predictor.predict(v));
            }
            ExecutorService threads = Executors.newFixedThreadPool(8);
            List<Future<Prediction>> answers = new ArrayList<>();
            for (int i = 0; i < 32; i++) {
                Path v = videos.get(i % 4);
                answers.add(threads.submit(() -> predictor.predict(v)));      // from any number of threads
            }
            CompletableFuture<Prediction> async = predictor.predictAsync(videos.get(0));
            for (int i = 0; i < 32; i++) {
                Prediction p = answers.get(i).get();
                Prediction.ClassScore best = p.top1();
                assertEquals(alone.get(i % 4).top1().index(), best.index());
                assertEquals(alone.get(i % 4).top1().label(), best.label());
                assertEquals(alone.get(i % 4).top1().prob(), best.prob(), 1e-5);
                assertEquals(10, p.logits().length);
            }
            assertEquals(alone.get(0).top1().index(), async.get().top1().index());
            threads.shutdown();
            assertTrue(predictor.stats().completed() >= 37);
        }
    }
}
