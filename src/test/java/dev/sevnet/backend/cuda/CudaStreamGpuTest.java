package dev.sevnet.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.backend.CachingAllocator;
import dev.sevnet.backend.ConvSpec;
import dev.sevnet.backend.ExecutionStream;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Worker streams ({@link CudaStream}) on a GPU: ops queued by threads bound to streams of their own compute what the
 * default stream computes, a binding's edges order the streams without a host wait, each stream's blocks are cached
 * for it and handed to the default stream when it closes, and misuse is a clear error. Skipped without a GPU.
 */
@Tag("gpu")
class CudaStreamGpuTest {
    static CudaBackend gpu;

    @BeforeAll
    static void needGpu() {
        gpu = CudaBackendOpsTest.usableGpu();
    }

    private static Tensor random(Random r, long... shape) {
        int n = 1;
        for (long d : shape) {
            n *= (int) d;
        }
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) r.nextGaussian();
        }
        try (Tensor h = Tensor.of(a, shape)) {
            return gpu.toDevice(h);
        }
    }

    /** A block's worth of work, long enough on the device that an unordered read would see it unfinished. */
    private static Tensor work(Tensor x, Tensor wSpatial, Tensor wTemporal) {
        ConvSpec spatial = ConvSpec.builder().kernel(1, 3, 3).padding(0, 1, 1).groups(8).build();
        ConvSpec temporal = ConvSpec.builder().kernel(3, 1, 1).padding(1, 0, 0).build();
        try (TensorScope s = TensorScope.open()) {
            Tensor y = x;
            for (int i = 0; i < 4; i++) {
                y = gpu.relu(gpu.conv3d(gpu.relu(gpu.conv3d(y, wSpatial, spatial)), wTemporal, temporal));
            }
            return TensorScope.detach(gpu.globalAvgPool(y));
        }
    }

    @Test
    void aBindingOrdersItsStreamWithTheThreadsOtherWork() {
        Random r = new Random(1);
        try (Tensor x = random(r, 4, 64, 8, 56, 56); Tensor ws = random(r, 64, 8, 1, 3, 3);
                Tensor wt = random(r, 64, 64, 3, 1, 1); Tensor want = work(x, ws, wt);
                CudaStream s = gpu.newStream()) {
            float[] expected = want.toFloatArray();
            for (int round = 0; round < 3; round++) {
                Tensor y;
                try (ExecutionStream.Binding b = s.bind()) {
                    y = work(x, ws, wt); // queued on s; x was written on the default stream
                }
                // read on the default stream, which waits for s from the binding's close: no host wait in between
                try (y) {
                    assertArrayEquals(expected, y.toFloatArray(), 0f, "round " + round);
                }
            }
        }
    }

    @Test
    void workersOnTheirOwnStreamsComputeWhatTheDefaultStreamDoes() throws Exception {
        CachingAllocator alloc = gpu.cudaDevice().allocator();
        gpu.cudaDevice().synchronize();
        long liveBefore = alloc.stats().liveBlocks();
        Random r = new Random(2);
        int workers = 4;
        int rounds = 6;
        try (Tensor ws = random(r, 64, 8, 1, 3, 3); Tensor wt = random(r, 64, 64, 3, 1, 1)) {
            List<Tensor> inputs = new ArrayList<>();
            List<float[]> expected = new ArrayList<>();
            for (int i = 0; i < workers * rounds; i++) {
                Tensor x = random(r, 2, 64, 8, 28, 28);
                inputs.add(x);
                try (Tensor y = work(x, ws, wt)) {
                    expected.add(y.toFloatArray());
                }
            }
            List<CudaStream> streams = new ArrayList<>();
            List<CompletableFuture<Void>> done = new ArrayList<>();
            for (int w = 0; w < workers; w++) {
                CudaStream s = gpu.newStream();
                streams.add(s);
                int first = w * rounds;
                CompletableFuture<Void> f = new CompletableFuture<>();
                done.add(f);
                new Thread(() -> {
                    try (ExecutionStream.Binding b = s.bind()) {
                        for (int i = first; i < first + rounds; i++) {
                            try (Tensor y = work(inputs.get(i), ws, wt)) {
                                assertArrayEquals(expected.get(i), y.toFloatArray(), 0f, "clip " + i + " on " + s);
                            }
                        }
                        f.complete(null);
                    } catch (Throwable e) {
                        f.completeExceptionally(e);
                    }
                }, "stream-worker-" + w).start();
            }
            for (CompletableFuture<Void> f : done) {
                f.get();
            }
            for (CudaStream s : streams) {
                assertTrue(alloc.cachedBytes(s.id()) > 0, s + " cached its own blocks");
                s.close();
                assertEquals(0, alloc.cachedBytes(s.id()), s + " handed its blocks to the default stream");
            }
            for (Tensor x : inputs) {
                x.close();
            }
        }
        gpu.cudaDevice().synchronize();
        assertEquals(liveBefore, alloc.stats().liveBlocks(), "device blocks left after the workers");
    }

    @Test
    void misuseIsAClearError() throws Exception {
        CudaStream s = gpu.newStream();
        CudaStream inner = gpu.newStream();
        ExecutionStream.Binding b = s.bind();
        ExecutionStream.Binding bi = null;
        try {
            assertEquals(s, gpu.cudaDevice().current());
            assertThrows(IllegalStateException.class, s::close, "closed while bound");
            Throwable[] other = new Throwable[1];
            Thread t = new Thread(() -> {
                try {
                    b.close();
                } catch (Throwable e) {
                    other[0] = e;
                }
            });
            t.start();
            t.join();
            assertTrue(other[0] instanceof IllegalStateException, "a binding closed on another thread");
            bi = inner.bind();
            assertThrows(IllegalStateException.class, b::close, "bindings closed out of order");
            bi.close();
            b.close();
            b.close(); // idempotent
            assertEquals(gpu.cudaDevice().defaultStream(), gpu.cudaDevice().current());
            inner.close();
            s.close();
            s.close(); // idempotent
            assertThrows(IllegalStateException.class, s::bind, "bind after close");
            assertThrows(IllegalStateException.class, () -> gpu.cudaDevice().defaultStream().close(),
                    "the default stream closes with the device");
        } finally {
            // whatever failed, later tests run unbound (closing twice is a no-op)
            if (bi != null) {
                bi.close();
            }
            b.close();
            inner.close();
            s.close();
        }
    }
}
