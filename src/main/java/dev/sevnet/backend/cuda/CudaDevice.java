package dev.sevnet.backend.cuda;

import dev.sevnet.backend.CachingAllocator;
import dev.sevnet.backend.ExecutionStream;
import dev.sevnet.backend.RawDeviceMemory;
import dev.sevnet.tensor.Device;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.cudnn.cudnnContext;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.javacpp.SizeTPointer;

/**
 * One GPU as the backend uses it: its caching allocator and its streams, each with the cuDNN and cuBLAS handles
 * bound to it ({@link CudaStream}). A thread queues its work on the stream it has bound ({@link #newStream},
 * {@link CudaStream#bind}), or on the device's default stream. Created once per device index and kept for the
 * process (streams and handles are closed by {@link #close()}, never by the garbage collector).
 */
public final class CudaDevice implements AutoCloseable {
    private static final Map<Integer, CudaDevice> DEVICES = new ConcurrentHashMap<>();

    private final Device device;
    private final CachingAllocator allocator;
    /** The default stream's id in the allocator. */
    static final long DEFAULT_STREAM_ID = CachingAllocator.DEFAULT_STREAM;
    private final CudaStream defaultStream;
    /** The stream each thread has bound (none: the default stream). */
    private final ThreadLocal<CudaStream> bound = new ThreadLocal<>();
    private final AtomicLong streamIds = new AtomicLong(DEFAULT_STREAM_ID);
    /**
     * The monitor every op is queued under: the device's {@link CudaBackend} (its methods are synchronized), so that
     * CUDA graph captures, which hold it, never see another thread's work. Streams are made, ordered against each other
     * and destroyed under it too: cuDNN and cuBLAS handle creation and destruction synchronise the device, and an event
     * recorded on a capturing stream would join the capture.
     */
    private volatile Object queueLock = this;
    private final String name;
    private volatile boolean closed;

