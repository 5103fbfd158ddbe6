package dev.sevnet.backend.cuda;

import dev.sevnet.backend.ExecutionStream;
import java.util.concurrent.atomic.AtomicInteger;
import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.cuda.cudart.CUevent_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.cudnn.cudnnContext;
import org.bytedeco.cuda.global.cublas;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.cuda.global.cudnn;

/**
 * A CUDA stream with the cuDNN and cuBLAS handles bound to it: a {@link CudaDevice}'s default stream, or a worker's
 * own ({@link CudaDevice#newStream}, {@link ExecutionStream}). Handles are per stream because a cuDNN or cuBLAS
 * handle queues its work on one stream at a time; sharing one between threads would mean re-pointing it under a lock
 * at every call. Handles and stream are destroyed by {@link #close()}, never by the garbage collector.
 */
public final class CudaStream implements ExecutionStream {
    private final CudaDevice dev;
    private final long id;
    private final CUstream_st stream = new CUstream_st();
    private final cudnnContext cudnnHandle = new cudnnContext();
    private final cublasContext cublasHandle = new cublasContext();
    /** Recorded on another stream and waited for here ({@link #waitFor}); reused, guarded by this stream's monitor. */
    private final CUevent_st handoff = new CUevent_st();
    /** Recorded here and waited for on the host ({@link #enqueueAndWait}); recorded under the device's queue lock. */
    private final CUevent_st hostWait = new CUevent_st();
    /** Threads that have this stream bound now (close refuses while there are any). */
    private final AtomicInteger bindings = new AtomicInteger();
    /** Host threads inside {@link #synchronize} (which waits without this stream's monitor). */
    private int waiting;
    private boolean closed;

    /** Creates the stream and its handles on the calling thread's current device ({@code dev}, activated). */
    CudaStream(CudaDevice dev, long id) {
        this.dev = dev;
        this.id = id;
        Cuda.check(cudart.cudaStreamCreateWithFlags(stream, cudart.cudaStreamNonBlocking), "cudaStreamCreate");
        boolean cudnnMade = false;
        boolean eventMade = false;
        boolean hostWaitMade = false;
        try {
            Cuda.check(cudart.cudaEventCreateWithFlags(handoff, cudart.cudaEventDisableTiming), "cudaEventCreate");
            eventMade = true;
            Cuda.check(cudart.cudaEventCreateWithFlags(hostWait, cudart.cudaEventDisableTiming),
                    "cudaEventCreate");
            hostWaitMade = true;
            Cuda.checkCudnn(cudnn.cudnnCreate(cudnnHandle), "cudnnCreate");
            cudnnMade = true;
            Cuda.checkCudnn(cudnn.cudnnSetStream(cudnnHandle, stream), "cudnnSetStream");
            Cuda.checkCublas(cublas.cublasCreate_v2(cublasHandle), "cublasCreate");
            int rc = cublas.cublasSetStream_v2(cublasHandle, stream);
            if (rc != 0) {
                cublas.cublasDestroy_v2(cublasHandle);
                Cuda.checkCublas(rc, "cublasSetStream");
            }
        } catch (RuntimeException | Error e) {
            if (cudnnMade) {
                cudnn.cudnnDestroy(cudnnHandle);
            }
            if (eventMade) {
                cudart.cudaEventDestroy(handoff);
            }
            if (hostWaitMade) {
                cudart.cudaEventDestroy(hostWait);
            }
            cudart.cudaStreamDestroy(stream);
            throw e;
        }
    }

    /** The allocator's name for this stream (never reused; the default stream's is 0). */
    public long id() {
        return id;
    }

    public CudaDevice device() {
        return dev;
    }

    CUstream_st stream() {
        return stream;
    }

    /** This stream as a {@code cudaStream_t} address, for calling {@link CudaKernels} directly. */
    public long address() {
        return stream.address();
    }

    cudnnContext cudnn() {
        return cudnnHandle;
    }

    cublasContext cublas() {
        return cublasHandle;
    }

    public synchronized boolean isClosed() {
        return closed;
    }

    @Override
    public Binding bind() {
        synchronized (this) {
            if (closed) {
                throw new IllegalStateException("bind of a closed CUDA stream (" + this + ")");
            }
            if (dev.closing()) {
                throw new IllegalStateException(dev.device() + " is closed");
            }
            bindings.incrementAndGet();
        }
        try {
            return dev.bind(this, bindings::decrementAndGet);
        } catch (RuntimeException | Error e) {
            bindings.decrementAndGet();
            throw e;
        }
    }

