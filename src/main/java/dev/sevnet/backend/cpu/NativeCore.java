package dev.sevnet.backend.cpu;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * JavaCPP binding of the native core's C ABI ({@code native/include/sevnet.h}).
 *
 * <p>Pointers are passed as raw addresses ({@code long}) of tensors that Java has already validated:
 * nothing here checks arguments. Only {@link CpuBackend} calls these functions.
 */
@Platform(include = "sevnet.h", link = "sevnet", preload = "sevnet_env")
public final class NativeCore {
    static {
        Loader.load();
        String flush = System.getProperty("sevnet.flushDenormals");
        if (flush != null && flush.trim().matches("(?i)false|0|off|no")) {
            sev_set_flush_denormals(0);
        }
    }

    private NativeCore() {
    }

    /** Forces the library to load (throws {@link UnsatisfiedLinkError} with the cause if it cannot). */
    public static void ensureLoaded() {
        // the static initialiser did the work
    }

    public static native @Cast("const char*") String sev_version();

    public static native @Cast("const char*") String sev_last_error();

    public static native int sev_set_num_threads(int n);

    public static native int sev_get_num_threads();

    public static native int sev_set_thread_num_threads(int n);

    public static native int sev_get_thread_num_threads();

    public static native int sev_set_flush_denormals(int on);

    public static native int sev_get_flush_denormals();

    public static native int sev_denormal_probe(float a, float b, @Cast("float*") float[] out, int cap);

    public static native @Cast("const char*") String sev_cpu_features();

    /** 2 AVX-512, 1 AVX2+FMA, 0 baseline: the build of the vectorized CPU kernels in use (SEV_ISA caps it). */
    public static native int sev_cpu_kernels();

    public static native int sev_advise_huge_pages(@Cast("void*") long p, long bytes);

    public static native int sev_set_fp32_precision(int precision);

    public static native int sev_get_fp32_precision();

    public static native int sev_amx_bf16_available();

    public static native int sev_bf16_kernel();

    public static native int sev_bf16_kernel_available(int kernel);

    public static native int sev_set_bf16_kernel(int kernel);

    public static native int sev_sgemm_bf16(int transB, @Cast("int64_t") long m, @Cast("int64_t") long n,
            @Cast("int64_t") long k,
            @Cast("const float*") long a, @Cast("int64_t") long lda, @Cast("const float*") long b,
            @Cast("int64_t") long ldb, float beta, @Cast("float*") long c, @Cast("int64_t") long ldc);

    public static native int sev_has_cuda_kernels();

    public static native int sev_cuda_probe(@Cast("char*") byte[] buf, int len);

    // ---- convolution ----
    public static native int sev_conv3d_forward(@Cast("const float*") long x, @Cast("const float*") long w,
            @Cast("const float*") long bias, @Cast("float*") long y, @Cast("const int*") int[] p, int relu);

    public static native int sev_conv3d_forward_residual(@Cast("const float*") long x, @Cast("const float*") long w,
            @Cast("const float*") long bias, @Cast("const float*") long res, @Cast("float*") long y,
            @Cast("const int*") int[] p, int relu);

    public static native int sev_conv3d_batchnorm_eval_forward(@Cast("const float*") long x,
            @Cast("const float*") long w, @Cast("const float*") long gamma, @Cast("const float*") long beta,
            @Cast("const float*") long runningMean, @Cast("const float*") long runningVar, float eps,
            @Cast("const float*") long res, @Cast("float*") long y, @Cast("const int*") int[] p, int relu);

    public static native int sev_conv3d_forward_reference(@Cast("const float*") long x, @Cast("const float*") long w,
            @Cast("const float*") long bias, @Cast("float*") long y, @Cast("const int*") int[] p, int relu);

    public static native int sev_conv3d_backward_data(@Cast("const float*") long dy, @Cast("const float*") long w,
            @Cast("float*") long dx, @Cast("const int*") int[] p);

    public static native int sev_conv3d_backward_weight(@Cast("const float*") long x,
            @Cast("const float*") long dy,
            @Cast("float*") long dw, @Cast("const int*") int[] p);

    // ---- temporal 3x1x1 conv in channels-last layout [N][T][S][C] (CPU references, plain loops in double) ----
    // w [C][C][3] in the call's storage type (bf16: raw uint16 bits), dw always fp32
    /** CPU references of the channels-last grouped 1x3x3 conv kernels (sevnet.h, grouped_conv_ndhwc.cpp). */
    public static native int sev_grouped_conv_ndhwc_forward(@Cast("const void*") long x, @Cast("const void*") long w,
            @Cast("void*") long y, int n, int c, int cg, int t, int h, int wd, int s, int dtype);

    public static native int sev_grouped_conv_ndhwc_backward_data(@Cast("const void*") long dy,
            @Cast("const void*") long w, @Cast("void*") long dx, int n, int c, int cg, int t, int h, int wd, int s,
            int dtype);

    public static native int sev_grouped_conv_ndhwc_backward_weight(@Cast("const void*") long x,
            @Cast("const void*") long dy, @Cast("float*") long dw, int n, int c, int cg, int t, int h, int wd, int s,
            int dtype);

    public static native int sev_temporal_conv3_ndhwc_forward_f32(@Cast("const float*") long x,
            @Cast("const float*") long w, @Cast("float*") long y, int n, int c, int t, @Cast("int64_t") long s);

