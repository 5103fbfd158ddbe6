package dev.sevnet.backend.cpu;

import dev.sevnet.backend.ConvSpec;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;

/**
 * The int8 CPU ops besides the conv ({@link Int8Conv}), with every argument checked in Java before the
 * native call ({@link Int8Kernels}): a bad shape, scale or a closed tensor is an exception, never a
 * crash. u8 tensors are {@link QTensor}s (channel-blocked).
 */
public final class Int8Ops {
    private Int8Ops() {
    }

    /**
     * Float32 {@code [N, C, T, H, W]} to a new u8 tensor, one scale per channel:
     * {@code q = clamp(round(x / scales[c]) + zeroPoint, 0, 255)}.
     */
    public static QTensor quantize(Tensor x, float[] scales, int zeroPoint) {
        float32(x, "x");
        QTensor q = QTensor.empty(x.shape(), scales, zeroPoint);
        try {
            check(Int8Kernels.sev_int8_quantize(x.address(), q.address(), x.dim(0), x.dim(1), x.shape().sizeFrom(2),
                    q.scalesView(), zeroPoint, x.dim(1), 0), "int8 quantize");
            return q;
        } catch (RuntimeException e) {
            q.close();
            throw e;
        }
    }

    /** {@link #quantize(Tensor, float[], int)} with one scale for every channel. */
    public static QTensor quantize(Tensor x, float scale, int zeroPoint) {
        float32(x, "x");
        float[] s = new float[Math.toIntExact(x.dim(1))];
        java.util.Arrays.fill(s, scale);
        return quantize(x, s, zeroPoint);
    }

    /**
     * Quantises float32 {@code x [N, C, T, H, W]} with {@code dst}'s scales and zero point into channels
     * {@code [channelOffset, channelOffset + C)} of {@code dst} (a concat written in place).
     */
    public static void quantizeInto(Tensor x, QTensor dst, long channelOffset) {
        float32(x, "x");
        open(dst, "dst");
        Shape xs = x.shape();
        Shape ds = dst.shape();
        if (xs.get(0) != ds.get(0) || xs.sizeFrom(2) != ds.sizeFrom(2) || xs.get(2) != ds.get(2)
                || xs.get(3) != ds.get(3)) {
            throw new IllegalArgumentException("quantizeInto: x " + xs + " does not match the destination " + ds);
        }
        channelRange(channelOffset, xs.get(1), ds.get(1), "quantizeInto");
        check(Int8Kernels.sev_int8_quantize(x.address(), dst.address(), xs.get(0), xs.get(1), xs.sizeFrom(2),
                dst.scales(channelOffset, channelOffset + xs.get(1)), dst.zeroPoint(), ds.get(1), channelOffset),
                "int8 quantize");
    }

    /**
     * Squeeze-excite's channel scaling fused into the quantisation: writes {@code x * gate[n, c]} — or, with a
     * {@code residual} (u8, zero point 0, the shape of x), {@code relu(x * gate[n, c] + residual)} — into
     * channels {@code [channelOffset, channelOffset + C)} of {@code dst} at its scales. The same result, bit
     * for bit, as {@code channelScale}, {@link #dequantize}, {@code addRelu} and {@link #quantizeInto} in turn,
     * in one pass over x instead of four passes of float32 tensors.
     *
     * @param gate float32 {@code [N, C]} (the SE unit's sigmoid output)
     * @param residual the block input, or null
     */
    public static void quantizeGatedInto(Tensor x, Tensor gate, QTensor residual, QTensor dst, long channelOffset) {
        float32(x, "x");
        open(dst, "dst");
        Shape xs = x.shape();
        Shape ds = dst.shape();
        if (xs.get(0) != ds.get(0) || xs.get(2) != ds.get(2) || xs.get(3) != ds.get(3) || xs.get(4) != ds.get(4)) {
            throw new IllegalArgumentException("quantizeGatedInto: x " + xs + " does not match the destination " + ds);
        }
        if (gate == null || gate.isClosed() || gate.dtype() != DType.FLOAT32 || !gate.device().isCpu()
                || !gate.shape().equals(Shape.of(xs.get(0), xs.get(1)))) {
            throw new IllegalArgumentException("quantizeGatedInto: gate must be an open float32 CPU tensor "
                    + Shape.of(xs.get(0), xs.get(1)) + ", got " + gate);
        }
        float[] resScales = null;
        if (residual != null) {
            open(residual, "residual");
            zeroPoint0(residual, "quantizeGatedInto residual");
            if (!residual.shape().equals(xs)) {
                throw new IllegalArgumentException("quantizeGatedInto: residual " + residual.shape()
                        + " does not match x " + xs);
            }
            resScales = residual.scalesView();
        }
        channelRange(channelOffset, xs.get(1), ds.get(1), "quantizeGatedInto");
        check(Int8Kernels.sev_int8_quantize_gated(x.address(), gate.address(), residual == null ? 0 : residual.address(),
                resScales, dst.address(), xs.get(0), xs.get(1), xs.sizeFrom(2),
                dst.scales(channelOffset, channelOffset + xs.get(1)), dst.zeroPoint(), ds.get(1), channelOffset),
                "int8 gated quantize");
    }

