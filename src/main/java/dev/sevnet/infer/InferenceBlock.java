package dev.sevnet.infer;

import dev.sevnet.autograd.F;
import dev.sevnet.autograd.Var;
import dev.sevnet.nn.AvgPool3d;
import dev.sevnet.nn.MacCounter;
import dev.sevnet.nn.Module;
import dev.sevnet.nn.SqueezeExcite;
import dev.sevnet.tensor.Shape;

/**
 * The data flow of a SEVNet block in an inference form whose convs carry their batch norm (folded,
 * {@link FoldedSevNet}, or quantized, {@link QuantizedSevNet}): three convs, optional
 * squeeze-excite, then the residual add or, in a downsample block, the concat with the pooled
 * shortcut conv. Module names match {@code SevBlock}'s state dict.
 */
abstract class InferenceBlock extends Module {
    /** A conv that may apply the ReLU after it in its epilogue. */
    interface ReluConv {
        boolean relu();
    }

    /** A conv that can add the block's shortcut (and apply the ReLU) in its epilogue. */
    interface ResidualConv {
        /** {@code relu(conv(x) + residual)}. */
        Var forwardAddRelu(Var x, Var residual);
    }

    private final boolean downsample;
    private final Module conv1;
    private final Module conv2;
    private final Module conv3;
    private final boolean conv3Relu;
    private final SqueezeExcite se;
    private final AvgPool3d pool;
    private final Module shortcutConv;

    <C extends Module & ReluConv> InferenceBlock(boolean downsample, C conv1, C conv2, C conv3, SqueezeExcite se,
            AvgPool3d pool, C shortcutConv) {
        this.downsample = downsample;
        this.conv1 = registerModule("conv1", conv1);
        this.conv2 = registerModule("conv2", conv2);
        this.conv3 = registerModule("conv3", conv3);
        this.conv3Relu = conv3.relu();
        this.se = se == null ? null : registerModule("se", se);
        if (downsample) {
            Shortcut sb = registerModule("shortcut", new Shortcut(pool, shortcutConv));
            this.pool = sb.pool;
            this.shortcutConv = sb.conv;
        } else {
            this.pool = null;
            this.shortcutConv = null;
        }
    }

    @Override
    public Var forward(Var x) {
        Var h1 = conv1.forward(x);
        Var h2 = conv2.forward(h1);
        release(h1);
        if (se == null && !downsample && !conv3Relu && conv3 instanceof ResidualConv rc) {
            Var out = rc.forwardAddRelu(h2, x);
            release(h2);
            return out;
        }
        Var h = conv3.forward(h2);
        release(h2);
        if (se != null) {
            Var scaled = se.forward(h);
            release(h);
            h = scaled;
        }
        if (!downsample) {
            Var out = F.addRelu(h, x);
            release(h);
            return out;
        }
        Var pooled = pool.forward(x);
        Var s = shortcutConv.forward(pooled);
        release(pooled);
        Var cat = F.concatChannels(h, s);
        release(h);
        release(s);
        if (conv3Relu) {
            return cat; // relu(concat(a, s)) = concat(relu(a), relu(s)): both convs applied it
        }
        Var out = F.relu(cat);
        release(cat);
        return out;
    }

    @Override
    public Shape outputShape(Shape input, MacCounter macs) {
        Shape h = conv3.outputShape(conv2.outputShape(conv1.outputShape(input, macs), macs), macs);
        if (se != null) {
            se.outputShape(h, macs);
        }
        if (downsample) {
            Shape s = shortcutConv.outputShape(pool.outputShape(input, macs), macs);
            return h.with(1, h.get(1) + s.get(1));
        }
        return h;
    }

    /** The downsample block's {@code shortcut}: pool, then its conv. */
    private static final class Shortcut extends Module {
        private final AvgPool3d pool;
        private final Module conv;

        Shortcut(AvgPool3d pool, Module conv) {
            this.pool = registerModule("pool", pool);
            this.conv = registerModule("conv", conv);
        }

        @Override
        public Var forward(Var x) {
            Var p = pool.forward(x);
            Var out = conv.forward(p);
            release(p);
            return out;
        }

        @Override
        public Shape outputShape(Shape input, MacCounter macs) {
            return conv.outputShape(pool.outputShape(input, macs), macs);
        }
    }
}
