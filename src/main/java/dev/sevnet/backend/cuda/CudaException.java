package dev.sevnet.backend.cuda;

/** A CUDA, cuDNN, cuBLAS or kernel call failed; the message names the call and the library's error. */
public final class CudaException extends RuntimeException {
    /** No cuDNN status (a CUDA, cuBLAS or kernel error). */
    public static final int NO_CUDNN_STATUS = -1;

    private final int cudnnStatus;

    public CudaException(String message) {
        this(message, NO_CUDNN_STATUS);
    }

    public CudaException(String message, int cudnnStatus) {
        super(message);
        this.cudnnStatus = cudnnStatus;
    }

    /** The cudnnStatus_t of a failed cuDNN call, else {@link #NO_CUDNN_STATUS}. */
    public int cudnnStatus() {
        return cudnnStatus;
    }

    /**
     * cuDNN refused the problem itself (CUDNN_STATUS_BAD_PARAM 2xxx, CUDNN_STATUS_NOT_SUPPORTED 3xxx): the same call
     * fails again, nothing on the device went wrong, and another formulation of the problem may run.
     */
    public boolean refusedByCudnn() {
        return cudnnStatus >= 2000 && cudnnStatus < 4000;
    }
}
