package dev.sevnet.backend;

import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Device;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;

/**
 * The argument checks of every op, shared by the backends so that a bad call fails the same way on
 * the CPU and on a GPU — with an {@link IllegalArgumentException}, before any native call.
 */
public final class OpChecks {
    private final Device device;
    private final boolean acceptChannelsLast;

    /** Checks that refuse channels-last tensors: for ops that read NCDHW bytes. */
    public OpChecks(Device device) {
        this(device, false);
    }

    /**
     * acceptChannelsLast: the checks of ops written for either memory format (element-wise ops, and a device
     * backend's channels-last forms), which take NDHWC tensors too.
     */
    public OpChecks(Device device, boolean acceptChannelsLast) {
        this.device = device;
        this.acceptChannelsLast = acceptChannelsLast;
    }

    /**
     * The part of {@code Backend.toMemoryFormat} every backend shares: x checked (present, open, on this device,
     * float32 / bfloat16 / float16; rank 5 for channels-last), and x as {@code format} without moving a byte when that
     * is possible (a new reference when it has the format already, a relabelled view when its bytes are the same in
     * both orders); null when the bytes must be reordered.
     */
    public Tensor memoryFormatWithoutReorder(Tensor x, dev.sevnet.tensor.MemoryFormat format) {
        java.util.Objects.requireNonNull(format, "format");
        if (x == null || x.isClosed()) {
            throw new IllegalArgumentException("toMemoryFormat of a " + (x == null ? "null" : "closed") + " tensor");
        }
        Checks.tensor(x, "x", device, x.dtype(), true);
        floatingType(x);
        if (x.memoryFormat() == format) {
            return x.reshape(x.shape());
        }
        if (format == dev.sevnet.tensor.MemoryFormat.CHANNELS_LAST && x.rank() != 5) {
            throw new IllegalArgumentException("channels-last needs a 5-d tensor [N, C, T, H, W], got " + x.shape());
        }
        return dev.sevnet.tensor.MemoryFormat.isLayoutInvariant(x.shape()) ? x.viewAs(format) : null;
    }

    private static void floatingType(Tensor t) {
        if (t.dtype() != DType.FLOAT32 && !isHalf(t.dtype())) {
            throw new IllegalArgumentException("x must be " + DType.FLOAT32 + ", " + DType.BFLOAT16 + " or "
                    + DType.FLOAT16 + ", got " + t.dtype());
        }
    }

    /** Whether these checks let channels-last tensors through. */
    public boolean acceptsChannelsLast() {
        return acceptChannelsLast;
    }

    public void f32(Tensor t, String name) {
        Checks.tensor(t, name, device, DType.FLOAT32, acceptChannelsLast);
    }

    // ---- 16-bit inference (bf16 / fp16): the ops a folded SEVNet runs accept FLOAT32, BFLOAT16 or FLOAT16
    // activations, every activation operand of one op in the same type; biases and squeeze-excite gates fp32 ----

    /** Whether {@code d} is one of the 16-bit storage types of inference ({@code BFLOAT16}, {@code FLOAT16}). */
    public static boolean isHalf(DType d) {
        return d == DType.BFLOAT16 || d == DType.FLOAT16;
    }

    /**
     * Checks {@code t} (present, open, on this device) and returns its dtype, which must be float32 or, for the
     * inference ops that have a 16-bit form, bfloat16 or float16.
     */
    public DType floating(Tensor t, String name) {
        if (t == null) {
            throw new IllegalArgumentException(name + " is null");
        }
        Checks.tensor(t, name, device, t.dtype(), acceptChannelsLast);
        if (t.dtype() != DType.FLOAT32 && !isHalf(t.dtype())) {
            throw new IllegalArgumentException(name + " must be " + DType.FLOAT32 + ", " + DType.BFLOAT16 + " or "
                    + DType.FLOAT16 + ", got " + t.dtype());
        }
        return t.dtype();
    }

    /** {@code t} present, open, on this device and of {@code dtype} (another operand of a 16-bit op). */
    public void same(Tensor t, String name, DType dtype) {
        Checks.tensor(t, name, device, dtype, acceptChannelsLast);
    }

    // ---- 16-bit training (the CPU backend's reference forms; a GPU form checks the same) ----

