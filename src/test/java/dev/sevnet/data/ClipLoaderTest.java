package dev.sevnet.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.tensor.MemoryStats;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClipLoaderTest {
    @TempDir
    Path dir;

    /** Every batch of one epoch: indices, labels and a checksum of the clip data. */
    static List<String> epochFingerprint(ClipLoader loader, int epoch) {
        List<String> out = new ArrayList<>();
        try (ClipLoader.Epoch e = loader.epoch(epoch)) {
            while (e.hasNext()) {
                try (Batch b = e.next()) {
                    out.add(Arrays.toString(b.indices()) + Arrays.toString(b.labels())
                            + Arrays.hashCode(b.clips().toFloatArray()));
                }
            }
        }
        return out;
    }

    @Test
    void sameBatchesWithOneOrThreeWorkersAndNoLeakedTensors() {
        SyntheticMotionDataset data = SyntheticMotionDataset.builder().size(21).resolution(16).frames(4)
                .freshSamplesEachEpoch(true).build();
        long before = MemoryStats.liveHostBytes();
        List<String> one;
        List<String> three;
        try (ClipLoader l1 = ClipLoader.builder(data).batchSize(4).workers(1).seed(9).build();
                ClipLoader l3 = ClipLoader.builder(data).batchSize(4).workers(3).prefetchBatches(3).seed(9).build()) {
            one = epochFingerprint(l1, 2);
            three = epochFingerprint(l3, 2);
            assertNotEquals(one, epochFingerprint(l1, 3), "another epoch, another order and other clips");
            assertEquals(6, l1.batchesPerEpoch());
        }
        assertEquals(one, three);
        assertEquals(6, one.size(), "21 samples in batches of 4, last one partial");
        assertEquals(before, MemoryStats.liveHostBytes(), "every batch tensor freed");
    }

    @Test
    void batchLayoutLabelsAndDropLast() {
        SyntheticMotionDataset data = SyntheticMotionDataset.builder().size(10).resolution(12, 8).frames(3).build();
        try (ClipLoader loader = ClipLoader.builder(data).batchSize(4).workers(2).train(false).dropLast(true).build();
                ClipLoader.Epoch e = loader.epoch(0)) {
            int batches = 0;
            while (e.hasNext()) {
                try (Batch b = e.next()) {
                    batches++;
                    assertEquals(List.of(4L, 3L, 3L, 8L, 12L), Arrays.stream(b.clips().shape().dims()).boxed().toList());
                    int[] idx = b.indices();
                    // test order: no shuffle
                    assertArrayEquals(new int[] {idx[0], idx[0] + 1, idx[0] + 2, idx[0] + 3}, idx);
                    float[] hot = b.multiHot();
                    for (int i = 0; i < 4; i++) {
                        assertEquals(data.label(idx[i]), b.labels()[i]);
                        assertEquals(1f, hot[i * SyntheticMotionDataset.NUM_CLASSES + data.label(idx[i])]);
                    }
                    Clip expected = data.load(idx[1], null, false);
                    float[] all = b.clips().toFloatArray();
                    assertArrayEquals(expected.data(), Arrays.copyOfRange(all, expected.data().length, 2 * expected.data().length));
                }
            }
            assertEquals(2, batches);
        }
    }

    @Test
    void corruptAndMissingVideosAreSkippedAndCounted() throws IOException {
        SyntheticMotionDataset synth = SyntheticMotionDataset.builder().frames(8).resolution(32).build();
        List<VideoRecord> records = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            String name = "v" + i + ".mp4";
            VideoWriter.write(dir.resolve(name), synth.render(i), 8, VideoWriter.Codec.H264_MP4);
            records.add(VideoRecord.ofVideo(name, synth.label(i)));
        }
        byte[] junk = new byte[5000];
        new java.util.Random(3).nextBytes(junk);
        Files.write(dir.resolve("corrupt.mp4"), junk);
        records.add(2, VideoRecord.ofVideo("corrupt.mp4", 1));
        records.add(VideoRecord.ofVideo("missing.mp4", 2));
        VideoListDataset data = VideoListDataset.builder(dir, records, SyntheticMotionDataset.classNamesList())
                .sampler(new TsnSampler(4)).transform(ClipTransform.builder().size(24).shortSideRange(24, 28).build())
                .build();
        long before = MemoryStats.liveHostBytes();
        try (ClipLoader loader = ClipLoader.builder(data).batchSize(3).workers(2).seed(1).build();
                ClipLoader.Epoch e = loader.epoch(0)) {
            int samples = 0;
            while (e.hasNext()) {
                try (Batch b = e.next()) {
                    samples += b.size();
                    assertEquals(List.of((long) b.size(), 3L, 4L, 24L, 24L),
                            Arrays.stream(b.clips().shape().dims()).boxed().toList());
                }
            }
            assertEquals(6, samples, "every good video loaded");
            assertEquals(2, e.skippedCount());
            assertTrue(e.skipped().stream().anyMatch(s -> s.endsWith("corrupt.mp4")), e.skipped().toString());
            assertTrue(e.skipped().stream().anyMatch(s -> s.endsWith("missing.mp4")), e.skipped().toString());
        }
        assertEquals(before, MemoryStats.liveHostBytes());
    }

    @Test
    void multiViewBatchesHoldEveryViewOfEachSample() throws IOException {
        SyntheticMotionDataset synth = SyntheticMotionDataset.builder().frames(12).resolution(40, 32).build();
        List<VideoRecord> records = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            VideoWriter.write(dir.resolve(i + ".mp4"), synth.render(i), 8, VideoWriter.Codec.H264_MP4);
            records.add(VideoRecord.ofVideo(i + ".mp4", synth.label(i)));
        }
        VideoListDataset data = VideoListDataset.builder(dir, records, SyntheticMotionDataset.classNamesList())
                .sampler(new DenseClipSampler(4, 2)).transform(ClipTransform.builder().size(24).shortSideRange(24, 24).build())
                .testViews(2, 3).build();
        assertEquals(6, data.testViews());
        List<Clip> views = data.loadViews(0);
        assertEquals(6, views.size());
        assertNotEquals(views.get(0), views.get(2), "left and right crops differ");
        assertNotEquals(views.get(0), views.get(3), "the two temporal clips differ");
        // the views equal what loading each clip on its own gives
        RgbFrames frames = VideoReader.read(dir.resolve("0.mp4"), n -> data.sampler().sampleTest(n, 1, 2));
        assertEquals(data.transform().test(frames, new int[] {0}, 2, 3), views.get(5));
        try (ClipLoader loader = ClipLoader.builder(data).batchSize(2).workers(2).train(false).multiView(true).build();
                ClipLoader.Epoch e = loader.epoch(0);
                Batch b = e.next()) {
            assertEquals(6, b.viewsPerSample());
            assertEquals(2, b.size());
            assertEquals(12, b.clips().dim(0));
            assertArrayEquals(new int[] {0, 1}, b.indices());
        }
    }
    /**
     * close() waits for a worker still inside a source's load() (one that ignores the interrupt), so a caller can
     * close what the source reads from right after: no load() runs once the loader is closed.
     */
    @Test
    void closeWaitsForWorkersInsideLoad() throws Exception {
        SyntheticMotionDataset data = SyntheticMotionDataset.builder().size(8).resolution(8).frames(2).build();
        java.util.concurrent.atomic.AtomicInteger running = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.CountDownLatch started = new java.util.concurrent.CountDownLatch(1);
        ClipSource slow = new ClipSource() {
            @Override
            public int size() {
                return data.size();
            }

            @Override
            public List<String> classNames() {
                return data.classNames();
            }

            @Override
            public int[] labels(int index) {
                return data.labels(index);
            }

            @Override
            public Clip load(int index, java.util.Random rng, boolean train) {
                running.incrementAndGet();
                started.countDown();
                try {
                    long end = System.nanoTime() + 300_000_000L; // busy 300 ms, deaf to interrupts
                    while (System.nanoTime() < end) {
                        Thread.onSpinWait();
                    }
                    return data.load(index, rng, train);
                } finally {
                    running.decrementAndGet();
                }
            }
        };
        ClipLoader loader = ClipLoader.builder(slow).batchSize(2).workers(2).seed(1).build();
        ClipLoader.Epoch e = loader.epoch(0);
        assertTrue(started.await(10, java.util.concurrent.TimeUnit.SECONDS));
        e.close();
        loader.close();
        assertEquals(0, running.get(), "a worker was still inside load() after close");
    }
}
