package dev.sevnet.autograd;

import dev.sevnet.backend.Backend;
import dev.sevnet.backend.Backend.BatchNormResult;
import dev.sevnet.backend.Backend.ConvBatchNormResult;
import dev.sevnet.backend.Backends;
import dev.sevnet.backend.ConvSpec;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;

/**
 * Differentiable ops. Each runs its forward on the backend of its input's device and, when
 * {@link GradMode} is on and some input requires grad, records a backward function built from the
 * backend's backward methods. Results (and tensors saved for backward) belong to the current
 * {@link dev.sevnet.tensor.TensorScope}. Under {@link GradMode#noGrad()} nothing is recorded or saved.
 *
 * <p>Activations are NCDHW float32: {@code [N, C, T, H, W]}. Under {@link Autocast} the convolutions cast their
 * input and weight to the autocast type ({@link #cast}) and the activations after them are 16-bit, with float32
 * batch-norm parameters; {@link #globalAvgPool} gives float32 again.
 */
public final class F {
    private F() {
    }

    // ---- precision ----

    /**
     * {@code x} converted to {@code dtype} (float32, bfloat16 or float16; {@link Backend#cast}): {@code x} itself
     * when it has that type already. Backward casts the gradient back to x's type, so a float32 parameter cast to
     * 16 bits for a 16-bit op still gets a float32 gradient.
     */
    public static Var cast(Var x, DType dtype) {
        DType from = x.value().dtype();
        if (from == dtype) {
            return x;
        }
        Backend b = backend(x);
        Tensor y = b.cast(x.value(), dtype);
        if (!recording(x)) {
            return Var.of(y);
        }
        return record("cast", y, new Var[] {x}, dy -> new Tensor[] {b.cast(dy, from)});
    }

    /**
     * {@code x} with its bytes in {@code format} ({@link Backend#toMemoryFormat}): the same values, so the gradient
     * is dy reordered back to x's format. {@code x} itself when it already has that format.
     */
    public static Var toMemoryFormat(Var x, dev.sevnet.tensor.MemoryFormat format) {
        dev.sevnet.tensor.MemoryFormat from = x.value().memoryFormat();
        if (from == format) {
            return x;
        }
        Backend b = backend(x);
        Tensor y = b.toMemoryFormat(x.value(), format);
        if (!recording(x)) {
            return Var.of(y);
        }
        return record("to_memory_format", y, new Var[] {x}, dy -> new Tensor[] {b.toMemoryFormat(dy, from)});
    }

    /**
     * Under {@link Autocast}: {@code v} in the autocast type (float32 and the other 16-bit type are cast, through
     * float32); otherwise, or for a non-floating {@code v}, {@code v} itself.
     */
    private static Var autocast(Var v) {
        DType dt = Autocast.dtype();
        if (v == null || dt == null) {
            return v;
        }
        DType from = v.value().dtype();
        if (from == dt || (from != DType.FLOAT32 && from != DType.BFLOAT16 && from != DType.FLOAT16)) {
            return v;
        }
        return cast(from == DType.FLOAT32 ? v : cast(v, DType.FLOAT32), dt);
    }

    /** Batch norm with running statistics (evaluation) is float32 only: say so for a 16-bit input. */
    private static void evalIsFp32(Var x, String op) {
        DType dt = x.value().dtype();
        if (dt == DType.BFLOAT16 || dt == DType.FLOAT16) {
            throw new IllegalArgumentException(op + " in evaluation mode runs in " + DType.FLOAT32 + ", got a " + dt
                    + " input: evaluate outside Autocast (16-bit inference is FoldedSevNet.fold(net, dtype))");
        }
    }

    // ---- convolution ----

    /** 3-D convolution without bias; w is {@code [Cout, Cin/groups, kT, kH, kW]}. */
    public static Var conv3d(Var x, Var w, ConvSpec spec) {
        return conv3d(x, w, null, spec);
    }

