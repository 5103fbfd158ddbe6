package dev.sevnet.backend.cuda;

import dev.sevnet.backend.Uploader;
import dev.sevnet.tensor.Device;
import dev.sevnet.tensor.Storage;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.Objects;

/**
 * The GPU's {@link Uploader}: a few slots, each a pinned host buffer and a device buffer, reused batch after batch.
 * {@link #start} copies the host tensor into a free slot's pinned buffer (on the calling thread, typically the
 * loader's) and queues the host-to-device DMA on a copy stream of its own, so it overlaps the kernels of the batch
 * being computed; {@link Upload#take()} makes the calling thread's stream (the default stream, or a worker's own)
 * wait for that copy (an event, no host wait).
 *
 * <p>A slot's device buffer is outside the caching allocator's stream order, so two events guard its reuse: the
 * next copy into it waits (on the copy stream) for the event recorded on the closing thread's stream when the last
 * tensor viewing it was closed (so close it on the thread whose stream read it), and the next host write into its pinned buffer waits (on the host) for the previous copy
 * out of it. Slots grow to the largest batch seen (rounded up to 2 MiB) and keep that size.
 *
 * <p>Thread-safe. {@link #start} blocks while every slot is held by an upload or a live tensor; {@link #close}
 * wakes it with an {@link IllegalStateException}. Slots still held at {@code close} are freed when their tensor
 * is closed.
 */
public final class PinnedUploader implements Uploader {
    static final long GRANULE = 2L << 20;

    /** What the uploader asks of the device; {@link CudaStaging} on a GPU, a fake in the tests. */
    interface Staging {
        Device device();

        long allocPinned(long bytes);

        void freePinned(long address);

        /** A device buffer that the copy stream may write at once (after the compute stream's earlier work). */
        long allocDevice(long bytes);

        /** Returns a device buffer whose last reader was ordered before an event the compute stream recorded. */
        void freeDevice(long address);

        long newEvent();

        void destroyEvent(long event);

        /** A plain host memcpy (the pinned buffer is host memory). */
        void hostCopy(long dstPinned, long srcHost, long bytes);

        /** On the copy stream: wait for {@code afterEvent} (0: none), copy, record {@code doneEvent}. */
        void copyToDevice(long dstDevice, long srcPinned, long bytes, long afterEvent, long doneEvent);

        /** The compute stream's later work waits for {@code event}. */
        void computeWaits(long event);

        /** Records {@code event} at the compute stream's current end. */
        void recordOnCompute(long event);

        /** Blocks the calling thread until {@code event} has happened. */
        void synchronize(long event);

        /** Synchronous copies for the storage's own host transfers. */
        void copyDeviceToHost(long dstHost, long srcDevice, long bytes);

        void copyHostToDevice(long dstDevice, long srcHost, long bytes);

        /** After every slot is freed. */
        void close();
    }

    private final Staging io;
    private final Slot[] slots;
    private boolean closed;
    private boolean disposed;

    /** {@code slots} staging slots on {@code backend}'s device (2: one batch computing, the next uploading). */
    public PinnedUploader(CudaBackend backend, int slots) {
        // slots checked before the staging makes its copy stream and event (arguments run left to right)
        this(checkSlots(slots), new CudaStaging(Objects.requireNonNull(backend, "backend")));
    }

    private PinnedUploader(int slots, Staging io) {
        this(io, slots);
    }

    private static int checkSlots(int slots) {
        if (slots < 1 || slots > MAX_SLOTS) {
            throw new IllegalArgumentException("an uploader needs 1 to " + MAX_SLOTS + " slots, not " + slots);
        }
        return slots;
    }

    static final int MAX_SLOTS = 64;

    PinnedUploader(Staging io, int slots) {
        checkSlots(slots);
        this.io = io;
        this.slots = new Slot[slots];
        java.util.List<Long> made = new java.util.ArrayList<>();
        try {
            for (int i = 0; i < slots; i++) {
                long copied = io.newEvent();
                made.add(copied);
                long consumed = io.newEvent();
                made.add(consumed);
                this.slots[i] = new Slot(copied, consumed);
            }
        } catch (RuntimeException | Error e) {
            for (long ev : made) {
                io.destroyEvent(ev);
            }
            io.close();
            throw e;
        }
    }

    private static final class Slot {
        final long copied;
        final long consumed;
        long pinned;
        long device;
        long capacity;
        boolean held;
        /** A copy out of the pinned buffer was queued: wait for {@code copied} before writing it again. */
        boolean copyQueued;
        /** The compute stream recorded {@code consumed} after the last reads of the device buffer. */
        boolean consumedRecorded;
        /** The current upload was taken: the compute stream may read the buffer (else it never waited for it). */
        volatile boolean taken;

        Slot(long copied, long consumed) {
            this.copied = copied;
            this.consumed = consumed;
        }
    }

    @Override
    public Upload start(Tensor host) {
        Uploader.checkHost(host);
        long bytes = host.byteSize();
        Slot s = acquire();
        Tensor t;
        try {
            fill(s, host, bytes);
            t = TensorScope.detach(Tensor.wrap(host.shape(), host.dtype(), new SlotStorage(s, bytes)));
        } catch (RuntimeException | Error e) {
            release(s);
            throw e;
        }
        return new PinnedUpload(t, s);
    }

    /** Bytes of pinned host memory (and as much device memory) the slots hold now. */
    public synchronized long stagedBytes() {
        long sum = 0;
        for (Slot s : slots) {
            sum += s.capacity;
        }
        return sum;
    }

