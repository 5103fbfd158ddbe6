package dev.sevnet.backend;

/**
 * A queue of device work of its own for one worker thread — on a GPU a CUDA stream with its own cuDNN and cuBLAS
 * handles (PyTorch's {@code torch.cuda.Stream} with {@code torch.cuda.stream(s)}) — so that several workers' ops run
 * side by side on one device instead of one after another on the device's default stream.
 *
 * <p>A thread {@link #bind binds} a stream; until that binding is closed every backend op the thread calls on the
 * stream's device is queued there and every device buffer it allocates is cached for that stream (see
 * {@link CachingAllocator}). Binding orders the stream after the work the thread had queued on the stream it was
 * using before, and closing the binding orders that stream after this one's work, so handing tensors across a
 * binding's edges needs no synchronisation. Tensors shared between streams bound on different threads at the same
 * time (the model's weights) must only be read there.
 *
 * <p>On the CPU ops run on the calling thread: {@link #NONE} binds nothing.
 */
public interface ExecutionStream extends AutoCloseable {

    /**
     * Makes this the calling thread's stream on its device until the returned binding is closed (on this thread).
     * Bindings nest.
     *
     * @throws IllegalStateException when this stream is closed
     */
    Binding bind();

    /** Blocks until the work queued on this stream is done; raises any asynchronous error. */
    void synchronize();

    /**
     * Waits for the queued work, then frees the stream; the device memory cached for it goes to the device's default
     * stream. Idempotent.
     *
     * @throws IllegalStateException while a thread still has it bound
     */
    @Override
    void close();

    /** One thread's use of a stream; closing it restores the thread's previous stream. */
    interface Binding extends AutoCloseable {
        @Override
        void close();
    }

    /** The stream of a backend that runs ops on the calling thread (the CPU): binding and closing do nothing. */
    ExecutionStream NONE = new ExecutionStream() {
        @Override
        public Binding bind() {
            return () -> { };
        }

        @Override
        public void synchronize() {
        }

        @Override
        public void close() {
        }

        @Override
        public String toString() {
            return "ExecutionStream.NONE";
        }
    };
}
