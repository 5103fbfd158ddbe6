package dev.sevnet.nn;

import dev.sevnet.autograd.F;
import dev.sevnet.autograd.Var;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;

/**
 * Batch norm over the channel axis with PyTorch's defaults: eps 1e-5, momentum 0.1, weight 1, bias 0,
 * running_mean 0, running_var 1 (unbiased), and an int64 scalar {@code num_batches_tracked} counted up
 * by every training-mode forward.
 */
public final class BatchNorm3d extends Module {
    public static final double EPS = 1e-5;
    public static final double MOMENTUM = 0.1;

    private final int channels;
    private final Parameter weight;
    private final Parameter bias;
    private final Tensor runningMean;
    private final Tensor runningVar;
    private final Tensor numBatchesTracked;

    public BatchNorm3d(int channels) {
        if (channels < 1) {
            throw new IllegalArgumentException("channels must be >= 1, got " + channels);
        }
        this.channels = channels;
        this.weight = registerParameter("weight", Tensor.full(Shape.of(channels), 1f));
        this.bias = registerParameter("bias", Tensor.zeros(Shape.of(channels)));
        this.runningMean = registerBuffer("running_mean", Tensor.zeros(Shape.of(channels)));
        this.runningVar = registerBuffer("running_var", Tensor.full(Shape.of(channels), 1f));
        this.numBatchesTracked = registerBuffer("num_batches_tracked", Tensor.zeros(Shape.of(), DType.INT64));
    }

    @Override
    public Var forward(Var x) {
        return counted(F.batchNorm(x, weight.var(), bias.var(), runningMean, runningVar, isTraining(), MOMENTUM, EPS));
    }

    /** {@code relu(forward(x))}, one fused kernel on the inference path. */
    public Var forwardRelu(Var x) {
        return counted(F.batchNormRelu(x, weight.var(), bias.var(), runningMean, runningVar, isTraining(), MOMENTUM,
                EPS));
    }

    /**
     * {@code relu(forward(conv.forward(x)))} as one op ({@link F#convBatchNormRelu}), which a backend can fuse
     * (conv + statistics in one kernel, normalize + ReLU in a second). A conv with a bias runs the ops apart.
     */
    public Var forwardConvRelu(Conv3d conv, Var x) {
        if (conv.bias() != null) {
            Var c = conv.forward(x);
            return forwardRelu(c);
        }
        return counted(F.convBatchNormRelu(x, conv.weight().var(), conv.spec(), weight.var(), bias.var(), runningMean,
                runningVar, isTraining(), MOMENTUM, EPS));
    }

    /**
     * {@code relu(forward(conv(x)) + residual)}: a standard block's last conv and tail ({@link F#convBatchNormAddRelu},
     * one op in evaluation).
     */
    public Var forwardConvAddRelu(Conv3d conv, Var x, Var residual) {
        if (conv.bias() != null) {
            Var c = conv.forward(x);
            Var out = forwardAddRelu(c, residual);
            release(c);
            return out;
        }
        return counted(F.convBatchNormAddRelu(x, conv.weight().var(), conv.spec(), weight.var(), bias.var(), runningMean,
                runningVar, residual, isTraining(), MOMENTUM, EPS));
    }

    /** {@code relu(forward(x) + residual)}, one op ({@link F#batchNormAddRelu}): a standard block's tail. */
    public Var forwardAddRelu(Var x, Var residual) {
        return counted(F.batchNormAddRelu(x, weight.var(), bias.var(), runningMean, runningVar, residual, isTraining(),
                MOMENTUM, EPS));
    }

    /**
     * {@code y}, once the op that made it has succeeded, with this batch counted in training: a call that fails (bad
     * input, a closed model) changes no state.
     */
    private Var counted(Var y) {
        countBatch();
        return y;
    }

    private void countBatch() {
        if (isTraining()) {
            setNumBatchesTracked(numBatchesTracked() + 1);
        }
    }

    /** Sets {@code num_batches_tracked} (a replayed CUDA graph's training step counts its batches here). */
    public void setNumBatchesTracked(long n) {
        numBatchesTracked.longBuffer().put(0, n);
    }

    @Override
    public Shape outputShape(Shape input, MacCounter macs) {
        if (input.rank() < 2 || input.get(1) != channels) {
            throw new IllegalArgumentException("batch norm expects [N, " + channels + ", ...], got " + input);
        }
        return input;
    }

    public int channels() {
        return channels;
    }

    public Parameter weight() {
        return weight;
    }

    public Parameter bias() {
        return bias;
    }

    public Tensor runningMean() {
        return runningMean;
    }

    public Tensor runningVar() {
        return runningVar;
    }

    /** Training-mode forwards so far (int64 scalar, shape []). */
    public long numBatchesTracked() {
        return numBatchesTracked.longBuffer().get(0);
    }
}
