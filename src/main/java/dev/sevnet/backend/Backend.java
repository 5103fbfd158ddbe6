package dev.sevnet.backend;

import dev.sevnet.tensor.Device;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import java.util.List;

/**
 * The compute operations of the model, one method per op, forward and backward, on one device.
 *
 * <p>Every method validates shapes, dtypes and devices and throws {@link IllegalArgumentException}
 * before any native call. Inputs are never modified unless the method says so (running statistics,
 * optimizer state). Results are new tensors owned by the caller (or by the current
 * {@link dev.sevnet.tensor.TensorScope}). Activations are NCDHW float32; the ops of a folded network's
 * inference ({@code conv3d}, {@code conv3dResidual}, {@code relu}, {@code addRelu}, {@code avgPool3d},
 * {@code globalAvgPool} (float32 result), {@code channelScale} (float32 gate), {@code concatChannels}) also take
 * bfloat16 or float16 activations and weights, all of one type, with float32 biases: fp32 arithmetic, one
 * rounding to the 16-bit type per stored result. The CPU backend also has the 16-bit forms of the training ops
 * mixed precision reaches ({@code conv3dBackwardData}, {@code conv3dBackwardWeight} (16-bit dw), the batch-norm
 * training forms and backwards (16-bit x, y, dy, residual, dx; float32 parameters, statistics, dgamma, dbeta),
 * {@code reluBackward}, {@code add}, {@code axpby}, {@code avgPool3dBackward}, {@code globalAvgPoolBackward} with a
 * dx type, {@code splitChannels}, {@code channelScaleBackward} (float32 gate and dg)), with the same rule: widen,
 * the fp32 op, one rounding per stored 16-bit result (the reference of a GPU's 16-bit training ops). Every other
 * op rejects 16-bit tensors.
 */
public interface Backend {

    Device device();

    String name();

    // ---- convolution ----

    /** y = conv3d(x, w) (+ bias) (then ReLU when {@code relu}); x [N,Cin,T,H,W], w [Cout,Cin/groups,kT,kH,kW]. */
    Tensor conv3d(Tensor x, Tensor w, Tensor biasOrNull, ConvSpec spec, boolean relu);

    default Tensor conv3d(Tensor x, Tensor w, ConvSpec spec) {
        return conv3d(x, w, null, spec, false);
    }

    /**
     * y = conv3d(x, w) (+ bias) + residual (then ReLU when {@code relu}), residual of y's shape: a residual
     * block's last conv and its shortcut add as one op (the CPU backend adds it in the conv's epilogue).
     */
    default Tensor conv3dResidual(Tensor x, Tensor w, Tensor biasOrNull, ConvSpec spec, Tensor residual, boolean relu) {
        try (Tensor y = conv3d(x, w, biasOrNull, spec, false)) {
            return relu ? addRelu(y, residual) : add(y, residual);
        }
    }

    /** dL/dx of conv3d for input shape {@code xShape}. */
    Tensor conv3dBackwardData(Tensor dy, Tensor w, ConvSpec spec, Shape xShape);

    /** dL/dw of conv3d. */
    Tensor conv3dBackwardWeight(Tensor x, Tensor dy, ConvSpec spec, Shape wShape);

    // ---- batch norm over channel axis 1 of [N, C, ...] ----

    /** Training form: batch statistics; updates running stats in place (PyTorch semantics). */
    BatchNormResult batchNormTrain(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
            double eps, double momentum);

    /** Evaluation form with running statistics; optionally fused with ReLU. */
    Tensor batchNormEval(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, double eps,
            boolean relu);

    /** Backward of the training form: dx, dgamma, dbeta. */
    Tensor[] batchNormBackward(Tensor x, Tensor dy, Tensor gamma, Tensor saveMean, Tensor saveInvstd);

    // ---- fused conv -> batch norm -> ReLU and batch norm -> (+ residual) -> ReLU ----
    // The defaults compose the ops above, so a backend without fused kernels (the CPU) computes exactly what
    // the separate ops compute; the CUDA backend overrides them with fused kernels (KernelMode CUSTOM).