    /**
     * 3-D convolution; {@code bias} ({@code [Cout]}) may be null. Under {@link Autocast}: x and w cast to the
     * autocast type, the bias stays float32, the result is 16-bit.
     */
    public static Var conv3d(Var input, Var weight, Var bias, ConvSpec spec) {
        Var x = autocast(input);
        Var w = autocast(weight);
        Backend b = backend(x);
        Tensor y = b.conv3d(x.value(), w.value(), bias == null ? null : bias.value(), spec, false);
        if (!recording(x, w, bias)) {
            return Var.of(y);
        }
        Shape xShape = x.shape();
        Shape wShape = w.shape();
        saves(x, w);
        return record("conv3d", y, new Var[] {x, w, bias}, dy -> new Tensor[] {
            x.requiresGrad() ? b.conv3dBackwardData(dy, w.value(), spec, xShape) : null,
            w.requiresGrad() ? likeWeight(b, b.conv3dBackwardWeight(x.value(), dy, spec, wShape), w.value()) : null,
            bias != null && bias.requiresGrad() ? channelSum(b, dy) : null});
    }

    /**
     * dw in the memory format of the weight it updates (the backends give dw in the activations' format): the
     * gradient, the weight and its momentum must pair element for element.
     */
    private static Tensor likeWeight(Backend b, Tensor dw, Tensor w) {
        if (dw.memoryFormat() == w.memoryFormat() || dev.sevnet.tensor.MemoryFormat.isLayoutInvariant(dw.shape())) {
            return dw;
        }
        try (dw) {
            return b.toMemoryFormat(dw, w.memoryFormat());
        }
    }

    // ---- batch norm ----

    /**
     * Batch norm over axis 1. Training: normalizes with batch statistics and updates
     * {@code runningMean}/{@code runningVar} in place (PyTorch semantics, unbiased running variance).
     * Evaluation: normalizes with the running statistics.
     */
    public static Var batchNorm(Var x, Var gamma, Var beta, Tensor runningMean, Tensor runningVar, boolean training,
            double momentum, double eps) {
        Backend b = backend(x);
        if (training) {
            BatchNormResult r = b.batchNormTrain(x.value(), gamma.value(), beta.value(), runningMean, runningVar, eps,
                    momentum);
            Tensor mean = r.saveMean();
            Tensor invstd = r.saveInvstd();
            if (!recording(x, gamma, beta)) {
                mean.close();
                invstd.close();
                return Var.of(r.y());
            }
            saves(x, gamma);
            return record("batch_norm", r.y(), new Var[] {x, gamma, beta}, dy -> {
                Tensor[] g = b.batchNormBackward(x.value(), dy, gamma.value(), mean, invstd);
                return keepNeeded(g, x, gamma, beta);
            });
        }
        evalIsFp32(x, "batch norm");
        Tensor y = b.batchNormEval(x.value(), gamma.value(), beta.value(), runningMean, runningVar, eps, false);
        if (!recording(x, gamma, beta)) {
            return Var.of(y);
        }
        // snapshots: a later training forward would change the running statistics before this backward runs
        Tensor mean = b.scale(runningMean, 1f);
        Tensor var = b.scale(runningVar, 1f);
        saves(x, gamma);
        return record("batch_norm_eval", y, new Var[] {x, gamma, beta}, dy -> {
            Tensor dx = null;
            Tensor dgamma = null;
            Tensor dbeta = null;
            if (x.requiresGrad()) {
                // dx = dy * gamma / sqrt(var + eps): the eval form applied to dy with zero mean and shift
                try (Tensor zero = filled(b, mean.shape(), 0f)) {
                    dx = b.batchNormEval(dy, gamma.value(), null, zero, var, eps, false);
                }
            }
            if (gamma.requiresGrad()) {
                try (Tensor xhat = b.batchNormEval(x.value(), null, null, mean, var, eps, false);
                        Tensor prod = b.mul(dy, xhat)) {
                    dgamma = channelSum(b, prod);
                }
            }
            if (beta.requiresGrad()) {
                dbeta = channelSum(b, dy);
            }
            return new Tensor[] {dx, dgamma, dbeta};
        });
    }

    /**
     * {@code relu(batchNorm(...))}: in evaluation without a graph one kernel (the inference path); in
     * training one op, {@link Backend#batchNormTrainAct} forward and {@link Backend#batchNormActBackward}
     * backward (fused on the CUDA backend in kernel mode CUSTOM, the separate ops elsewhere).
     */
    public static Var batchNormRelu(Var x, Var gamma, Var beta, Tensor runningMean, Tensor runningVar, boolean training,
            double momentum, double eps) {
        Backend b = backend(x);
        boolean rec = recording(x, gamma, beta);
        if (!training) {
            evalIsFp32(x, "batch norm");
        }
        if (!training && !rec) {
            return Var.of(b.batchNormEval(x.value(), gamma.value(), beta.value(), runningMean, runningVar, eps, true));
        }
        if (!training) {
            Var normalized = batchNorm(x, gamma, beta, runningMean, runningVar, false, momentum, eps);
            Var y = relu(normalized);
            // neither backward needs the normalized values (BN's uses its input, ReLU's its output)
            normalized.value().close();
            return y;
        }
        return batchNormTrainRelu("batch_norm_relu", x, gamma, beta, runningMean, runningVar, null, momentum, eps);
    }

