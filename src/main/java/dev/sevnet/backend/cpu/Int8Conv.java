package dev.sevnet.backend.cpu;

import dev.sevnet.backend.ConvSpec;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;

import java.nio.FloatBuffer;
import java.util.Arrays;

/**
 * One convolution's int8 weights, packed for the VNNI kernel ({@code native/src/int8.cpp}): s8, one
 * symmetric scale per output channel ({@code s[c] = max|w'[c]| / 127}), and the conv on u8
 * {@link QTensor}s. Every argument is checked here before the native call.
 *
 * <p>Input scales: packed with the per-channel scales of the input it will read
 * ({@link #pack(Tensor, ConvSpec, float[])}), the weights carry them ({@code w'[co][ci] = w[co][ci] *
 * inScale[ci]}, folded before quantising) and the kernel reads the u8 codes as they are; packed without
 * ({@link #pack(Tensor, ConvSpec)}), the input must have one scale for all channels.
 *
 * <p>The conv computes {@code v = (acc - zp * sum w[c]) * sx * s[c] + bias[c]} from the int32 sum
 * {@code acc} of u8 x s8 products, adds a u8 residual when given ({@code + res[c] * resScale[c]}), and
 * either requantises into a u8 tensor at its per-channel scales ({@link #forward}: clamp at 0 — the ReLU
 * — and round) or writes float32 ({@link #forwardFloat}).
 *
 * <p>Owns two host tensors ({@link #packedWeights()}, {@link #scales()}); {@link #close()} frees them
 * (a module that registers them as buffers frees them instead).
 */
public final class Int8Conv implements AutoCloseable {
    /** Largest reduction length (input channels per group x kernel volume): int32 sums cannot overflow. */
    public static final long MAX_REDUCTION = Integer.MAX_VALUE / (255L * 127);

    private final ConvSpec spec;
    private final long cin;
    private final long cout;
    private final Tensor wq;
    private final Tensor wscale;
    private float[] inputScales;   // null: packed without

    private Int8Conv(ConvSpec spec, long cin, long cout, Tensor wq, Tensor wscale) {
        this.spec = spec;
        this.cin = cin;
        this.cout = cout;
        this.wq = wq;
        this.wscale = wscale;
    }

    /** Quantises and packs float32 weights {@code [Cout, Cin/groups, kT, kH, kW]} (PyTorch layout). */
    public static Int8Conv pack(Tensor w, ConvSpec spec) {
        return pack(w, spec, null);
    }

    /** As {@link #pack(Tensor, ConvSpec)}, folding the per-channel scales of the input into the weights. */
    public static Int8Conv pack(Tensor w, ConvSpec spec, float[] inputScales) {
        long cin = checkWeights(w, spec);
        long cout = w.dim(0);
        long bytes = Int8Kernels.sev_int8_packed_weight_bytes(packParams(spec, cin, cout));
        Tensor wq = Tensor.empty(Shape.of(Math.max(1, (bytes + 7) / 8)), DType.INT64);
        Tensor ws = Tensor.empty(Shape.of(cout));
        Int8Conv conv = new Int8Conv(spec, cin, cout, wq, ws);
        try {
            conv.repack(w, inputScales);
            return conv;
        } catch (RuntimeException e) {
            conv.close();
            throw e;
        }
    }

    /**
     * Quantises and packs {@code w} (the same shape) again, in place, for an input with
     * {@code inputScales} (null: one scale for all channels). Not thread-safe: for building a model.
     */
    public void repack(Tensor w, float[] inputScales) {
        if (checkWeights(w, spec) != cin || w.dim(0) != cout) {
            throw new IllegalArgumentException("repack: weights " + w.shape() + " differ from the packed ones");
        }
        float[] in = checkInputScales(inputScales, cin);
        try (Tensor folded = in == null ? null : fold(w, spec, in)) {
            Int8Ops.check(Int8Kernels.sev_int8_pack_weights(folded == null ? w.address() : folded.address(),
                    wq.address(), wscale.address(), packParams(spec, cin, cout)), "int8 weight packing");
        }
        this.inputScales = in;
    }

    public ConvSpec spec() {
        return spec;
    }

    public long inChannels() {
        return cin;
    }

    public long outChannels() {
        return cout;
    }

    /** The packed s8 weights (raw bytes in an int64 tensor). */
    public Tensor packedWeights() {
        return wq;
    }

    /** Per output channel weight scales, float32 {@code [Cout]}. */
    public Tensor scales() {
        return wscale;
    }

    /** Output shape for a u8 input of {@code input} shape. */
    public Shape outputShape(Shape input) {
        return spec.outputShape(input, cout);
    }