    /**
     * Training form of {@code act(batchNorm(x) + residual)}: act is ReLU when {@code relu}, the residual
     * (same shape as x) may be null. Batch statistics, running stats updated in place as
     * {@link #batchNormTrain}.
     */
    default BatchNormResult batchNormTrainAct(Tensor x, Tensor residualOrNull, Tensor gamma, Tensor beta,
            Tensor runningMean, Tensor runningVar, double eps, double momentum, boolean relu) {
        BatchNormResult r = batchNormTrain(x, gamma, beta, runningMean, runningVar, eps, momentum);
        if (residualOrNull == null && !relu) {
            return r;
        }
        try (Tensor bn = r.y()) {
            Tensor y = residualOrNull == null ? relu(bn)
                    : relu ? addRelu(bn, residualOrNull) : add(bn, residualOrNull);
            return new BatchNormResult(y, r.saveMean(), r.saveInvstd());
        }
    }

    /**
     * Backward of {@link #batchNormTrainAct}: {dx, dgamma, dbeta, dresidual}. {@code y} is the forward's
     * output (read for the ReLU mask when {@code relu}); dresidual is null unless {@code residualGrad}, and
     * without ReLU it is {@code dy} itself.
     */
    default Tensor[] batchNormActBackward(Tensor x, Tensor y, Tensor dy, Tensor gamma, Tensor saveMean,
            Tensor saveInvstd, boolean relu, boolean residualGrad) {
        Tensor g = relu ? reluBackward(y, dy) : dy;
        Tensor[] d = batchNormBackward(x, g, gamma, saveMean, saveInvstd);
        if (relu && !residualGrad) {
            g.close();
        }
        return new Tensor[] {d[0], d[1], d[2], residualGrad ? g : null};
    }

    /**
     * Backward of {@code relu(batchNorm(x))} without a residual ({@link #batchNormTrainAct} with a null residual
     * and {@code relu}): {dx, dgamma, dbeta}, the values of {@code batchNormActBackward(x, y, dy, gamma, saveMean,
     * saveInvstd, true, false)}. A backend may recompute the ReLU's mask from x, gamma, beta and the saved statistics
     * (y &gt; 0 exactly where the forward's normalised x is) instead of reading y — one tensor less read per pass of
     * a memory-bound op; this default reads y.
     */
    default Tensor[] batchNormReluBackward(Tensor x, Tensor y, Tensor dy, Tensor gamma, Tensor beta, Tensor saveMean,
            Tensor saveInvstd) {
        Tensor[] d = batchNormActBackward(x, y, dy, gamma, saveMean, saveInvstd, true, false);
        return new Tensor[] {d[0], d[1], d[2]};
    }

    /**
     * Training form of {@code act(batchNorm(conv3d(x, w)))} (act ReLU when {@code relu}): returns the conv
     * output z (batch norm's input, which its backward reads), y, and the batch statistics.
     */
    default ConvBatchNormResult convBatchNormTrain(Tensor x, Tensor w, ConvSpec spec, Tensor gamma, Tensor beta,
            Tensor runningMean, Tensor runningVar, double eps, double momentum, boolean relu) {
        Tensor z = conv3d(x, w, spec);
        BatchNormResult r = batchNormTrainAct(z, null, gamma, beta, runningMean, runningVar, eps, momentum, relu);
        return new ConvBatchNormResult(z, r.y(), r.saveMean(), r.saveInvstd());
    }

    /** Evaluation form of {@code act(batchNorm(conv3d(x, w)))} with the running statistics. */
    default Tensor convBatchNormEval(Tensor x, Tensor w, ConvSpec spec, Tensor gamma, Tensor beta, Tensor runningMean,
            Tensor runningVar, double eps, boolean relu) {
        try (Tensor z = conv3d(x, w, spec)) {
            return batchNormEval(z, gamma, beta, runningMean, runningVar, eps, relu);
        }
    }

    /**
     * Evaluation form of {@code relu(batchNorm(conv3d(x, w)) + residual)} with the running statistics: a standard
     * block's last conv and its tail. This default is the separate ops; the CPU backend fuses them into the conv's
     * epilogue with the same bits.
     */
    default Tensor convBatchNormAddReluEval(Tensor x, Tensor w, ConvSpec spec, Tensor gamma, Tensor beta,
            Tensor runningMean, Tensor runningVar, double eps, Tensor residual) {
        try (Tensor z = conv3d(x, w, spec);
                Tensor normalized = batchNormEval(z, gamma, beta, runningMean, runningVar, eps, false)) {
            return addRelu(normalized, residual);
        }
    }