    /**
     * {@code a} of a floating type ({@link #floating}) and {@code b} of the same type, of the same shape; returns
     * the type. For the element-wise training ops with a 16-bit form (add, ReLU backward, axpby's operands).
     */
    public DType sameFloating(Tensor a, String an, Tensor b, String bn) {
        DType dt = floating(a, an);
        same(b, bn, dt);
        return dt;
    }

    /**
     * The 16-bit conv's arguments (CPU reference and CUDA alike): x, w and the residual of one 16-bit type, the
     * bias float32 [Cout]; returns the 16-bit type.
     */
    public DType halfConv(Tensor x, Tensor w, Tensor bias, ConvSpec spec, Tensor residual) {
        DType dt = floating(x, "x");
        same(w, "weight", dt);
        conv(x.shape(), w.shape(), spec);
        long cout = w.dim(0);
        if (bias != null) {
            f32(bias, "bias");
            Checks.shape(bias, "bias", Shape.of(cout));
        }
        if (residual != null) {
            same(residual, "residual", dt);
            Checks.shape(residual, "residual", spec.outputShape(x.shape(), cout));
        }
        return dt;
    }

    /**
     * {@code Backend.cast}'s arguments: x float32 / bfloat16 / float16 on this device, the target one of those,
     * and not one 16-bit type to the other (that goes through float32); returns x's type.
     */
    public DType cast(Tensor x, DType dtype) {
        DType from = floating(x, "x");
        if (dtype == null || (dtype != DType.FLOAT32 && !isHalf(dtype))) {
            throw new IllegalArgumentException("cast to " + dtype + ": only " + DType.FLOAT32 + ", " + DType.BFLOAT16
                    + " and " + DType.FLOAT16);
        }
        if (from != DType.FLOAT32 && dtype != DType.FLOAT32 && from != dtype) {
            throw new IllegalArgumentException("cast from " + from + " to " + dtype + ": go through " + DType.FLOAT32);
        }
        return from;
    }

    /** A result type an op may be asked for: float32, bfloat16 or float16. */
    public static DType storageType(DType d, String what) {
        if (d != DType.FLOAT32 && !isHalf(d)) {
            throw new IllegalArgumentException(what + " must be " + DType.FLOAT32 + ", " + DType.BFLOAT16 + " or "
                    + DType.FLOAT16 + ", got " + d);
        }
        return d;
    }

    /** {@link #split}'s checks for y of any floating type; returns it. */
    public DType splitFloating(Tensor y, long ca) {
        DType dt = floating(y, "y");
        Checks.minRank(y, "y", 2);
        if (ca <= 0 || ca >= y.dim(1)) {
            throw new IllegalArgumentException("split at channel " + ca + " is outside (0, " + y.dim(1) + ")");
        }
        return dt;
    }

    public void conv(Shape xs, Shape ws, ConvSpec spec) {
        if (spec == null) {
            throw new IllegalArgumentException("conv3d spec is null");
        }
        if (xs == null || xs.rank() != 5) {
            throw new IllegalArgumentException("conv3d input must be [N, C, T, H, W], got " + xs);
        }
        if (ws == null || ws.rank() != 5) {
            throw new IllegalArgumentException("conv3d weight must be [Cout, Cin/groups, kT, kH, kW], got " + ws);
        }
        long cin = xs.get(1);
        long cout = ws.get(0);
        int g = spec.groups();
        if (cin % g != 0 || cout % g != 0) {
            throw new IllegalArgumentException("conv3d channels (in " + cin + ", out " + cout + ") must divide by groups " + g);
        }
        if (ws.get(1) != cin / g || ws.get(2) != spec.kT() || ws.get(3) != spec.kH() || ws.get(4) != spec.kW()) {
            throw new IllegalArgumentException("conv3d weight " + ws + " does not match input channels " + cin + " and "
                    + spec + " (expected [" + cout + ", " + cin / g + ", " + spec.kT() + ", " + spec.kH() + ", "
                    + spec.kW() + "])");
        }
        for (int i = 0; i < 5; i++) {
            Checks.intRange(xs.get(i), "input dim " + i);
        }
    }

    /** {N, C, S} of a batch-norm input [N, C, ...]. */
    public long[] ncs(Tensor x) {
        Checks.minRank(x, "batch norm input", 2);
        return new long[] {x.dim(0), x.dim(1), x.shape().sizeFrom(2)};
    }

    public void channelVec(Tensor t, String name, long c) {
        if (t != null) {
            f32(t, name);
            Checks.shape(t, name, Shape.of(c));
        }
    }

