package dev.sevnet.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.backend.Backends;
import dev.sevnet.backend.Uploader;
import dev.sevnet.data.Batch;
import dev.sevnet.data.ClipLoader;
import dev.sevnet.data.SyntheticMotionDataset;
import dev.sevnet.tensor.Device;
import dev.sevnet.tensor.Tensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The prefetch thread keeps the loader's order, hands over failures in place, and leaves nothing open when closed
 * early; a training run with prefetching is the run without it, bit for bit.
 */
class BatchPrefetcherTest {

    static SyntheticMotionDataset data(int n) {
        return SyntheticMotionDataset.builder().size(n).frames(4).resolution(16).seed(3).build();
    }

    @Test
    void theBatchesAndTheirUploadsComeInTheLoadersOrder() {
        SyntheticMotionDataset ds = data(20);
        List<float[]> expected = new ArrayList<>();
        try (ClipLoader loader = ClipLoader.builder(ds).batchSize(3).workers(2).seed(1).train(true).shuffle(true).build()) {
            try (ClipLoader.Epoch e = loader.epoch(2)) {
                while (e.hasNext()) {
                    try (Batch b = e.next()) {
                        expected.add(b.clips().toFloatArray());
                    }
                }
            }
            List<float[]> got = new ArrayList<>();
            try (ClipLoader.Epoch e = loader.epoch(2); Uploader up = Backends.cpu().uploader(2);
                    BatchPrefetcher p = new BatchPrefetcher(e, up, "test-prefetch")) {
                while (p.hasNext()) {
                    try (BatchPrefetcher.Item item = p.next(); Tensor x = item.clips().take()) {
                        assertEquals(Device.CPU, x.device());
                        assertArrayEquals(item.batch().clips().toFloatArray(), x.toFloatArray());
                        got.add(x.toFloatArray());
                    }
                }
                assertFalse(p.hasNext());
                assertThrows(java.util.NoSuchElementException.class, p::next);
            }
            assertEquals(expected.size(), got.size());
            for (int i = 0; i < got.size(); i++) {
                assertArrayEquals(expected.get(i), got.get(i), "batch " + i);
            }
        }
    }

    /** A loader's batches, remembered; next() number {@code failAt} (0-based) throws instead. */
    static final class RecordingSource implements Iterator<Batch>, AutoCloseable {
        final List<Batch> made = new ArrayList<>();
        final ClipLoader loader;
        final ClipLoader.Epoch epoch;
        final int failAt;
        int calls;

        RecordingSource(int samples, int failAt) {
            loader = ClipLoader.builder(data(samples)).batchSize(1).workers(1).seed(1).train(false).shuffle(false).build();
            epoch = loader.epoch(0);
            this.failAt = failAt;
        }

        @Override
        public boolean hasNext() {
            return epoch.hasNext();
        }

        @Override
        public Batch next() {
            if (calls++ == failAt) {
                throw new IllegalStateException("clip 7 is corrupt");
            }
            Batch b = epoch.next();
            synchronized (made) {
                made.add(b);
            }
            return b;
        }

        @Override
        public void close() {
            epoch.close();
            loader.close();
        }
    }

    @Test
    void aFailureOfTheLoaderIsRethrownAfterTheBatchesBeforeIt() {
        try (RecordingSource src = new RecordingSource(10, 2); Uploader up = Backends.cpu().uploader(2);
                BatchPrefetcher p = new BatchPrefetcher(src, up, "t")) {
            for (int i = 0; i < 2; i++) {
                try (BatchPrefetcher.Item item = p.next()) {
                    assertSame(src.made.get(i), item.batch());
                }
            }
            IllegalStateException e = assertThrows(IllegalStateException.class, p::hasNext);
            assertEquals("clip 7 is corrupt", e.getMessage());
        }
    }

    @Test
    void closingEarlyStopsTheThreadAndClosesEveryBatchNotHandedOut() {
        try (RecordingSource src = new RecordingSource(40, -1); Uploader up = Backends.cpu().uploader(2)) {
            BatchPrefetcher p = new BatchPrefetcher(src, up, "t");
            try (BatchPrefetcher.Item item = p.next()) {
                assertEquals(1, item.batch().size());
            }
            p.close();
            int n;
            synchronized (src.made) {
                n = src.made.size();
                for (Batch b : src.made) {
                    assertTrue(b.clips().isClosed(), "a batch left open");
                }
            }
            assertTrue(n < 40, "the thread stopped early (" + n + " batches made)");
            assertFalse(p.hasNext());
        }
    }

    @Test
    void trainingWithPrefetchingIsTrainingWithout(@TempDir Path dir) {
        TrainConfig c = ExactResumeTest.tiny().toBuilder().epochs(2).build();
        Trainer.Result off = withPrefetch("off", () -> new Trainer(c, dir.resolve("off"), Progress.Mode.QUIET)
                .writeCurves(false).run());
        Trainer.Result on = withPrefetch("on", () -> new Trainer(c, dir.resolve("on"), Progress.Mode.QUIET)
                .writeCurves(false).run());
        assertEquals(off.steps(), on.steps());
        assertEquals(off.finalVal().top1(), on.finalVal().top1());
        assertEquals(off.finalVal().loss(), on.finalVal().loss(), 1e-6);
        Path a = dir.resolve("off/checkpoints/last");
        Path b = dir.resolve("on/checkpoints/last");
        ExactResumeTest.assertSameTensors(Checkpoint.readModel(a), Checkpoint.readModel(b));
        ExactResumeTest.assertSameTensors(Checkpoint.readOptimizer(a), Checkpoint.readOptimizer(b));
    }

    @Test
    void thePropertyIsCheckedAndAutoMeansOnOnlyOnAGpu() {
        withPrefetch("auto", () -> {
            assertFalse(BatchPrefetcher.enabledFor(Device.CPU));
            assertTrue(BatchPrefetcher.enabledFor(Device.cuda(0)));
            return null;
        });
        withPrefetch("sometimes", () -> {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> BatchPrefetcher.enabledFor(Device.CPU));
            assertTrue(e.getMessage().contains("sevnet.prefetch"));
            return null;
        });
    }

    static <T> T withPrefetch(String value, java.util.function.Supplier<T> body) {
        String old = System.getProperty(BatchPrefetcher.PROPERTY);
        System.setProperty(BatchPrefetcher.PROPERTY, value);
        try {
            return body.get();
        } finally {
            if (old == null) {
                System.clearProperty(BatchPrefetcher.PROPERTY);
            } else {
                System.setProperty(BatchPrefetcher.PROPERTY, old);
            }
        }
    }
}
