package dev.sevnet.backend.cpu;

import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Half;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import java.nio.ByteBuffer;

/**
 * The CPU's 16-bit (bfloat16 / float16) inference ops: the reference the CUDA backend's 16-bit ops are tested
 * against, not a fast path (it widens whole tensors to fp32). Semantics, the same as kernels/half_ops.cuh: widen
 * every 16-bit operand to fp32 (exact), do the fp32 op, round the result once to the storage type (nearest
 * even, {@link Half}). The conv rounds twice, where the GPU stores twice: cuDNN's raw conv output in 16 bits,
 * then the epilogue's {@code act(y + bias + residual)}.
 *
 * <p>The training ops of mixed precision follow the same rule in {@link CpuBackend} (widen, the fp32 op of the
 * CPU backend, one rounding per 16-bit result of the Backend method): the fused forms
 * ({@code batchNormTrainAct}, {@code batchNormActBackward}) round their outputs once, not after each part, as a
 * fused GPU kernel that keeps the intermediate in fp32 registers would; {@code convBatchNormTrain} stores the conv
 * output z in 16 bits (batch norm's backward reads it), then y once.
 */
final class HalfReference {
    private HalfReference() {
    }

    /** fp32 -> 16-bit (round to nearest even) or 16-bit -> fp32 (exact); a copy when the types agree. */
    static Tensor cast(Tensor x, DType to) {
        DType from = x.dtype();
        if (from == to) {
            return x.copy();
        }
        int n = Math.toIntExact(x.size());
        Tensor y = Tensor.empty(x.shape(), to);
        ByteBuffer in = x.hostBuffer();
        ByteBuffer out = y.hostBuffer();
        if (from == DType.FLOAT32 && (to == DType.BFLOAT16 || to == DType.FLOAT16)) {
            boolean bf = to == DType.BFLOAT16;
            for (int i = 0; i < n; i++) {
                float v = in.getFloat(4 * i);
                out.putShort(2 * i, bf ? Half.floatToBf16(v) : Half.fromFloat(v));
            }
        } else if (to == DType.FLOAT32 && (from == DType.BFLOAT16 || from == DType.FLOAT16)) {
            boolean bf = from == DType.BFLOAT16;
            for (int i = 0; i < n; i++) {
                short h = in.getShort(2 * i);
                out.putFloat(4 * i, bf ? Half.bf16ToFloat(h) : Half.toFloat(h));
            }
        } else {
            y.close();
            throw new IllegalArgumentException("cast from " + from + " to " + to + ": only " + DType.FLOAT32 + " <-> "
                    + DType.BFLOAT16 + " / " + DType.FLOAT16);
        }
        return y;
    }

    /** The values of a 16-bit (or fp32) host tensor, widened exactly. */
    static float[] widen(Tensor t) {
        return t.toFloatArray();
    }

    /** A new tensor of {@code dtype} holding {@code v} rounded once. */
    static Tensor store(float[] v, Shape shape, DType dtype) {
        Tensor y = Tensor.empty(shape, dtype);
        ByteBuffer out = y.hostBuffer();
        boolean bf = dtype == DType.BFLOAT16;
        for (int i = 0; i < v.length; i++) {
            out.putShort(2 * i, bf ? Half.floatToBf16(v[i]) : Half.fromFloat(v[i]));
        }
        return y;
    }

    /** {@code round(round(conv(x, w)) + bias[c] + residual)} then ReLU, as cuDNN + half_bias_act_element. */
    static Tensor conv(CpuBackend b, Tensor x, Tensor w, Tensor bias, dev.sevnet.backend.ConvSpec spec,
            Tensor residual, boolean relu) {
        DType dt = x.dtype();
        float[] raw;
        Shape out;
        try (Tensor xf = cast(x, DType.FLOAT32); Tensor wf = cast(w, DType.FLOAT32);
                Tensor y = b.conv3d(xf, wf, null, spec, false); Tensor y16 = cast(y, dt)) {
            out = y.shape();
            raw = widen(y16);
        }
        if (bias == null && residual == null && !relu) {
            return store(raw, out, dt); // exact: raw already holds 16-bit values
        }
        float[] bv = bias == null ? null : bias.toFloatArray();
        float[] rv = residual == null ? null : widen(residual);
        long c = out.get(1);
        long s = out.sizeFrom(2);
        for (int i = 0; i < raw.length; i++) {
            float v = raw[i];
            if (bv != null) {
                v = v + bv[(int) ((i / s) % c)];
            }
            if (rv != null) {
                v = v + rv[i];
            }
            if (relu) {
                v = v > 0f ? v : 0f;
            }
            raw[i] = v;
        }
        return store(raw, out, dt);
    }

    /** {@code act(a + b)} (b null: {@code act(a)}), as half_add_act_element. */
    static Tensor addAct(Tensor a, Tensor b, boolean relu) {
        float[] av = widen(a);
        float[] bv = b == null ? null : widen(b);
        for (int i = 0; i < av.length; i++) {
            float v = av[i];
            if (bv != null) {
                v = v + bv[i];
            }
            if (relu) {
                v = v > 0f ? v : 0f;
            }
            av[i] = v;
        }
        return store(av, a.shape(), a.dtype());
    }

    /** {@code x[n,c,s] * g[n,c]}, g fp32, as half_channel_scale_element. */
    static Tensor channelScale(Tensor x, Tensor g) {
        float[] xv = widen(x);
        float[] gv = g.toFloatArray();
        long s = x.shape().sizeFrom(2);
        for (int i = 0; i < xv.length; i++) {
            xv[i] = xv[i] * gv[(int) (i / s)];
        }
        return store(xv, x.shape(), x.dtype());
    }

    /** The channel split of a 16-bit tensor {@code [N, Ca+Cb, ...]}: a bit copy, {Ca part, Cb part}. */
    static Tensor[] split(Tensor y, long ca) {
        long n = y.dim(0);
        long ra = y.shape().sizeFrom(2) * ca * 2;
        long rb = y.shape().sizeFrom(1) * 2 - ra;
        Tensor a = Tensor.empty(y.shape().with(1, ca), y.dtype());
        Tensor b = Tensor.empty(y.shape().with(1, y.dim(1) - ca), y.dtype());
        ByteBuffer in = y.hostBuffer();
        ByteBuffer ab = a.hostBuffer();
        ByteBuffer bb = b.hostBuffer();
        for (long i = 0; i < n; i++) {
            ab.put(Math.toIntExact(i * ra), in, Math.toIntExact(i * (ra + rb)), Math.toIntExact(ra));
            bb.put(Math.toIntExact(i * rb), in, Math.toIntExact(i * (ra + rb) + ra), Math.toIntExact(rb));
        }
        return new Tensor[] {a, b};
    }

    /** The channel concat of two 16-bit tensors: a bit copy. */
    static Tensor concat(Tensor a, Tensor b) {
        long n = a.dim(0);
        long ra = a.shape().sizeFrom(1) * 2;
        long rb = b.shape().sizeFrom(1) * 2;
        Tensor y = Tensor.empty(a.shape().with(1, a.dim(1) + b.dim(1)), a.dtype());
        ByteBuffer out = y.hostBuffer();
        ByteBuffer ab = a.hostBuffer();
        ByteBuffer bb = b.hostBuffer();
        for (long i = 0; i < n; i++) {
            out.put(Math.toIntExact(i * (ra + rb)), ab, Math.toIntExact(i * ra), Math.toIntExact(ra));
            out.put(Math.toIntExact(i * (ra + rb) + ra), bb, Math.toIntExact(i * rb), Math.toIntExact(rb));
        }
        return y;
    }
}