    public void batchNormTrain(Tensor x, long[] d, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar) {
        channelVec(gamma, "gamma", d[1]);
        channelVec(beta, "beta", d[1]);
        channelVec(runningMean, "running_mean", d[1]);
        channelVec(runningVar, "running_var", d[1]);
        if ((runningMean == null) != (runningVar == null)) {
            throw new IllegalArgumentException("running_mean and running_var must both be given or both be null");
        }
        if (d[0] * d[2] <= 1) {
            throw new IllegalArgumentException("batch norm in training mode needs more than 1 value per channel, input " + x.shape());
        }
    }

    public void batchNormEval(long[] d, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar) {
        channelVec(gamma, "gamma", d[1]);
        channelVec(beta, "beta", d[1]);
        if (runningMean == null || runningVar == null) {
            throw new IllegalArgumentException("batch norm in eval mode needs running_mean and running_var");
        }
        channelVec(runningMean, "running_mean", d[1]);
        channelVec(runningVar, "running_var", d[1]);
    }

    public void batchNormBackward(Tensor x, Tensor dy, long[] d, Tensor gamma, Tensor saveMean, Tensor saveInvstd) {
        Checks.sameShape(x, "x", dy, "dy");
        channelVec(gamma, "gamma", d[1]);
        if (saveMean == null || saveInvstd == null) {
            throw new IllegalArgumentException("batch norm backward needs save_mean and save_invstd from the training forward");
        }
        channelVec(saveMean, "save_mean", d[1]);
        channelVec(saveInvstd, "save_invstd", d[1]);
    }

    public void binary(Tensor a, Tensor b) {
        f32(a, "a");
        f32(b, "b");
        Checks.sameShape(a, "a", b, "b");
        Checks.sameFormat(a, "a", b, "b");
    }

    public void unaryBackward(Tensor y, Tensor dy) {
        f32(y, "y");
        f32(dy, "dy");
        Checks.sameShape(y, "y", dy, "dy");
        Checks.sameFormat(y, "y", dy, "dy");
    }

    public void axpby(Tensor x, Tensor y) {
        f32(x, "x");
        f32(y, "y");
        if (x.size() != y.size()) {
            throw new IllegalArgumentException("axpby: x " + x.shape() + " and y " + y.shape() + " differ in size");
        }
        Checks.sameFormat(x, "x", y, "y");
    }

    public void dropout(Tensor x, float p) {
        f32(x, "x");
        if (!(p >= 0f && p < 1f)) {
            throw new IllegalArgumentException("dropout probability must be in [0, 1), got " + p);
        }
    }

    /** a and b of one type: float32, or (inference) bfloat16 / float16. */
    public void concat(Tensor a, Tensor b) {
        DType dt = floating(a, "a");
        same(b, "b", dt);
        Checks.minRank(a, "a", 2);
        if (a.rank() != b.rank() || !a.shape().with(1, 0).equals(b.shape().with(1, 0))) {
            throw new IllegalArgumentException("concat: " + a.shape() + " and " + b.shape() + " differ outside the channel axis");
        }
    }

    public void split(Tensor y, long ca) {
        f32(y, "y");
        splitFloating(y, ca);
    }

    /** x float32, or (inference) bfloat16 / float16; the gate g always float32. */
    public void channelScale(Tensor x, Tensor g) {
        floating(x, "x");
        f32(g, "scale");
        Checks.minRank(x, "x", 2);
        Checks.shape(g, "scale", Shape.of(x.dim(0), x.dim(1)));
    }

    /** The pooling window as a depthwise conv spec over {@code c} channels. */
    public static ConvSpec depthwise(ConvSpec w, long c) {
        return new ConvSpec(w.kT(), w.kH(), w.kW(), w.sT(), w.sH(), w.sW(), w.pT(), w.pH(), w.pW(), Math.toIntExact(c));
    }

    public void pool(Shape xs, ConvSpec window) {
        if (window == null) {
            throw new IllegalArgumentException("avg-pool window is null");
        }
        if (xs == null || xs.rank() != 5) {
            throw new IllegalArgumentException("avg-pool input must be [N, C, T, H, W], got " + xs);
        }
        if (2 * window.pT() > window.kT() || 2 * window.pH() > window.kH() || 2 * window.pW() > window.kW()) {
            throw new IllegalArgumentException("avg-pool padding must be at most half the window: " + window);
        }
    }

