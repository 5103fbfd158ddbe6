package dev.sevnet.backend.cuda;

import dev.sevnet.backend.CachingAllocator;
import dev.sevnet.backend.RawDeviceMemory;
import dev.sevnet.tensor.Device;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.cudnn.cudnnContext;
import org.bytedeco.cuda.global.cublas;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.cuda.global.cudnn;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.javacpp.SizeTPointer;

/**
 * One GPU as the backend uses it: its caching allocator, its stream, and the cuDNN and cuBLAS
 * handles bound to that stream. Created once per device index and kept for the process (the handles
 * are closed by {@link #close()}, never by the garbage collector).
 */
public final class CudaDevice implements AutoCloseable {
    private static final Map<Integer, CudaDevice> DEVICES = new ConcurrentHashMap<>();

    private final Device device;
    private final CachingAllocator allocator;
    private final CUstream_st stream = new CUstream_st();
    private final cudnnContext cudnnHandle = new cudnnContext();
    private final cublasContext cublasHandle = new cublasContext();
    private final String name;
    private boolean closed;

    private CudaDevice(int index) {
        this.device = Device.cuda(index);
        Cuda.check(cudart.cudaSetDevice(index), "cudaSetDevice(" + index + ")");
        org.bytedeco.cuda.cudart.cudaDeviceProp prop = new org.bytedeco.cuda.cudart.cudaDeviceProp();
        Cuda.check(cudart.cudaGetDeviceProperties(prop, index), "cudaGetDeviceProperties");
        this.name = prop.name().getString();
        prop.close();
        Cuda.check(cudart.cudaStreamCreateWithFlags(stream, cudart.cudaStreamNonBlocking), "cudaStreamCreate");
        Cuda.checkCudnn(cudnn.cudnnCreate(cudnnHandle), "cudnnCreate");
        Cuda.checkCudnn(cudnn.cudnnSetStream(cudnnHandle, stream), "cudnnSetStream");
        Cuda.checkCublas(cublas.cublasCreate_v2(cublasHandle), "cublasCreate");
        Cuda.checkCublas(cublas.cublasSetStream_v2(cublasHandle, stream), "cublasSetStream");
        this.allocator = new CachingAllocator(new CudaMemory(index, device.toString()));
    }

    /** The device with this index, created on first use; the CUDA runtime must be usable. */
    public static CudaDevice get(int index) {
        CudaRuntime.Status s = CudaRuntime.status();
        if (!s.usable()) {
            throw new IllegalStateException("CUDA is not usable: " + s.reason());
        }
        return DEVICES.computeIfAbsent(index, CudaDevice::new);
    }

    public Device device() {
        return device;
    }

    public String name() {
        return name;
    }

    public CachingAllocator allocator() {
        return allocator;
    }

    CUstream_st stream() {
        return stream;
    }

    /**
     * This device's stream as a {@code cudaStream_t} address, for calling {@link CudaKernels} directly
     * (benchmarks and tests of kernels no backend op uses yet); work queued there is ordered with the backend's.
     */
    public long streamAddress() {
        return stream.address();
    }

    cudnnContext cudnn() {
        return cudnnHandle;
    }

    cublasContext cublas() {
        return cublasHandle;
    }

    /** Makes this the calling thread's current device. */
    void activate() {
        Cuda.check(cudart.cudaSetDevice(device.index()), "cudaSetDevice");
    }

    /** Waits for everything queued on this device's stream; raises any asynchronous error. */
    public void synchronize() {
        Cuda.check(cudart.cudaStreamSynchronize(stream), "stream synchronize on " + device);
    }

    /**
     * Device time of {@code body} (which must queue its work on this device's stream, as every
     * backend op does): CUDA events around {@code reps} runs after one warm-up; milliseconds per run.
     */
    public double timeMillis(int reps, Runnable body) {
        body.run();
        org.bytedeco.cuda.cudart.CUevent_st start = new org.bytedeco.cuda.cudart.CUevent_st();
        org.bytedeco.cuda.cudart.CUevent_st stop = new org.bytedeco.cuda.cudart.CUevent_st();
        Cuda.check(cudart.cudaEventCreate(start), "cudaEventCreate");
        Cuda.check(cudart.cudaEventCreate(stop), "cudaEventCreate");
        try {
            Cuda.check(cudart.cudaEventRecord(start, stream), "cudaEventRecord");
            for (int i = 0; i < reps; i++) {
                body.run();
            }
            Cuda.check(cudart.cudaEventRecord(stop, stream), "cudaEventRecord");
            Cuda.check(cudart.cudaEventSynchronize(stop), "cudaEventSynchronize");
            float[] ms = new float[1];
            Cuda.check(cudart.cudaEventElapsedTime(ms, start, stop), "cudaEventElapsedTime");
            return ms[0] / reps;
        } finally {
            cudart.cudaEventDestroy(start);
            cudart.cudaEventDestroy(stop);
        }
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        synchronize();
        allocator.releaseCached();
        cudnn.cudnnDestroy(cudnnHandle);
        cublas.cublasDestroy_v2(cublasHandle);
        cudart.cudaStreamDestroy(stream);
        DEVICES.remove(device.index());
    }

    /** cudaMalloc / cudaFree under the caching allocator. */
    private static final class CudaMemory implements RawDeviceMemory {
        private final int index;
        private final String name;

        CudaMemory(int index, String name) {
            this.index = index;
            this.name = name;
        }

        @Override
        public long malloc(long bytes) {
            cudart.cudaSetDevice(index);
            try (PointerPointer<?> pp = new PointerPointer<>(1)) {
                int err = cudart.cudaMalloc(pp, bytes);
                if (err == cudart.cudaErrorMemoryAllocation) {
                    cudart.cudaGetLastError();
                    return 0;
                }
                Cuda.check(err, "cudaMalloc(" + bytes + ")");
                return pp.get(0).address();
            }
        }

        @Override
        public void free(long address) {
            cudart.cudaSetDevice(index);
            Cuda.check(cudart.cudaFree(Cuda.ptr(address)), "cudaFree");
        }

        private long[] info() {
            try (SizeTPointer free = new SizeTPointer(1); SizeTPointer total = new SizeTPointer(1)) {
                cudart.cudaSetDevice(index);
                Cuda.check(cudart.cudaMemGetInfo(free, total), "cudaMemGetInfo");
                return new long[] {free.get(), total.get()};
            }
        }

        @Override
        public long freeBytes() {
            return info()[0];
        }

        @Override
        public long totalBytes() {
            return info()[1];
        }

        @Override
        public String deviceName() {
            return name;
        }
    }
}
