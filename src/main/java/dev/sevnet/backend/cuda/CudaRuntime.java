package dev.sevnet.backend.cuda;

import dev.sevnet.backend.CudaStatus;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.cuda.global.cublas;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.cuda.global.cudnn;

/**
 * Loads the GPU path once: the probe in libsevnet (static runtime, safe on any machine) first, then,
 * only if it found a usable GPU, the JavaCPP cudart/cuDNN/cuBLAS bindings and the kernels library,
 * which all share the process's one shared CUDA runtime (libcudart.so.13). A failure is remembered
 * with its cause and these classes are never touched again (a failed JNI load poisons the class).
 */
public final class CudaRuntime {
    private static volatile Status status;

    private CudaRuntime() {
    }

    /** Whether the CUDA backend can run, and if not, exactly why. */
    public record Status(boolean usable, String reason, String cudnnVersion, String cublasVersion, int runtimeVersion,
            boolean customKernels) {
    }

    public static Status status() {
        Status s = status;
        if (s == null) {
            synchronized (CudaRuntime.class) {
                if (status == null) {
                    status = load();
                }
                s = status;
            }
        }
        return s;
    }

    private static Status load() {
        CudaStatus probe = CudaStatus.probe();
        if (!probe.usable()) {
            return new Status(false, probe.reason(), "", "", 0, false);
        }
        String stage = "libcudart.so.13 (JavaCPP cudart)";
        try {
            Loader.load(cudart.class);
            stage = "cuDNN 9 (libcudnn*.so.9 through the JavaCPP cudnn binding)";
            Loader.load(cudnn.class);
            long cudnnV = cudnn.cudnnGetVersion();
            if (cudnnV < 90000) {
                return new Status(false, "cuDNN " + cudnnV + " is too old: need cuDNN 9 (libcudnn.so.9)", "" + cudnnV, "",
                        0, false);
            }
            String broken = cudnnSmokeTest();
            if (broken != null) {
                return new Status(false, broken, "" + cudnnV, "", 0, false);
            }
            stage = "cuBLAS (libcublas.so.13, libcublasLt.so.13)";
            Loader.load(cublas.class);
            int[] rt = new int[1];
            cudart.cudaRuntimeGetVersion(rt);
            stage = "the sevnet kernels library (libsevnet_cuda.so)";
            boolean kernels = CudaKernels.sevc_available() == 1;
            String cudnnVersion = (cudnnV / 10000) + "." + (cudnnV % 10000) / 100 + "." + (cudnnV % 100);
            return new Status(true, "", cudnnVersion, "" + cublas.cublasGetCudartVersion(), rt[0], kernels);
        } catch (LinkageError | RuntimeException e) {
            Throwable root = e;
            while (root.getCause() != null) {
                root = root.getCause();
            }
            return new Status(false, "could not load " + stage + ": " + e + (root != e ? " (cause: " + root + ")" : ""),
                    "", "", 0, false);
        }
    }

    /**
     * cuDNN loads in parts (graph, ops, cnn, engines...): parts of two installs in one process only
     * fail at the first real call. Make one, and say which libraries to align if it fails.
     */
    private static String cudnnSmokeTest() {
        org.bytedeco.cuda.cudnn.cudnnContext h = new org.bytedeco.cuda.cudnn.cudnnContext();
        int st = cudnn.cudnnCreate(h);
        if (st != 0) {
            return "cuDNN cannot create a handle: " + cudnn.cudnnGetErrorString(st).getString();
        }
        try {
            org.bytedeco.cuda.cudnn.cudnnTensorStruct d = new org.bytedeco.cuda.cudnn.cudnnTensorStruct();
            st = cudnn.cudnnCreateTensorDescriptor(d);
            if (st != 0) {
                return "cuDNN is unusable: " + cudnn.cudnnGetErrorString(st).getString() + " (" + st + ")"
                        + (st == 1002 ? ": its sub-libraries (libcudnn_graph/ops/cnn/engines .so.9) come from two "
                        + "different cuDNN installs; put one install's folder first in LD_LIBRARY_PATH" : "");
            }
            cudnn.cudnnDestroyTensorDescriptor(d);
            return null;
        } finally {
            cudnn.cudnnDestroy(h);
        }
    }
}