    /** A new float32 {@code [N, C, T, H, W]}: {@code (q - zeroPoint) * scale[c]}. */
    public static Tensor dequantize(QTensor q) {
        open(q, "q");
        Tensor x = Tensor.empty(q.shape());
        check(Int8Kernels.sev_int8_dequantize(q.address(), x.address(), q.dim(0), q.dim(1), q.shape().sizeFrom(2),
                q.scalesView(), q.zeroPoint()), "int8 dequantize");
        return x;
    }

    /**
     * Average pool with {@code window} (kernel, stride, padding; count_include_pad: padding counts as 0)
     * of a u8 tensor with zero point 0; the result keeps the scales, rounded half up.
     */
    public static QTensor avgPool(QTensor x, ConvSpec window) {
        open(x, "x");
        zeroPoint0(x, "avgPool input");
        long c = x.dim(1);
        ConvSpec dw = new ConvSpec(window.kT(), window.kH(), window.kW(), window.sT(), window.sH(), window.sW(),
                window.pT(), window.pH(), window.pW(), Math.toIntExact(Math.max(1, c)));
        if ((long) dw.kernelVolume() * 255 * 2 + dw.kernelVolume() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("avgPool window too large: " + window);
        }
        Shape ys = dw.outputShape(x.shape(), c);
        QTensor y = QTensor.empty(ys, x.scalesView(), 0);
        try {
            check(Int8Kernels.sev_int8_avgpool(x.address(), y.address(), dw.nativeParams(x.shape(), c)), "int8 avg-pool");
            return y;
        } catch (RuntimeException e) {
            y.close();
            throw e;
        }
    }

    /** Mean over T, H, W of a u8 tensor with zero point 0: float32 {@code [N, C]}. */
    public static Tensor globalAvgPool(QTensor x) {
        open(x, "x");
        zeroPoint0(x, "globalAvgPool input");
        Tensor y = Tensor.empty(Shape.of(x.dim(0), x.dim(1)));
        check(Int8Kernels.sev_int8_global_avgpool(x.address(), y.address(), x.dim(0), x.dim(1), x.shape().sizeFrom(2),
                x.scalesView()), "int8 global avg-pool");
        return y;
    }

    // ---- checks shared with Int8Conv ----

    static void float32(Tensor x, String name) {
        if (x == null || x.isClosed()) {
            throw new IllegalArgumentException(name + " is " + (x == null ? "null" : "closed"));
        }
        if (x.dtype() != DType.FLOAT32 || !x.device().isCpu() || x.rank() != 5) {
            throw new IllegalArgumentException(name + " must be a float32 [N, C, T, H, W] CPU tensor, got " + x);
        }
    }

    static void open(QTensor q, String name) {
        if (q == null || q.isClosed()) {
            throw new IllegalArgumentException(name + " is " + (q == null ? "null" : "closed"));
        }
    }

    static void zeroPoint0(QTensor q, String what) {
        if (q.zeroPoint() != 0) {
            throw new IllegalArgumentException(what + " must have zero point 0 (a non-negative tensor), got "
                    + q.zeroPoint());
        }
    }

    /** Channels [offset, offset + c) of a blocked tensor of total channels: they start on a 4-channel block. */
    static void channelRange(long offset, long c, long total, String op) {
        if (offset < 0 || offset % 4 != 0 || offset + c > total || (c % 4 != 0 && offset + c != total)) {
            throw new IllegalArgumentException(op + ": channels [" + offset + ", " + (offset + c) + ") of " + total
                    + " must start on a multiple of 4 and fill whole 4-channel blocks (but the last)");
        }
    }

    static void check(int rc, String op) {
        if (rc != 0) {
            throw new IllegalStateException(op + " failed in native code (" + rc + "): " + NativeCore.sev_last_error());
        }
    }
}
