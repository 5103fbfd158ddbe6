package dev.sevnet.infer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.sevnet.backend.cuda.CudaBackend;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A CUDA Predictor with {@code cudaGraphs(true)} against the same Predictor without: 8 threads x 6 clips, batches of
 * every size up to 4 (a graph per size), the same logits; the device's memory back to where it was after close(). The
 * same with three batches in flight, each batching thread on a CUDA stream of its own. Skipped without a GPU.
 */
@Tag("gpu")
class CudaGraphPredictorTest {
    @ParameterizedTest
    @ValueSource(strings = {"fp32", "bf16"})
    void graphedPredictionsEqualEagerOnesFromEightThreads(String precision, @TempDir Path dir) throws Exception {
        eightThreadsMatchOneAtATime(precision, true, 1, dir);
    }

    /**
     * Three batching threads, each on a CUDA stream of its own (eager and graphed): the same logits as one batch at a
     * time, whichever streams ran which batches side by side.
     */
    @ParameterizedTest
    @ValueSource(strings = {"eager", "graphs"})
    void inFlightBatchesOnTheirOwnStreamsEqualOneAtATime(String mode, @TempDir Path dir) throws Exception {
        eightThreadsMatchOneAtATime("fp32", mode.equals("graphs"), 3, dir);
    }

    private static void eightThreadsMatchOneAtATime(String precision, boolean graphs, int inFlight, Path dir)
            throws Exception {
        dev.sevnet.backend.cuda.GpuTestSupport.assumeUsableGpu();
        Path ck = InferFixture.checkpoint(dir, 3);
        long liveBefore = CudaBackend.get(0).cudaDevice().allocator().stats().liveBlocks();
        int n = 48;
        try (Tensor clips = FoldedSevNetTest.randomClips(Shape.of(n, 3, 8, 32, 32), 9);
                Predictor eager = Predictor.builder().checkpoint(ck).device("cuda").precision(precision).maxBatch(4)
                        .build();
                Predictor graphed = Predictor.builder().checkpoint(ck).device("cuda").precision(precision).maxBatch(4)
                        .maxQueueDelay(Duration.ofMillis(2)).cudaGraphs(graphs).inFlight(inFlight).build()) {
            float[] all = clips.toFloatArray();
            int per = 3 * 8 * 32 * 32;
            List<float[]> want = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                try (Tensor one = Tensor.of(java.util.Arrays.copyOfRange(all, i * per, (i + 1) * per), 3, 8, 32, 32)) {
                    want.add(eager.predict(one).logits());
                }
            }
            List<CompletableFuture<float[]>> got = new ArrayList<>();
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                int first = t * 6;
                for (int i = 0; i < 6; i++) {
                    got.add(new CompletableFuture<>());
                }
                Thread th = new Thread(() -> {
                    for (int i = first; i < first + 6; i++) {
                        try (Tensor one = Tensor.of(java.util.Arrays.copyOfRange(all, i * per, (i + 1) * per), 3, 8, 32,
                                32)) {
                            got.get(i).complete(graphed.predict(one).logits());
                        } catch (RuntimeException e) {
                            got.get(i).completeExceptionally(e);
                        }
                    }
                });
                threads.add(th);
                th.start();
            }
            for (Thread th : threads) {
                th.join();
            }
            // batches of other sizes may take other cuDNN algorithms (TF32, 16-bit rounding): a tolerance of the
            // logits' range, far below what a wrong clip or a stale buffer would give
            double tol = precision.equals("fp32") ? 2e-3 : 2e-2;
            for (int i = 0; i < n; i++) {
                float[] w = want.get(i);
                float lo = Float.POSITIVE_INFINITY, hi = Float.NEGATIVE_INFINITY;
                for (float v : w) {
                    lo = Math.min(lo, v);
                    hi = Math.max(hi, v);
                }
                assertArrayEquals(w, got.get(i).get(), (float) (tol * Math.max(hi - lo, 1e-6)),
                        precision + (graphs ? " graphs" : " eager") + ", " + inFlight + " in flight, clip " + i);
            }
        }
        assertEquals(liveBefore, CudaBackend.get(0).cudaDevice().allocator().stats().liveBlocks(),
                "device blocks left after close()");
        assertEquals(0, CudaBackend.get(0).cudaDevice().allocator().stats().pooledBytes());
    }
}