    private CudaDevice(int index) {
        this.device = Device.cuda(index);
        Cuda.check(cudart.cudaSetDevice(index), "cudaSetDevice(" + index + ")");
        org.bytedeco.cuda.cudart.cudaDeviceProp prop = new org.bytedeco.cuda.cudart.cudaDeviceProp();
        Cuda.check(cudart.cudaGetDeviceProperties(prop, index), "cudaGetDeviceProperties");
        this.name = prop.name().getString();
        prop.close();
        this.defaultStream = new CudaStream(this, DEFAULT_STREAM_ID);
        this.allocator = new CachingAllocator(new CudaMemory(index, device.toString()), () -> current().id());
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

    private volatile DevicePeaks peaks;

    /**
     * This GPU's theoretical bandwidth and arithmetic peaks, from its attributes (read once): what benchmarks divide by
     * for a fraction of the device. An attribute the runtime does not give leaves its figures NaN.
     */
    public DevicePeaks peaks() {
        DevicePeaks p = peaks;
        if (p == null) {
            int index = device.index();
            p = DevicePeaks.of(attribute(cudart.cudaDevAttrMultiProcessorCount, index),
                    attribute(cudart.cudaDevAttrClockRate, index), attribute(cudart.cudaDevAttrMemoryClockRate, index),
                    attribute(cudart.cudaDevAttrGlobalMemoryBusWidth, index),
                    attribute(cudart.cudaDevAttrComputeCapabilityMajor, index),
                    attribute(cudart.cudaDevAttrComputeCapabilityMinor, index));
            peaks = p;
        }
        return p;
    }

    /** A device attribute, or 0 where the runtime refuses it (the peaks it feeds become NaN). */
    private static int attribute(int attr, int index) {
        int[] v = new int[1];
        return cudart.cudaDeviceGetAttribute(v, attr, index) == cudart.cudaSuccess ? v[0] : 0;
    }

    public CachingAllocator allocator() {
        return allocator;
    }

    /** The calling thread's stream on this device: the one it has bound, else the default stream. */
    public CudaStream current() {
        CudaStream s = bound.get();
        return s == null ? defaultStream : s;
    }

    public CudaStream defaultStream() {
        return defaultStream;
    }

    /**
     * A new stream with handles of its own, for one worker thread ({@link CudaStream#bind}); the caller closes it.
     */
    public CudaStream newStream() {
        synchronized (queueLock) {
            if (closed) {
                throw new IllegalStateException(device + " is closed");
            }
            activate();
            return new CudaStream(this, streamIds.incrementAndGet());
        }
    }

    void useQueueLock(Object lock) {
        this.queueLock = lock;
    }

    Object queueLock() {
        return queueLock;
    }

    /**
     * Makes {@code s} the calling thread's stream until the binding closes: {@code s} first waits for what this
     * thread's previous stream had queued, and on close the previous stream waits for {@code s}'s work, so that
     * tensors pass across the binding's edges in order without a host wait.
     */
    ExecutionStream.Binding bind(CudaStream s, Runnable onClose) {
        CudaStream previous = current();
        s.waitFor(previous);
        bound.set(s);
        Thread owner = Thread.currentThread();
        return new ExecutionStream.Binding() {
            private boolean done;

            @Override
            public void close() {
                if (done) {
                    return;
                }
                if (Thread.currentThread() != owner) {
                    throw new IllegalStateException("a stream binding is closed on the thread that made it ("
                            + owner.getName() + "), not on " + Thread.currentThread().getName());
                }
                if (bound.get() != s) {
                    throw new IllegalStateException("stream bindings closed out of order: " + current() + " is bound, "
                            + "not " + s);
                }
                done = true;
                try {
                    previous.waitFor(s);
                } finally {
                    if (previous == defaultStream) {
                        bound.remove();
                    } else {
                        bound.set(previous);
                    }
                    onClose.run();
                }
            }
        };
    }

    CUstream_st stream() {
        return current().stream();
    }

    /**
     * The calling thread's stream as a {@code cudaStream_t} address, for calling {@link CudaKernels} directly
     * (benchmarks and tests of kernels no backend op uses yet); work queued there is ordered with the backend's.
     */
    public long streamAddress() {
        return current().address();
    }

    cudnnContext cudnn() {
        return current().cudnn();
    }

    cublasContext cublas() {
        return current().cublas();
    }

    boolean closing() {
        return closed;
    }

    /** Makes this the calling thread's current device. */
    void activate() {
        Cuda.check(cudart.cudaSetDevice(device.index()), "cudaSetDevice");
    }

    /** Waits for everything queued on the calling thread's stream; raises any asynchronous error. */
    public void synchronize() {
        current().synchronize();
    }

    /**
     * Waits for every stream of this device (cudaDeviceSynchronize): what a measurement does first, so that other
     * workers' queued kernels do not run inside its timings. Not during a CUDA graph capture.
     */
    public void synchronizeAllStreams() {
        activate();
        Cuda.check(cudart.cudaDeviceSynchronize(), "device synchronize on " + device);
    }

    /**
     * Device time of {@code body} (which must queue its work on the calling thread's stream, as every
     * backend op does): CUDA events around {@code reps} runs after one warm-up; milliseconds per run.
     */
    public double timeMillis(int reps, Runnable body) {
        body.run();
        try (EventTimer t = newEventTimer()) {
            t.start();
            for (int i = 0; i < reps; i++) {
                body.run();
            }
            return t.stopMillis() / reps;
        }
    }

    /** A pair of CUDA events timing work on the calling thread's stream, one span at a time; the caller closes it. */
    public EventTimer newEventTimer() {
        return new EventTimer();
    }

    /**
     * Device time of one span of work queued on the calling thread's stream: {@link #start()}, queue the work,
     * {@link #stopMillis()} (which waits for it). For benchmarks: JMH's {@code CudaKernelsJmhBench}, {@link #timeMillis}.
     */
    public final class EventTimer implements AutoCloseable {
        private final org.bytedeco.cuda.cudart.CUevent_st start = new org.bytedeco.cuda.cudart.CUevent_st();
        private final org.bytedeco.cuda.cudart.CUevent_st stop = new org.bytedeco.cuda.cudart.CUevent_st();
        private boolean open;

        private EventTimer() {
            activate();
            Cuda.check(cudart.cudaEventCreate(start), "cudaEventCreate");
            int rc = cudart.cudaEventCreate(stop);
            if (rc != 0) {
                cudart.cudaEventDestroy(start);
                Cuda.check(rc, "cudaEventCreate");
            }
            open = true;
        }

        /** Marks the start of the span on the calling thread's stream. */
        public void start() {
            requireOpen();
            Cuda.check(cudart.cudaEventRecord(start, stream()), "cudaEventRecord");
        }

        /** Marks the end, waits for it and returns the device milliseconds since {@link #start()}. */
        public double stopMillis() {
            requireOpen();
            Cuda.check(cudart.cudaEventRecord(stop, stream()), "cudaEventRecord");
            Cuda.check(cudart.cudaEventSynchronize(stop), "cudaEventSynchronize");
            float[] ms = new float[1];
            Cuda.check(cudart.cudaEventElapsedTime(ms, start, stop), "cudaEventElapsedTime");
            return ms[0];
        }

        private void requireOpen() {
            if (!open) {
                throw new IllegalStateException("this event timer is closed");
            }
        }

        @Override
        public void close() {
            if (open) {
                open = false;
                cudart.cudaEventDestroy(start);
                cudart.cudaEventDestroy(stop);
            }
        }
    }

    /** Waits for the default stream, frees the cache and closes the default stream (worker streams are their owners'). */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        defaultStream.synchronize();
        allocator.releaseCached();
        defaultStream.close();
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