    /**
     * Training-mode {@code relu(batchNorm(x) [+ residual])} as one recorded op: statistics, running stats,
     * normalize (+ residual) + ReLU forward; ReLU mask + batch norm's backward (+ the residual's gradient).
     */
    private static Var batchNormTrainRelu(String name, Var x, Var gamma, Var beta, Tensor runningMean,
            Tensor runningVar, Var residual, double momentum, double eps) {
        Backend b = backend(x);
        Var[] inputs = residual == null ? new Var[] {x, gamma, beta} : new Var[] {x, gamma, beta, residual};
        BatchNormResult r = b.batchNormTrainAct(x.value(), residual == null ? null : residual.value(), gamma.value(),
                beta.value(), runningMean, runningVar, eps, momentum, true);
        Tensor y = r.y();
        Tensor mean = r.saveMean();
        Tensor invstd = r.saveInvstd();
        if (!recording(inputs)) {
            mean.close();
            invstd.close();
            return Var.of(y);
        }
        saves(x, gamma, residual == null ? beta : null);
        boolean residualGrad = residual != null && residual.requiresGrad();
        if (residual == null) {
            // no residual: a backend may recompute the ReLU's mask from x instead of reading y
            return savesOutput(record(name, y, inputs, dy -> keepNeeded(b.batchNormReluBackward(x.value(), y, dy,
                    gamma.value(), beta.value(), mean, invstd), inputs)));
        }
        return savesOutput(record(name, y, inputs, dy -> keepNeeded(java.util.Arrays.copyOf(b.batchNormActBackward(
                x.value(), y, dy, gamma.value(), mean, invstd, true, residualGrad), inputs.length), inputs)));
    }

    /**
     * {@code relu(batchNorm(conv3d(x, w)))} as one op, so a backend can fuse it (the CUDA backend's
     * kernels/conv_bn_relu.cu in kernel mode CUSTOM; elsewhere the separate ops, with the same results).
     * Training: batch statistics, running stats updated in place; one recorded node whose backward is the
     * ReLU mask and batch norm's backward ({@link Backend#batchNormActBackward}), then the conv's.
     * Evaluation without a graph: {@link Backend#convBatchNormEval} (BN in the conv's epilogue). Under
     * {@link Autocast} (training): x and w cast to the autocast type, z and y 16-bit, the BN parameters and
     * statistics float32.
     */
    public static Var convBatchNormRelu(Var input, Var weight, ConvSpec spec, Var gamma, Var beta, Tensor runningMean,
            Tensor runningVar, boolean training, double momentum, double eps) {
        Var x = autocast(input);
        Var w = autocast(weight);
        Backend b = backend(x);
        boolean rec = recording(x, w, gamma, beta);
        if (!training) {
            evalIsFp32(x, "conv + batch norm");
            if (!rec) {
                return Var.of(b.convBatchNormEval(x.value(), w.value(), spec, gamma.value(), beta.value(), runningMean,
                        runningVar, eps, true));
            }
            return batchNormRelu(conv3d(x, w, spec), gamma, beta, runningMean, runningVar, false, momentum, eps);
        }
        ConvBatchNormResult r = b.convBatchNormTrain(x.value(), w.value(), spec, gamma.value(), beta.value(),
                runningMean, runningVar, eps, momentum, true);
        Tensor z = r.z();
        Tensor y = r.y();
        Tensor mean = r.saveMean();
        Tensor invstd = r.saveInvstd();
        if (!rec) {
            z.close();
            mean.close();
            invstd.close();
            return Var.of(y);
        }
        Shape xShape = x.shape();
        Shape wShape = w.shape();
        saves(x, w, gamma, beta);
        return savesOutput(record("conv_batch_norm_relu", y, new Var[] {x, w, gamma, beta}, dy -> {
            Tensor[] g = b.batchNormReluBackward(z, y, dy, gamma.value(), beta.value(), mean, invstd);
            try (Tensor dz = g[0]) {
                return keepNeeded(new Tensor[] {
                    x.requiresGrad() ? b.conv3dBackwardData(dz, w.value(), spec, xShape) : null,
                    w.requiresGrad() ? likeWeight(b, b.conv3dBackwardWeight(x.value(), dz, spec, wShape), w.value())
                            : null, g[1], g[2]},
                        x, w, gamma, beta);
            }
        }));
    }

