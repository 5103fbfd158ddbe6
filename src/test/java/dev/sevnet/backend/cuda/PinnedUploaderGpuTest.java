package dev.sevnet.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.backend.CachingAllocator;
import dev.sevnet.backend.Uploader;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import dev.sevnet.train.Progress;
import dev.sevnet.train.TrainConfig;
import dev.sevnet.train.Trainer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link PinnedUploader} on a GPU: uploads started on a loader thread while the backend's stream computes on the
 * previous batch arrive intact and in order (the copy stream's events order both streams), slots of growing sizes
 * are reused without a leak, and a training run with prefetching is the run without it. Skipped without a GPU.
 */
@Tag("gpu")
class PinnedUploaderGpuTest {
    static CudaBackend gpu;

    @BeforeAll
    static void needGpu() {
        gpu = CudaBackendOpsTest.usableGpu();
    }

    static float[] random(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return a;
    }

    @Test
    void uploadsFromALoaderThreadOverlapComputeAndArriveIntact() throws Exception {
        CachingAllocator alloc = gpu.cudaDevice().allocator();
        gpu.cudaDevice().synchronize();
        long inUseBefore = alloc.stats().inUseBytes();
        Random r = new Random(5);
        int batches = 24;
        List<float[]> inputs = new ArrayList<>();
        for (int k = 0; k < batches; k++) {
            // growing and shrinking sizes: slots grow past 2 MiB and are reused when smaller
            inputs.add(random(r, 1 << (14 + (k % 7)))); // 64 KiB .. 4 MiB
        }
        try (Uploader up = gpu.uploader(2)) {
            BlockingQueue<Uploader.Upload> ready = new ArrayBlockingQueue<>(1);
            CompletableFuture<Void> loader = CompletableFuture.runAsync(() -> {
                for (float[] in : inputs) {
                    try (Tensor h = Tensor.of(in, in.length)) {
                        ready.put(up.start(h));
                    } catch (InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                }
            });
            for (int k = 0; k < batches; k++) {
                Uploader.Upload u = ready.poll(60, TimeUnit.SECONDS);
                assertTrue(u != null, "the loader thread stalled at batch " + k);
                try (TensorScope s = TensorScope.open()) {
                    Tensor x = u.take();
                    // a chain of ops long enough that the next upload runs while it computes
                    Tensor y = x;
                    for (int i = 0; i < 20; i++) {
                        y = gpu.scale(y, 1f);
                    }
                    Tensor z = gpu.scale(y, 2f);
                    float[] in = inputs.get(k);
                    float[] want = new float[in.length];
                    for (int i = 0; i < in.length; i++) {
                        want[i] = 2f * in[i];
                    }
                    assertArrayEquals(want, z.toFloatArray(), "batch " + k);
                }
            }
            loader.get(60, TimeUnit.SECONDS);
            assertTrue(((PinnedUploader) up).stagedBytes() <= 2 * 2 * PinnedUploader.GRANULE,
                    "two slots sized to the largest batch (4 MiB), not one per batch: " + ((PinnedUploader) up).stagedBytes());
        }
        gpu.cudaDevice().synchronize();
        assertEquals(inUseBefore, alloc.stats().inUseBytes(), "device memory back after close");
    }

    @Test
    void trainingWithPrefetchingOnTheGpuMatchesTrainingWithout(@TempDir Path dir) {
        TrainConfig c = TrainConfig.builder().model("sevnet-g1").frames(4).size(16).epochs(2).warmupEpochs(1).batch(4)
                .syntheticTrain(16).syntheticVal(4).workers(2).seed(7).device("cuda")
                .deterministic(true).build(); // else atomics in cuDNN's backward make any two runs drift apart
        Trainer.Result[] runs = new Trainer.Result[2];
        String[] modes = {"off", "on"};
        for (int i = 0; i < 2; i++) {
            String old = System.getProperty("sevnet.prefetch");
            System.setProperty("sevnet.prefetch", modes[i]);
            try {
                runs[i] = new Trainer(c, dir.resolve(modes[i]), Progress.Mode.QUIET).writeCurves(false).run();
            } finally {
                if (old == null) {
                    System.clearProperty("sevnet.prefetch");
                } else {
                    System.setProperty("sevnet.prefetch", old);
                }
            }
        }
        assertEquals(runs[0].steps(), runs[1].steps());
        // the same kernels on the same data in the same order: the same numbers, prefetched or not
        assertEquals(runs[0].finalVal().loss(), runs[1].finalVal().loss(), 1e-6 * Math.max(1, runs[0].finalVal().loss()));
    }
}
