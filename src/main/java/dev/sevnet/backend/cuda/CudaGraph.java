package dev.sevnet.backend.cuda;

import dev.sevnet.backend.CachingAllocator;
import org.bytedeco.cuda.cudart.CUgraphExec_st;
import org.bytedeco.cuda.cudart.CUgraph_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cudart;

/**
 * Backend work captured once into a CUDA graph and replayed with one launch: what costs a few hundred kernel
 * launches per SEVNet inference call (launch-bound at batch 1) becomes one {@code cudaGraphLaunch}.
 *
 * <p>The capture runs {@code work} on the backend's stream in relaxed capture mode while holding the backend's
 * lock, so no other thread's ops land in the graph; every block the work allocates comes from {@code pool}
 * ({@link CachingAllocator.Pool}) and stays the graph's, because a replay reads and writes exactly the addresses
 * the capture saw. So the work must (1) only read tensors that outlive the graph (a static input the caller
 * refills before each replay, the weights), (2) not synchronise with the host or copy to it, and (3) have run
 * once before outside a capture, so that cuDNN's algorithm search, cuBLAS's workspace and the kernels' module
 * loading are done. A failed capture throws and leaves the stream usable.
 */
public final class CudaGraph implements AutoCloseable {
    private final CudaBackend backend;
    private final CUgraph_st graph;
    private final CUgraphExec_st exec;
    /** The stream of the last replay (whichever worker's): what close waits for. */
    private CudaStream lastReplay;
    private boolean closed;

    private CudaGraph(CudaBackend backend, CUgraph_st graph, CUgraphExec_st exec) {
        this.backend = backend;
        this.graph = graph;
        this.exec = exec;
    }

    /** Captures {@code work} (backend ops on {@code backend}) into a graph whose memory is {@code pool}'s. */
    public static CudaGraph capture(CudaBackend backend, CachingAllocator.Pool pool, Runnable work) {
        CudaDevice dev = backend.cudaDevice();
        synchronized (backend) {
            dev.activate();
            dev.synchronize(); // earlier work finished: none of it belongs to the graph
            CachingAllocator alloc = dev.allocator();
            alloc.beginCapture(pool);
            // one stream for begin and end: work that leaves a binding open must not end the capture elsewhere
            CUstream_st stream = dev.stream();
            int begin = cudart.cudaStreamBeginCapture(stream, cudart.cudaStreamCaptureModeRelaxed);
            if (begin != 0) {
                alloc.endCapture();
                Cuda.check(begin, "cudaStreamBeginCapture");
            }
            CUgraph_st g = new CUgraph_st();
            Throwable failure = null;
            try {
                work.run();
            } catch (Throwable e) { // whatever it is, the capture must end: the stream is unusable while it lasts
                failure = e;
            }
            int end = cudart.cudaStreamEndCapture(stream, g);
            alloc.endCapture();
            if (failure != null || end != 0) {
                cudart.cudaGetLastError(); // a failed capture leaves its error behind: clear it, the stream is fine
                if (!g.isNull()) {
                    cudart.cudaGraphDestroy(g);
                }
                if (failure instanceof RuntimeException r) {
                    throw r;
                }
                if (failure instanceof Error e) {
                    throw e;
                }
                if (failure != null) {
                    throw new IllegalStateException("CUDA graph capture failed", failure);
                }
                Cuda.check(end, "cudaStreamEndCapture (the captured work did something a capture cannot record: "
                        + "a host synchronisation, a device-to-host copy, a cudaMalloc/cudaFree outside the pool?)");
            }
            CUgraphExec_st x = new CUgraphExec_st();
            int inst = cudart.cudaGraphInstantiate(x, g, 0L);
            if (inst != 0) {
                cudart.cudaGraphDestroy(g);
                Cuda.check(inst, "cudaGraphInstantiate");
            }
            return new CudaGraph(backend, g, x);
        }
    }

    /**
     * Queues one replay on the calling thread's stream (asynchronous, like any backend op). Replays of graphs that
     * share a pool must not overlap: the caller orders them (one stream, or a host wait between them).
     */
    public void replay() {
        synchronized (backend) {
            if (closed) {
                throw new IllegalStateException("replay of a closed CUDA graph");
            }
            CudaDevice dev = backend.cudaDevice();
            dev.activate();
            CudaStream s = dev.current();
            Cuda.check(cudart.cudaGraphLaunch(exec, s.stream()), "cudaGraphLaunch");
            lastReplay = s;
        }
    }

    /** Waits for queued replays, then destroys the graph (its pool is the caller's to close). */
    @Override
    public void close() {
        synchronized (backend) {
            if (closed) {
                return;
            }
            closed = true;
            try {
                backend.cudaDevice().synchronize();
                if (lastReplay != null && !lastReplay.isClosed()) {
                    lastReplay.synchronize(); // a closed stream waited for its work when it closed
                }
            } finally { // a pending asynchronous error still frees the graph
                cudart.cudaGraphExecDestroy(exec);
                cudart.cudaGraphDestroy(graph);
            }
        }
    }
}