    // ---- element-wise ----

    Tensor relu(Tensor x);

    /** dx = dy where the forward output y > 0. */
    Tensor reluBackward(Tensor y, Tensor dy);

    Tensor add(Tensor a, Tensor b);

    /** relu(a + b), the residual tail. */
    Tensor addRelu(Tensor a, Tensor b);

    Tensor mul(Tensor a, Tensor b);

    Tensor scale(Tensor x, float alpha);

    /** In place: y = alpha * x + beta * y. */
    void axpby(float alpha, Tensor x, float beta, Tensor y);

    /**
     * In place for every pair: {@code ys[i] = alpha * xs[i] + beta * ys[i]} (float32, on this device, {@code xs[i]} and
     * {@code ys[i]} of one size and byte order; no two {@code ys} share memory, and no {@code x} shares memory with a
     * {@code y}), bit for bit {@link #axpby} per pair, which is this default. All are checked before any is written.
     * What a backward uses to add the leaves' gradients: CPU one parallel pass, CUDA one launch per 64 tensors.
     */
    default void axpbyAll(float alpha, List<Tensor> xs, float beta, List<Tensor> ys) {
        Checks.axpbyLists(xs, ys, "axpbyAll", device());
        for (int i = 0; i < xs.size(); i++) {
            axpby(alpha, xs.get(i), beta, ys.get(i));
        }
    }

    /**
     * Whether a backward should add the leaves' gradients in one {@link #axpbyAll} at its end instead of one
     * {@link #axpby} each as they arrive: where a call costs more than a pass over the gradients (a GPU's launches,
     * ~160 per step). Not on the CPU, where the per-leaf add finds the gradient its op just wrote still in cache, and
     * holding the gradients to the end costs their memory.
     */
    default boolean batchesLeafGradients() {
        return false;
    }

    /** In place: fills every element of y. */
    void fill(Tensor y, float value);

    Tensor sigmoid(Tensor x);

    Tensor sigmoidBackward(Tensor y, Tensor dy);

    /** Inverted dropout: returns {y, mask} where mask holds 0 or 1/(1-p); deterministic for a seed. */
    Tensor[] dropout(Tensor x, float p, long seed);

    // ---- shape ops ----

    /** Concatenates two [N, C, ...] tensors along the channel axis. */
    Tensor concatChannels(Tensor a, Tensor b);

    /** Splits [N, Ca+Cb, ...] into {[N, Ca, ...], [N, Cb, ...]}. */
    Tensor[] splitChannels(Tensor y, long ca);

    /** y[n,c,...] = x[n,c,...] * g[n,c] (squeeze-excite scaling). */
    Tensor channelScale(Tensor x, Tensor g);

    /** {dx, dg} of {@link #channelScale}. */
    Tensor[] channelScaleBackward(Tensor x, Tensor g, Tensor dy);

    // ---- pooling ----

    /** Average pooling with count_include_pad semantics (spec.groups is ignored). */
    Tensor avgPool3d(Tensor x, ConvSpec window);

    Tensor avgPool3dBackward(Tensor dy, ConvSpec window, Shape xShape);

    /** [N, C, T, H, W] -> [N, C]. */
    Tensor globalAvgPool(Tensor x);

    Tensor globalAvgPoolBackward(Tensor dy, Shape xShape);

    /**
     * {@link #globalAvgPoolBackward(Tensor, Shape)} for an input of type {@code dxType}: dy is float32 (the pool's
     * result is float32 for every input type), dx has the input's type: float32, or bfloat16 / float16 (the float32
     * gradient rounded once, on any backend that has {@link #cast}).
     */
    default Tensor globalAvgPoolBackward(Tensor dy, Shape xShape, dev.sevnet.tensor.DType dxType) {
        if (OpChecks.storageType(dxType, "global avg-pool input type") == dev.sevnet.tensor.DType.FLOAT32) {
            return globalAvgPoolBackward(dy, xShape);
        }
        try (Tensor dx = globalAvgPoolBackward(dy, xShape)) {
            return cast(dx, dxType);
        }
    }

