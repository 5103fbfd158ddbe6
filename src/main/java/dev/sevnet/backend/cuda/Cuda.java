package dev.sevnet.backend.cuda;

import org.bytedeco.cuda.global.cublas;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.cuda.global.cudnn;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

/** Error checks and raw device pointers for the JavaCPP bindings. */
final class Cuda {
    private Cuda() {
    }

    static void check(int err, String what) {
        if (err != 0) {
            String name = cudart.cudaGetErrorString(err).getString();
            cudart.cudaGetLastError();
            throw new CudaException(what + " failed: CUDA error " + err + " (" + name + ")");
        }
    }

    static void checkCudnn(int status, String what) {
        if (status != 0) {
            throw new CudaException(what + " failed: " + cudnn.cudnnGetErrorString(status).getString() + " (" + status + ")",
                    status);
        }
    }

    static void checkCublas(int status, String what) {
        if (status != 0) {
            throw new CudaException(what + " failed: cuBLAS status " + status + " (" + cublas.cublasGetStatusString(status)
                    .getString() + ")");
        }
    }

    /** A non-owning pointer holding a raw (device) address, for the bindings. */
    static Pointer ptr(long address) {
        return new Raw(address);
    }

    static FloatPointer fptr(long address) {
        return new RawFloat(address);
    }

    private static final class Raw extends Pointer {
        Raw(long a) {
            address = a;
        }
    }

    private static final class RawFloat extends FloatPointer {
        RawFloat(long a) {
            address = a;
        }
    }
}
