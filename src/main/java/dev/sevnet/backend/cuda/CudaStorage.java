package dev.sevnet.backend.cuda;

import dev.sevnet.tensor.Storage;
import org.bytedeco.cuda.global.cudart;

/** Device memory from the {@link CudaDevice}'s caching allocator; returned to it when the last tensor closes. */
final class CudaStorage extends Storage {
    private final CudaDevice owner;
    private final long address;

    CudaStorage(CudaDevice owner, long bytes) {
        super(bytes, owner.device());
        this.owner = owner;
        this.address = owner.allocator().allocate(bytes);
    }

    @Override
    public long address() {
        if (isFreed()) {
            throw new IllegalStateException("use of freed device storage on " + owner.device());
        }
        return address;
    }

    @Override
    protected void free() {
        owner.allocator().free(address);
    }

    @Override
    public void copyToHost(long offset, long hostDst, long bytes) {
        checkRange(offset, bytes);
        long src = address() + offset;
        // queued under the device's queue lock, waited for outside it: never into another thread's capture of the
        // same (shared default) stream, and no stream synchronize while it captures (CudaStream#enqueueAndWait)
        CudaStream s = owner.current();
        s.enqueueAndWait(() -> Cuda.check(cudart.cudaMemcpyAsync(Cuda.ptr(hostDst), Cuda.ptr(src), bytes,
                cudart.cudaMemcpyDeviceToHost, s.stream()), "copy device -> host"));
    }

    @Override
    public void copyFromHost(long offset, long hostSrc, long bytes) {
        checkRange(offset, bytes);
        long dst = address() + offset;
        // pageable source: the copy is staged before the call returns, but keep the caller's buffer lifetime simple
        // by finishing here
        CudaStream s = owner.current();
        s.enqueueAndWait(() -> Cuda.check(cudart.cudaMemcpyAsync(Cuda.ptr(dst), Cuda.ptr(hostSrc), bytes,
                cudart.cudaMemcpyHostToDevice, s.stream()), "copy host -> device"));
    }
}
