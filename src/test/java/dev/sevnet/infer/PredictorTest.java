package dev.sevnet.infer;

import dev.sevnet.data.SyntheticMotionDataset;
import dev.sevnet.data.VideoDecodeException;
import dev.sevnet.nn.io.WeightsFormatException;
import dev.sevnet.tensor.MemoryStats;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.train.Checkpoint;
import dev.sevnet.train.VideoPredictor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The batched, thread-safe Predictor: correctness under concurrency, back-pressure, timeouts, close. */
class PredictorTest {
    @TempDir
    static Path dir;
    static Path checkpoint;
    static List<Path> videos;

    @BeforeAll
    static void fixture() {
        checkpoint = InferFixture.checkpoint(dir, 3);
        videos = InferFixture.videos(dir, 6);
    }

    static Predictor.Builder base() {
        return Predictor.builder().checkpoint(checkpoint).device("cpu");
    }

    static Tensor clip(long seed, long... dims) {
        Random r = new Random(seed);
        Shape s = Shape.of(dims);
        float[] x = new float[Math.toIntExact(s.size())];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return Tensor.of(x, s);
    }

    /** Same top-1 and logits within 1e-4 of the largest logit. */
    static void assertSame(Prediction expected, Prediction actual, String what) {
        assertEquals(expected.top1().index(), actual.top1().index(), what + ": top-1");
        assertEquals(expected.top1().label(), actual.top1().label(), what + ": top-1 label");
        double err = FoldedSevNetTest.relErr(actual.logits(), expected.logits());
        assertTrue(err <= 1e-4, what + ": logits differ by " + err + " relative");
        assertEquals(expected.views(), actual.views());
    }

    @Test
    void eightThreadsGetTheSameAnswersAsSequentialSinglePredictions() throws Exception {
        try (Predictor p = base().maxBatch(8).maxQueueDelay(Duration.ofMillis(2)).build();
                Tensor c0 = clip(1, 3, 8, 32, 32);
                Tensor c1 = clip(2, 3, 8, 32, 32)) {
            List<Prediction> expected = new ArrayList<>();
            for (Path v : videos) {
                expected.add(p.predict(v));
            }
            Prediction e0 = p.predict(c0);
            Prediction e1 = p.predict(c1);
            long sequentialBatches = p.stats().batches();
            assertEquals(videos.size() + 2, sequentialBatches, "one forward pass per sequential call");

            ExecutorService pool = Executors.newFixedThreadPool(8);
            try {
                List<Future<Integer>> jobs = new ArrayList<>();
                for (int t = 0; t < 8; t++) {
                    int thread = t;
                    jobs.add(pool.submit(() -> {
                        List<Integer> order = new ArrayList<>();
                        for (int i = 0; i < videos.size(); i++) {
                            order.add(i);
                        }
                        int checked = 0;
                        for (int rep = 0; rep < 3; rep++) {
                            Collections.shuffle(order, new Random(thread * 31L + rep));
                            for (int i : order) {
                                Prediction got = (i + thread) % 2 == 0 ? p.predict(videos.get(i))
                                        : p.predictAsync(videos.get(i)).get();
                                assertSame(expected.get(i), got, "thread " + thread + ", video " + i);
                                checked++;
                            }
                            assertSame(e0, p.predict(c0), "thread " + thread + ", tensor clip 0");
                            assertSame(e1, p.predictAsync(c1).get(), "thread " + thread + ", tensor clip 1");
                            checked += 2;
                        }
                        return checked;
                    }));
                }
                int total = 0;
                for (Future<Integer> j : jobs) {
                    total += j.get();
                }
                assertEquals(8 * 3 * (videos.size() + 2), total);
            } finally {
                pool.shutdownNow();
            }
            Predictor.Stats s = p.stats();
            long[] sizes = s.batchSizes();
            long clips = 0;
            long passes = 0;
            for (int n = 1; n < sizes.length; n++) {
                clips += n * sizes[n];
                passes += sizes[n];
            }
            assertEquals(s.clips(), clips);
            assertEquals(s.batches(), passes);
            assertEquals(s.completed(), s.clips(), "one view per request");
            assertEquals(0, s.failed() + s.rejected() + s.timedOut());
        }
    }

