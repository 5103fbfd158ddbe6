package dev.sevnet.infer;

import dev.sevnet.autograd.GradMode;
import dev.sevnet.autograd.Var;
import dev.sevnet.backend.CachingAllocator;
import dev.sevnet.backend.cuda.CudaBackend;
import dev.sevnet.backend.cuda.CudaGraph;
import dev.sevnet.backend.cuda.CudaStream;
import dev.sevnet.nn.Module;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A model's inference on a CUDA device through CUDA graphs ({@link CudaGraph}): the first call with an input shape
 * runs the model once eagerly (cuDNN's algorithm search, cuBLAS's workspace, module loading), then captures one
 * forward pass reading a static input buffer; every later call with that shape copies its input into the buffer and
 * replays the graph — one launch instead of a few hundred, which is what batch-1 latency is made of. One graph per
 * input shape, all sharing one private memory pool: they replay one at a time, each on its caller's stream (a worker's
 * {@link dev.sevnet.backend.ExecutionStream}), ordered after the previous replay wherever that ran. A graph uses the
 * library handles (cuBLAS's workspace) of the stream it was captured on: close this object before that stream.
 *
 * <p>The returned tensor is this object's and is overwritten by the next call with the same shape: read it (copy
 * it to the host) before calling again. Thread-safe (calls are serialised). {@link #close()} destroys the graphs and
 * returns their memory to the device's cache; the model is the caller's.
 */
public final class GraphedInference implements AutoCloseable {
    private record Captured(Tensor input, Tensor output, CudaGraph graph) {
    }

    private final Module model;
    private final CudaBackend gpu;
    private final CachingAllocator.Pool pool;
    private final Map<Shape, Captured> graphs = new LinkedHashMap<>();
    /** Where the last call queued its work; the next call's stream waits for it (the graphs share their memory). */
    private CudaStream lastStream;
    private boolean closed;

    /** {@code model}: already on {@code gpu} and in eval mode (a {@link FoldedSevNet}, for example). */
    public GraphedInference(Module model, CudaBackend gpu) {
        if (model == null || gpu == null) {
            throw new IllegalArgumentException("GraphedInference needs a model and a CUDA backend");
        }
        this.model = model;
        this.gpu = gpu;
        this.pool = gpu.cudaDevice().allocator().newPool();
    }

    /** The model's output for {@code x} (on the host or this device), valid until the next call with x's shape. */
    public synchronized Tensor forward(Tensor x) {
        if (closed) {
            throw new IllegalStateException("GraphedInference is closed");
        }
        if (x == null || x.isClosed()) {
            throw new IllegalArgumentException("forward of a " + (x == null ? "null" : "closed") + " tensor");
        }
        CudaStream here = gpu.cudaDevice().current();
        if (lastStream != null && lastStream != here && !lastStream.isClosed()) {
            here.waitFor(lastStream); // the last replay on another worker's stream may still read the memory we refill
        }
        lastStream = here;
        Captured c = graphs.get(x.shape());
        if (c == null) {
            c = capture(x);
            graphs.put(x.shape(), c);
        }
        gpu.copyInto(x, c.input());
        c.graph().replay();
        return c.output();
    }

    /** {@link #forward} and the result copied to the host, under one lock (no other call can overwrite it first). */
    public synchronized float[] forwardToHost(Tensor x) {
        return forward(x).toFloatArray();
    }

    /** Input shapes captured so far. */
    public synchronized int graphCount() {
        return graphs.size();
    }

    private Captured capture(Tensor x) {
        // the static input lives outside the pool, as long as its graph
        Tensor input = TensorScope.detach(gpu.allocate(x.shape(), x.dtype()));
        Tensor[] out = new Tensor[1];
        try {
            gpu.copyInto(x, input);
            try (TensorScope s = TensorScope.open(); GradMode.Guard g = GradMode.noGrad()) {
                model.forward(Var.of(input)); // warm-up: algorithm search and lazy loading happen here, not in the graph
            }
            CudaGraph graph = CudaGraph.capture(gpu, pool, () -> {
                try (TensorScope s = TensorScope.open(); GradMode.Guard g = GradMode.noGrad()) {
                    out[0] = TensorScope.detach(model.forward(Var.of(input)).value());
                }
            });
            return new Captured(input, out[0], graph);
        } catch (RuntimeException | Error e) {
            if (out[0] != null) {
                out[0].close();
            }
            input.close();
            throw e;
        }
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (Captured c : graphs.values()) {
            c.graph().close();
            c.output().close();
            c.input().close();
        }
        graphs.clear();
        pool.close();
    }
}
