package dev.sevnet.backend.cuda;

import dev.sevnet.tensor.DType;
import org.bytedeco.cuda.global.cudnn;

/**
 * How a tensor's {@link DType} maps onto cuDNN and the sevnet kernels, as pure functions (testable without a
 * GPU: the cuDNN enum values are compile-time constants, so nothing native loads).
 *
 * <p>Convolutions: tensor and filter descriptors in the tensor's type; the convolution's compute type is
 * always {@code CUDNN_DATA_FLOAT} &mdash; for bfloat16 / float16 data that is cuDNN's PSEUDO_BFLOAT16_CONFIG /
 * PSEUDO_HALF_CONFIG (16-bit storage, fp32 accumulation, one rounding when the output is stored). Math type:
 * fp32 as before (TF32 allowed or IEEE FMA); 16-bit {@code CUDNN_TENSOR_OP_MATH} (tensor cores).
 */
public final class CudnnTypes {
    private CudnnTypes() {
    }

    /** The cuDNN data type of a tensor descriptor; IllegalArgumentException for a type cuDNN convs do not get. */
    public static int dataType(DType d) {
        return switch (d) {
            case FLOAT32 -> cudnn.CUDNN_DATA_FLOAT;
            case BFLOAT16 -> cudnn.CUDNN_DATA_BFLOAT16;
            case FLOAT16 -> cudnn.CUDNN_DATA_HALF;
            default -> throw new IllegalArgumentException("no cuDNN convolution over " + d + " tensors");
        };
    }

    /** The convolution descriptor's compute (accumulation) type: fp32 for every data type. */
    public static int computeType(DType d) {
        dataType(d); // rejects what has no mapping
        return cudnn.CUDNN_DATA_FLOAT;
    }

    /** The convolution's math type. */
    public static int mathType(DType d, boolean allowTf32) {
        if (d == DType.FLOAT32) {
            return allowTf32 ? cudnn.CUDNN_DEFAULT_MATH : cudnn.CUDNN_FMA_MATH;
        }
        dataType(d);
        return cudnn.CUDNN_TENSOR_OP_MATH;
    }

    /** The dtype code of the C ABI (sevnet.h, sevnet_cuda.h): fp32 0, bfloat16 1, float16 2. */
    public static int kernelCode(DType d) {
        return switch (d) {
            case FLOAT32 -> 0;
            case BFLOAT16 -> 1;
            case FLOAT16 -> 2;
            default -> throw new IllegalArgumentException("no sevnet kernel over " + d + " tensors");
        };
    }
}
