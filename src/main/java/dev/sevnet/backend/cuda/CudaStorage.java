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
        owner.activate();
        Cuda.check(cudart.cudaMemcpyAsync(Cuda.ptr(hostDst), Cuda.ptr(address() + offset), bytes,
                cudart.cudaMemcpyDeviceToHost, owner.stream()), "copy device -> host");
        owner.synchronize();
    }

    @Override
    public void copyFromHost(long offset, long hostSrc, long bytes) {
        checkRange(offset, bytes);
        owner.activate();
        Cuda.check(cudart.cudaMemcpyAsync(Cuda.ptr(address() + offset), Cuda.ptr(hostSrc), bytes,
                cudart.cudaMemcpyHostToDevice, owner.stream()), "copy host -> device");
        // pageable source: the copy is staged before the call returns, but keep the caller's buffer
        // lifetime simple by finishing here
        owner.synchronize();
    }
}