    private synchronized Slot acquire() {
        while (true) {
            if (closed) {
                throw new IllegalStateException("upload on a closed uploader");
            }
            for (Slot s : slots) {
                if (!s.held) {
                    s.held = true;
                    return s;
                }
            }
            try {
                wait();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for a free upload slot", e);
            }
        }
    }

    /** Runs on the thread holding {@code s}: no other thread touches its buffers meanwhile. */
    private void fill(Slot s, Tensor host, long bytes) {
        if (s.capacity < bytes) {
            grow(s, bytes);
        }
        if (s.copyQueued) {
            io.synchronize(s.copied); // the previous DMA out of this pinned buffer is done
        }
        s.taken = false;
        io.hostCopy(s.pinned, host.address(), bytes);
        boolean afterConsumed;
        synchronized (this) {
            afterConsumed = s.consumedRecorded;
        }
        io.copyToDevice(s.device, s.pinned, bytes, afterConsumed ? s.consumed : 0, s.copied);
        s.copyQueued = true;
    }

    private void grow(Slot s, long bytes) {
        freeBuffers(s);
        long cap = (bytes + GRANULE - 1) / GRANULE * GRANULE;
        long pinned = io.allocPinned(cap);
        long device;
        try {
            device = io.allocDevice(cap);
        } catch (RuntimeException | Error e) {
            io.freePinned(pinned);
            throw e;
        }
        s.pinned = pinned;
        s.device = device;
        s.capacity = cap;
        synchronized (this) {
            s.consumedRecorded = false; // a fresh device buffer: allocDevice ordered it after the compute stream
        }
    }

    private void freeBuffers(Slot s) {
        if (s.capacity == 0) {
            return;
        }
        if (s.copyQueued) {
            io.synchronize(s.copied);
            s.copyQueued = false;
        }
        boolean read;
        synchronized (this) {
            read = s.consumedRecorded;
        }
        if (read) {
            // the last reader may be another worker's stream than the one whose cache takes the block back, which
            // would hand it out at once: wait for those reads first (only when a slot grows, or at close)
            io.synchronize(s.consumed);
        }
        long pinned = s.pinned;
        long device = s.device;
        s.pinned = 0;
        s.device = 0;
        s.capacity = 0;
        try {
            io.freePinned(pinned);
        } finally { // a failed free of one buffer does not keep the other
            io.freeDevice(device);
        }
    }

    /**
     * The slot's tensor is gone (or was never made). When it was taken, the compute stream's work queued so far
     * holds its last reads: the next copy into the slot waits for that point.
     */
    private void released(Slot s, boolean readByCompute) {
        if (readByCompute) {
            io.recordOnCompute(s.consumed);
        }
        boolean dispose;
        synchronized (this) {
            if (readByCompute) {
                s.consumedRecorded = true;
            }
            s.held = false;
            notifyAll();
            dispose = claimDisposal();
        }
        if (dispose) {
            disposeAll();
        }
    }

    private void release(Slot s) {
        released(s, false);
    }

    @Override
    public void close() {
        boolean dispose;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            notifyAll();
            dispose = claimDisposal();
        }
        if (dispose) {
            disposeAll();
        }
    }

    /** Under the monitor: whether the caller is the one to free everything (closed, no slot held, not yet done). */
    private boolean claimDisposal() {
        if (!closed || disposed) {
            return false;
        }
        for (Slot s : slots) {
            if (s.held) {
                return false;
            }
        }
        disposed = true;
        return true;
    }

    /**
     * Every buffer, event and the copy stream freed — outside the monitor: freeing device memory takes the backend's
     * lock, and the backend's lock is never taken before this one.
     */
    private void disposeAll() {
        RuntimeException first = null;
        for (Slot s : slots) {
            try {
                freeBuffers(s);
            } catch (RuntimeException e) { // the other slots, the events and the copy stream are still freed
                first = first == null ? e : first;
            } finally {
                io.destroyEvent(s.copied);
                io.destroyEvent(s.consumed);
            }
        }
        io.close();
        if (first != null) {
            throw first;
        }
    }

    /** A slot's device buffer as tensor storage; freeing it hands the slot back. */
    private final class SlotStorage extends Storage {
        private final Slot slot;
        private final long address;

        SlotStorage(Slot slot, long bytes) {
            super(bytes, io.device());
            this.slot = slot;
            this.address = slot.device;
        }

        @Override
        public long address() {
            if (isFreed()) {
                throw new IllegalStateException("use of a freed upload slot on " + device());
            }
            return address;
        }

        @Override
        protected void free() {
            released(slot, slot.taken);
        }

        @Override
        public void copyToHost(long offset, long hostDst, long bytes) {
            checkRange(offset, bytes);
            io.copyDeviceToHost(hostDst, address() + offset, bytes);
        }

        @Override
        public void copyFromHost(long offset, long hostSrc, long bytes) {
            checkRange(offset, bytes);
            io.copyHostToDevice(address() + offset, hostSrc, bytes);
        }
    }

    private final class PinnedUpload implements Upload {
        private final Slot slot;
        private Tensor tensor;

        PinnedUpload(Tensor tensor, Slot slot) {
            this.tensor = tensor;
            this.slot = slot;
        }

        @Override
        public synchronized Tensor take() {
            if (tensor == null) {
                throw new IllegalStateException("upload already taken or closed");
            }
            io.computeWaits(slot.copied);
            slot.taken = true;
            Tensor view = tensor.reshape(tensor.shape()); // owned by the caller's scope, if one is open
            tensor.close();
            tensor = null;
            return view;
        }

        @Override
        public synchronized void close() {
            if (tensor != null) {
                tensor.close();
                tensor = null;
            }
        }
    }
}
