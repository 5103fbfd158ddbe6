package dev.sevnet.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.backend.DeviceOutOfMemoryException;
import dev.sevnet.backend.Uploader;
import dev.sevnet.tensor.Device;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;

/**
 * {@link PinnedUploader}'s slots and event ordering without a GPU: a fake {@link PinnedUploader.Staging} whose
 * "device" and "pinned" buffers are host memory and whose copies happen at once, logging every call. What the GPU
 * adds (that the DMA really overlaps, that the events order two streams) is {@code PinnedUploaderGpuTest}'s.
 */
class PinnedUploaderTest {

    /** Host memory standing in for both sides; a log of the ordering calls; live counts for leak checks. */
    static class FakeStaging implements PinnedUploader.Staging {
        final List<String> log = new ArrayList<>();
        final Set<Long> pinned = new HashSet<>();
        final Set<Long> device = new HashSet<>();
        final Set<Long> events = new HashSet<>();
        long nextEvent = 1;
        boolean closed;
        boolean failDevice;

        @Override
        public Device device() {
            return Device.cuda(0);
        }

        private static long malloc(long bytes) {
            return Pointer.malloc(bytes).address();
        }

        @Override
        public synchronized long allocPinned(long bytes) {
            long a = malloc(bytes);
            pinned.add(a);
            log.add("allocPinned " + bytes);
            return a;
        }

        @Override
        public synchronized void freePinned(long a) {
            assertTrue(pinned.remove(a), "free of unknown pinned buffer");
            Pointer.free(new RawPtr(a));
        }

        @Override
        public synchronized long allocDevice(long bytes) {
            if (failDevice) {
                throw new DeviceOutOfMemoryException("fake out of memory", bytes, 0, 0, 0);
            }
            long a = malloc(bytes);
            device.add(a);
            return a;
        }

        @Override
        public synchronized void freeDevice(long a) {
            assertTrue(device.remove(a), "free of unknown device buffer");
            Pointer.free(new RawPtr(a));
        }

        @Override
        public synchronized long newEvent() {
            events.add(nextEvent);
            return nextEvent++;
        }

        @Override
        public synchronized void destroyEvent(long e) {
            assertTrue(events.remove(e));
        }

        @Override
        public void hostCopy(long dst, long src, long bytes) {
            Pointer.memcpy(new RawPtr(dst), new RawPtr(src), bytes);
            synchronized (this) {
                log.add("hostCopy");
            }
        }

        @Override
        public void copyToDevice(long dst, long src, long bytes, long after, long done) {
            Pointer.memcpy(new RawPtr(dst), new RawPtr(src), bytes);
            synchronized (this) {
                log.add("copy after " + after + " done " + done);
            }
        }

        @Override
        public synchronized void computeWaits(long e) {
            log.add("computeWaits " + e);
        }

        @Override
        public synchronized void recordOnCompute(long e) {
            log.add("record " + e);
        }

        @Override
        public synchronized void synchronize(long e) {
            log.add("sync " + e);
        }

        @Override
        public void copyDeviceToHost(long dst, long src, long bytes) {
            Pointer.memcpy(new RawPtr(dst), new RawPtr(src), bytes);
        }

        @Override
        public void copyHostToDevice(long dst, long src, long bytes) {
            Pointer.memcpy(new RawPtr(dst), new RawPtr(src), bytes);
        }

        @Override
        public synchronized void close() {
            assertFalse(closed, "staging closed twice");
            closed = true;
        }

        synchronized List<String> drain() {
            List<String> l = new ArrayList<>(log);
            log.clear();
            return l;
        }

        void assertAllFreed() {
            assertTrue(closed, "staging closed");
            assertEquals(Set.of(), pinned, "pinned buffers left");
            assertEquals(Set.of(), device, "device buffers left");
            assertEquals(Set.of(), events, "events left");
        }
    }

    static final class RawPtr extends Pointer {
        RawPtr(long a) {
            address = a;
        }
    }

