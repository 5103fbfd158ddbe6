package dev.sevnet.backend.cuda;

/** A CUDA, cuDNN, cuBLAS or kernel call failed; the message names the call and the library's error. */
public final class CudaException extends RuntimeException {
    public CudaException(String message) {
        super(message);
    }
}