    /**
     * {@code relu(batchNorm(conv3d(x, w)) + residual)}: a standard block's last conv and tail. Evaluation without a
     * graph is one backend op ({@link Backend#convBatchNormAddReluEval}: on the CPU the batch norm, the add and the
     * ReLU in the conv's epilogue); otherwise the conv, then {@link #batchNormAddRelu}, the conv's output released.
     */
    public static Var convBatchNormAddRelu(Var input, Var weight, ConvSpec spec, Var gamma, Var beta,
            Tensor runningMean, Tensor runningVar, Var residual, boolean training, double momentum, double eps) {
        if (residual == null) {
            throw new IllegalArgumentException("convBatchNormAddRelu needs a residual");
        }
        if (!training && !recording(input, weight, gamma, beta, residual)) {
            Var x = autocast(input);
            Var w = autocast(weight);
            evalIsFp32(x, "conv + batch norm");
            return Var.of(backend(x).convBatchNormAddReluEval(x.value(), w.value(), spec, gamma.value(), beta.value(),
                    runningMean, runningVar, eps, residual.value()));
        }
        Var c = conv3d(input, weight, spec);
        Var out = batchNormAddRelu(c, gamma, beta, runningMean, runningVar, residual, training, momentum, eps);
        if (!GradMode.isEnabled() || !c.isSavedForBackward()) {
            c.value().close();
        }
        return out;
    }

    /**
     * {@code relu(batchNorm(x) + residual)}: a standard block's tail as one op (fused on the CUDA backend in
     * kernel mode CUSTOM; elsewhere the separate ops, with the same results).
     */
    public static Var batchNormAddRelu(Var x, Var gamma, Var beta, Tensor runningMean, Tensor runningVar, Var residual,
            boolean training, double momentum, double eps) {
        if (residual == null) {
            throw new IllegalArgumentException("batchNormAddRelu needs a residual");
        }
        if (!training) {
            Var normalized = batchNorm(x, gamma, beta, runningMean, runningVar, false, momentum, eps);
            Var y = addRelu(normalized, residual);
            // addRelu's backward reads its output only
            normalized.value().close();
            return y;
        }
        return batchNormTrainRelu("batch_norm_add_relu", x, gamma, beta, runningMean, runningVar, residual, momentum,
                eps);
    }

    // ---- element-wise ----

    public static Var relu(Var x) {
        Backend b = backend(x);
        Tensor y = b.relu(x.value());
        if (!recording(x)) {
            return Var.of(y);
        }
        return savesOutput(record("relu", y, new Var[] {x}, dy -> new Tensor[] {b.reluBackward(y, dy)}));
    }

    public static Var add(Var a, Var c) {
        Backend b = backend(a);
        Tensor y = b.add(a.value(), c.value());
        if (!recording(a, c)) {
            return Var.of(y);
        }
        return record("add", y, new Var[] {a, c}, dy -> new Tensor[] {dy, dy});
    }

    /** {@code relu(a + c)}, the residual tail, in one kernel. */
    public static Var addRelu(Var a, Var c) {
        Backend b = backend(a);
        Tensor y = b.addRelu(a.value(), c.value());
        if (!recording(a, c)) {
            return Var.of(y);
        }
        return savesOutput(record("add_relu", y, new Var[] {a, c}, dy -> {
            Tensor d = b.reluBackward(y, dy);
            return new Tensor[] {d, d};
        }));
    }

    public static Var sigmoid(Var x) {
        Backend b = backend(x);
        Tensor y = b.sigmoid(x.value());
        if (!recording(x)) {
            return Var.of(y);
        }
        return savesOutput(record("sigmoid", y, new Var[] {x}, dy -> new Tensor[] {b.sigmoidBackward(y, dy)}));
    }

