package dev.sevnet.backend;

import dev.sevnet.tensor.Tensor;
import java.util.Objects;

/**
 * Puts host tensors (input batches) on a backend's device ahead of their use, so that the next batch's copy runs
 * while the device computes this one — what PyTorch does with {@code pin_memory=True} and
 * {@code .to(device, non_blocking=True)} on a side stream.
 *
 * <p>{@link #start} may run on a loader thread; it copies the host tensor out before it returns (the caller may
 * close it) and queues the device copy. {@link Upload#take()} runs on the thread whose backend ops read the result:
 * it orders them after the copy and hands over the device tensor. On the GPU ({@code CudaBackend}) the staging
 * memory is pinned, the copies run on a copy stream and a fixed number of slots is reused: {@code start} blocks
 * while every slot's tensor is still alive, which bounds the memory a fast loader can queue. On the CPU there is
 * nothing to copy: the upload is a view of the host tensor.
 */
public interface Uploader extends AutoCloseable {

    /**
     * Starts putting {@code host} (a live host tensor) on the device.
     *
     * @throws IllegalArgumentException when {@code host} is null, closed or not on the host
     * @throws IllegalStateException    when this uploader is closed (also while {@code start} waits for a slot)
     */
    Upload start(Tensor host);

    /** Frees the staging memory; tensors already taken stay valid until they are closed. */
    @Override
    void close();

    /** One started upload. Close it when its tensor was not taken (the slot is freed). */
    interface Upload extends AutoCloseable {

        /**
         * The device tensor, readable by the backend's ops queued from now on (by any thread); owned by the calling
         * thread's innermost {@link dev.sevnet.tensor.TensorScope} if one is open, else by the caller. Once only.
         */
        Tensor take();

        @Override
        void close();
    }

    /** Checks {@code host} before any copy. */
    static void checkHost(Tensor host) {
        if (host == null || host.isClosed()) {
            throw new IllegalArgumentException("upload of a " + (host == null ? "null" : "closed") + " tensor");
        }
        if (!host.device().isCpu()) {
            throw new IllegalArgumentException("upload of a tensor that is not on the host but on " + host.device());
        }
    }

    /**
     * The uploader of a backend without a faster path: {@code start} copies with {@link Backend#toDevice} at once
     * (on the CPU: a view of the host tensor, no copy).
     */
    static Uploader direct(Backend backend) {
        Objects.requireNonNull(backend, "backend");
        return new Uploader() {
            private volatile boolean closed;

            @Override
            public Upload start(Tensor host) {
                if (closed) {
                    throw new IllegalStateException("upload on a closed uploader");
                }
                checkHost(host);
                Tensor t = dev.sevnet.tensor.TensorScope.detach(
                        backend.device().isCpu() ? host.reshape(host.shape()) : backend.toDevice(host));
                return new Upload() {
                    private Tensor held = t;

                    @Override
                    public synchronized Tensor take() {
                        if (held == null) {
                            throw new IllegalStateException("upload already taken or closed");
                        }
                        Tensor r = held.reshape(held.shape()); // owned by the caller's scope, if one is open
                        held.close();
                        held = null;
                        return r;
                    }

                    @Override
                    public synchronized void close() {
                        if (held != null) {
                            held.close();
                            held = null;
                        }
                    }
                };
            }

            @Override
            public void close() {
                closed = true;
            }
        };
    }
}