    static float[] ramp(int n, float base) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = base + i;
        }
        return a;
    }

    @Test
    void uploadsArriveIntactAndTheSlotsAreReusedInTurn() {
        FakeStaging io = new FakeStaging();
        try (PinnedUploader up = new PinnedUploader(io, 2)) {
            for (int k = 0; k < 6; k++) {
                float[] data = ramp(1000 + 37 * k, 10 * k);
                try (Tensor host = Tensor.of(data, data.length); Uploader.Upload u = up.start(host);
                        Tensor d = u.take()) {
                    assertEquals(Device.cuda(0), d.device());
                    assertEquals(host.shape(), d.shape());
                    assertArrayEquals(data, d.toFloatArray());
                }
            }
            // every batch fits one 2 MiB slot: slot 0 is free again each time, allocated once
            assertEquals(PinnedUploader.GRANULE, up.stagedBytes());
        }
        io.assertAllFreed();
    }

    @Test
    void eachCopyWaitsForTheLastReadsOfItsSlotAndEachHostWriteForTheLastCopy() {
        FakeStaging io = new FakeStaging();
        try (PinnedUploader up = new PinnedUploader(io, 1); Tensor host = Tensor.of(ramp(64, 0), 64)) {
            // events: slot 0 copied = 1, consumed = 2
            try (Uploader.Upload u = up.start(host)) {
                assertEquals(List.of("allocPinned " + PinnedUploader.GRANULE, "hostCopy", "copy after 0 done 1"),
                        io.drain());
                Tensor d = u.take();
                assertEquals(List.of("computeWaits 1"), io.drain(), "the compute stream waits for the copy");
                d.close();
                assertEquals(List.of("record 2"), io.drain(), "the last reads are marked on the compute stream");
            }
            try (Uploader.Upload u = up.start(host)) {
                assertEquals(List.of("sync 1", "hostCopy", "copy after 2 done 1"), io.drain(),
                        "the pinned buffer is rewritten after the last copy out of it, the device buffer after its reads");
            }
            assertEquals(List.of(), io.drain(), "an upload closed untaken was never read: nothing to wait for");
        }
        io.assertAllFreed();
    }

    @Test
    void startBlocksWhileEverySlotIsHeldAndResumesWhenOneIsFreed() throws Exception {
        FakeStaging io = new FakeStaging();
        try (PinnedUploader up = new PinnedUploader(io, 2); Tensor host = Tensor.of(ramp(16, 1), 16)) {
            Tensor a = up.start(host).take();
            Tensor b = up.start(host).take();
            CompletableFuture<Tensor> third = CompletableFuture.supplyAsync(() -> up.start(host).take());
            assertThrows(TimeoutException.class, () -> third.get(200, TimeUnit.MILLISECONDS));
            a.close();
            try (Tensor c = third.get(10, TimeUnit.SECONDS)) {
                assertArrayEquals(ramp(16, 1), c.toFloatArray());
            }
            b.close();
        }
        io.assertAllFreed();
    }

    @Test
    void closeWakesAWaitingStartAndSlotsHeldThenAreFreedWithTheirTensor() throws Exception {
        FakeStaging io = new FakeStaging();
        Tensor host = Tensor.of(ramp(16, 1), 16);
        PinnedUploader up = new PinnedUploader(io, 1);
        Tensor held = up.start(host).take();
        CompletableFuture<Uploader.Upload> waiting = CompletableFuture.supplyAsync(() -> up.start(host));
        assertThrows(TimeoutException.class, () -> waiting.get(200, TimeUnit.MILLISECONDS));
        up.close();
        Throwable e = assertThrows(java.util.concurrent.ExecutionException.class, () -> waiting.get(10, TimeUnit.SECONDS))
                .getCause();
        assertTrue(e instanceof IllegalStateException && e.getMessage().contains("closed"), String.valueOf(e));
        assertFalse(io.closed, "a slot still in use keeps the staging alive");
        assertArrayEquals(ramp(16, 1), held.toFloatArray(), "a tensor taken before close stays valid");
        held.close();
        io.assertAllFreed();
        assertThrows(IllegalStateException.class, () -> up.start(host));
        host.close();
    }

    @Test
    void aLargerBatchGrowsItsSlotOnceAfterTheLastCopyFromIt() {
        FakeStaging io = new FakeStaging();
        int big = (int) (PinnedUploader.GRANULE / 4) + 1; // floats: just over 2 MiB
        try (PinnedUploader up = new PinnedUploader(io, 1)) {
            try (Tensor h = Tensor.of(ramp(8, 0), 8); Uploader.Upload u = up.start(h)) {
                u.take().close();
            }
            io.drain();
            float[] data = ramp(big, 3);
            try (Tensor h = Tensor.of(data, big); Uploader.Upload u = up.start(h); Tensor d = u.take()) {
                assertArrayEquals(data, d.toFloatArray());
            }
            List<String> log = io.drain();
            assertEquals("sync 1", log.get(0), "the old pinned buffer is freed after the copy out of it");
            assertEquals("sync 2", log.get(1), "the old device buffer is freed after its last reads, on whichever "
                    + "stream they ran: its block may go to another stream's cache");
            assertEquals("allocPinned " + 2 * PinnedUploader.GRANULE, log.get(2));
            assertEquals("copy after 0 done 1", log.get(4), "a new device buffer is ordered by its allocation");
            assertEquals(2 * PinnedUploader.GRANULE, up.stagedBytes());
            assertEquals(1, io.pinned.size());
            assertEquals(1, io.device.size());
        }
        io.assertAllFreed();
    }

    @Test
    void outOfDeviceMemoryFailsTheStartAndLosesNothing() {
        FakeStaging io = new FakeStaging();
        try (PinnedUploader up = new PinnedUploader(io, 1); Tensor host = Tensor.of(ramp(16, 1), 16)) {
            io.failDevice = true;
            assertThrows(DeviceOutOfMemoryException.class, () -> up.start(host));
            assertEquals(Set.of(), io.pinned, "the pinned half of the slot is given back");
            io.failDevice = false;
            try (Uploader.Upload u = up.start(host); Tensor d = u.take()) {
                assertArrayEquals(ramp(16, 1), d.toFloatArray(), "the slot is free again");
            }
        }
        io.assertAllFreed();
    }

    @Test
    void takeBelongsToTheCallersScopeAndHappensOnce() {
        FakeStaging io = new FakeStaging();
        try (PinnedUploader up = new PinnedUploader(io, 1); Tensor host = Tensor.of(ramp(16, 1), 16)) {
            Uploader.Upload u = up.start(host);
            try (TensorScope scope = TensorScope.open()) {
                Tensor d = u.take();
                assertEquals(1, scope.ownedCount());
                assertThrows(IllegalStateException.class, u::take);
                assertFalse(d.isClosed());
            }
            u.close();
            // the scope closed the taken tensor (marking its reads): the only slot is free
            assertTrue(io.drain().contains("record 2"));
            try (Uploader.Upload again = up.start(host)) {
                assertTrue(io.drain().contains("copy after 2 done 1"));
            }
        }
        io.assertAllFreed();
    }

    @Test
    void aFailingEventCreationLeaksNothing() {
        FakeStaging io = new FakeStaging() {
            @Override
            public synchronized long newEvent() {
                if (events.size() == 3) {
                    throw new CudaException("cudaEventCreate failed: CUDA error 2 (out of memory)");
                }
                return super.newEvent();
            }
        };
        assertThrows(CudaException.class, () -> new PinnedUploader(io, 2));
        io.assertAllFreed();
    }

    /** A slot whose buffers fail to free (a sticky CUDA error) does not keep the other slots, events or stream. */
    @Test
    void aFailingFreeAtCloseStillFreesEverythingElse() {
        java.util.concurrent.atomic.AtomicBoolean failOnce = new java.util.concurrent.atomic.AtomicBoolean();
        FakeStaging io = new FakeStaging() {
            @Override
            public synchronized void freePinned(long a) {
                super.freePinned(a); // freed, then reported failed: what a sticky error after the call looks like
                if (failOnce.getAndSet(false)) {
                    throw new CudaException("cudaFreeHost failed: CUDA error 700 (an illegal memory access)");
                }
            }
        };
        PinnedUploader up = new PinnedUploader(io, 2);
        try (Tensor host = Tensor.of(ramp(16, 1), 16)) {
            up.start(host).take().close();
            up.start(host).take().close();
        }
        failOnce.set(true);
        CudaException e = assertThrows(CudaException.class, up::close);
        assertTrue(e.getMessage().contains("cudaFreeHost"), e.getMessage());
        io.assertAllFreed();
    }

    @Test
    void badArgumentsAreRefusedBeforeAnyCopy() {
        FakeStaging io = new FakeStaging();
        try (PinnedUploader up = new PinnedUploader(io, 1)) {
            assertThrows(IllegalArgumentException.class, () -> up.start(null));
            Tensor closed = Tensor.of(ramp(4, 0), 4);
            closed.close();
            assertThrows(IllegalArgumentException.class, () -> up.start(closed));
            try (Tensor h = Tensor.of(ramp(4, 0), 4); Uploader.Upload u = up.start(h); Tensor onDevice = u.take()) {
                io.drain();
                assertThrows(IllegalArgumentException.class, () -> up.start(onDevice));
                assertEquals(List.of(), io.drain());
            }
        }
        assertThrows(IllegalArgumentException.class, () -> new PinnedUploader(new FakeStaging(), 0));
        assertThrows(IllegalArgumentException.class, () -> new PinnedUploader(new FakeStaging(), 65));
        io.assertAllFreed();
    }
}
