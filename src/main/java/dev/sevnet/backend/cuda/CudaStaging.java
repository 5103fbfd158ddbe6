package dev.sevnet.backend.cuda;

import dev.sevnet.tensor.Device;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.cuda.cudart.CUevent_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.Pointer;

/**
 * {@link PinnedUploader}'s device side: pinned host buffers, a copy stream of its own, events. "The compute stream" is
 * the calling thread's ({@link CudaDevice#current}: the default stream, or a worker's own); work on it is queued
 * under the backend's lock, like every backend op, so it never lands inside another thread's CUDA graph capture.
 */
final class CudaStaging implements PinnedUploader.Staging {
    private final CudaBackend backend;
    private final CudaDevice dev;
    private final CUstream_st copyStream = new CUstream_st();
    /** Recorded on the compute stream when a device buffer is handed to the copy stream. */
    private final CUevent_st handover = new CUevent_st();
    private final List<CUevent_st> events = new ArrayList<>();

    CudaStaging(CudaBackend backend) {
        this.backend = backend;
        this.dev = backend.cudaDevice();
        dev.activate();
        Cuda.check(cudart.cudaStreamCreateWithFlags(copyStream, cudart.cudaStreamNonBlocking), "cudaStreamCreate (copy)");
        int err = cudart.cudaEventCreateWithFlags(handover, cudart.cudaEventDisableTiming);
        if (err != 0) {
            cudart.cudaStreamDestroy(copyStream);
            Cuda.check(err, "cudaEventCreate");
        }
    }

    @Override
    public Device device() {
        return dev.device();
    }

    @Override
    public long allocPinned(long bytes) {
        Pointer p = new Pointer();
        int err;
        synchronized (backend) { // as every call that may synchronise the device: never inside another thread's capture
            dev.activate();
            err = cudart.cudaMallocHost(p, bytes);
        }
        if (err == cudart.cudaErrorMemoryAllocation) {
            cudart.cudaGetLastError();
            throw new OutOfMemoryError("cudaMallocHost(" + bytes + ") for an upload slot: no pinned host memory left");
        }
        Cuda.check(err, "cudaMallocHost(" + bytes + ")");
        return p.address();
    }

    @Override
    public void freePinned(long address) {
        synchronized (backend) { // cudaFreeHost synchronises the device: never inside another thread's capture
            dev.activate();
            Cuda.check(cudart.cudaFreeHost(Cuda.ptr(address)), "cudaFreeHost");
        }
    }

    @Override
    public long allocDevice(long bytes) {
        synchronized (backend) {
            dev.activate();
            long a = dev.allocator().allocate(bytes);
            // the allocator orders a block's reuse on the compute stream only: the block may still be read by work
            // queued there, so the copy stream starts after everything queued so far
            try {
                Cuda.check(cudart.cudaEventRecord(handover, dev.stream()), "cudaEventRecord");
                Cuda.check(cudart.cudaStreamWaitEvent(copyStream, handover, 0), "cudaStreamWaitEvent");
            } catch (RuntimeException e) {
                dev.allocator().free(a);
                throw e;
            }
            return a;
        }
    }

    @Override
    public void freeDevice(long address) {
        synchronized (backend) { // not into a CUDA graph's private pool mid-capture
            dev.allocator().free(address);
        }
    }

    @Override
    public synchronized long newEvent() {
        dev.activate();
        CUevent_st e = new CUevent_st();
        Cuda.check(cudart.cudaEventCreateWithFlags(e, cudart.cudaEventDisableTiming), "cudaEventCreate");
        events.add(e);
        return events.size();
    }

    private synchronized CUevent_st event(long id) {
        return events.get((int) id - 1);
    }

    @Override
    public void destroyEvent(long id) {
        cudart.cudaEventDestroy(event(id));
    }

    @Override
    public void hostCopy(long dstPinned, long srcHost, long bytes) {
        Pointer.memcpy(Cuda.ptr(dstPinned), Cuda.ptr(srcHost), bytes);
    }

    @Override
    public void copyToDevice(long dstDevice, long srcPinned, long bytes, long afterEvent, long doneEvent) {
        dev.activate();
        if (afterEvent != 0) {
            Cuda.check(cudart.cudaStreamWaitEvent(copyStream, event(afterEvent), 0), "cudaStreamWaitEvent (copy stream)");
        }
        Cuda.check(cudart.cudaMemcpyAsync(Cuda.ptr(dstDevice), Cuda.ptr(srcPinned), bytes, cudart.cudaMemcpyHostToDevice,
                copyStream), "copy pinned host -> device (copy stream)");
        Cuda.check(cudart.cudaEventRecord(event(doneEvent), copyStream), "cudaEventRecord (copy stream)");
    }

    @Override
    public void computeWaits(long id) {
        synchronized (backend) {
            dev.activate();
            Cuda.check(cudart.cudaStreamWaitEvent(dev.stream(), event(id), 0), "cudaStreamWaitEvent (compute stream)");
        }
    }

    @Override
    public void recordOnCompute(long id) {
        synchronized (backend) {
            dev.activate();
            Cuda.check(cudart.cudaEventRecord(event(id), dev.stream()), "cudaEventRecord (compute stream)");
        }
    }

    @Override
    public void synchronize(long id) {
        dev.activate();
        Cuda.check(cudart.cudaEventSynchronize(event(id)), "cudaEventSynchronize");
    }

    @Override
    public void copyDeviceToHost(long dstHost, long srcDevice, long bytes) {
        copyOnCompute(dstHost, srcDevice, bytes, cudart.cudaMemcpyDeviceToHost, "copy device -> host");
    }

    @Override
    public void copyHostToDevice(long dstDevice, long srcHost, long bytes) {
        copyOnCompute(dstDevice, srcHost, bytes, cudart.cudaMemcpyHostToDevice, "copy host -> device");
    }

    /** A copy on the compute stream, finished before returning (the storage's own synchronous transfers). */
    private void copyOnCompute(long dst, long src, long bytes, int kind, String what) {
        // queued under the lock, waited for outside it (other workers keep queuing meanwhile; see enqueueAndWait)
        CudaStream s = dev.current();
        s.enqueueAndWait(() -> Cuda.check(cudart.cudaMemcpyAsync(Cuda.ptr(dst), Cuda.ptr(src), bytes, kind, s.stream()),
                what));
    }

    @Override
    public void close() {
        dev.activate();
        cudart.cudaStreamSynchronize(copyStream);
        cudart.cudaEventDestroy(handover);
        cudart.cudaStreamDestroy(copyStream);
    }
}
