package dev.sevnet.backend;

import dev.sevnet.tensor.Device;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;

/**
 * The compute operations of the model, one method per op, forward and backward, on one device.
 *
 * <p>Every method validates shapes, dtypes and devices and throws {@link IllegalArgumentException}
 * before any native call. Inputs are never modified unless the method says so (running statistics,
 * optimizer state). Results are new tensors owned by the caller (or by the current
 * {@link dev.sevnet.tensor.TensorScope}). Activations are NCDHW float32.
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

    Tensor softmax(Tensor logits);

    // ---- optimizer ----

    /** In place SGD with momentum and coupled weight decay (PyTorch semantics, no dampening). */
    void sgdMomentumStep(Tensor w, Tensor grad, Tensor velocity, float lr, float momentum, float weightDecay);

    // ---- reductions / transfer ----

    double sum(Tensor x);

    /** A copy of {@code t} on this backend's device (a copy even when it is there already). */
    Tensor toDevice(Tensor t);

    /** A copy of {@code t} on the host. */
    Tensor toHost(Tensor t);

    /** Results of the training form of batch norm. */
    record BatchNormResult(Tensor y, Tensor saveMean, Tensor saveInvstd) {
    }
}