    /**
     * {@link #globalAvgPoolBackward(Tensor, Shape, dev.sevnet.tensor.DType)} with dx in {@code format} (the memory
     * format of the forward's x): a backend that {@linkplain #supportsChannelsLast supports} channels-last overrides it.
     */
    default Tensor globalAvgPoolBackward(Tensor dy, Shape xShape, dev.sevnet.tensor.DType dxType,
            dev.sevnet.tensor.MemoryFormat format) {
        if (format == dev.sevnet.tensor.MemoryFormat.CONTIGUOUS) {
            return globalAvgPoolBackward(dy, xShape, dxType);
        }
        throw new IllegalArgumentException("the " + name() + " backend has no " + format.label() + " tensors");
    }

    // ---- dense ----

    /** y = x w^T + b; x [N, in], w [out, in], b [out] or null. */
    Tensor linear(Tensor x, Tensor w, Tensor biasOrNull);

    /** {dx, dw, db (null when there is no bias)}. */
    Tensor[] linearBackward(Tensor x, Tensor w, Tensor dy, boolean hasBias);

    /** C = alpha op(A) op(B) + beta C, in place, for 2-d row-major tensors. */
    void gemm(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c);

    // ---- losses ----

    /** Batch-mean softmax cross-entropy; returns {loss (scalar [1]), probs [N, K]}. labels int64 [N]. */
    Tensor[] softmaxCrossEntropy(Tensor logits, Tensor labels);

    /** dlogits = (probs - onehot(labels)) * scale / N. */
    Tensor softmaxCrossEntropyBackward(Tensor probs, Tensor labels, float scale);

    /** Mean binary cross-entropy with logits over all N*K entries; returns the scalar [1]. targets float [N, K]. */
    Tensor bceWithLogits(Tensor logits, Tensor targets);

    Tensor bceWithLogitsBackward(Tensor logits, Tensor targets, float scale);

    /**
     * {@link #softmaxCrossEntropyBackward(Tensor, Tensor, float)} with the scale taken from the one-element float32
     * {@code dy} (the loss's gradient) where it lives. This default reads it ({@link #sum}); the CUDA backend scales on
     * the device, so a training step needs no device-to-host read before its last op (and fits in a CUDA graph).
     */
    default Tensor softmaxCrossEntropyBackward(Tensor probs, Tensor labels, Tensor dy) {
        return softmaxCrossEntropyBackward(probs, labels, (float) sum(dy));
    }

    /** {@link #bceWithLogitsBackward(Tensor, Tensor, float)} scaled by the one-element {@code dy}, as above. */
    default Tensor bceWithLogitsBackward(Tensor logits, Tensor targets, Tensor dy) {
        return bceWithLogitsBackward(logits, targets, (float) sum(dy));
    }

    Tensor softmax(Tensor logits);

    // ---- optimizer ----

    /** In place SGD with momentum and coupled weight decay (PyTorch semantics, no dampening). */
    void sgdMomentumStep(Tensor w, Tensor grad, Tensor velocity, float lr, float momentum, float weightDecay);

    /**
     * {@link #sgdMomentumStep} for every {@code (w[i], grads[i], velocities[i])}, in place; the CUDA backend
     * in kernel mode CUSTOM updates them all in one launch. Every triple is checked before any is updated.
     */
    default void sgdMomentumStepAll(List<Tensor> w, List<Tensor> grads, List<Tensor> velocities, float lr,
            float momentum, float weightDecay) {
        Checks.sgdLists(w, grads, velocities);
        OpChecks checks = new OpChecks(device(), supportsChannelsLast()); // element-wise: one byte order per triple
        for (int i = 0; i < w.size(); i++) {
            checks.sgd(w.get(i), grads.get(i), velocities.get(i));
        }
        for (int i = 0; i < w.size(); i++) {
            sgdMomentumStep(w.get(i), grads.get(i), velocities.get(i), lr, momentum, weightDecay);
        }
    }

    // ---- loss scaling (fp16 training) ----

    /**
     * Whether no element of any of {@code tensors} (float32, on this device) is an infinity or a NaN; true for
     * an empty list. Every tensor is checked before any is read ({@link IllegalArgumentException}: a null or
     * closed tensor, another dtype or device). The CPU backend reads them all in one parallel pass; the CUDA
     * backend in kernel mode CUSTOM in one launch and one copy of a flag to the host. This default sums each
     * tensor in double (a sum of floats is finite exactly when every term is): any backend works, at one
     * synchronisation per tensor on a device.
     */
    default boolean allFinite(List<Tensor> tensors) {
        Checks.floatList(tensors, "allFinite", device());
        for (Tensor t : tensors) {
            if (!Double.isFinite(sum(t))) {
                return false;
            }
        }
        return true;
    }

