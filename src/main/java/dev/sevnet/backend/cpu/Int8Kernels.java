package dev.sevnet.backend.cpu;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * JavaCPP binding of the native core's int8 inference functions ({@code native/include/sevnet.h},
 * section "int8 inference"; {@code native/src/int8.cpp}).
 *
 * <p>Activations are u8 with a per-tensor scale and zero point, weights s8 with one scale per output
 * channel, rows padded to {@link #sev_int8_weight_stride} bytes; the conv accumulates in int32 (AVX-512
 * VNNI where the CPU has it) and writes float32. Pointers are raw addresses ({@code long}) of buffers
 * that Java has already validated: nothing here checks them. Used by
 * {@link dev.sevnet.infer.QuantizedSevNet}.
 */
@Platform(include = "sevnet.h", link = "sevnet", preload = "sevnet_env")
public final class Int8Kernels {
    static {
        Loader.load();
    }

    private Int8Kernels() {
    }

    /** Bytes per weight row for a reduction length {@code k} (k rounded up to a multiple of 4). */
    public static native int sev_int8_weight_stride(@Cast("int64_t") long k);

    /** {@code w [cout, k]} float32 to {@code wq [cout, stride]} int8 and {@code wscale [cout]} (symmetric, max-abs). */
    public static native int sev_int8_quantize_weights(@Cast("const float*") long w, @Cast("int8_t*") long wq,
            @Cast("float*") long wscale, @Cast("int64_t") long cout, @Cast("int64_t") long k);

    public static native int sev_quantize_u8(@Cast("const float*") long x, @Cast("uint8_t*") long q,
            @Cast("int64_t") long n, float scale, int zeroPoint);

    public static native int sev_conv3d_int8_forward(@Cast("const float*") long x, float xScale, int xZeroPoint,
            @Cast("const int8_t*") long wq, @Cast("const float*") long wscale, @Cast("const float*") long bias,
            @Cast("float*") long y, @Cast("const int*") int[] p, int relu);

    public static native int sev_conv3d_int8_forward_reference(@Cast("const float*") long x, float xScale,
            int xZeroPoint, @Cast("const int8_t*") long wq, @Cast("const float*") long wscale,
            @Cast("const float*") long bias, @Cast("float*") long y, @Cast("const int*") int[] p, int relu);

    /** 1: the VNNI kernel where the CPU has it (default); 0: the scalar kernel. Returns the previous use. */
    public static native int sev_int8_set_kernel(int vnni);

    /** 1 when int8 convs run the AVX-512 VNNI kernel. */
    public static native int sev_int8_kernel();
}