    /** {@code y[n,c,...] = x[n,c,...] * s[n,c]}: the squeeze-excite scaling; s is {@code [N, C]}. */
    public static Var channelScale(Var x, Var s) {
        Backend b = backend(x);
        Tensor y = b.channelScale(x.value(), s.value());
        if (!recording(x, s)) {
            return Var.of(y);
        }
        saves(x, s);
        return record("channel_scale", y, new Var[] {x, s},
                dy -> keepNeeded(b.channelScaleBackward(x.value(), s.value(), dy), x, s));
    }

    /**
     * Inverted dropout with drop probability {@code p}; the mask is a function of {@code seed}. Outside
     * training (or with p = 0) it is the identity and returns {@code x} itself.
     */
    public static Var dropout(Var x, double p, long seed, boolean training) {
        if (!training || p == 0) {
            return x;
        }
        Backend b = backend(x);
        Tensor[] ym = b.dropout(x.value(), (float) p, seed);
        Tensor mask = ym[1];
        if (!recording(x)) {
            mask.close();
            return Var.of(ym[0]);
        }
        return record("dropout", ym[0], new Var[] {x}, dy -> new Tensor[] {b.mul(dy, mask)});
    }

    /**
     * Inverted dropout with a given {@code mask} (0 or 1/(1-p) per element, as {@link Backend#dropout} makes it):
     * y = x * mask, dx = dy * mask — what {@link #dropout} computes, with the mask made elsewhere (a CUDA graph's
     * training step refills a static mask before each replay). The caller keeps {@code mask} open until backward ran.
     */
    public static Var dropoutWithMask(Var x, Tensor mask) {
        Backend b = backend(x);
        Tensor y = b.mul(x.value(), mask);
        if (!recording(x)) {
            return Var.of(y);
        }
        return record("dropout", y, new Var[] {x}, dy -> new Tensor[] {b.mul(dy, mask)});
    }

    // ---- shape ops ----

    /** Concatenates {@code [N, Ca, ...]} and {@code [N, Cb, ...]} along the channel axis. */
    public static Var concatChannels(Var a, Var c) {
        Backend b = backend(a);
        Tensor y = b.concatChannels(a.value(), c.value());
        if (!recording(a, c)) {
            return Var.of(y);
        }
        long ca = a.dim(1);
        return record("concat_channels", y, new Var[] {a, c}, dy -> b.splitChannels(dy, ca));
    }

    /** Same elements in another shape, sharing memory with {@code x}. */
    public static Var reshape(Var x, Shape shape) {
        Tensor y = x.value().reshape(shape);
        if (!recording(x)) {
            return Var.of(y);
        }
        Shape xShape = x.shape();
        return record("reshape", y, new Var[] {x}, dy -> new Tensor[] {dy.reshape(xShape)});
    }

    /** {@code [N, ...] -> [N, rest]}. */
    public static Var flatten(Var x) {
        return reshape(x, Shape.of(x.dim(0), x.shape().sizeFrom(1)));
    }

    // ---- pooling ----

    /** Average pooling with count_include_pad semantics; {@code window.groups} is ignored. */
    public static Var avgPool3d(Var x, ConvSpec window) {
        Backend b = backend(x);
        Tensor y = b.avgPool3d(x.value(), window);
        if (!recording(x)) {
            return Var.of(y);
        }
        Shape xShape = x.shape();
        return record("avg_pool3d", y, new Var[] {x}, dy -> new Tensor[] {b.avgPool3dBackward(dy, window, xShape)});
    }

    /**
     * Mean over every axis after the channel axis: {@code [N, C, T, H, W] -> [N, C]}, float32 also for a 16-bit
     * input (the head and squeeze-excite run in float32 under {@link Autocast}).
     */
    public static Var globalAvgPool(Var x) {
        Backend b = backend(x);
        Tensor y = b.globalAvgPool(x.value());
        if (!recording(x)) {
            return Var.of(y);
        }
        Shape xShape = x.shape();
        DType xType = x.value().dtype();
        dev.sevnet.tensor.MemoryFormat xFormat = x.value().memoryFormat();
        // y is float32 for every input type; dx has x's type and memory format
        return record("global_avg_pool", y, new Var[] {x}, dy -> new Tensor[] {
            xFormat != dev.sevnet.tensor.MemoryFormat.CONTIGUOUS ? b.globalAvgPoolBackward(dy, xShape, xType, xFormat)
                    : xType == DType.FLOAT32 ? b.globalAvgPoolBackward(dy, xShape)
                    : b.globalAvgPoolBackward(dy, xShape, xType)});
    }

    // ---- dense ----