    /**
     * The conv into channels {@code [yOffset, yOffset + Cout)} of {@code y} (u8, zero point 0, its
     * scales the requantisation targets; {@code yOffset} a multiple of 4), with {@code residual} (u8,
     * zero point 0, the output's shape with Cout channels; null for none) added before the clamp.
     */
    public void forward(QTensor x, Tensor bias, QTensor residual, QTensor y, long yOffset) {
        Int8Ops.open(y, "y");
        Int8Ops.zeroPoint0(y, "the conv's u8 output");
        float sx = checkCall(x, bias, residual);
        Shape os = spec.outputShape(x.shape(), cout);
        Shape ys = y.shape();
        if (ys.get(0) != os.get(0) || ys.get(2) != os.get(2) || ys.get(3) != os.get(3) || ys.get(4) != os.get(4)) {
            throw new IllegalArgumentException("int8 conv: output " + ys + " does not fit the result " + os);
        }
        Int8Ops.channelRange(yOffset, cout, ys.get(1), "int8 conv");
        Int8Ops.check(Int8Kernels.sev_int8_conv(x.address(), sx, x.zeroPoint(), wq.address(), wscale.address(),
                bias == null ? 0 : bias.address(), residual == null ? 0 : residual.address(),
                residual == null ? null : residual.scalesView(), y.address(), y.scales(yOffset, yOffset + cout),
                Math.toIntExact(ys.get(1)), Math.toIntExact(yOffset), spec.nativeParams(x.shape(), cout), 0),
                "int8 conv");
    }

    /** A new u8 tensor (zero point 0, {@code yScales} per output channel) holding the conv. */
    public QTensor forward(QTensor x, Tensor bias, QTensor residual, float[] yScales) {
        checkCall(x, bias, residual);
        QTensor y = QTensor.empty(spec.outputShape(x.shape(), cout), yScales, 0);
        try {
            forward(x, bias, residual, y, 0);
            return y;
        } catch (RuntimeException e) {
            y.close();
            throw e;
        }
    }

    /** {@link #forward(QTensor, Tensor, QTensor, float[])} with one output scale for every channel. */
    public QTensor forward(QTensor x, Tensor bias, QTensor residual, float yScale) {
        float[] s = new float[Math.toIntExact(cout)];
        Arrays.fill(s, yScale);
        return forward(x, bias, residual, s);
    }

    /** The conv as a new float32 {@code [N, Cout, To, Ho, Wo]} tensor, ReLU'd when {@code relu}. */
    public Tensor forwardFloat(QTensor x, Tensor bias, QTensor residual, boolean relu) {
        float sx = checkCall(x, bias, residual);
        Tensor y = Tensor.empty(spec.outputShape(x.shape(), cout));
        try {
            Int8Ops.check(Int8Kernels.sev_int8_conv(x.address(), sx, x.zeroPoint(), wq.address(), wscale.address(),
                    bias == null ? 0 : bias.address(), residual == null ? 0 : residual.address(),
                    residual == null ? null : residual.scalesView(), y.address(), null, Math.toIntExact(cout), 0,
                    spec.nativeParams(x.shape(), cout), relu ? 1 : 0), "int8 conv");
            return y;
        } catch (RuntimeException e) {
            y.close();
            throw e;
        }
    }

    /**
     * The naive reference of the conv packed from {@code w} with {@code inputScales} (plain loops, plain
     * weights quantised from the same folded weights on the fly; the same result bit for bit): for
     * tests. {@code y} null: float32 output, returned.
     */
    public static Tensor reference(Tensor w, ConvSpec spec, float[] inputScales, QTensor x, Tensor bias,
            QTensor residual, QTensor y, long yOffset, boolean relu) {
        long cin = checkWeights(w, spec);
        long cout = w.dim(0);
        long k = w.size() / cout;
        int stride = Int8Kernels.sev_int8_weight_stride(k);
        float[] in = checkInputScales(inputScales, cin);
        try (Tensor folded = in == null ? null : fold(w, spec, in);
                Tensor wq = Tensor.empty(Shape.of(Math.max(1, (cout * stride + 7) / 8)), DType.INT64);
                Tensor ws = Tensor.empty(Shape.of(cout))) {
            Int8Ops.check(Int8Kernels.sev_int8_quantize_weights(folded == null ? w.address() : folded.address(),
                    wq.address(), ws.address(), cout, k), "int8 weight quantisation");
            Int8Conv shape = new Int8Conv(spec, cin, cout, wq, ws);
            shape.inputScales = in;
            float sx = shape.checkCall(x, bias, residual);
            Shape os = spec.outputShape(x.shape(), cout);
            Tensor out = null;
            if (y != null) {
                Int8Ops.open(y, "y");
                Int8Ops.zeroPoint0(y, "the conv's u8 output");
                Int8Ops.channelRange(yOffset, cout, y.dim(1), "int8 conv");
                if (y.dim(0) != os.get(0) || y.shape().sizeFrom(2) != os.sizeFrom(2)) {
                    throw new IllegalArgumentException("int8 conv: output " + y.shape() + " does not fit " + os);
                }
            } else {
                out = Tensor.empty(os);
            }
            Int8Ops.check(Int8Kernels.sev_int8_conv_reference(x.address(), sx, x.zeroPoint(), wq.address(),
                    ws.address(), bias == null ? 0 : bias.address(), residual == null ? 0 : residual.address(),
                    residual == null ? null : residual.scalesView(), y != null ? y.address() : out.address(),
                    y != null ? y.scales(yOffset, yOffset + cout) : null,
                    Math.toIntExact(y != null ? y.dim(1) : cout), Math.toIntExact(yOffset),
                    spec.nativeParams(x.shape(), cout), relu ? 1 : 0), "int8 conv reference");
            return out;
        }
    }

