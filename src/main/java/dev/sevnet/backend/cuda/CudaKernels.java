package dev.sevnet.backend.cuda;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * JavaCPP binding of the CUDA kernels library {@code libsevnet_cuda.so} (C ABI
 * {@code native/include/sevnet_cuda.h}, sources {@code kernels/*.cu}).
 *
 * <p><b>Only code that has already confirmed a usable GPU may touch this class</b> (for example after
 * {@code CudaStatus.probe().deviceCount() > 0}, and after the JavaCPP CUDA runtime preset has loaded
 * {@code libcudart.so.13}): its static initialiser loads {@code libsevnet_cuda.so}, which needs the shared
 * CUDA runtime, so on a machine without CUDA it throws {@link UnsatisfiedLinkError}. Nothing in the CPU
 * path refers to it. A build without nvcc bundles a stub of the same ABI: {@link #sevc_available()} is 0
 * and every other call returns {@link #SEVC_E_NO_CUDA}.
 *
 * <p>Every pointer is a DEVICE address ({@code long}) of memory Java has already validated, except the
 * pooling parameter block {@code p}, a host array (the 19 ints of {@code sevnet.h}). {@code stream} is a
 * {@code cudaStream_t} (0: the legacy default stream). Calls only enqueue work: they return before it runs.
 * Each {@code sevc_X} mirrors the CPU op {@code NativeCore.sev_X} (same arguments, same results within
 * float rounding) plus the stream. Return value: 0 or a negative {@code SEVC_E*} code, with
 * {@link #sevc_last_error()} saying why. Scalar results (losses, sums) are written to device memory.
 */
@Platform(include = "sevnet_cuda.h", link = "sevnet_cuda")
public final class CudaKernels {
    static {
        Loader.load();
    }

    public static final int SEVC_OK = 0;
    public static final int SEVC_E_ARG = -1;
    public static final int SEVC_E_LAUNCH = -3;
    public static final int SEVC_E_NO_CUDA = -10;

    private CudaKernels() {
    }

    /** Forces the library to load (throws {@link UnsatisfiedLinkError} with the cause if it cannot). */
    public static void ensureLoaded() {
        // the static initialiser did the work
    }

    // ---- library ----
    /** 1 when the library holds the kernels, 0 for the stub built without nvcc. */
    public static native int sevc_available();

    public static native @Cast("const char*") String sevc_last_error();

    /** The CUDA runtime version the library runs against, negative on error. */
    public static native int sevc_runtime_version();

    /** cudaProfilerStart (start 1) / cudaProfilerStop (0): the range ncu and nsys record when told to wait for it. */
    public static native int sevc_profiler_range(int start);

    // ---- element-wise ----
    public static native int sevc_fill(@Cast("float*") long y, float value, @Cast("int64_t") long n,
            @Cast("void*") long stream);

    public static native int sevc_relu_forward(@Cast("const float*") long x, @Cast("float*") long y,
            @Cast("int64_t") long n, @Cast("void*") long stream);

    public static native int sevc_relu_backward(@Cast("const float*") long y, @Cast("const float*") long dy,
            @Cast("float*") long dx, @Cast("int64_t") long n, @Cast("void*") long stream);

    public static native int sevc_add(@Cast("const float*") long a, @Cast("const float*") long b,
            @Cast("float*") long y, @Cast("int64_t") long n, @Cast("void*") long stream);

    public static native int sevc_add_relu(@Cast("const float*") long a, @Cast("const float*") long b,
            @Cast("float*") long y, @Cast("int64_t") long n, @Cast("void*") long stream);

    public static native int sevc_mul(@Cast("const float*") long a, @Cast("const float*") long b,
            @Cast("float*") long y, @Cast("int64_t") long n, @Cast("void*") long stream);

    public static native int sevc_axpby(float alpha, @Cast("const float*") long x, float beta, @Cast("float*") long y,
            @Cast("int64_t") long n, @Cast("void*") long stream);

    /** {@code x}, {@code y}, {@code sizes}: host arrays of device addresses and element counts. */
    public static native int sevc_axpby_list(float alpha, @Cast("const float* const*") long[] x, float beta,
            @Cast("float* const*") long[] y, @Cast("const int64_t*") long[] sizes, int count,
            @Cast("void*") long stream);

    public static native int sevc_scale(@Cast("const float*") long x, float alpha, @Cast("float*") long y,
            @Cast("int64_t") long n, @Cast("void*") long stream);

    public static native int sevc_sigmoid_forward(@Cast("const float*") long x, @Cast("float*") long y,
            @Cast("int64_t") long n, @Cast("void*") long stream);

    public static native int sevc_sigmoid_backward(@Cast("const float*") long y, @Cast("const float*") long dy,
            @Cast("float*") long dx, @Cast("int64_t") long n, @Cast("void*") long stream);

    /** Same mask as {@code NativeCore.sev_dropout_forward} for the same seed (counter-based). */
    public static native int sevc_dropout_forward(@Cast("const float*") long x, @Cast("float*") long y,
            @Cast("float*") long mask, @Cast("int64_t") long n, float p, @Cast("uint64_t") long seed,
            @Cast("void*") long stream);

    /** In place: y[n,c,s] += bias[c] (then ReLU when relu != 0) — the conv epilogue. */
    public static native int sevc_bias_relu(@Cast("float*") long y, @Cast("const float*") long bias,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s, int relu,
            @Cast("void*") long stream);

    // ---- channel concat / split / scale ----
    public static native int sevc_concat_channels(@Cast("const float*") long a, @Cast("const float*") long b,
            @Cast("float*") long y, @Cast("int64_t") long n, @Cast("int64_t") long ca, @Cast("int64_t") long cb,
            @Cast("int64_t") long s, @Cast("void*") long stream);

    public static native int sevc_split_channels(@Cast("const float*") long y, @Cast("float*") long a,
            @Cast("float*") long b, @Cast("int64_t") long n, @Cast("int64_t") long ca, @Cast("int64_t") long cb,
            @Cast("int64_t") long s, @Cast("void*") long stream);

    public static native int sevc_channel_scale_forward(@Cast("const float*") long x, @Cast("const float*") long g,
            @Cast("float*") long y, @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s,
            @Cast("void*") long stream);

    public static native int sevc_channel_scale_backward(@Cast("const float*") long x, @Cast("const float*") long g,
            @Cast("const float*") long dy, @Cast("float*") long dx, @Cast("float*") long dg, @Cast("int64_t") long n,
            @Cast("int64_t") long c, @Cast("int64_t") long s, @Cast("void*") long stream);

    // ---- batch norm ----
    public static native int sevc_batchnorm_train_forward(@Cast("const float*") long x,
            @Cast("const float*") long gamma, @Cast("const float*") long beta, @Cast("float*") long y,
            @Cast("float*") long saveMean, @Cast("float*") long saveInvstd, @Cast("float*") long runningMean,
            @Cast("float*") long runningVar, @Cast("int64_t") long n, @Cast("int64_t") long c,
            @Cast("int64_t") long s, float eps, float momentum, @Cast("void*") long stream);

    public static native int sevc_batchnorm_eval_forward(@Cast("const float*") long x,
            @Cast("const float*") long gamma, @Cast("const float*") long beta, @Cast("const float*") long runningMean,
            @Cast("const float*") long runningVar, @Cast("float*") long y, @Cast("int64_t") long n,
            @Cast("int64_t") long c, @Cast("int64_t") long s, float eps, int relu, @Cast("void*") long stream);

    public static native int sevc_batchnorm_backward(@Cast("const float*") long x,
            @Cast("const float*") long dy,
            @Cast("const float*") long gamma, @Cast("const float*") long saveMean,
            @Cast("const float*") long saveInvstd, @Cast("float*") long dx, @Cast("float*") long dgamma,
            @Cast("float*") long dbeta, @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s,
            @Cast("void*") long stream);

    // ---- pooling (p: the HOST parameter block of sevnet.h) ----
    public static native int sevc_avgpool3d_forward(@Cast("const float*") long x, @Cast("float*") long y,
            @Cast("const int*") int[] p, @Cast("void*") long stream);

    public static native int sevc_avgpool3d_backward(@Cast("const float*") long dy, @Cast("float*") long dx,
            @Cast("const int*") int[] p, @Cast("void*") long stream);

    public static native int sevc_global_avgpool_forward(@Cast("const float*") long x, @Cast("float*") long y,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s, @Cast("void*") long stream);

    public static native int sevc_global_avgpool_backward(@Cast("const float*") long dy, @Cast("float*") long dx,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s, @Cast("void*") long stream);

    // ---- losses (loss: a device float) ----
    /** A label outside [0, K) makes the loss NaN (the kernel cannot report it without a sync). */
    public static native int sevc_softmax_xent_forward(@Cast("const float*") long logits,
            @Cast("const int64_t*") long labels, @Cast("float*") long probs, @Cast("float*") long loss,
            @Cast("int64_t") long n, @Cast("int64_t") long k, @Cast("void*") long stream);

    public static native int sevc_softmax_xent_backward(@Cast("const float*") long probs,
            @Cast("const int64_t*") long labels, @Cast("float*") long dlogits, float scale, @Cast("int64_t") long n,
            @Cast("int64_t") long k, @Cast("void*") long stream);

    public static native int sevc_bce_logits_forward(@Cast("const float*") long logits,
            @Cast("const float*") long targets, @Cast("float*") long loss, @Cast("int64_t") long n,
            @Cast("int64_t") long k, @Cast("void*") long stream);

    public static native int sevc_bce_logits_backward(@Cast("const float*") long logits,
            @Cast("const float*") long targets, @Cast("float*") long dlogits, float scale, @Cast("int64_t") long n,
            @Cast("int64_t") long k, @Cast("void*") long stream);

    public static native int sevc_softmax(@Cast("const float*") long x, @Cast("float*") long y,
            @Cast("int64_t") long n, @Cast("int64_t") long k, @Cast("void*") long stream);

    // ---- optimizer ----
    public static native int sevc_sgd_momentum_step(@Cast("float*") long w, @Cast("const float*") long g,
            @Cast("float*") long v, @Cast("int64_t") long n, float lr, float momentum, float weightDecay,
            @Cast("void*") long stream);

    /**
     * Every parameter in one launch: w, g, v are DEVICE arrays of {@code count} device pointers, sizes a
     * DEVICE array of int64 element counts.
     */
    /** Every parameter in one launch, a block per chunk: {@code chunkPrefix} from {@link MultiTensorChunks}. */
    public static native int sevc_sgd_momentum_step_multi(@Cast("float* const*") long w,
            @Cast("const float* const*") long g, @Cast("float* const*") long v, @Cast("const int64_t*") long sizes,
            @Cast("const int64_t*") long chunkPrefix, int count, @Cast("int64_t") long chunks,
            @Cast("int64_t") long chunk, float lr, float momentum, float weightDecay, @Cast("void*") long stream);


    // ---- loss scaling (amp.cu) ----
    /**
     * x: a DEVICE array of {@code count} device pointers, sizes a DEVICE array of int64 element counts;
     * clears *nonfinite (a device int) on the stream, then sets it to 1 when any element is an infinity or NaN.
     */
    public static native int sevc_all_finite_multi(@Cast("const float* const*") long x,
            @Cast("const int64_t*") long sizes, @Cast("const int64_t*") long chunkPrefix, int count,
            @Cast("int64_t") long chunks, @Cast("int64_t") long chunk, @Cast("int*") long nonfinite,
            @Cast("void*") long stream);

    /** Every element of every tensor multiplied by alpha in place; tables as {@link #sevc_all_finite_multi}. */
    public static native int sevc_scale_multi(@Cast("float* const*") long x, @Cast("const int64_t*") long sizes,
            @Cast("const int64_t*") long chunkPrefix, int count, @Cast("int64_t") long chunks,
            @Cast("int64_t") long chunk, float alpha, @Cast("void*") long stream);

    // ---- reductions ----
    /** *out (a device double) = the sum of x. */
    public static native int sevc_sum(@Cast("const float*") long x, @Cast("int64_t") long n,
            @Cast("double*") long out, @Cast("void*") long stream);

    // ---- temporal 3x1x1 convolution, C -> C, padding 1 in time, S = H*W ----
    public static native int sevc_temporal_conv3_forward(@Cast("const float*") long x, @Cast("const float*") long w,
            @Cast("float*") long y, int n, int c, int t, @Cast("int64_t") long s, @Cast("void*") long stream);

    public static native int sevc_temporal_conv3_backward_data(@Cast("const float*") long dy,
            @Cast("const float*") long w, @Cast("float*") long dx, int n, int c, int t, @Cast("int64_t") long s,
            @Cast("void*") long stream);

    public static native int sevc_temporal_conv3_backward_weight(@Cast("const float*") long x,
            @Cast("const float*") long dy, @Cast("float*") long dw, int n, int c, int t, @Cast("int64_t") long s,
            @Cast("void*") long stream);

    // ---- the same conv channels-last, [N][T][S][C] (kernels/temporal_conv_ndhwc.cu), fp32 and bf16 ----
    // w [C][C][3] in the call's storage type (bf16: raw uint16 bits, fp32 accumulation, y/dx rounded once);
    // dw always fp32. Bad sizes or a NULL pointer that would be read: SEVC_E_ARG with the reason.
    /**
     * The SEV block's grouped 1x3x3 conv channels-last (kernels/grouped_conv_ndhwc.cu): x/dx [N][T][H][W][C], y/dy
     * [N][T][Ho][Wo][C], w KTRSC [C][1][3][3][cg]; dtype 0 fp32, 1 bf16, 2 fp16 (fp32 sums, one rounding). The forward's
     * epilogue: y = act((conv + bias) + residual), bias fp32 and residual (y's dtype) optional (0).
     */
    public static native int sevc_grouped_conv_ndhwc_forward(@Cast("const void*") long x, @Cast("const void*") long w,
            @Cast("const float*") long bias, @Cast("const void*") long residual, int relu, @Cast("void*") long y, int n,
            int c, int cg, int t, int h, int wd, int s, int dtype, @Cast("void*") long stream);

    public static native int sevc_grouped_conv_ndhwc_backward_data(@Cast("const void*") long dy,
            @Cast("const void*") long w, @Cast("void*") long dx, int n, int c, int cg, int t, int h, int wd, int s,
            int dtype, @Cast("void*") long stream);

    /** dw fp32 KTRSC from x and dy in dtype (split-K, the partials from the stream-ordered pool, added in order). */
    public static native int sevc_grouped_conv_ndhwc_backward_weight(@Cast("const void*") long x,
            @Cast("const void*") long dy, @Cast("float*") long dw, int n, int c, int cg, int t, int h, int wd, int s,
            int dtype, @Cast("void*") long stream);

    /**
     * The SEV block's temporal 3x1x1 conv channels-last on tensor cores (kernels/temporal_conv_ndhwc_tc.cu): x/y/dy/dx
     * [N][T][S][C], w KTRSC [C][3][C]; dtype 0 fp32 (products in TF32), 1 bf16, 2 fp16 (fp32 sums, one rounding). The
     * forward's epilogue as the grouped conv's: y = act((conv + bias) + residual), bias fp32 and residual optional (0).
     */
    public static native int sevc_temporal_conv3_ndhwc_tc_forward(@Cast("const void*") long x,
            @Cast("const void*") long w, @Cast("const float*") long bias, @Cast("const void*") long residual, int relu,
            @Cast("void*") long y, int n, int c, int t, @Cast("int64_t") long s, int dtype, @Cast("void*") long stream);

    public static native int sevc_temporal_conv3_ndhwc_tc_backward_data(@Cast("const void*") long dy,
            @Cast("const void*") long w, @Cast("void*") long dx, int n, int c, int t, @Cast("int64_t") long s,
            int dtype, @Cast("void*") long stream);

    /** dw fp32 KTRSC [C][3][C] from x and dy in dtype (split-K on tensor cores, the partials added in order). */
    public static native int sevc_temporal_conv3_ndhwc_tc_backward_weight(@Cast("const void*") long x,
            @Cast("const void*") long dy, @Cast("float*") long dw, int n, int c, int t, @Cast("int64_t") long s,
            int dtype, @Cast("void*") long stream);

    public static native int sevc_temporal_conv3_ndhwc_forward_f32(@Cast("const float*") long x,
            @Cast("const float*") long w, @Cast("float*") long y, int n, int c, int t, @Cast("int64_t") long s,
            @Cast("void*") long stream);

    public static native int sevc_temporal_conv3_ndhwc_forward_bf16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long w, @Cast("uint16_t*") long y, int n, int c, int t, @Cast("int64_t") long s,
            @Cast("void*") long stream);

    public static native int sevc_temporal_conv3_ndhwc_backward_data_f32(@Cast("const float*") long dy,
            @Cast("const float*") long w, @Cast("float*") long dx, int n, int c, int t, @Cast("int64_t") long s,
            @Cast("void*") long stream);

    public static native int sevc_temporal_conv3_ndhwc_backward_data_bf16(@Cast("const uint16_t*") long dy,
            @Cast("const uint16_t*") long w, @Cast("uint16_t*") long dx, int n, int c, int t, @Cast("int64_t") long s,
            @Cast("void*") long stream);

    public static native int sevc_temporal_conv3_ndhwc_backward_weight_f32(@Cast("const float*") long x,
            @Cast("const float*") long dy, @Cast("float*") long dw, int n, int c, int t, @Cast("int64_t") long s,
            @Cast("void*") long stream);

    public static native int sevc_temporal_conv3_ndhwc_backward_weight_bf16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long dy, @Cast("float*") long dw, int n, int c, int t, @Cast("int64_t") long s,
            @Cast("void*") long stream);
    // ---- fused conv -> batch norm -> ReLU of the SEV block (kernels/conv_bn_relu.cu) ----
    /**
     * 1x1x1 conv, Cin -> Cout, stride 1, S = T*H*W, with the inference epilogue: runningMean != 0: BN with
     * the running statistics (gamma, beta may be 0), else + bias (may be 0); then ReLU when relu != 0.
     */
    public static native int sevc_pointwise_conv_forward(@Cast("const float*") long x, @Cast("const float*") long w,
            @Cast("const float*") long bias, @Cast("const float*") long gamma, @Cast("const float*") long beta,
            @Cast("const float*") long runningMean, @Cast("const float*") long runningVar, float eps, int relu,
            @Cast("float*") long y, int n, int cin, int cout, @Cast("int64_t") long s, @Cast("void*") long stream);

    /** Training form: z = conv(x, w); batch statistics of z (running stats updated); y = relu?(BN(z)). */
    public static native int sevc_pointwise_conv_bn_train(@Cast("const float*") long x, @Cast("const float*") long w,
            @Cast("const float*") long gamma, @Cast("const float*") long beta, @Cast("float*") long z,
            @Cast("float*") long y, @Cast("float*") long saveMean, @Cast("float*") long saveInvstd,
            @Cast("float*") long runningMean, @Cast("float*") long runningVar, float eps, float momentum, int relu,
            int n, int cin, int cout, @Cast("int64_t") long s, @Cast("void*") long stream);

    /** Grouped 1x3x3 conv, C -> C, padding (0,1,1), stride (1,s,s), s in {1,2}, cg in 1..16; epilogue as above. */
    public static native int sevc_grouped_conv3x3_forward(@Cast("const float*") long x, @Cast("const float*") long w,
            @Cast("const float*") long bias, @Cast("const float*") long gamma, @Cast("const float*") long beta,
            @Cast("const float*") long runningMean, @Cast("const float*") long runningVar, float eps, int relu,
            @Cast("float*") long y, int n, int c, int cg, int t, int h, int wd, int stride,
            @Cast("void*") long stream);

    /** Its 16-bit inference form: x, w, y bf16 / fp16 bits; fp32 accumulation and epilogue, y rounded once. */
    public static native int sevc_grouped_conv3x3_forward_bf16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long w, @Cast("const float*") long bias, @Cast("const float*") long gamma,
            @Cast("const float*") long beta, @Cast("const float*") long runningMean,
            @Cast("const float*") long runningVar, float eps, int relu, @Cast("uint16_t*") long y, int n, int c, int cg,
            int t, int h, int wd, int stride, @Cast("void*") long stream);

    public static native int sevc_grouped_conv3x3_forward_f16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long w, @Cast("const float*") long bias, @Cast("const float*") long gamma,
            @Cast("const float*") long beta, @Cast("const float*") long runningMean,
            @Cast("const float*") long runningVar, float eps, int relu, @Cast("uint16_t*") long y, int n, int c, int cg,
            int t, int h, int wd, int stride, @Cast("void*") long stream);

    public static native int sevc_grouped_conv3x3_bn_train(@Cast("const float*") long x, @Cast("const float*") long w,
            @Cast("const float*") long gamma, @Cast("const float*") long beta, @Cast("float*") long z,
            @Cast("float*") long y, @Cast("float*") long saveMean, @Cast("float*") long saveInvstd,
            @Cast("float*") long runningMean, @Cast("float*") long runningVar, float eps, float momentum, int relu,
            int n, int c, int cg, int t, int h, int wd, int stride, @Cast("void*") long stream);

    public static native int sevc_grouped_conv3x3_backward_data(@Cast("const float*") long dy,
            @Cast("const float*") long w, @Cast("float*") long dx, int n, int c, int cg, int t, int h, int wd,
            int stride, @Cast("void*") long stream);

    /** Its 16-bit form: dy, w, dx bf16 / fp16 bits; fp32 accumulation, dx rounded once. */
    public static native int sevc_grouped_conv3x3_backward_data_bf16(@Cast("const uint16_t*") long dy,
            @Cast("const uint16_t*") long w, @Cast("uint16_t*") long dx, int n, int c, int cg, int t, int h, int wd,
            int stride, @Cast("void*") long stream);

    public static native int sevc_grouped_conv3x3_backward_data_f16(@Cast("const uint16_t*") long dy,
            @Cast("const uint16_t*") long w, @Cast("uint16_t*") long dx, int n, int c, int cg, int t, int h, int wd,
            int stride, @Cast("void*") long stream);

    public static native int sevc_grouped_conv3x3_backward_weight(@Cast("const float*") long x,
            @Cast("const float*") long dy, @Cast("float*") long dw, int n, int c, int cg, int t, int h, int wd,
            int stride, @Cast("void*") long stream);

    /** Batch norm (training) over [N, C, S], + residual (may be 0), then ReLU when relu != 0. */
    public static native int sevc_bn_act_train_forward(@Cast("const float*") long x,
            @Cast("const float*") long residual, @Cast("const float*") long gamma, @Cast("const float*") long beta,
            @Cast("float*") long y, @Cast("float*") long saveMean, @Cast("float*") long saveInvstd,
            @Cast("float*") long runningMean, @Cast("float*") long runningVar, @Cast("int64_t") long n,
            @Cast("int64_t") long c, @Cast("int64_t") long s, float eps, float momentum, int relu,
            @Cast("void*") long stream);

    /** Its backward: g = dy where y > 0 (y == 0: no ReLU); BN backward of g; dresidual (may be 0) = g. */
    public static native int sevc_bn_act_backward(@Cast("const float*") long x, @Cast("const float*") long y,
            @Cast("const float*") long dy, @Cast("const float*") long gamma, @Cast("const float*") long saveMean,
            @Cast("const float*") long saveInvstd, @Cast("float*") long dx, @Cast("float*") long dgamma,
            @Cast("float*") long dbeta, @Cast("float*") long dresidual, @Cast("int64_t") long n,
            @Cast("int64_t") long c, @Cast("int64_t") long s, @Cast("void*") long stream);

    // ---- 16-bit inference glue (kernels/half_ops.cu): 16-bit tensors as raw bits (void*), dtype code
    // CudnnTypes.kernelCode: 1 bfloat16, 2 float16 (0 float32 for sevc_cast); biases and SE gates float32 ----

    /** In place on y [N, C, S]: y = act(y + bias[c] (0: none) + residual (0: none)), act ReLU when relu != 0. */
    public static native int sevc_half_bias_act(@Cast("void*") long y, @Cast("const float*") long bias,
            @Cast("const void*") long residual, @Cast("int64_t") long n, @Cast("int64_t") long c,
            @Cast("int64_t") long s, int relu, int dtype, @Cast("void*") long stream);

    /** y = act(a + b) (b 0: y = act(a)). */
    public static native int sevc_half_add_act(@Cast("const void*") long a, @Cast("const void*") long b,
            @Cast("void*") long y, @Cast("int64_t") long n, int relu, int dtype, @Cast("void*") long stream);

    public static native int sevc_half_avgpool3d_forward(@Cast("const void*") long x, @Cast("void*") long y,
            @Cast("const int*") int[] p, int dtype, @Cast("void*") long stream);

    /** 16-bit [N, C, S] -> float32 [N, C]. */
    public static native int sevc_half_global_avgpool_forward(@Cast("const void*") long x, @Cast("float*") long y,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s, int dtype,
            @Cast("void*") long stream);

    public static native int sevc_half_channel_scale_forward(@Cast("const void*") long x, @Cast("const float*") long g,
            @Cast("void*") long y, @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s,
            int dtype, @Cast("void*") long stream);

    public static native int sevc_half_concat_channels(@Cast("const void*") long a, @Cast("const void*") long b,
            @Cast("void*") long y, @Cast("int64_t") long n, @Cast("int64_t") long ca, @Cast("int64_t") long cb,
            @Cast("int64_t") long s, @Cast("void*") long stream);

    /** n elements from dtype code {@code from} to {@code to}: float32 <-> bfloat16 / float16. */
    public static native int sevc_cast(@Cast("const void*") long x, int from, @Cast("void*") long y, int to,
            @Cast("int64_t") long n, @Cast("void*") long stream);
    // ---- end of the 16-bit block ----

    // ---- batch norm + residual + ReLU in 16-bit storage (bf16, fp16) -------------------------------------
    // PyTorch autocast's BN: x, residual, y, dy, dx, dresidual raw 16-bit bits (uint16_t); gamma, beta, the
    // running and saved statistics, dgamma, dbeta fp32. Same arguments and semantics as sevc_bn_act_train_forward
    // / sevc_bn_act_backward; y and dx rounded once (fp16: beyond 65504 is +-inf); the ReLU mask is the stored y.
    // CudaBackend's 16-bit batch norm (training forms, every kernel mode). CPU references: NativeCore.sev_batchnorm_act_*.

    public static native int sevc_bn_act_train_forward_bf16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long residual, @Cast("const float*") long gamma,
            @Cast("const float*") long beta, @Cast("uint16_t*") long y, @Cast("float*") long saveMean,
            @Cast("float*") long saveInvstd, @Cast("float*") long runningMean, @Cast("float*") long runningVar,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s, float eps, float momentum,
            int relu, @Cast("void*") long stream);

    public static native int sevc_bn_act_train_forward_f16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long residual, @Cast("const float*") long gamma,
            @Cast("const float*") long beta, @Cast("uint16_t*") long y, @Cast("float*") long saveMean,
            @Cast("float*") long saveInvstd, @Cast("float*") long runningMean, @Cast("float*") long runningVar,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s, float eps, float momentum,
            int relu, @Cast("void*") long stream);

    public static native int sevc_bn_act_backward_bf16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long y, @Cast("const uint16_t*") long dy, @Cast("const float*") long gamma,
            @Cast("const float*") long saveMean, @Cast("const float*") long saveInvstd, @Cast("uint16_t*") long dx,
            @Cast("float*") long dgamma, @Cast("float*") long dbeta, @Cast("uint16_t*") long dresidual,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s, @Cast("void*") long stream);

    public static native int sevc_bn_act_backward_f16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long y, @Cast("const uint16_t*") long dy, @Cast("const float*") long gamma,
            @Cast("const float*") long saveMean, @Cast("const float*") long saveInvstd, @Cast("uint16_t*") long dx,
            @Cast("float*") long dgamma, @Cast("float*") long dbeta, @Cast("uint16_t*") long dresidual,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s, @Cast("void*") long stream);
    // ---- end of the 16-bit batch norm block ----

    // ---- 16-bit training glue (kernels/half_ops.cu, the end of half_ops.cuh): the gradient-side ops of
    // mixed-precision training; 16-bit tensors raw bits (void*), dtype code CudnnTypes.kernelCode (1 bfloat16,
    // 2 float16); fp32 arithmetic in the fp32 kernel's order, one rounding per 16-bit store. The 16-bit add is
    // sevc_half_add_act with relu 0. CPU reference: widen, the fp32 NativeCore.sev_* op, round ----

    /** dx = dy where the stored 16-bit y > 0, else +0. */
    public static native int sevc_half_relu_backward(@Cast("const void*") long y, @Cast("const void*") long dy,
            @Cast("void*") long dx, @Cast("int64_t") long n, int dtype, @Cast("void*") long stream);

    /** In place: y = alpha * x + beta * y (beta == 0: y not read). */
    public static native int sevc_half_axpby(float alpha, @Cast("const void*") long x, float beta,
            @Cast("void*") long y, @Cast("int64_t") long n, int dtype, @Cast("void*") long stream);

    public static native int sevc_half_avgpool3d_backward(@Cast("const void*") long dy, @Cast("void*") long dx,
            @Cast("const int*") int[] p, int dtype, @Cast("void*") long stream);

    public static native int sevc_half_split_channels(@Cast("const void*") long y, @Cast("void*") long a,
            @Cast("void*") long b, @Cast("int64_t") long n, @Cast("int64_t") long ca, @Cast("int64_t") long cb,
            @Cast("int64_t") long s, @Cast("void*") long stream);

    /** dx = dy * g[n,c] (16-bit), dg[n,c] = sum dy * x (float32). */
    public static native int sevc_half_channel_scale_backward(@Cast("const void*") long x,
            @Cast("const float*") long g, @Cast("const void*") long dy, @Cast("void*") long dx,
            @Cast("float*") long dg, @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s,
            int dtype, @Cast("void*") long stream);

    /** Batch norm with the running statistics on 16-bit x / y (float32 parameters), ReLU when relu != 0. */
    public static native int sevc_half_batchnorm_eval_forward(@Cast("const void*") long x,
            @Cast("const float*") long gamma, @Cast("const float*") long beta, @Cast("const float*") long runningMean,
            @Cast("const float*") long runningVar, @Cast("void*") long y, @Cast("int64_t") long n,
            @Cast("int64_t") long c, @Cast("int64_t") long s, float eps, int relu, int dtype,
            @Cast("void*") long stream);
    // ---- end of the 16-bit training glue ----

    // ---- channels-last batch norm (kernels/batchnorm_ndhwc.cu): x, residual, y, dy, dx, dresidual [M][C],
    // M = N*T*H*W rows, C innermost; 16-bit forms raw bits, gamma, beta, statistics, dgamma, dbeta fp32. Semantics
    // of sevc_bn_act_* / sevc_batchnorm_eval_forward with N*S = M. Training calls take scratch: a device buffer of
    // sevc_bn_act_ndhwc_scratch_bytes(m, c) bytes used on the stream only, or 0 for the stream-ordered pool.
    // CPU references: NativeCore.sev_*_ndhwc_* ----

    public static native @Cast("int64_t") long sevc_bn_act_ndhwc_scratch_bytes(@Cast("int64_t") long m,
            @Cast("int64_t") long c);

    public static native int sevc_bn_act_train_forward_ndhwc_f32(@Cast("const float*") long x,
            @Cast("const float*") long residual, @Cast("const float*") long gamma, @Cast("const float*") long beta,
            @Cast("float*") long y, @Cast("float*") long saveMean, @Cast("float*") long saveInvstd,
            @Cast("float*") long runningMean, @Cast("float*") long runningVar, @Cast("int64_t") long m,
            @Cast("int64_t") long c, float eps, float momentum, int relu, @Cast("void*") long scratch,
            @Cast("int64_t") long scratchBytes, @Cast("void*") long stream);

    public static native int sevc_bn_act_train_forward_ndhwc_bf16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long residual, @Cast("const float*") long gamma, @Cast("const float*") long beta,
            @Cast("uint16_t*") long y, @Cast("float*") long saveMean, @Cast("float*") long saveInvstd,
            @Cast("float*") long runningMean, @Cast("float*") long runningVar, @Cast("int64_t") long m,
            @Cast("int64_t") long c, float eps, float momentum, int relu, @Cast("void*") long scratch,
            @Cast("int64_t") long scratchBytes, @Cast("void*") long stream);

    public static native int sevc_bn_act_train_forward_ndhwc_f16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long residual, @Cast("const float*") long gamma, @Cast("const float*") long beta,
            @Cast("uint16_t*") long y, @Cast("float*") long saveMean, @Cast("float*") long saveInvstd,
            @Cast("float*") long runningMean, @Cast("float*") long runningVar, @Cast("int64_t") long m,
            @Cast("int64_t") long c, float eps, float momentum, int relu, @Cast("void*") long scratch,
            @Cast("int64_t") long scratchBytes, @Cast("void*") long stream);

    public static native int sevc_bn_act_backward_ndhwc_f32(@Cast("const float*") long x, @Cast("const float*") long y,
            @Cast("const float*") long dy, @Cast("const float*") long gamma, @Cast("const float*") long saveMean,
            @Cast("const float*") long saveInvstd, @Cast("float*") long dx, @Cast("float*") long dgamma,
            @Cast("float*") long dbeta, @Cast("float*") long dresidual, @Cast("int64_t") long m,
            @Cast("int64_t") long c, @Cast("void*") long scratch, @Cast("int64_t") long scratchBytes,
            @Cast("void*") long stream);

    public static native int sevc_bn_act_backward_ndhwc_bf16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long y, @Cast("const uint16_t*") long dy, @Cast("const float*") long gamma,
            @Cast("const float*") long saveMean, @Cast("const float*") long saveInvstd, @Cast("uint16_t*") long dx,
            @Cast("float*") long dgamma, @Cast("float*") long dbeta, @Cast("uint16_t*") long dresidual,
            @Cast("int64_t") long m, @Cast("int64_t") long c, @Cast("void*") long scratch,
            @Cast("int64_t") long scratchBytes, @Cast("void*") long stream);

    public static native int sevc_bn_act_backward_ndhwc_f16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long y, @Cast("const uint16_t*") long dy, @Cast("const float*") long gamma,
            @Cast("const float*") long saveMean, @Cast("const float*") long saveInvstd, @Cast("uint16_t*") long dx,
            @Cast("float*") long dgamma, @Cast("float*") long dbeta, @Cast("uint16_t*") long dresidual,
            @Cast("int64_t") long m, @Cast("int64_t") long c, @Cast("void*") long scratch,
            @Cast("int64_t") long scratchBytes, @Cast("void*") long stream);

    public static native int sevc_bn_relu_backward_ndhwc_f32(@Cast("const float*") long x,
            @Cast("const float*") long dy,
            @Cast("const float*") long gamma, @Cast("const float*") long beta, @Cast("const float*") long saveMean,
            @Cast("const float*") long saveInvstd, @Cast("float*") long dx, @Cast("float*") long dgamma,
            @Cast("float*") long dbeta, @Cast("int64_t") long m, @Cast("int64_t") long c, @Cast("void*") long scratch,
            @Cast("int64_t") long scratchBytes, @Cast("void*") long stream);

    public static native int sevc_bn_relu_backward_ndhwc_bf16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long dy,
            @Cast("const float*") long gamma, @Cast("const float*") long beta, @Cast("const float*") long saveMean,
            @Cast("const float*") long saveInvstd, @Cast("uint16_t*") long dx, @Cast("float*") long dgamma,
            @Cast("float*") long dbeta, @Cast("int64_t") long m, @Cast("int64_t") long c, @Cast("void*") long scratch,
            @Cast("int64_t") long scratchBytes, @Cast("void*") long stream);

    public static native int sevc_bn_relu_backward_ndhwc_f16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long dy,
            @Cast("const float*") long gamma, @Cast("const float*") long beta, @Cast("const float*") long saveMean,
            @Cast("const float*") long saveInvstd, @Cast("uint16_t*") long dx, @Cast("float*") long dgamma,
            @Cast("float*") long dbeta, @Cast("int64_t") long m, @Cast("int64_t") long c, @Cast("void*") long scratch,
            @Cast("int64_t") long scratchBytes, @Cast("void*") long stream);

    public static native int sevc_batchnorm_eval_ndhwc_f32(@Cast("const float*") long x,
            @Cast("const float*") long gamma, @Cast("const float*") long beta, @Cast("const float*") long runningMean,
            @Cast("const float*") long runningVar, @Cast("float*") long y, @Cast("int64_t") long m,
            @Cast("int64_t") long c, float eps, int relu, @Cast("void*") long stream);

    public static native int sevc_batchnorm_eval_ndhwc_bf16(@Cast("const uint16_t*") long x,
            @Cast("const float*") long gamma, @Cast("const float*") long beta, @Cast("const float*") long runningMean,
            @Cast("const float*") long runningVar, @Cast("uint16_t*") long y, @Cast("int64_t") long m,
            @Cast("int64_t") long c, float eps, int relu, @Cast("void*") long stream);

    public static native int sevc_batchnorm_eval_ndhwc_f16(@Cast("const uint16_t*") long x,
            @Cast("const float*") long gamma, @Cast("const float*") long beta, @Cast("const float*") long runningMean,
            @Cast("const float*") long runningVar, @Cast("uint16_t*") long y, @Cast("int64_t") long m,
            @Cast("int64_t") long c, float eps, int relu, @Cast("void*") long stream);
    // ---- end of channels-last batch norm ----

    // ---- channels-last glue (kernels/channels_ndhwc.cu): activations [N][S][C] (S = T*H*W, M = N*S rows); dtype
    // 0 float32, 1 bfloat16, 2 float16 (raw bits; loads widened, fp32 arithmetic, one rounding per store); elemBytes
    // 4 or 2 for the bit copies; gates, biases, dg and pooled means float32. CPU references: NativeCore.sev_*_ndhwc*
    // (transpose, the NCDHW op, transpose back). ----

    /** [N][C][S] -> [N][S][C] (also a conv weight [Cout][Cin/g][k] -> cuDNN's NHWC filter: n = Cout, c = Cin/g). */
    public static native int sevc_ncdhw_to_ndhwc(@Cast("const void*") long x, @Cast("void*") long y,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s, int elemBytes,
            @Cast("void*") long stream);

    /** [N][S][C] -> [N][C][S]. */
    public static native int sevc_ndhwc_to_ncdhw(@Cast("const void*") long x, @Cast("void*") long y,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s, int elemBytes,
            @Cast("void*") long stream);

    /** In place on y [M][C]: y = act(y + bias[c] (0: none) + residual (0: none)), act ReLU when relu != 0. */
    public static native int sevc_bias_act_ndhwc(@Cast("void*") long y, @Cast("const float*") long bias,
            @Cast("const void*") long residual, @Cast("int64_t") long m, @Cast("int64_t") long c, int relu, int dtype,
            @Cast("void*") long stream);

    /** y[n][s][c] = x[n][s][c] * g[n][c]. */
    public static native int sevc_channel_scale_ndhwc_forward(@Cast("const void*") long x,
            @Cast("const float*") long g, @Cast("void*") long y, @Cast("int64_t") long n, @Cast("int64_t") long c,
            @Cast("int64_t") long s, int dtype, @Cast("void*") long stream);

    /** dx = dy * g[n][c]; dg[n][c] = sum_s dy * x (double, fixed order). float32. */
    public static native int sevc_channel_scale_ndhwc_backward(@Cast("const float*") long x,
            @Cast("const float*") long g, @Cast("const float*") long dy, @Cast("float*") long dx,
            @Cast("float*") long dg, @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s,
            @Cast("void*") long stream);

    /** [N][S][C] -> float32 [N][C] means. */
    public static native int sevc_global_avgpool_ndhwc_forward(@Cast("const void*") long x, @Cast("float*") long y,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s, int dtype,
            @Cast("void*") long stream);

    /** dx[n][s][c] = dy[n][c] / S. */
    public static native int sevc_global_avgpool_ndhwc_backward(@Cast("const float*") long dy, @Cast("void*") long dx,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s, int dtype,
            @Cast("void*") long stream);

    /** [M][Ca] ++ [M][Cb] -> [M][Ca+Cb]. */
    public static native int sevc_concat_channels_ndhwc(@Cast("const void*") long a, @Cast("const void*") long b,
            @Cast("void*") long y, @Cast("int64_t") long m, @Cast("int64_t") long ca, @Cast("int64_t") long cb,
            int elemBytes, @Cast("void*") long stream);

    public static native int sevc_split_channels_ndhwc(@Cast("const void*") long y, @Cast("void*") long a,
            @Cast("void*") long b, @Cast("int64_t") long m, @Cast("int64_t") long ca, @Cast("int64_t") long cb,
            int elemBytes, @Cast("void*") long stream);

    /** count_include_pad average pooling of [N][T][H][W][C], the 19-int parameter block p (a host array). */
    public static native int sevc_avgpool3d_ndhwc_forward(@Cast("const void*") long x, @Cast("void*") long y,
            @Cast("const int*") int[] p, int dtype, @Cast("void*") long stream);

    public static native int sevc_avgpool3d_ndhwc_backward(@Cast("const void*") long dy, @Cast("void*") long dx,
            @Cast("const int*") int[] p, int dtype, @Cast("void*") long stream);
    // ---- end of channels-last glue ----
}