    /** {@code y = x w^T + bias}; x {@code [N, in]}, w {@code [out, in]}, bias {@code [out]} or null. */
    public static Var linear(Var x, Var w, Var bias) {
        Backend b = backend(x);
        Tensor y = b.linear(x.value(), w.value(), bias == null ? null : bias.value());
        if (!recording(x, w, bias)) {
            return Var.of(y);
        }
        saves(x, w);
        return record("linear", y, new Var[] {x, w, bias},
                dy -> keepNeeded(b.linearBackward(x.value(), w.value(), dy, bias != null), x, w, bias));
    }

    // ---- losses ----

    /**
     * Batch-mean softmax cross-entropy of {@code logits [N, K]} against int64 {@code labels [N]}: a
     * one-element loss. The caller keeps {@code labels} open until backward has run.
     */
    public static Var softmaxCrossEntropy(Var logits, Tensor labels) {
        Backend b = backend(logits);
        Tensor[] lossProbs = b.softmaxCrossEntropy(logits.value(), labels);
        Tensor probs = lossProbs[1];
        if (!recording(logits)) {
            probs.close();
            return Var.of(lossProbs[0]);
        }
        return record("softmax_cross_entropy", lossProbs[0], new Var[] {logits},
                dy -> new Tensor[] {b.softmaxCrossEntropyBackward(probs, labels, dy)});
    }

    /**
     * Mean binary cross-entropy with logits over all {@code N*K} entries, against float
     * {@code targets [N, K]} (multi-label): a one-element loss. The caller keeps {@code targets} open
     * until backward has run.
     */
    public static Var bceWithLogits(Var logits, Tensor targets) {
        Backend b = backend(logits);
        Tensor loss = b.bceWithLogits(logits.value(), targets);
        if (!recording(logits)) {
            return Var.of(loss);
        }
        saves(logits);
        return record("bce_with_logits", loss, new Var[] {logits},
                dy -> new Tensor[] {b.bceWithLogitsBackward(logits.value(), targets, dy)});
    }

    // ---- helpers ----

    private static Backend backend(Var x) {
        return Backends.of(x.value());
    }

    private static boolean recording(Var... inputs) {
        if (!GradMode.isEnabled()) {
            return false;
        }
        for (Var v : inputs) {
            if (v != null && v.requiresGrad()) {
                return true;
            }
        }
        return false;
    }

    /** Marks values a backward function reads, so they are kept until the graph is done. */
    private static void saves(Var... vs) {
        for (Var v : vs) {
            if (v != null) {
                v.markSavedForBackward();
            }
        }
    }

    /** Marks an op's result whose own backward function reads it (ReLU and sigmoid use their output). */
    private static Var savesOutput(Var result) {
        result.markSavedForBackward();
        return result;
    }

    private static Var record(String op, Tensor y, Var[] inputs, BackwardFn fn) {
        return Var.result(y, new Node(op, inputs, fn));
    }

    /** Closes the gradients of inputs that need none (or are absent) and returns the array with nulls there. */
    private static Tensor[] keepNeeded(Tensor[] grads, Var... inputs) {
        for (int i = 0; i < grads.length; i++) {
            if (grads[i] != null && (inputs[i] == null || !inputs[i].requiresGrad())) {
                grads[i].close();
                grads[i] = null;
            }
        }
        return grads;
    }

    /** Sum of {@code [N, C, ...]} over every axis but the channel axis: {@code [C]}. */
    static Tensor channelSum(Backend b, Tensor t) {
        long n = t.dim(0);
        long c = t.dim(1);
        long s = t.shape().sizeFrom(2);
        try (Tensor flat = t.isChannelsLast() ? t.reshape(t.shape()) : t.reshape(n, c, s);
                Tensor means = b.globalAvgPool(flat);
                Tensor weights = filled(b, Shape.of(1, n), (float) s);
                Tensor row = filled(b, Shape.of(1, c), 0f)) {
            // [1, N] x [N, C]: each mean times its count, summed over the batch
            b.gemm(false, false, 1f, weights, means, 0f, row);
            return row.reshape(c);
        }
    }

    /** A new tensor on the backend's device with every element {@code value}. */
    static Tensor filled(Backend b, Shape shape, float value) {
        Tensor host = Tensor.full(shape, value);
        if (b.device().isCpu()) {
            return host;
        }
        try (host) {
            return b.toDevice(host);
        }
    }
}