    @Override
    public void synchronize() {
        enqueueAndWait(null);
    }

    /**
     * Queues {@code work} (may be null) on this stream and waits on the host for everything queued so far. The queuing
     * and an event record happen under the device's queue lock, the wait on that event outside it: so neither joins
     * another thread's CUDA graph capture on this stream (a capture holds the lock from begin to end), and a wait
     * that started before a capture stays legal during it — a stream synchronize on a capturing stream is not (it
     * fails and invalidates the capture). What a shared default stream needs when one thread reads a result while
     * another captures.
     */
    void enqueueAndWait(Runnable work) {
        synchronized (dev.queueLock()) {
            synchronized (this) {
                if (closed) {
                    if (work != null) {
                        throw new IllegalStateException("use of a closed CUDA stream (" + this + ")");
                    }
                    return; // it waited for its work when it closed
                }
                waiting++; // close() destroys the stream only once no host wait on it is left
            }
            try {
                dev.activate();
                if (work != null) {
                    work.run();
                }
                // one event for every waiter: a later record on this stream covers the earlier work too
                Cuda.check(cudart.cudaEventRecord(hostWait, stream), "cudaEventRecord");
            } catch (RuntimeException | Error e) {
                doneWaiting();
                throw e;
            }
        }
        try {
            // without the locks: a long wait here must not hold up other threads queuing work or ordering streams
            Cuda.check(cudart.cudaEventSynchronize(hostWait), "stream synchronize on " + this);
        } finally {
            doneWaiting();
        }
    }

    private synchronized void doneWaiting() {
        if (--waiting == 0) {
            notifyAll();
        }
    }

    /**
     * Work queued on this stream from now on waits (on the device, not the host) for the work queued on {@code other}
     * so far (PyTorch's {@code Stream.wait_stream}).
     */
    public void waitFor(CudaStream other) {
        if (other == this) {
            return;
        }
        synchronized (dev.queueLock()) { // not into another thread's capture (see CudaDevice#queueLock)
            dev.activate();
            synchronized (other) {
                if (other.closed) {
                    return; // its work finished when it closed
                }
                synchronized (this) {
                    if (closed) {
                        throw new IllegalStateException("wait on a closed CUDA stream (" + this + ")");
                    }
                    Cuda.check(cudart.cudaEventRecord(handoff, other.stream), "cudaEventRecord");
                    // the wait takes the event's state now: the event may be recorded again at once
                    Cuda.check(cudart.cudaStreamWaitEvent(stream, handoff, 0), "cudaStreamWaitEvent");
                }
            }
        }
    }

    @Override
    public void close() {
        // destroying the handles synchronises the device: never while another thread captures a CUDA graph
        synchronized (dev.queueLock()) {
            synchronized (this) {
                if (closed) {
                    return;
                }
                if (bindings.get() > 0) {
                    throw new IllegalStateException("close of a CUDA stream still bound on " + bindings.get()
                            + " thread(s): close their bindings first");
                }
                if (id == CudaDevice.DEFAULT_STREAM_ID && !dev.closing()) {
                    throw new IllegalStateException("the device's default stream is closed with the device");
                }
                closed = true;
                boolean interrupted = false;
                while (waiting > 0) {
                    try {
                        wait(); // their waits end with the stream's queued work, without any lock of ours
                    } catch (InterruptedException e) {
                        interrupted = true; // destroying the stream under a waiting thread is not an option
                    }
                }
                if (interrupted) {
                    Thread.currentThread().interrupt();
                }
                int sync = 0;
                try {
                    dev.activate();
                    sync = cudart.cudaStreamSynchronize(stream);
                } finally { // closed is set: the handles go whatever failed above
                    cudnn.cudnnDestroy(cudnnHandle);
                    cublas.cublasDestroy_v2(cublasHandle);
                    cudart.cudaEventDestroy(handoff);
                    cudart.cudaEventDestroy(hostWait);
                    cudart.cudaStreamDestroy(stream);
                    if (id != CudaDevice.DEFAULT_STREAM_ID) {
                        dev.allocator().retireStream(id);
                    }
                }
                Cuda.check(sync, "stream synchronize on " + this);
            }
        }
    }

    @Override
    public String toString() {
        return dev.device() + (id == CudaDevice.DEFAULT_STREAM_ID ? " default stream" : " stream " + id);
    }
}