    public static native int sev_temporal_conv3_ndhwc_forward_bf16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long w, @Cast("uint16_t*") long y, int n, int c, int t, @Cast("int64_t") long s);

    public static native int sev_temporal_conv3_ndhwc_backward_data_f32(@Cast("const float*") long dy,
            @Cast("const float*") long w, @Cast("float*") long dx, int n, int c, int t, @Cast("int64_t") long s);

    public static native int sev_temporal_conv3_ndhwc_backward_data_bf16(@Cast("const uint16_t*") long dy,
            @Cast("const uint16_t*") long w, @Cast("uint16_t*") long dx, int n, int c, int t, @Cast("int64_t") long s);

    public static native int sev_temporal_conv3_ndhwc_backward_weight_f32(@Cast("const float*") long x,
            @Cast("const float*") long dy, @Cast("float*") long dw, int n, int c, int t, @Cast("int64_t") long s);

    public static native int sev_temporal_conv3_ndhwc_backward_weight_bf16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long dy, @Cast("float*") long dw, int n, int c, int t, @Cast("int64_t") long s);

    /** [N, C, S] -> [N, S, C] (NCDHW -> NDHWC, S = T*H*W), fp32. */
    public static native int sev_ncdhw_to_ndhwc(@Cast("const float*") long x, @Cast("float*") long y,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s);

    /** [N, S, C] -> [N, C, S] (NDHWC -> NCDHW), fp32. */
    public static native int sev_ndhwc_to_ncdhw(@Cast("const float*") long x, @Cast("float*") long y,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s);

    public static native int sev_sgemm(int transA, int transB, @Cast("int64_t") long m, @Cast("int64_t") long n,
            @Cast("int64_t") long k, float alpha, @Cast("const float*") long a, @Cast("int64_t") long lda,
            @Cast("const float*") long b, @Cast("int64_t") long ldb, float beta, @Cast("float*") long c,
            @Cast("int64_t") long ldc);

    // ---- batch norm ----
    public static native int sev_batchnorm_train_forward(@Cast("const float*") long x, @Cast("const float*") long gamma,
            @Cast("const float*") long beta, @Cast("float*") long y, @Cast("float*") long saveMean,
            @Cast("float*") long saveInvstd, @Cast("float*") long runningMean, @Cast("float*") long runningVar,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s, float eps, float momentum);

    public static native int sev_batchnorm_eval_forward(@Cast("const float*") long x, @Cast("const float*") long gamma,
            @Cast("const float*") long beta, @Cast("const float*") long runningMean,
            @Cast("const float*") long runningVar, @Cast("float*") long y, @Cast("int64_t") long n,
            @Cast("int64_t") long c, @Cast("int64_t") long s, float eps, int relu);

    public static native int sev_batchnorm_backward(@Cast("const float*") long x,
            @Cast("const float*") long dy,
            @Cast("const float*") long gamma, @Cast("const float*") long saveMean,
            @Cast("const float*") long saveInvstd, @Cast("float*") long dx, @Cast("float*") long dgamma,
            @Cast("float*") long dbeta, @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s);

    public static native int sev_batchnorm_act_train_forward(@Cast("const float*") long x,
            @Cast("const float*") long residual, @Cast("const float*") long gamma, @Cast("const float*") long beta,
            @Cast("float*") long y, @Cast("float*") long saveMean, @Cast("float*") long saveInvstd,
            @Cast("float*") long runningMean, @Cast("float*") long runningVar, @Cast("int64_t") long n,
            @Cast("int64_t") long c, @Cast("int64_t") long s, float eps, float momentum, int relu);

    public static native int sev_batchnorm_act_backward(@Cast("const float*") long x, @Cast("const float*") long y,
            @Cast("const float*") long dy, @Cast("const float*") long gamma, @Cast("const float*") long saveMean,
            @Cast("const float*") long saveInvstd, @Cast("float*") long dx, @Cast("float*") long dgamma,
            @Cast("float*") long dbeta, @Cast("float*") long dresidual, @Cast("int64_t") long n,
            @Cast("int64_t") long c, @Cast("int64_t") long s);

    public static native int sev_batchnorm_relu_backward(@Cast("const float*") long x,
            @Cast("const float*") long dy,
            @Cast("const float*") long gamma, @Cast("const float*") long beta, @Cast("const float*") long saveMean,
            @Cast("const float*") long saveInvstd, @Cast("float*") long dx, @Cast("float*") long dgamma,
            @Cast("float*") long dbeta, @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s);

    // ---- element-wise ----
    public static native int sev_relu_forward(@Cast("const float*") long x, @Cast("float*") long y, @Cast("int64_t") long n);

    public static native int sev_relu_backward(@Cast("const float*") long y, @Cast("const float*") long dy,
            @Cast("float*") long dx, @Cast("int64_t") long n);

    public static native int sev_add(@Cast("const float*") long a, @Cast("const float*") long b, @Cast("float*") long y,
            @Cast("int64_t") long n);

    public static native int sev_axpby(float alpha, @Cast("const float*") long x, float beta, @Cast("float*") long y,
            @Cast("int64_t") long n);

    /** sev_axpby over a list: y[t] = alpha x[t] + beta y[t] for each of the {@code count} tensors, one parallel pass. */
    public static native int sev_axpby_all(float alpha, @Cast("const float* const*") long[] x, float beta,
            @Cast("float* const*") long[] y, @Cast("const int64_t*") long[] sizes, int count);

    public static native int sev_scale(@Cast("const float*") long x, float alpha, @Cast("float*") long y,
            @Cast("int64_t") long n);

    public static native int sev_fill(@Cast("float*") long y, float value, @Cast("int64_t") long n);

    public static native int sev_sigmoid_forward(@Cast("const float*") long x, @Cast("float*") long y,
            @Cast("int64_t") long n);

    public static native int sev_sigmoid_backward(@Cast("const float*") long y, @Cast("const float*") long dy,
            @Cast("float*") long dx, @Cast("int64_t") long n);

    public static native int sev_dropout_forward(@Cast("const float*") long x, @Cast("float*") long y,
            @Cast("float*") long mask, @Cast("int64_t") long n, float p, @Cast("uint64_t") long seed);

    public static native int sev_mul(@Cast("const float*") long a, @Cast("const float*") long b, @Cast("float*") long y,
            @Cast("int64_t") long n);

    public static native int sev_add_relu(@Cast("const float*") long a, @Cast("const float*") long b,
            @Cast("float*") long y, @Cast("int64_t") long n);

    public static native int sev_concat_channels(@Cast("const float*") long a, @Cast("const float*") long b,
            @Cast("float*") long y, @Cast("int64_t") long n, @Cast("int64_t") long ca, @Cast("int64_t") long cb,
            @Cast("int64_t") long s);

    public static native int sev_split_channels(@Cast("const float*") long y, @Cast("float*") long a,
            @Cast("float*") long b, @Cast("int64_t") long n, @Cast("int64_t") long ca, @Cast("int64_t") long cb,
            @Cast("int64_t") long s);

    public static native int sev_channel_scale_forward(@Cast("const float*") long x, @Cast("const float*") long g,
            @Cast("float*") long y, @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s);

    public static native int sev_channel_scale_backward(@Cast("const float*") long x, @Cast("const float*") long g,
            @Cast("const float*") long dy, @Cast("float*") long dx, @Cast("float*") long dg, @Cast("int64_t") long n,
            @Cast("int64_t") long c, @Cast("int64_t") long s);

    // ---- pooling ----
    public static native int sev_avgpool3d_forward(@Cast("const float*") long x, @Cast("float*") long y,
            @Cast("const int*") int[] p);

    public static native int sev_avgpool3d_backward(@Cast("const float*") long dy, @Cast("float*") long dx,
            @Cast("const int*") int[] p);

    /** The plain loops {@link #sev_avgpool3d_forward} is tested against, bit for bit. */
    public static native int sev_avgpool3d_forward_reference(@Cast("const float*") long x, @Cast("float*") long y,
            @Cast("const int*") int[] p);

    /** The plain scatter {@link #sev_avgpool3d_backward} is tested against, bit for bit. */
    public static native int sev_avgpool3d_backward_reference(@Cast("const float*") long dy,
            @Cast("float*") long dx, @Cast("const int*") int[] p);

    public static native int sev_global_avgpool_forward(@Cast("const float*") long x, @Cast("float*") long y,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s);

    public static native int sev_global_avgpool_backward(@Cast("const float*") long dy, @Cast("float*") long dx,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s);

    // ---- losses ----
    public static native int sev_softmax_xent_forward(@Cast("const float*") long logits,
            @Cast("const int64_t*") long labels, @Cast("float*") long probs, @Cast("float*") long loss,
            @Cast("int64_t") long n, @Cast("int64_t") long k);

    public static native int sev_softmax_xent_backward(@Cast("const float*") long probs,
            @Cast("const int64_t*") long labels, @Cast("float*") long dlogits, float scale, @Cast("int64_t") long n,
            @Cast("int64_t") long k);

    public static native int sev_bce_logits_forward(@Cast("const float*") long logits,
            @Cast("const float*") long targets, @Cast("float*") long loss, @Cast("int64_t") long n,
            @Cast("int64_t") long k);

    public static native int sev_bce_logits_backward(@Cast("const float*") long logits,
            @Cast("const float*") long targets, @Cast("float*") long dlogits, float scale, @Cast("int64_t") long n,
            @Cast("int64_t") long k);

    public static native int sev_softmax(@Cast("const float*") long x, @Cast("float*") long y, @Cast("int64_t") long n,
            @Cast("int64_t") long k);

    public static native int sev_sgd_momentum_step(@Cast("float*") long w, @Cast("const float*") long g,
            @Cast("float*") long v, @Cast("int64_t") long n, float lr, float momentum, float weightDecay);

    public static native int sev_sum(@Cast("const float*") long x, @Cast("int64_t") long n, @Cast("double*") double[] out);

    /**
     * 1 when no element of the {@code count} float32 arrays at {@code ptrs} (host addresses; {@code sizes}
     * their element counts) is an infinity or a NaN, 0 when one is, a negative SEV_E* code on bad arguments.
     */
    public static native int sev_all_finite(@Cast("const float* const*") long[] ptrs,
            @Cast("const int64_t*") long[] sizes, int count);

    /** Every element of the {@code count} float32 arrays at {@code ptrs} multiplied by alpha in place. */
    public static native int sev_scale_all(@Cast("float* const*") long[] ptrs, @Cast("const int64_t*") long[] sizes,
            int count, float alpha);

    // ---- the CUDA kernels' bodies (kernels/*.cuh) run on the host: for the tests, which compare them with
    // the CPU ops above (see sevnet.h); same arguments as the sevc_* kernels without the stream ----
    public static native int sev_hostrun_fill(@Cast("float*") long y, float value, @Cast("int64_t") long n);

    public static native int sev_hostrun_relu_forward(@Cast("const float*") long x, @Cast("float*") long y,
            @Cast("int64_t") long n);

    public static native int sev_hostrun_relu_backward(@Cast("const float*") long y, @Cast("const float*") long dy,
            @Cast("float*") long dx, @Cast("int64_t") long n);

    public static native int sev_hostrun_add(@Cast("const float*") long a, @Cast("const float*") long b,
            @Cast("float*") long y, @Cast("int64_t") long n);

    public static native int sev_hostrun_add_relu(@Cast("const float*") long a, @Cast("const float*") long b,
            @Cast("float*") long y, @Cast("int64_t") long n);

    public static native int sev_hostrun_mul(@Cast("const float*") long a, @Cast("const float*") long b,
            @Cast("float*") long y, @Cast("int64_t") long n);

    public static native int sev_hostrun_axpby(float alpha, @Cast("const float*") long x, float beta,
            @Cast("float*") long y, @Cast("int64_t") long n);

    public static native int sev_hostrun_scale(@Cast("const float*") long x, float alpha, @Cast("float*") long y,
            @Cast("int64_t") long n);

    public static native int sev_hostrun_sigmoid_forward(@Cast("const float*") long x, @Cast("float*") long y,
            @Cast("int64_t") long n);

    public static native int sev_hostrun_sigmoid_backward(@Cast("const float*") long y, @Cast("const float*") long dy,
            @Cast("float*") long dx, @Cast("int64_t") long n);

    public static native int sev_hostrun_dropout_forward(@Cast("const float*") long x, @Cast("float*") long y,
            @Cast("float*") long mask, @Cast("int64_t") long n, float p, @Cast("uint64_t") long seed);

    public static native int sev_hostrun_bias_relu(@Cast("float*") long y, @Cast("const float*") long bias,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s, int relu);

    public static native int sev_hostrun_concat_channels(@Cast("const float*") long a, @Cast("const float*") long b,
            @Cast("float*") long y, @Cast("int64_t") long n, @Cast("int64_t") long ca, @Cast("int64_t") long cb,
            @Cast("int64_t") long s);

    public static native int sev_hostrun_split_channels(@Cast("const float*") long y, @Cast("float*") long a,
            @Cast("float*") long b, @Cast("int64_t") long n, @Cast("int64_t") long ca, @Cast("int64_t") long cb,
            @Cast("int64_t") long s);

    public static native int sev_hostrun_channel_scale_forward(@Cast("const float*") long x,
            @Cast("const float*") long g, @Cast("float*") long y, @Cast("int64_t") long n, @Cast("int64_t") long c,
            @Cast("int64_t") long s);

    public static native int sev_hostrun_channel_scale_backward(@Cast("const float*") long x,
            @Cast("const float*") long g, @Cast("const float*") long dy, @Cast("float*") long dx,
            @Cast("float*") long dg, @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s);

    public static native int sev_hostrun_batchnorm_train_forward(@Cast("const float*") long x,
            @Cast("const float*") long gamma, @Cast("const float*") long beta, @Cast("float*") long y,
            @Cast("float*") long saveMean, @Cast("float*") long saveInvstd, @Cast("float*") long runningMean,
            @Cast("float*") long runningVar, @Cast("int64_t") long n, @Cast("int64_t") long c,
            @Cast("int64_t") long s, float eps, float momentum);

    public static native int sev_hostrun_batchnorm_eval_forward(@Cast("const float*") long x,
            @Cast("const float*") long gamma, @Cast("const float*") long beta, @Cast("const float*") long runningMean,
            @Cast("const float*") long runningVar, @Cast("float*") long y, @Cast("int64_t") long n,
            @Cast("int64_t") long c, @Cast("int64_t") long s, float eps, int relu);

    public static native int sev_hostrun_batchnorm_backward(@Cast("const float*") long x,
            @Cast("const float*") long dy, @Cast("const float*") long gamma, @Cast("const float*") long saveMean,
            @Cast("const float*") long saveInvstd, @Cast("float*") long dx, @Cast("float*") long dgamma,
            @Cast("float*") long dbeta, @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s);

    public static native int sev_hostrun_avgpool3d_forward(@Cast("const float*") long x, @Cast("float*") long y,
            @Cast("const int*") int[] p);

    public static native int sev_hostrun_avgpool3d_backward(@Cast("const float*") long dy, @Cast("float*") long dx,
            @Cast("const int*") int[] p);

    public static native int sev_hostrun_global_avgpool_forward(@Cast("const float*") long x, @Cast("float*") long y,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s);

    public static native int sev_hostrun_global_avgpool_backward(@Cast("const float*") long dy,
            @Cast("float*") long dx, @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s);

    public static native int sev_hostrun_softmax(@Cast("const float*") long x, @Cast("float*") long y,
            @Cast("int64_t") long n, @Cast("int64_t") long k);

    public static native int sev_hostrun_softmax_xent_forward(@Cast("const float*") long logits,
            @Cast("const int64_t*") long labels, @Cast("float*") long probs, @Cast("float*") long loss,
            @Cast("int64_t") long n, @Cast("int64_t") long k);

    public static native int sev_hostrun_softmax_xent_backward(@Cast("const float*") long probs,
            @Cast("const int64_t*") long labels, @Cast("float*") long dlogits, float scale, @Cast("int64_t") long n,
            @Cast("int64_t") long k);

    public static native int sev_hostrun_bce_logits_forward(@Cast("const float*") long logits,
            @Cast("const float*") long targets, @Cast("float*") long loss, @Cast("int64_t") long n,
            @Cast("int64_t") long k);

    public static native int sev_hostrun_bce_logits_backward(@Cast("const float*") long logits,
            @Cast("const float*") long targets, @Cast("float*") long dlogits, float scale, @Cast("int64_t") long n,
            @Cast("int64_t") long k);

    public static native int sev_hostrun_sgd_momentum_step(@Cast("float*") long w, @Cast("const float*") long g,
            @Cast("float*") long v, @Cast("int64_t") long n, float lr, float momentum, float weightDecay);

    /** w, g, v: the tensors' host addresses; sizes: their element counts (host arrays of count entries). */
    public static native int sev_hostrun_sgd_momentum_step_multi(@Cast("float* const*") long[] w,
            @Cast("const float* const*") long[] g, @Cast("float* const*") long[] v,
            @Cast("const int64_t*") long[] sizes, @Cast("const int64_t*") long[] chunkPrefix, int count,
            @Cast("int64_t") long chunks, @Cast("int64_t") long chunk, float lr, float momentum, float weightDecay);

    public static native int sev_hostrun_sum(@Cast("const float*") long x, @Cast("int64_t") long n,
            @Cast("double*") double[] out);

    /** x: the tensors' host addresses, sizes their element counts; nonfinite[0] = 1 when one element is not finite. */
    public static native int sev_hostrun_all_finite_multi(@Cast("const float* const*") long[] x,
            @Cast("const int64_t*") long[] sizes, @Cast("const int64_t*") long[] chunkPrefix, int count,
            @Cast("int64_t") long chunks, @Cast("int64_t") long chunk, @Cast("int*") int[] nonfinite);

    public static native int sev_hostrun_axpby_list(float alpha, @Cast("const float* const*") long[] x, float beta,
            @Cast("float* const*") long[] y, @Cast("const int64_t*") long[] sizes, int count);

    public static native int sev_hostrun_scale_multi(@Cast("float* const*") long[] x,
            @Cast("const int64_t*") long[] sizes, @Cast("const int64_t*") long[] chunkPrefix, int count,
            @Cast("int64_t") long chunks, @Cast("int64_t") long chunk, float alpha);

    public static native int sev_hostrun_temporal_conv3_forward(@Cast("const float*") long x,
            @Cast("const float*") long w, @Cast("float*") long y, int n, int c, int t, @Cast("int64_t") long s);

    public static native int sev_hostrun_temporal_conv3_backward_data(@Cast("const float*") long dy,
            @Cast("const float*") long w, @Cast("float*") long dx, int n, int c, int t, @Cast("int64_t") long s);

    public static native int sev_hostrun_temporal_conv3_backward_weight(@Cast("const float*") long x,
            @Cast("const float*") long dy, @Cast("float*") long dw, int n, int c, int t, @Cast("int64_t") long s);

    // channels-last temporal conv (kernels/temporal_conv_ndhwc.cu); these check their arguments as the kernels'
    // launchers do: SEV_EINVAL (-1) with the reason in sev_last_error()
    /** The channels-last grouped 1x3x3 conv kernels' bodies on the host (kernels/grouped_conv_ndhwc.cuh). */
    public static native int sev_hostrun_grouped_conv_ndhwc_forward(@Cast("const void*") long x,
            @Cast("const void*") long w, @Cast("const float*") long bias, @Cast("const void*") long residual, int relu,
            @Cast("void*") long y, int n, int c, int cg, int t, int h, int wd, int s, int dtype);

    public static native int sev_hostrun_grouped_conv_ndhwc_backward_data(@Cast("const void*") long dy,
            @Cast("const void*") long w, @Cast("void*") long dx, int n, int c, int cg, int t, int h, int wd, int s,
            int dtype);

    public static native int sev_hostrun_grouped_conv_ndhwc_backward_weight(@Cast("const void*") long x,
            @Cast("const void*") long dy, @Cast("float*") long dw, int n, int c, int cg, int t, int h, int wd, int s,
            int dtype);

    /** The tensor-core channels-last temporal conv's kernel body on the host (WMMA as loops, fp32 through TF32). */
    public static native int sev_hostrun_temporal_conv3_ndhwc_tc_forward(@Cast("const void*") long x,
            @Cast("const void*") long w, @Cast("const float*") long bias, @Cast("const void*") long residual, int relu,
            @Cast("void*") long y, int n, int c, int t, @Cast("int64_t") long s, int dtype);

    public static native int sev_hostrun_temporal_conv3_ndhwc_tc_backward_data(@Cast("const void*") long dy,
            @Cast("const void*") long w, @Cast("void*") long dx, int n, int c, int t, @Cast("int64_t") long s,
            int dtype);

    public static native int sev_hostrun_temporal_conv3_ndhwc_tc_backward_weight(@Cast("const void*") long x,
            @Cast("const void*") long dy, @Cast("float*") long dw, int n, int c, int t, @Cast("int64_t") long s,
            int dtype);

    public static native int sev_hostrun_temporal_conv3_ndhwc_forward_f32(@Cast("const float*") long x,
            @Cast("const float*") long w, @Cast("float*") long y, int n, int c, int t, @Cast("int64_t") long s);

    public static native int sev_hostrun_temporal_conv3_ndhwc_forward_bf16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long w, @Cast("uint16_t*") long y, int n, int c, int t, @Cast("int64_t") long s);

    public static native int sev_hostrun_temporal_conv3_ndhwc_backward_data_f32(@Cast("const float*") long dy,
            @Cast("const float*") long w, @Cast("float*") long dx, int n, int c, int t, @Cast("int64_t") long s);

    public static native int sev_hostrun_temporal_conv3_ndhwc_backward_data_bf16(@Cast("const uint16_t*") long dy,
            @Cast("const uint16_t*") long w, @Cast("uint16_t*") long dx, int n, int c, int t, @Cast("int64_t") long s);

    public static native int sev_hostrun_temporal_conv3_ndhwc_backward_weight_f32(@Cast("const float*") long x,
            @Cast("const float*") long dy, @Cast("float*") long dw, int n, int c, int t, @Cast("int64_t") long s);

    public static native int sev_hostrun_temporal_conv3_ndhwc_backward_weight_bf16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long dy, @Cast("float*") long dw, int n, int c, int t, @Cast("int64_t") long s);

    // fused conv -> BN -> ReLU (kernels/conv_bn_relu.cu); every pointer a host address, 0 for NULL
    public static native int sev_hostrun_pointwise_conv_forward(@Cast("const float*") long x,
            @Cast("const float*") long w, @Cast("const float*") long bias, @Cast("const float*") long gamma,
            @Cast("const float*") long beta, @Cast("const float*") long runningMean,
            @Cast("const float*") long runningVar, float eps, int relu, @Cast("float*") long y, int n, int cin,
            int cout, @Cast("int64_t") long s);

    public static native int sev_hostrun_pointwise_conv_bn_train(@Cast("const float*") long x,
            @Cast("const float*") long w, @Cast("const float*") long gamma, @Cast("const float*") long beta,
            @Cast("float*") long z, @Cast("float*") long y, @Cast("float*") long saveMean,
            @Cast("float*") long saveInvstd, @Cast("float*") long runningMean, @Cast("float*") long runningVar,
            float eps, float momentum, int relu, int n, int cin, int cout, @Cast("int64_t") long s);

    public static native int sev_hostrun_grouped_conv3x3_forward(@Cast("const float*") long x,
            @Cast("const float*") long w, @Cast("const float*") long bias, @Cast("const float*") long gamma,
            @Cast("const float*") long beta, @Cast("const float*") long runningMean,
            @Cast("const float*") long runningVar, float eps, int relu, @Cast("float*") long y, int n, int c, int cg,
            int t, int h, int wd, int stride);

    /** The 16-bit inference form (x, w, y bf16 / fp16 bits). */
    public static native int sev_hostrun_grouped_conv3x3_forward_bf16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long w, @Cast("const float*") long bias, @Cast("const float*") long gamma,
            @Cast("const float*") long beta, @Cast("const float*") long runningMean,
            @Cast("const float*") long runningVar, float eps, int relu, @Cast("uint16_t*") long y, int n, int c, int cg,
            int t, int h, int wd, int stride);

    public static native int sev_hostrun_grouped_conv3x3_forward_f16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long w, @Cast("const float*") long bias, @Cast("const float*") long gamma,
            @Cast("const float*") long beta, @Cast("const float*") long runningMean,
            @Cast("const float*") long runningVar, float eps, int relu, @Cast("uint16_t*") long y, int n, int c, int cg,
            int t, int h, int wd, int stride);

    public static native int sev_hostrun_grouped_conv3x3_bn_train(@Cast("const float*") long x,
            @Cast("const float*") long w, @Cast("const float*") long gamma, @Cast("const float*") long beta,
            @Cast("float*") long z, @Cast("float*") long y, @Cast("float*") long saveMean,
            @Cast("float*") long saveInvstd, @Cast("float*") long runningMean, @Cast("float*") long runningVar,
            float eps, float momentum, int relu, int n, int c, int cg, int t, int h, int wd, int stride);

    public static native int sev_hostrun_grouped_conv3x3_backward_data(@Cast("const float*") long dy,
            @Cast("const float*") long w, @Cast("float*") long dx, int n, int c, int cg, int t, int h, int wd,
            int stride);

    /** Its 16-bit form (dy, w, dx bf16 / fp16 bits). */
    public static native int sev_hostrun_grouped_conv3x3_backward_data_bf16(@Cast("const uint16_t*") long dy,
            @Cast("const uint16_t*") long w, @Cast("uint16_t*") long dx, int n, int c, int cg, int t, int h, int wd,
            int stride);

    public static native int sev_hostrun_grouped_conv3x3_backward_data_f16(@Cast("const uint16_t*") long dy,
            @Cast("const uint16_t*") long w, @Cast("uint16_t*") long dx, int n, int c, int cg, int t, int h, int wd,
            int stride);

    public static native int sev_hostrun_grouped_conv3x3_backward_weight(@Cast("const float*") long x,
            @Cast("const float*") long dy, @Cast("float*") long dw, int n, int c, int cg, int t, int h, int wd,
            int stride);

    public static native int sev_hostrun_bn_act_train_forward(@Cast("const float*") long x,
            @Cast("const float*") long residual, @Cast("const float*") long gamma, @Cast("const float*") long beta,
            @Cast("float*") long y, @Cast("float*") long saveMean, @Cast("float*") long saveInvstd,
            @Cast("float*") long runningMean, @Cast("float*") long runningVar, @Cast("int64_t") long n,
            @Cast("int64_t") long c, @Cast("int64_t") long s, float eps, float momentum, int relu);

    public static native int sev_hostrun_bn_act_backward(@Cast("const float*") long x, @Cast("const float*") long y,
            @Cast("const float*") long dy, @Cast("const float*") long gamma, @Cast("const float*") long saveMean,
            @Cast("const float*") long saveInvstd, @Cast("float*") long dx, @Cast("float*") long dgamma,
            @Cast("float*") long dbeta, @Cast("float*") long dresidual, @Cast("int64_t") long n,
            @Cast("int64_t") long c, @Cast("int64_t") long s);

    // ---- 16-bit inference glue run on the host (kernels/half_ops.cuh): host addresses, dtype 1 bfloat16,
    // 2 float16 (0 float32 for sev_hostrun_cast); for the tests (HalfOpsHostRunTest) ----
    public static native int sev_hostrun_half_bias_act(@Cast("void*") long y, @Cast("const float*") long bias,
            @Cast("const void*") long residual, @Cast("int64_t") long n, @Cast("int64_t") long c,
            @Cast("int64_t") long s, int relu, int dtype);

    public static native int sev_hostrun_half_add_act(@Cast("const void*") long a, @Cast("const void*") long b,
            @Cast("void*") long y, @Cast("int64_t") long n, int relu, int dtype);

    public static native int sev_hostrun_half_avgpool3d_forward(@Cast("const void*") long x, @Cast("void*") long y,
            @Cast("const int*") int[] p, int dtype);

    public static native int sev_hostrun_half_global_avgpool_forward(@Cast("const void*") long x,
            @Cast("float*") long y, @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s,
            int dtype);

    public static native int sev_hostrun_half_channel_scale_forward(@Cast("const void*") long x,
            @Cast("const float*") long g, @Cast("void*") long y, @Cast("int64_t") long n, @Cast("int64_t") long c,
            @Cast("int64_t") long s, int dtype);

    public static native int sev_hostrun_half_concat_channels(@Cast("const void*") long a, @Cast("const void*") long b,
            @Cast("void*") long y, @Cast("int64_t") long n, @Cast("int64_t") long ca, @Cast("int64_t") long cb,
            @Cast("int64_t") long s);

    public static native int sev_hostrun_cast(@Cast("const void*") long x, int from, @Cast("void*") long y, int to,
            @Cast("int64_t") long n);
    // ---- end of the 16-bit block ----

    // ---- batch norm + residual + ReLU in 16-bit storage (bf16, fp16) -------------------------------------
    // The CPU references (native/src/batchnorm_half.cpp: widen, the fp32 ops composed, round once) and the
    // host-run drivers of the CUDA bodies (sevc_bn_act_*_bf16/_f16). 16-bit tensors are raw uint16_t bits;
    // gamma, beta, statistics, dgamma, dbeta fp32.

    public static native int sev_batchnorm_act_train_forward_bf16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long residual, @Cast("const float*") long gamma,
            @Cast("const float*") long beta, @Cast("uint16_t*") long y, @Cast("float*") long saveMean,
            @Cast("float*") long saveInvstd, @Cast("float*") long runningMean, @Cast("float*") long runningVar,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s, float eps, float momentum,
            int relu);

    public static native int sev_batchnorm_act_train_forward_f16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long residual, @Cast("const float*") long gamma,
            @Cast("const float*") long beta, @Cast("uint16_t*") long y, @Cast("float*") long saveMean,
            @Cast("float*") long saveInvstd, @Cast("float*") long runningMean, @Cast("float*") long runningVar,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s, float eps, float momentum,
            int relu);

    public static native int sev_batchnorm_act_backward_bf16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long y, @Cast("const uint16_t*") long dy, @Cast("const float*") long gamma,
            @Cast("const float*") long saveMean, @Cast("const float*") long saveInvstd, @Cast("uint16_t*") long dx,
            @Cast("float*") long dgamma, @Cast("float*") long dbeta, @Cast("uint16_t*") long dresidual,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s);

    public static native int sev_batchnorm_act_backward_f16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long y, @Cast("const uint16_t*") long dy, @Cast("const float*") long gamma,
            @Cast("const float*") long saveMean, @Cast("const float*") long saveInvstd, @Cast("uint16_t*") long dx,
            @Cast("float*") long dgamma, @Cast("float*") long dbeta, @Cast("uint16_t*") long dresidual,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s);

    public static native int sev_hostrun_bn_act_train_forward_bf16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long residual, @Cast("const float*") long gamma,
            @Cast("const float*") long beta, @Cast("uint16_t*") long y, @Cast("float*") long saveMean,
            @Cast("float*") long saveInvstd, @Cast("float*") long runningMean, @Cast("float*") long runningVar,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s, float eps, float momentum,
            int relu);

    public static native int sev_hostrun_bn_act_train_forward_f16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long residual, @Cast("const float*") long gamma,
            @Cast("const float*") long beta, @Cast("uint16_t*") long y, @Cast("float*") long saveMean,
            @Cast("float*") long saveInvstd, @Cast("float*") long runningMean, @Cast("float*") long runningVar,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s, float eps, float momentum,
            int relu);

    public static native int sev_hostrun_bn_act_backward_bf16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long y, @Cast("const uint16_t*") long dy, @Cast("const float*") long gamma,
            @Cast("const float*") long saveMean, @Cast("const float*") long saveInvstd, @Cast("uint16_t*") long dx,
            @Cast("float*") long dgamma, @Cast("float*") long dbeta, @Cast("uint16_t*") long dresidual,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s);

    public static native int sev_hostrun_bn_act_backward_f16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long y, @Cast("const uint16_t*") long dy, @Cast("const float*") long gamma,
            @Cast("const float*") long saveMean, @Cast("const float*") long saveInvstd, @Cast("uint16_t*") long dx,
            @Cast("float*") long dgamma, @Cast("float*") long dbeta, @Cast("uint16_t*") long dresidual,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s);
    // ---- end of the 16-bit batch norm block ----

    // ---- 16-bit training glue run on the host (the end of kernels/half_ops.cuh): host addresses, dtype 1
    // bfloat16, 2 float16; for the tests (HalfTrainingOpsHostRunTest) ----
    public static native int sev_hostrun_half_relu_backward(@Cast("const void*") long y, @Cast("const void*") long dy,
            @Cast("void*") long dx, @Cast("int64_t") long n, int dtype);

    public static native int sev_hostrun_half_axpby(float alpha, @Cast("const void*") long x, float beta,
            @Cast("void*") long y, @Cast("int64_t") long n, int dtype);

    public static native int sev_hostrun_half_avgpool3d_backward(@Cast("const void*") long dy, @Cast("void*") long dx,
            @Cast("const int*") int[] p, int dtype);

    public static native int sev_hostrun_half_split_channels(@Cast("const void*") long y, @Cast("void*") long a,
            @Cast("void*") long b, @Cast("int64_t") long n, @Cast("int64_t") long ca, @Cast("int64_t") long cb,
            @Cast("int64_t") long s);

    public static native int sev_hostrun_half_channel_scale_backward(@Cast("const void*") long x,
            @Cast("const float*") long g, @Cast("const void*") long dy, @Cast("void*") long dx,
            @Cast("float*") long dg, @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s,
            int dtype);

    public static native int sev_hostrun_half_batchnorm_eval_forward(@Cast("const void*") long x,
            @Cast("const float*") long gamma, @Cast("const float*") long beta, @Cast("const float*") long runningMean,
            @Cast("const float*") long runningVar, @Cast("void*") long y, @Cast("int64_t") long n,
            @Cast("int64_t") long c, @Cast("int64_t") long s, float eps, int relu, int dtype);
    // ---- end of the 16-bit training glue ----

    // ---- channels-last batch norm: activations [M][C], M = N*T*H*W rows, C innermost; 16-bit tensors raw
    // uint16_t bits, gamma, beta, statistics, dgamma, dbeta fp32. sev_*: the CPU references (batchnorm_ndhwc.cpp:
    // transpose, the NCDHW references, transpose back); sev_hostrun_*: the bodies of sevc_*_ndhwc_* run on the
    // host in the kernels' order (hostrun_batchnorm_ndhwc.cpp). M <= 0 or C <= 0: SEV_EINVAL ----

    public static native int sev_bn_act_train_forward_ndhwc_f32(@Cast("const float*") long x,
            @Cast("const float*") long residual, @Cast("const float*") long gamma, @Cast("const float*") long beta,
            @Cast("float*") long y, @Cast("float*") long saveMean, @Cast("float*") long saveInvstd,
            @Cast("float*") long runningMean, @Cast("float*") long runningVar, @Cast("int64_t") long m,
            @Cast("int64_t") long c, float eps, float momentum, int relu);

    public static native int sev_bn_act_train_forward_ndhwc_bf16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long residual, @Cast("const float*") long gamma, @Cast("const float*") long beta,
            @Cast("uint16_t*") long y, @Cast("float*") long saveMean, @Cast("float*") long saveInvstd,
            @Cast("float*") long runningMean, @Cast("float*") long runningVar, @Cast("int64_t") long m,
            @Cast("int64_t") long c, float eps, float momentum, int relu);

    public static native int sev_bn_act_train_forward_ndhwc_f16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long residual, @Cast("const float*") long gamma, @Cast("const float*") long beta,
            @Cast("uint16_t*") long y, @Cast("float*") long saveMean, @Cast("float*") long saveInvstd,
            @Cast("float*") long runningMean, @Cast("float*") long runningVar, @Cast("int64_t") long m,
            @Cast("int64_t") long c, float eps, float momentum, int relu);

    public static native int sev_bn_act_backward_ndhwc_f32(@Cast("const float*") long x, @Cast("const float*") long y,
            @Cast("const float*") long dy, @Cast("const float*") long gamma, @Cast("const float*") long saveMean,
            @Cast("const float*") long saveInvstd, @Cast("float*") long dx, @Cast("float*") long dgamma,
            @Cast("float*") long dbeta, @Cast("float*") long dresidual, @Cast("int64_t") long m,
            @Cast("int64_t") long c);

    public static native int sev_bn_act_backward_ndhwc_bf16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long y, @Cast("const uint16_t*") long dy, @Cast("const float*") long gamma,
            @Cast("const float*") long saveMean, @Cast("const float*") long saveInvstd, @Cast("uint16_t*") long dx,
            @Cast("float*") long dgamma, @Cast("float*") long dbeta, @Cast("uint16_t*") long dresidual,
            @Cast("int64_t") long m, @Cast("int64_t") long c);

    public static native int sev_bn_act_backward_ndhwc_f16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long y, @Cast("const uint16_t*") long dy, @Cast("const float*") long gamma,
            @Cast("const float*") long saveMean, @Cast("const float*") long saveInvstd, @Cast("uint16_t*") long dx,
            @Cast("float*") long dgamma, @Cast("float*") long dbeta, @Cast("uint16_t*") long dresidual,
            @Cast("int64_t") long m, @Cast("int64_t") long c);

    public static native int sev_batchnorm_eval_ndhwc_f32(@Cast("const float*") long x,
            @Cast("const float*") long gamma, @Cast("const float*") long beta, @Cast("const float*") long runningMean,
            @Cast("const float*") long runningVar, @Cast("float*") long y, @Cast("int64_t") long m,
            @Cast("int64_t") long c, float eps, int relu);

    public static native int sev_batchnorm_eval_ndhwc_bf16(@Cast("const uint16_t*") long x,
            @Cast("const float*") long gamma, @Cast("const float*") long beta, @Cast("const float*") long runningMean,
            @Cast("const float*") long runningVar, @Cast("uint16_t*") long y, @Cast("int64_t") long m,
            @Cast("int64_t") long c, float eps, int relu);

    public static native int sev_batchnorm_eval_ndhwc_f16(@Cast("const uint16_t*") long x,
            @Cast("const float*") long gamma, @Cast("const float*") long beta, @Cast("const float*") long runningMean,
            @Cast("const float*") long runningVar, @Cast("uint16_t*") long y, @Cast("int64_t") long m,
            @Cast("int64_t") long c, float eps, int relu);

    public static native int sev_hostrun_bn_act_train_forward_ndhwc_f32(@Cast("const float*") long x,
            @Cast("const float*") long residual, @Cast("const float*") long gamma, @Cast("const float*") long beta,
            @Cast("float*") long y, @Cast("float*") long saveMean, @Cast("float*") long saveInvstd,
            @Cast("float*") long runningMean, @Cast("float*") long runningVar, @Cast("int64_t") long m,
            @Cast("int64_t") long c, float eps, float momentum, int relu);

    public static native int sev_hostrun_bn_act_train_forward_ndhwc_bf16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long residual, @Cast("const float*") long gamma, @Cast("const float*") long beta,
            @Cast("uint16_t*") long y, @Cast("float*") long saveMean, @Cast("float*") long saveInvstd,
            @Cast("float*") long runningMean, @Cast("float*") long runningVar, @Cast("int64_t") long m,
            @Cast("int64_t") long c, float eps, float momentum, int relu);

    public static native int sev_hostrun_bn_act_train_forward_ndhwc_f16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long residual, @Cast("const float*") long gamma, @Cast("const float*") long beta,
            @Cast("uint16_t*") long y, @Cast("float*") long saveMean, @Cast("float*") long saveInvstd,
            @Cast("float*") long runningMean, @Cast("float*") long runningVar, @Cast("int64_t") long m,
            @Cast("int64_t") long c, float eps, float momentum, int relu);

    public static native int sev_hostrun_bn_act_backward_ndhwc_f32(@Cast("const float*") long x,
            @Cast("const float*") long y, @Cast("const float*") long dy, @Cast("const float*") long gamma,
            @Cast("const float*") long saveMean, @Cast("const float*") long saveInvstd, @Cast("float*") long dx,
            @Cast("float*") long dgamma, @Cast("float*") long dbeta, @Cast("float*") long dresidual,
            @Cast("int64_t") long m, @Cast("int64_t") long c);

    public static native int sev_hostrun_bn_act_backward_ndhwc_bf16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long y, @Cast("const uint16_t*") long dy, @Cast("const float*") long gamma,
            @Cast("const float*") long saveMean, @Cast("const float*") long saveInvstd, @Cast("uint16_t*") long dx,
            @Cast("float*") long dgamma, @Cast("float*") long dbeta, @Cast("uint16_t*") long dresidual,
            @Cast("int64_t") long m, @Cast("int64_t") long c);

    public static native int sev_hostrun_bn_act_backward_ndhwc_f16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long y, @Cast("const uint16_t*") long dy, @Cast("const float*") long gamma,
            @Cast("const float*") long saveMean, @Cast("const float*") long saveInvstd, @Cast("uint16_t*") long dx,
            @Cast("float*") long dgamma, @Cast("float*") long dbeta, @Cast("uint16_t*") long dresidual,
            @Cast("int64_t") long m, @Cast("int64_t") long c);

    public static native int sev_hostrun_bn_relu_backward_ndhwc_f32(@Cast("const float*") long x,
            @Cast("const float*") long dy,
            @Cast("const float*") long gamma, @Cast("const float*") long beta, @Cast("const float*") long saveMean,
            @Cast("const float*") long saveInvstd, @Cast("float*") long dx, @Cast("float*") long dgamma,
            @Cast("float*") long dbeta, @Cast("int64_t") long m, @Cast("int64_t") long c);

    public static native int sev_hostrun_bn_relu_backward_ndhwc_bf16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long dy,
            @Cast("const float*") long gamma, @Cast("const float*") long beta, @Cast("const float*") long saveMean,
            @Cast("const float*") long saveInvstd, @Cast("uint16_t*") long dx, @Cast("float*") long dgamma,
            @Cast("float*") long dbeta, @Cast("int64_t") long m, @Cast("int64_t") long c);

    public static native int sev_hostrun_bn_relu_backward_ndhwc_f16(@Cast("const uint16_t*") long x,
            @Cast("const uint16_t*") long dy,
            @Cast("const float*") long gamma, @Cast("const float*") long beta, @Cast("const float*") long saveMean,
            @Cast("const float*") long saveInvstd, @Cast("uint16_t*") long dx, @Cast("float*") long dgamma,
            @Cast("float*") long dbeta, @Cast("int64_t") long m, @Cast("int64_t") long c);

    public static native int sev_hostrun_batchnorm_eval_ndhwc_f32(@Cast("const float*") long x,
            @Cast("const float*") long gamma, @Cast("const float*") long beta, @Cast("const float*") long runningMean,
            @Cast("const float*") long runningVar, @Cast("float*") long y, @Cast("int64_t") long m,
            @Cast("int64_t") long c, float eps, int relu);

    public static native int sev_hostrun_batchnorm_eval_ndhwc_bf16(@Cast("const uint16_t*") long x,
            @Cast("const float*") long gamma, @Cast("const float*") long beta, @Cast("const float*") long runningMean,
            @Cast("const float*") long runningVar, @Cast("uint16_t*") long y, @Cast("int64_t") long m,
            @Cast("int64_t") long c, float eps, int relu);

    public static native int sev_hostrun_batchnorm_eval_ndhwc_f16(@Cast("const uint16_t*") long x,
            @Cast("const float*") long gamma, @Cast("const float*") long beta, @Cast("const float*") long runningMean,
            @Cast("const float*") long runningVar, @Cast("uint16_t*") long y, @Cast("int64_t") long m,
            @Cast("int64_t") long c, float eps, int relu);
    // ---- end of channels-last batch norm ----

    // ---- channels-last glue: CPU references (native/src/channels_ndhwc.cpp: transpose, the NCDHW op, transpose back)
    // and the host-run drivers of kernels/channels_ndhwc.cuh. Activations [N][S][C] (M = N*S rows); dtype 0 float32,
    // 1 bfloat16, 2 float16 (raw bits); elemBytes 4 or 2 for the bit copies; host addresses. Both check their
    // arguments as the kernels' launchers do (SEV_EINVAL and the reason). For ChannelsNdhwcHostRunTest. ----
    public static native int sev_ncdhw_to_ndhwc_u16(@Cast("const uint16_t*") long x, @Cast("uint16_t*") long y,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s);

    public static native int sev_ndhwc_to_ncdhw_u16(@Cast("const uint16_t*") long x, @Cast("uint16_t*") long y,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s);

    public static native int sev_bias_act_ndhwc(@Cast("void*") long y, @Cast("const float*") long bias,
            @Cast("const void*") long residual, @Cast("int64_t") long m, @Cast("int64_t") long c, int relu, int dtype);

    public static native int sev_channel_scale_ndhwc_forward(@Cast("const void*") long x, @Cast("const float*") long g,
            @Cast("void*") long y, @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s,
            int dtype);

    public static native int sev_channel_scale_ndhwc_backward(@Cast("const float*") long x,
            @Cast("const float*") long g, @Cast("const float*") long dy, @Cast("float*") long dx,
            @Cast("float*") long dg, @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s);

    public static native int sev_global_avgpool_ndhwc_forward(@Cast("const void*") long x, @Cast("float*") long y,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s, int dtype);

    public static native int sev_global_avgpool_ndhwc_backward(@Cast("const float*") long dy, @Cast("void*") long dx,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s, int dtype);

    public static native int sev_concat_channels_ndhwc(@Cast("const void*") long a, @Cast("const void*") long b,
            @Cast("void*") long y, @Cast("int64_t") long m, @Cast("int64_t") long ca, @Cast("int64_t") long cb,
            int elemBytes);

    public static native int sev_split_channels_ndhwc(@Cast("const void*") long y, @Cast("void*") long a,
            @Cast("void*") long b, @Cast("int64_t") long m, @Cast("int64_t") long ca, @Cast("int64_t") long cb,
            int elemBytes);

    public static native int sev_avgpool3d_ndhwc_forward(@Cast("const void*") long x, @Cast("void*") long y,
            @Cast("const int*") int[] p, int dtype);

    public static native int sev_avgpool3d_ndhwc_backward(@Cast("const void*") long dy, @Cast("void*") long dx,
            @Cast("const int*") int[] p, int dtype);

    public static native int sev_hostrun_ncdhw_to_ndhwc(@Cast("const void*") long x, @Cast("void*") long y,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s, int elemBytes);

    public static native int sev_hostrun_ndhwc_to_ncdhw(@Cast("const void*") long x, @Cast("void*") long y,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s, int elemBytes);

    public static native int sev_hostrun_bias_act_ndhwc(@Cast("void*") long y, @Cast("const float*") long bias,
            @Cast("const void*") long residual, @Cast("int64_t") long m, @Cast("int64_t") long c, int relu, int dtype);

    public static native int sev_hostrun_channel_scale_ndhwc_forward(@Cast("const void*") long x,
            @Cast("const float*") long g, @Cast("void*") long y, @Cast("int64_t") long n, @Cast("int64_t") long c,
            @Cast("int64_t") long s, int dtype);

    public static native int sev_hostrun_channel_scale_ndhwc_backward(@Cast("const float*") long x,
            @Cast("const float*") long g, @Cast("const float*") long dy, @Cast("float*") long dx,
            @Cast("float*") long dg, @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s);

    public static native int sev_hostrun_global_avgpool_ndhwc_forward(@Cast("const void*") long x,
            @Cast("float*") long y, @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s,
            int dtype);

    public static native int sev_hostrun_global_avgpool_ndhwc_backward(@Cast("const float*") long dy,
            @Cast("void*") long dx, @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s,
            int dtype);

    public static native int sev_hostrun_concat_channels_ndhwc(@Cast("const void*") long a,
            @Cast("const void*") long b, @Cast("void*") long y, @Cast("int64_t") long m, @Cast("int64_t") long ca,
            @Cast("int64_t") long cb, int elemBytes);

    public static native int sev_hostrun_split_channels_ndhwc(@Cast("const void*") long y, @Cast("void*") long a,
            @Cast("void*") long b, @Cast("int64_t") long m, @Cast("int64_t") long ca, @Cast("int64_t") long cb,
            int elemBytes);

    public static native int sev_hostrun_avgpool3d_ndhwc_forward(@Cast("const void*") long x, @Cast("void*") long y,
            @Cast("const int*") int[] p, int dtype);

    public static native int sev_hostrun_avgpool3d_ndhwc_backward(@Cast("const void*") long dy,
            @Cast("void*") long dx, @Cast("const int*") int[] p, int dtype);
    // ---- end of channels-last glue ----
}
