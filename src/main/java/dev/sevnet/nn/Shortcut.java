package dev.sevnet.nn;

import dev.sevnet.autograd.Var;
import dev.sevnet.backend.ConvSpec;
import dev.sevnet.tensor.Shape;

/**
 * The downsample block's second branch: 1×3×3 stride (1,2,2) average pool (count_include_pad), then
 * {@code conv} 1×1×1 and {@code bn}, keeping the channel count.
 */
public final class Shortcut extends Module {
    private final AvgPool3d pool;
    private final Conv3d conv;
    private final BatchNorm3d bn;

    public Shortcut(int channels) {
        pool = registerModule("pool", new AvgPool3d(
                ConvSpec.builder().kernel(1, 3, 3).stride(1, 2, 2).padding(0, 1, 1).build()));
        conv = registerModule("conv", new Conv3d(channels, channels, ConvSpec.of(1)));
        bn = registerModule("bn", new BatchNorm3d(channels));
    }

    @Override
    public Var forward(Var x) {
        return bn.forward(conv.forward(pool.forward(x)));
    }

    /**
     * {@code relu(forward(x))}: the pool, then conv -> BN -> ReLU as one op ({@link BatchNorm3d#forwardConvRelu}; in
     * evaluation on the CPU, BN and ReLU in the conv's epilogue).
     */
    public Var forwardRelu(Var x) {
        Var p = pool.forward(x);
        Var out = bn.forwardConvRelu(conv, p);
        release(p);
        return out;
    }

    @Override
    public Shape outputShape(Shape input, MacCounter macs) {
        return conv.outputShape(pool.outputShape(input, macs), macs);
    }
}
