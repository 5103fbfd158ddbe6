package dev.sevnet.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.cli.Main;
import dev.sevnet.data.Clip;
import dev.sevnet.data.ClipSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Training embedded in a Java program: data made in code, listeners, early stopping, a stop from another thread. */
public class TrainerApiTest {
    /** Clips made in memory: class c is a clip whose brightness rises (c = 1) or falls (c = 0) over time. */
    public static final class Ramps implements ClipSource {
        private final int size;
        private final long seed;

        public Ramps(int size, long seed) {
            this.size = size;
            this.seed = seed;
        }

        @Override
        public int size() {
            return size;
        }

        @Override
        public List<String> classNames() {
            return List.of("falling", "rising");
        }

        @Override
        public int[] labels(int index) {
            return new int[] {index % 2};
        }

        @Override
        public Clip load(int index, Random rng, boolean train) {
            int t = 4;
            int hw = 16 * 16;
            float[] x = new float[3 * t * hw];
            Random noise = new Random(seed * 1000 + index);
            for (int c = 0; c < 3; c++) {
                for (int f = 0; f < t; f++) {
                    float level = (index % 2 == 1 ? f : t - 1 - f) / (float) t - 0.5f;
                    for (int p = 0; p < hw; p++) {
                        x[(c * t + f) * hw + p] = level + 0.1f * (float) noise.nextGaussian();
                    }
                }
            }
            return new Clip(x, t, 16, 16, labels(index));
        }
    }

    static TrainConfig config(int epochs) {
        return TrainConfig.builder().model("sevnet-g1").numClasses(2).frames(4).size(16).epochs(epochs).warmupEpochs(0)
                .batch(4).dropout(0.5).workers(1).seed(5).device("cpu").build();
    }

    @Test
    void dataMadeInCodeTrainsWithListenersAndEarlyStopping(@TempDir Path dir) throws Exception {
        List<Long> steps = new ArrayList<>();
        List<Integer> epochs = new ArrayList<>();
        Trainer t = new Trainer(config(4), dir.resolve("run"), Progress.Mode.QUIET).writeCurves(false)
                .data(new Ramps(16, 1), new Ramps(8, 2)).addListener(new Trainer.Listener() {
                    @Override
                    public void afterStep(long step, double loss, double lr) {
                        assertTrue(Double.isFinite(loss) && lr > 0);
                        steps.add(step);
                    }

                    @Override
                    public boolean afterEpoch(EpochRecord e, boolean best) {
                        epochs.add(e.epoch());
                        return e.epoch() < 2; // early stopping after epoch 2 of 4
                    }
                });
        Trainer.Result r = t.run();
        assertEquals(List.of(1, 2), epochs);
        assertEquals(8, steps.size(), "16 clips / batch 4 = 4 steps an epoch");
        assertEquals(8L, steps.get(7));
        assertEquals(2, r.epochsDone());
        assertTrue(r.stoppedEarly());
        assertEquals(List.of("falling", "rising"), r.labels());
        assertTrue(Files.isRegularFile(dir.resolve("run/summary.json")), "an early-stopped run is a finished one");
        assertEquals(2, Checkpoint.readState(dir.resolve("run")).epoch());
        // the command line cannot supply data given in code: it refuses rather than train on the config's data
        int code = Main.run(new String[] {"train", "--resume", dir.resolve("run").toString(), "--epochs", "4",
            "--progress", "quiet"});
        assertEquals(2, code);
    }

    @Test
    void aStopRequestedMidEpochResumesExactly(@TempDir Path dir) {
        TrainConfig c = config(3);
        Trainer.Result whole = new Trainer(c, dir.resolve("whole"), Progress.Mode.QUIET).writeCurves(false)
                .data(new Ramps(16, 1), new Ramps(8, 2)).run();

        Trainer stopping = new Trainer(c, dir.resolve("stopped"), Progress.Mode.QUIET).writeCurves(false)
                .data(new Ramps(16, 1), new Ramps(8, 2));
        stopping.addListener(new Trainer.Listener() {
            @Override
            public void afterStep(long step, double loss, double lr) {
                if (step == 6) {
                    stopping.requestStop(); // as a Stop button on another thread would
                }
            }
        });
        Trainer.Result stopped = stopping.run();
        assertTrue(stopped.stoppedEarly());
        assertEquals(1, stopped.epochsDone(), "epoch 2 was dropped mid-way");
        assertEquals(1, Checkpoint.readState(dir.resolve("stopped")).epoch());

        Trainer.Result resumed = new Trainer(c, dir.resolve("stopped"), Progress.Mode.QUIET).writeCurves(false)
                .data(new Ramps(16, 1), new Ramps(8, 2)).resume(dir.resolve("stopped"));
        assertEquals(whole.steps(), resumed.steps());
        ExactResumeTest.assertSameTensors(Checkpoint.readModel(dir.resolve("whole")),
                Checkpoint.readModel(dir.resolve("stopped")));
        assertEquals(whole.finalVal().top1(), resumed.finalVal().top1());
    }

    @Test
    void aLearningRatePolicyReplacesWarmupAndCosine(@TempDir Path dir) {
        List<Double> rates = new ArrayList<>();
        new Trainer(config(1), dir.resolve("lr"), Progress.Mode.QUIET).writeCurves(false)
                .data(new Ramps(8, 1), new Ramps(4, 2)).learningRate((step, perEpoch) -> 0.01 * (step + 1))
                .addListener(new Trainer.Listener() {
                    @Override
                    public void afterStep(long step, double loss, double lr) {
                        rates.add(lr);
                    }
                }).run();
        assertEquals(List.of(0.01, 0.02), rates);
    }
}