    /** x float32, or (inference) bfloat16 / float16; the result is float32 either way. */
    public void globalPool(Tensor x) {
        floating(x, "x");
        Checks.minRank(x, "x", 3);
        if (x.shape().sizeFrom(2) == 0) {
            throw new IllegalArgumentException("global avg-pool of an empty spatial extent: " + x.shape());
        }
    }

    public void globalPoolBackward(Tensor dy, Shape xShape) {
        f32(dy, "dy");
        if (xShape == null || xShape.rank() < 3 || xShape.sizeFrom(2) == 0) {
            throw new IllegalArgumentException("global avg-pool input must have at least 3 dims and a non-empty spatial "
                    + "extent, got " + xShape);
        }
        Checks.shape(dy, "dy", Shape.of(xShape.get(0), xShape.get(1)));
    }

    public void linear(Tensor x, Tensor w, Tensor bias) {
        f32(x, "x");
        f32(w, "weight");
        Checks.rank(x, "x", 2);
        Checks.rank(w, "weight", 2);
        if (x.dim(1) != w.dim(1)) {
            throw new IllegalArgumentException("linear: input " + x.shape() + " has " + x.dim(1) + " features, weight "
                    + w.shape() + " expects " + w.dim(1));
        }
        if (bias != null) {
            f32(bias, "bias");
            Checks.shape(bias, "bias", Shape.of(w.dim(0)));
        }
    }

    public void linearBackward(Tensor x, Tensor w, Tensor dy) {
        linear(x, w, null);
        f32(dy, "dy");
        Checks.shape(dy, "dy", Shape.of(x.dim(0), w.dim(0)));
    }

    /** {m, n, k} of C = op(A) op(B). */
    public long[] gemm(boolean transA, boolean transB, Tensor a, Tensor b, Tensor c) {
        f32(a, "A");
        f32(b, "B");
        f32(c, "C");
        Checks.rank(a, "A", 2);
        Checks.rank(b, "B", 2);
        Checks.rank(c, "C", 2);
        long m = transA ? a.dim(1) : a.dim(0);
        long k = transA ? a.dim(0) : a.dim(1);
        long kb = transB ? b.dim(1) : b.dim(0);
        long n = transB ? b.dim(0) : b.dim(1);
        if (k != kb || c.dim(0) != m || c.dim(1) != n) {
            throw new IllegalArgumentException("gemm: op(A) " + m + "x" + k + ", op(B) " + kb + "x" + n + ", C " + c.shape());
        }
        return new long[] {m, n, k};
    }

    /** Checks logits [N, K] and int64 labels [N] in [0, K); {@code hostLabels} is a host copy of the labels. */
    public void labels(Tensor logits, Tensor labels, long[] hostLabels) {
        f32(logits, "logits");
        Checks.rank(logits, "logits", 2);
        if (labels == null || labels.isClosed()) {
            throw new IllegalArgumentException("labels is " + (labels == null ? "null" : "closed"));
        }
        if (labels.dtype() != DType.INT64) {
            throw new IllegalArgumentException("labels must be " + DType.INT64 + ", got " + labels.dtype());
        }
        Checks.shape(labels, "labels", Shape.of(logits.dim(0)));
        long k = logits.dim(1);
        for (int i = 0; i < hostLabels.length; i++) {
            long l = hostLabels[i];
            if (l < 0 || l >= k) {
                throw new IllegalArgumentException("label " + l + " of sample " + i + " is outside [0, " + k + ")");
            }
        }
    }

    public void targets(Tensor logits, Tensor targets) {
        f32(logits, "logits");
        f32(targets, "targets");
        Checks.rank(logits, "logits", 2);
        Checks.sameShape(logits, "logits", targets, "targets");
    }

    public void softmax(Tensor logits) {
        f32(logits, "logits");
        Checks.rank(logits, "logits", 2);
        if (logits.dim(1) == 0 && logits.dim(0) > 0) {
            throw new IllegalArgumentException("softmax over zero classes: " + logits.shape());
        }
    }

    public void sgd(Tensor w, Tensor grad, Tensor velocity) {
        f32(w, "weight");
        f32(grad, "grad");
        f32(velocity, "velocity");
        Checks.sameShape(w, "weight", grad, "grad");
        Checks.sameShape(w, "weight", velocity, "velocity");
    }
}