    @Override
    public void close() {
        wq.close();
        wscale.close();
    }

    // ---- helpers and checks ----

    /** {@code w[co][ci][k] * inScales[group(co) * Cin/groups + ci]}: the input's channel scales in the weights. */
    static Tensor fold(Tensor w, ConvSpec spec, float[] inScales) {
        long cout = w.dim(0);
        long cig = w.dim(1);
        long kv = spec.kernelVolume();
        long cog = cout / spec.groups();
        FloatBuffer src = w.floatBuffer();
        Tensor out = Tensor.empty(w.shape());
        FloatBuffer dst = out.floatBuffer();
        for (long co = 0; co < cout; co++) {
            for (long ci = 0; ci < cig; ci++) {
                float s = inScales[Math.toIntExact(co / cog * cig + ci)];
                for (long k = 0; k < kv; k++) {
                    int i = Math.toIntExact((co * cig + ci) * kv + k);
                    dst.put(i, src.get(i) * s);
                }
            }
        }
        return out;
    }

    private static float[] checkInputScales(float[] s, long cin) {
        if (s == null) {
            return null;
        }
        if (s.length != cin) {
            throw new IllegalArgumentException("input scales: " + cin + " expected, got " + s.length);
        }
        for (float v : s) {
            if (!(v > 0) || !Float.isFinite(v)) {
                throw new IllegalArgumentException("input scales must be finite and > 0, got " + v);
            }
        }
        return s.clone();
    }

    private static long checkWeights(Tensor w, ConvSpec spec) {
        if (w == null || w.isClosed() || w.dtype() != DType.FLOAT32 || !w.device().isCpu() || w.rank() != 5) {
            throw new IllegalArgumentException("int8 conv weights must be float32 [Cout, Cin/groups, kT, kH, kW] on the "
                    + "CPU, got " + w);
        }
        if (w.isChannelsLast() && !dev.sevnet.tensor.MemoryFormat.isLayoutInvariant(w.shape())) {
            // the packer reads NCDHW bytes
            throw new IllegalArgumentException("int8 conv weights must be contiguous (NCDHW), got a channels-last " + w
                    + ": convert it with toMemoryFormat(w, CONTIGUOUS)");
        }
        if (w.dim(2) != spec.kT() || w.dim(3) != spec.kH() || w.dim(4) != spec.kW() || w.dim(0) % spec.groups() != 0
                || w.dim(0) == 0 || w.dim(1) == 0) {
            throw new IllegalArgumentException("weights " + w.shape() + " do not match the conv " + spec);
        }
        if (spec.sW() > 2) {
            throw new IllegalArgumentException("int8 convs support a stride of 1 or 2 along W, got " + spec);
        }
        if (w.dim(1) * spec.kernelVolume() > MAX_REDUCTION) {
            throw new IllegalArgumentException("int8 conv reduction too long (" + w.dim(1) * spec.kernelVolume()
                    + " > " + MAX_REDUCTION + "): its int32 sums could overflow");
        }
        return w.dim(1) * spec.groups();
    }

    /** The parameter block for packing, which reads no positions: an input of the kernel's size. */
    private static int[] packParams(ConvSpec spec, long cin, long cout) {
        return spec.nativeParams(Shape.of(1, cin, spec.kT(), spec.kH(), spec.kW()), cout);
    }

    /** Checks a call and returns the input scale the kernel applies (1 when the weights carry it). */
    private float checkCall(QTensor x, Tensor bias, QTensor residual) {
        if (wq.isClosed() || wscale.isClosed()) {
            throw new IllegalStateException("int8 conv weights are closed");
        }
        Int8Ops.open(x, "x");
        if (x.dim(1) != cin) {
            throw new IllegalArgumentException("int8 conv expects [N, " + cin + ", T, H, W], got " + x.shape());
        }
        float[] xs = x.scalesView();
        float sx;
        if (inputScales != null) {
            if (!Arrays.equals(xs, inputScales)) {
                throw new IllegalArgumentException("int8 conv: the input's channel scales differ from the ones its "
                        + "weights were packed with");
            }
            sx = 1f;
        } else {
            sx = xs.length == 0 ? 1f : xs[0];
            for (float v : xs) {
                if (v != sx) {
                    throw new IllegalArgumentException("int8 conv packed without input scales needs one scale for "
                            + "all input channels");
                }
            }
        }
        Shape os = spec.outputShape(x.shape(), cout);
        if (bias != null && (bias.isClosed() || bias.dtype() != DType.FLOAT32 || !bias.device().isCpu()
                || bias.size() != cout)) {
            throw new IllegalArgumentException("bias must be an open float32 CPU tensor of " + cout + " values, got "
                    + bias);
        }
        if (residual != null) {
            Int8Ops.open(residual, "residual");
            Int8Ops.zeroPoint0(residual, "the residual");
            if (!residual.shape().equals(os)) {
                throw new IllegalArgumentException("residual " + residual.shape() + " must have the output's shape " + os);
            }
        }
        return sx;
    }
}
