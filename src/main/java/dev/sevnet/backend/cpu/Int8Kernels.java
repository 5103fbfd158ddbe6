package dev.sevnet.backend.cpu;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * JavaCPP binding of the native core's int8 inference functions ({@code native/include/sevnet.h},
 * section "int8 inference"; {@code native/src/int8.cpp}).
 *
 * <p>Activations are u8 in the channel-blocked layout {@code [N][ceil(C/4)][T][H][W][4]} with one
 * scale per channel and a zero point, weights s8 with one scale per output channel; convs accumulate in
 * int32 (AVX-512 VNNI where the CPU has it) and write u8 (requantised, the next layer's input) or
 * float32. Pointers are raw addresses ({@code long}) of buffers that Java has already validated:
 * nothing here checks them. Use {@link Int8Ops}, which does.
 */
@Platform(include = "sevnet.h", link = "sevnet", preload = "sevnet_env")
public final class Int8Kernels {
    static {
        Loader.load();
    }

    private Int8Kernels() {
    }

    /** Bytes per plain weight row for a reduction length {@code k} (k rounded up to a multiple of 4). */
    public static native int sev_int8_weight_stride(@Cast("int64_t") long k);

    /** {@code w [cout, k]} float32 to plain {@code wq [cout, stride]} int8 and {@code wscale [cout]} (symmetric, max-abs). */
    public static native int sev_int8_quantize_weights(@Cast("const float*") long w, @Cast("int8_t*") long wq,
            @Cast("float*") long wscale, @Cast("int64_t") long cout, @Cast("int64_t") long k);

    /** Bytes of the fast kernel's packed weights for the conv parameter block {@code p}. */
    public static native @Cast("int64_t") long sev_int8_packed_weight_bytes(@Cast("const int*") int[] p);

    public static native int sev_int8_pack_weights(@Cast("const float*") long w, @Cast("int8_t*") long wq,
            @Cast("float*") long wscale, @Cast("const int*") int[] p);

    /** {@code resScale}: per output channel (null without a residual); {@code yScale}: per output channel, null for float output. */
    public static native int sev_int8_conv(@Cast("const uint8_t*") long x, float xScale, int xZeroPoint,
            @Cast("const int8_t*") long wq, @Cast("const float*") long wscale, @Cast("const float*") long bias,
            @Cast("const uint8_t*") long res, @Cast("const float*") float[] resScale, @Cast("void*") long y,
            @Cast("const float*") float[] yScale, int yChannels, int yOffset, @Cast("const int*") int[] p, int relu);

    public static native int sev_int8_conv_reference(@Cast("const uint8_t*") long x, float xScale, int xZeroPoint,
            @Cast("const int8_t*") long wq, @Cast("const float*") long wscale, @Cast("const float*") long bias,
            @Cast("const uint8_t*") long res, @Cast("const float*") float[] resScale, @Cast("void*") long y,
            @Cast("const float*") float[] yScale, int yChannels, int yOffset, @Cast("const int*") int[] p, int relu);

    /** {@link #sev_int8_quantize} of {@code x * gate[n][c]} (gate may be 0: none) and, with a u8 residual, of
     * {@code relu(x * gate + res * resScale[c])}. */
    public static native int sev_int8_quantize_gated(@Cast("const float*") long x, @Cast("const float*") long gate,
            @Cast("const uint8_t*") long res, @Cast("const float*") float[] resScale, @Cast("uint8_t*") long q,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s,
            @Cast("const float*") float[] scale, int zeroPoint, @Cast("int64_t") long qChannels,
            @Cast("int64_t") long qOffset);

    /** {@code scale}: one per channel of x. */
    public static native int sev_int8_quantize(@Cast("const float*") long x, @Cast("uint8_t*") long q,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s,
            @Cast("const float*") float[] scale, int zeroPoint, @Cast("int64_t") long qChannels,
            @Cast("int64_t") long qOffset);

    public static native int sev_int8_dequantize(@Cast("const uint8_t*") long q, @Cast("float*") long x,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s,
            @Cast("const float*") float[] scale, int zeroPoint);

    public static native int sev_int8_avgpool(@Cast("const uint8_t*") long x, @Cast("uint8_t*") long y,
            @Cast("const int*") int[] p);

    public static native int sev_int8_global_avgpool(@Cast("const uint8_t*") long x, @Cast("float*") long y,
            @Cast("int64_t") long n, @Cast("int64_t") long c, @Cast("int64_t") long s,
            @Cast("const float*") float[] scale);

    /** 1: the VNNI kernels where the CPU has them (default); 0: the scalar ones. Returns the previous use. */
    public static native int sev_int8_set_kernel(int vnni);

    /** 1 when int8 convs run the AVX-512 VNNI kernel. */
    public static native int sev_int8_kernel();
}