    @Test
    void foldedPredictorMatchesTheModelAsTrainedAndVideoPredictor() {
        try (Predictor folded = base().build();
                Predictor plain = base().foldBatchNorm(false).build();
                VideoPredictor vp = VideoPredictor.load(checkpoint, "cpu")) {
            assertTrue(folded.isFolded());
            assertFalse(plain.isFolded());
            assertEquals(SyntheticMotionDataset.classNamesList(), folded.labels());
            assertEquals(Shape.of(3, 8, 32, 32), folded.clipShape());
            for (Path v : videos) {
                Prediction a = folded.predict(v);
                Prediction b = plain.predict(v);
                assertSame(b, a, v.toString());
                VideoPredictor.Prediction c = vp.predict(List.of(v), 5).get(0);
                assertTrue(c.ok(), c.error());
                assertEquals(c.classes()[0], a.top1().index());
                assertEquals(c.probabilities()[0], a.top1().prob(), 1e-4);
                assertEquals(5, a.top().size());
                float sum = 0;
                for (float q : a.probabilities()) {
                    sum += q;
                }
                assertEquals(1f, sum, 1e-4);
            }
        }
    }

    @Test
    void aFullBatchRunsAtOnceAndBigRequestsSplitIntoSeveralPasses() {
        try (Predictor p = base().maxBatch(4).maxQueueDelay(Duration.ofHours(1)).build();
                Predictor single = base().maxQueueDelay(Duration.ZERO).build();
                Tensor views = clip(7, 6, 3, 8, 32, 32)) {
            List<Tensor> clips = new ArrayList<>();
            List<CompletableFuture<Prediction>> fs = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                clips.add(clip(10 + i, 3, 8, 32, 32));
                fs.add(p.predictAsync(clips.get(i)));
            }
            // four one-clip requests fill a batch of 4: it runs without waiting out the (1 hour) delay
            for (int i = 0; i < 4; i++) {
                assertSame(single.predict(clips.get(i)), fs.get(i).join(), "clip " + i);
            }
            assertEquals(1, p.stats().batches());
            assertEquals(1, p.stats().batchSizes()[4]);

            // six views of one video: passes of 4 and 2 clips; probabilities are the mean of the views'
            Prediction multi = p.predict(views);
            assertEquals(6, multi.views());
            assertEquals(2, p.stats().batchSizes()[4]);
            assertEquals(1, p.stats().batchSizes()[2]);
            float[] mean = new float[10];
            float[] meanLogits = new float[10];
            for (int v = 0; v < 6; v++) {
                float[] all = views.toFloatArray();
                int per = 3 * 8 * 32 * 32;
                try (Tensor one = Tensor.of(java.util.Arrays.copyOfRange(all, v * per, (v + 1) * per), Shape.of(3, 8, 32, 32))) {
                    Prediction pv = single.predict(one);
                    for (int c = 0; c < 10; c++) {
                        mean[c] += pv.probabilities()[c] / 6;
                        meanLogits[c] += pv.logits()[c] / 6;
                    }
                }
            }
            for (int c = 0; c < 10; c++) {
                assertEquals(mean[c], multi.probabilities()[c], 1e-5);
                assertEquals(meanLogits[c], multi.logits()[c], 1e-4);
            }
            clips.forEach(Tensor::close);
        }
    }

    @Test
    void viewsOptionDecodesTenByThreeStyleViews() {
        try (Predictor p = base().views("2x3").maxBatch(4).maxQueueDelay(Duration.ZERO).build()) {
            assertEquals(6, p.views());
            Prediction r = p.predict(videos.get(0));
            assertEquals(6, r.views());
            assertEquals(2, p.stats().batches(), "6 views in passes of at most 4");
        }
    }

    @Test
    void aFullQueueFailsFastAndCloseStillRunsWhatWasQueued() throws Exception {
        Predictor p = base().maxBatch(16).maxQueueDelay(Duration.ofHours(1)).queueCapacity(3).build();
        try (Tensor c = clip(3, 3, 8, 32, 32)) {
            List<CompletableFuture<Prediction>> queued = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                queued.add(p.predictAsync(c));
            }
            assertEquals(3, p.queueDepth());
            QueueFullException e = assertThrows(QueueFullException.class, () -> p.predictAsync(c));
            assertEquals(3, e.capacity());
            assertTrue(e.getMessage().contains("capacity 3"), e.getMessage());
            assertInstanceOf(RejectedExecutionException.class, e);
            assertThrows(QueueFullException.class, () -> p.predict(c));
            assertThrows(QueueFullException.class, () -> p.predict(videos.get(0)));
            // the async file path decodes first, then finds the queue full: its future says so
            CompletionException ce = assertThrows(CompletionException.class, () -> p.predictAsync(videos.get(0)).join());
            assertInstanceOf(QueueFullException.class, ce.getCause());
            assertEquals(4, p.stats().rejected());
            assertEquals(0, p.stats().timedOut(), "a refused call is not left to time out");
            assertEquals(3, p.queueDepth(), "nothing was added by the refused calls");

            p.close(); // drains: the three queued requests run (one batch of 3) before the threads stop
            for (CompletableFuture<Prediction> f : queued) {
                assertTrue(f.isDone() && !f.isCompletedExceptionally());
            }
            assertEquals(1, p.stats().batchSizes()[3]);
            assertEquals(3, p.stats().completed());
            RejectedExecutionException closed = assertThrows(RejectedExecutionException.class, () -> p.predict(c));
            assertTrue(closed.getMessage().contains("closed"), closed.getMessage());
            assertThrows(RejectedExecutionException.class, () -> p.predictAsync(videos.get(0)));
        } finally {
            p.close();
        }
    }

    @Test
    void callsTimeOutAndTimedOutRequestsAreNeverRun() {
        Predictor p = base().maxBatch(16).maxQueueDelay(Duration.ofHours(1)).timeout(Duration.ofMillis(200)).build();
        try (Tensor c = clip(4, 3, 8, 32, 32)) {
            CompletableFuture<Prediction> f = p.predictAsync(c);
            ExecutionException e = assertThrows(ExecutionException.class, f::get);
            assertInstanceOf(TimeoutException.class, e.getCause());
            PredictionTimeoutException te = assertThrows(PredictionTimeoutException.class, () -> p.predict(videos.get(0)));
            assertInstanceOf(TimeoutException.class, te.getCause());
            assertEquals(Duration.ofMillis(200), te.timeout());
            CompletionException ce = assertThrows(CompletionException.class, () -> p.predictAsync(videos.get(1)).join());
            assertInstanceOf(TimeoutException.class, ce.getCause());
            assertEquals(3, p.stats().timedOut());
            p.close();
            assertEquals(0, p.stats().batches(), "timed-out requests are dropped from the queue, not run");
            assertEquals(0, p.stats().completed());
        } finally {
            p.close();
        }
    }

    @Test
    void eachCallMayHaveItsOwnTimeout() throws Exception {
        // batches wait for 16 clips or an hour: only a call's timeout ends it
        Predictor p = base().maxBatch(16).maxQueueDelay(Duration.ofHours(1)).timeout(Duration.ofHours(1)).build();
        try (Tensor c = clip(4, 3, 8, 32, 32)) {
            Duration shortLimit = Duration.ofMillis(150);
            PredictionTimeoutException te = assertThrows(PredictionTimeoutException.class,
                    () -> p.predict(videos.get(0), shortLimit));
            assertEquals(shortLimit, te.timeout(), "the call's limit, not the builder's hour");
            assertThrows(PredictionTimeoutException.class, () -> p.predict(c, shortLimit));
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> p.predictAsync(videos.get(1), shortLimit).get());
            assertInstanceOf(TimeoutException.class, e.getCause());
            e = assertThrows(ExecutionException.class, () -> p.predictAsync(c, shortLimit).get());
            assertInstanceOf(TimeoutException.class, e.getCause());
            assertEquals(4, p.stats().timedOut());
            assertThrows(IllegalArgumentException.class, () -> p.predict(c, Duration.ZERO));
            assertThrows(IllegalArgumentException.class, () -> p.predictAsync(c, Duration.ofMillis(-1)));
            assertThrows(NullPointerException.class, () -> p.predict(c, null));
        } finally {
            p.close();
        }
        assertEquals(0, p.stats().batches(), "timed-out requests are dropped from the queue, not run");
    }

    @Test
    void afterTheWarmUpPassEveryBatchUpToMaxBatchReusesThePooledBuffers() throws Exception {
        try (Predictor cold = base().maxBatch(4).preallocate(false).build();
                Predictor p = base().maxBatch(4).inFlight(2).maxQueueDelay(Duration.ofMillis(3)).build()) {
            Predictor.Stats s0 = p.stats();
            assertEquals(0, s0.poolMallocs(), "nothing allocated since the warm-up");
            assertTrue(s0.poolBytes() > 0, "the warm-up filled the pools");
            List<Prediction> expected = new ArrayList<>();
            for (Path v : videos) {
                expected.add(cold.predict(v));
            }
            ExecutorService pool = Executors.newFixedThreadPool(6);
            try {
                List<Future<?>> jobs = new ArrayList<>();
                for (int t = 0; t < 6; t++) {
                    int thread = t;
                    jobs.add(pool.submit(() -> {
                        for (int rep = 0; rep < 4; rep++) {
                            int i = (thread + rep) % videos.size();
                            assertSame(expected.get(i), p.predict(videos.get(i)), "thread " + thread);
                        }
                        return null;
                    }));
                }
                for (Future<?> j : jobs) {
                    j.get();
                }
            } finally {
                pool.shutdownNow();
            }
            Predictor.Stats s = p.stats();
            long[] sizes = s.batchSizes();
            int distinct = 0;
            for (int n = 1; n < sizes.length; n++) {
                distinct += sizes[n] > 0 ? 1 : 0;
            }
            assertTrue(distinct >= 2, "batches of several sizes ran: " + java.util.Arrays.toString(sizes));
            assertEquals(0, s.poolMallocs(), "steady state made no native allocation");
            assertEquals(s0.poolBytes(), s.poolBytes(), "the pools did not grow");
            assertTrue(cold.stats().poolMallocs() > 0, "without the warm-up the first request fills the pool");
        }
    }

    @Test
    void aClipWithNonFiniteValuesIsRefusedBeforeItIsQueued() {
        try (Predictor p = base().build()) {
            float[] v = new float[3 * 8 * 32 * 32];
            v[17] = Float.NaN;
            v[99] = Float.POSITIVE_INFINITY;
            try (Tensor clip = Tensor.of(v, 3, 8, 32, 32)) {
                IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(
                        IllegalArgumentException.class, () -> p.predict(clip));
                assertTrue(e.getMessage().contains("2 non-finite values"), e.getMessage());
            }
            assertEquals(0, p.stats().failed() + p.stats().accepted(), "nothing was queued");
        }
    }

    @Test
    void closeWaitsForAcceptedCallsRejectsNewOnesAndFreesEveryNativeBuffer() throws Exception {
        long before = MemoryStats.liveHostBytes();
        Predictor p = base().maxBatch(4).maxQueueDelay(Duration.ofMillis(1)).queueCapacity(8).build();
        assertTrue(MemoryStats.liveHostBytes() > before, "the model's weights are native memory");
        Prediction expected0 = p.predict(videos.get(0));
        List<List<CompletableFuture<Prediction>>> accepted = new ArrayList<>();
        AtomicInteger count = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(4);
        List<Future<?>> jobs = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            List<CompletableFuture<Prediction>> mine = Collections.synchronizedList(new ArrayList<>());
            accepted.add(mine);
            jobs.add(pool.submit(() -> {
                while (true) {
                    try {
                        mine.add(p.predictAsync(videos.get(0)));
                        count.incrementAndGet();
                    } catch (QueueFullException e) {
                        Thread.onSpinWait();
                    } catch (RejectedExecutionException e) {
                        return null; // closed
                    }
                }
            }));
        }
        while (count.get() < 20) {
            Thread.sleep(1);
        }
        p.close();
        for (Future<?> j : jobs) {
            j.get();
        }
        pool.shutdown();
        int n = 0;
        for (List<CompletableFuture<Prediction>> mine : accepted) {
            for (CompletableFuture<Prediction> f : mine) {
                assertTrue(f.isDone(), "every accepted call is answered by close()");
                if (f.isCompletedExceptionally()) {
                    // the only refusal an accepted async call may get: the queue was full after decoding
                    CompletionException e = assertThrows(CompletionException.class, f::join);
                    assertInstanceOf(QueueFullException.class, e.getCause());
                } else {
                    assertSame(expected0, f.join(), "accepted call");
                    n++;
                }
            }
        }
        assertTrue(n > 0);
        assertTrue(p.isClosed());
        assertEquals(before, MemoryStats.liveHostBytes(), "native memory back to its level before the predictor");
        assertThrows(RejectedExecutionException.class, () -> p.predict(videos.get(0)));
    }

    /**
     * On the CPU several in-flight batches share the cores (each batching thread's native calls on its share, not all
     * of them): inFlight(2) on 4 threads runs each on 2, intraOpThreads pins a count, one in flight keeps the library's;
     * the answers do not change, concurrent batches included.
     */
    @Test
    void inFlightBatchesShareTheCoresOnTheCpu() throws Exception {
        int before = dev.sevnet.backend.cpu.CpuBackend.numThreads();
        try {
            dev.sevnet.backend.cpu.CpuBackend.setNumThreads(4);
            try (Predictor one = base().build();
                    Predictor two = base().inFlight(2).maxQueueDelay(Duration.ZERO).build();
                    Predictor pinned = base().inFlight(2).intraOpThreads(3).build();
                    Tensor c0 = clip(11, 3, 8, 32, 32);
                    Tensor c1 = clip(12, 3, 8, 32, 32)) {
                assertEquals(4, one.intraOpThreads());
                assertEquals(2, two.intraOpThreads());
                assertEquals(3, pinned.intraOpThreads());
                Prediction e0 = one.predict(c0);
                Prediction e1 = one.predict(c1);
                assertSame(e0, pinned.predict(c0), "3 threads a batch");
                List<CompletableFuture<Prediction>> running = new ArrayList<>();
                for (int i = 0; i < 8; i++) {
                    running.add(two.predictAsync(i % 2 == 0 ? c0 : c1));
                }
                for (int i = 0; i < 8; i++) {
                    assertSame(i % 2 == 0 ? e0 : e1, running.get(i).get(), "two in flight, request " + i);
                }
            }
        } finally {
            dev.sevnet.backend.cpu.CpuBackend.setNumThreads(before);
        }
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                () -> base().intraOpThreads(-1).build());
        assertTrue(bad.getMessage().contains("intraOpThreads"), bad.getMessage());
    }

    @Test
    void badInputsAreExceptionsWithMessagesAndThePredictorKeepsWorking() throws Exception {
        assertThrows(IllegalArgumentException.class, () -> Predictor.builder().build());
        assertThrows(IllegalArgumentException.class, () -> base().maxBatch(0).build());
        assertThrows(IllegalArgumentException.class, () -> base().queueCapacity(0).build());
        assertThrows(IllegalArgumentException.class, () -> base().timeout(Duration.ZERO).build());
        assertThrows(IllegalArgumentException.class, () -> base().views("2x2").build());
        assertThrows(IllegalArgumentException.class, () -> Predictor.builder().checkpoint(dir.resolve("none")).build());
        Path garbage = dir.resolve("garbage.mp4");
        Files.writeString(garbage, "this is not a video");
        try (Predictor p = base().maxQueueDelay(Duration.ZERO).build();
                Tensor fourChannels = Tensor.zeros(Shape.of(4, 8, 32, 32));
                Tensor noBatchAxis = Tensor.zeros(Shape.of(8, 32, 32));
                Tensor ok = clip(5, 3, 8, 32, 32)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> p.predict(fourChannels));
            assertTrue(e.getMessage().contains("[3, T, H, W]"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> p.predict(noBatchAxis));
            Tensor closed = clip(6, 3, 8, 32, 32);
            closed.close();
            assertThrows(IllegalArgumentException.class, () -> p.predict(closed));
            VideoDecodeException missing = assertThrows(VideoDecodeException.class,
                    () -> p.predict(dir.resolve("missing.mp4")));
            assertTrue(missing.getMessage().contains("missing.mp4"), missing.getMessage());
            assertThrows(VideoDecodeException.class, () -> p.predict(garbage));
            CompletionException ce = assertThrows(CompletionException.class, () -> p.predictAsync(garbage).join());
            assertInstanceOf(VideoDecodeException.class, ce.getCause());
            assertEquals(10, p.predict(ok).logits().length, "still serving");
            assertEquals(0, p.stats().failed(), "bad inputs never reach the model");
        }
    }

    @Test
    void aSafetensorsFileWithModelNameAndLabelsGivesTheSamePredictions() {
        Path weights = Checkpoint.resolve(checkpoint).resolve(Checkpoint.MODEL_FILE);
        try (Predictor a = base().build();
                Predictor b = Predictor.builder().weights(weights, "sevnet-g2", SyntheticMotionDataset.classNamesList())
                        .frames(8).size(32).device("cpu").topK(3).build()) {
            assertEquals(Shape.of(3, 8, 32, 32), b.clipShape());
            Prediction pa = a.predict(videos.get(1));
            Prediction pb = b.predict(videos.get(1));
            assertSame(pa, pb, "weights file");
            assertEquals(3, pb.top().size());
        }
        WeightsFormatException e = assertThrows(WeightsFormatException.class, () -> Predictor.builder()
                .weights(weights, "sevnet-g4", SyntheticMotionDataset.classNamesList()).device("cpu").build());
        assertTrue(e.getMessage().contains("stem.conv_s.weight"), e.getMessage());
    }
}