    /**
     * Every element of every one of {@code tensors} (float32, on this device, no two sharing memory) multiplied
     * by {@code alpha} in place, one rounding each: bit for bit {@code axpby(alpha, t, 0, t)} per tensor, which
     * is this default. All are checked before any is written. CPU: one parallel pass; CUDA in CUSTOM: one
     * launch.
     */
    default void scaleAll(List<Tensor> tensors, float alpha) {
        Checks.floatList(tensors, "scaleAll", device());
        Checks.disjoint(tensors, "scaleAll");
        for (Tensor t : tensors) {
            axpby(alpha, t, 0f, t);
        }
    }

    // ---- reductions / transfer ----

    double sum(Tensor x);

    /** A copy of {@code t} on this backend's device (a copy even when it is there already). */
    Tensor toDevice(Tensor t);

    /** A copy of {@code t} on the host. */
    Tensor toHost(Tensor t);

    /**
     * An {@link Uploader} for input batches with {@code slots} staging slots (2: one batch computing, the next
     * uploading). This default copies with {@link #toDevice} at once (on the CPU: no copy, a view); the CUDA backend
     * stages through pinned memory on a copy stream. The caller closes it.
     */
    default Uploader uploader(int slots) {
        if (slots < 1) {
            throw new IllegalArgumentException("an uploader needs at least one slot, not " + slots);
        }
        return Uploader.direct(this);
    }

    /**
     * A new {@link ExecutionStream} on this device for one worker thread (one per batching thread of a predictor).
     * On the CPU, {@link ExecutionStream#NONE}; on a GPU a CUDA stream with its own library handles. The caller
     * closes it.
     */
    default ExecutionStream newStream() {
        return ExecutionStream.NONE;
    }

    /**
     * A copy of {@code x} (on this device) converted to {@code dtype}: float32 to bfloat16 / float16 rounds to
     * nearest even (NaN stays NaN, beyond the float16 range is infinity), bfloat16 / float16 to float32 is
     * exact; a plain copy when {@code x} already has {@code dtype}. Same bits on every backend
     * ({@link dev.sevnet.tensor.Half}).
     */
    Tensor cast(Tensor x, dev.sevnet.tensor.DType dtype);

    // ---- memory format (channels-last activations) ----

    /**
     * A new timeline on this device for {@link OpProfiler}: the host clock (the CPU's ops are done when they return);
     * the CUDA backend's marks are events on the calling thread's stream.
     */
    default Timeline newTimeline() {
        return Timeline.hostClock();
    }

    /**
     * Whether this backend stores and computes on {@link dev.sevnet.tensor.MemoryFormat#CHANNELS_LAST} tensors
     * (CUDA natively; the CPU backend as a reference that runs each op on NCDHW copies).
     */
    default boolean supportsChannelsLast() {
        return false;
    }

    /**
     * {@code x} (on this device) with its bytes in {@code format}: a new tensor holding a reordered copy, or a new
     * reference to the same memory when {@code x} already has that format or is the same in both. Channels-last
     * needs a rank-5 float32 / bfloat16 / float16 tensor and a backend that {@linkplain #supportsChannelsLast
     * supports it}. An op without a channels-last form refuses channels-last tensors; convert them back with
     * {@code toMemoryFormat(x, CONTIGUOUS)}.
     */
    default Tensor toMemoryFormat(Tensor x, dev.sevnet.tensor.MemoryFormat format) {
        java.util.Objects.requireNonNull(format, "format");
        if (x == null || x.isClosed()) {
            throw new IllegalArgumentException("toMemoryFormat of a " + (x == null ? "null" : "closed") + " tensor");
        }
        if (x.memoryFormat() == format) {
            return x.reshape(x.shape());
        }
        throw new IllegalArgumentException("the " + name() + " backend has no " + format.label()
                + " tensors");
    }

    /** Results of the training form of batch norm. */
    record BatchNormResult(Tensor y, Tensor saveMean, Tensor saveInvstd) {
    }

    /** Results of {@link #convBatchNormTrain}: the conv output z, y = act(BN(z)), the batch statistics. */
    record ConvBatchNormResult(Tensor z, Tensor y, Tensor saveMean, Tensor saveInvstd) {
    }
}
