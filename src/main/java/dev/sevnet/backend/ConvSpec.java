package dev.sevnet.backend;

import dev.sevnet.tensor.Shape;

/**
 * Geometry of a 3-D convolution or pooling window: kernel, stride, padding (each t, h, w) and groups.
 * Immutable; build with {@link #of} or {@link #builder()}.
 */
public record ConvSpec(int kT, int kH, int kW, int sT, int sH, int sW, int pT, int pH, int pW, int groups) {

    public ConvSpec {
        if (kT < 1 || kH < 1 || kW < 1) {
            throw new IllegalArgumentException("kernel sizes must be >= 1: " + kT + "x" + kH + "x" + kW);
        }
        if (sT < 1 || sH < 1 || sW < 1) {
            throw new IllegalArgumentException("strides must be >= 1: " + sT + "x" + sH + "x" + sW);
        }
        if (pT < 0 || pH < 0 || pW < 0) {
            throw new IllegalArgumentException("padding must be >= 0: " + pT + "x" + pH + "x" + pW);
        }
        if (groups < 1) {
            throw new IllegalArgumentException("groups must be >= 1, got " + groups);
        }
    }

    /** Cubic kernel k, stride 1, no padding, 1 group. */
    public static ConvSpec of(int k) {
        return new ConvSpec(k, k, k, 1, 1, 1, 0, 0, 0, 1);
    }

    public static Builder builder() {
        return new Builder();
    }

    public int kernelVolume() {
        return kT * kH * kW;
    }

    /** Output [N, cout, To, Ho, Wo] for input [N, C, T, H, W]; throws if the window does not fit. */
    public Shape outputShape(Shape x, long cout) {
        if (x.rank() != 5) {
            throw new IllegalArgumentException("expected a 5-d input [N, C, T, H, W], got " + x);
        }
        long to = outSize(x.get(2), kT, sT, pT, "T");
        long ho = outSize(x.get(3), kH, sH, pH, "H");
        long wo = outSize(x.get(4), kW, sW, pW, "W");
        return Shape.of(x.get(0), cout, to, ho, wo);
    }

    private static long outSize(long in, int k, int s, int p, String axis) {
        long padded = in + 2L * p;
        if (padded < k) {
            throw new IllegalArgumentException("kernel " + k + " along " + axis + " is larger than the padded input ("
                    + in + " + 2*" + p + ")");
        }
        return (padded - k) / s + 1;
    }

    /** The 19-int parameter block of the native ABI (sevnet.h). */
    public int[] nativeParams(Shape x, long cout) {
        Shape y = outputShape(x, cout);
        return new int[] {x.getInt(0), x.getInt(1), x.getInt(2), x.getInt(3), x.getInt(4), Math.toIntExact(cout),
            kT, kH, kW, sT, sH, sW, pT, pH, pW, groups, y.getInt(2), y.getInt(3), y.getInt(4)};
    }

    @Override
    public String toString() {
        return "k" + kT + "x" + kH + "x" + kW + (sT * sH * sW > 1 ? "/s" + sT + "x" + sH + "x" + sW : "")
                + (pT + pH + pW > 0 ? " p" + pT + "x" + pH + "x" + pW : "") + (groups > 1 ? " g" + groups : "");
    }

    /** Builder for {@link ConvSpec}; defaults: kernel 1, stride 1, padding 0, groups 1. */
    public static final class Builder {
        private int kT = 1, kH = 1, kW = 1, sT = 1, sH = 1, sW = 1, pT, pH, pW, groups = 1;

        public Builder kernel(int t, int h, int w) {
            kT = t;
            kH = h;
            kW = w;
            return this;
        }

        public Builder stride(int t, int h, int w) {
            sT = t;
            sH = h;
            sW = w;
            return this;
        }

        public Builder padding(int t, int h, int w) {
            pT = t;
            pH = h;
            pW = w;
            return this;
        }

        public Builder groups(int g) {
            groups = g;
            return this;
        }

        public ConvSpec build() {
            return new ConvSpec(kT, kH, kW, sT, sH, sW, pT, pH, pW, groups);
        }
    }
}
