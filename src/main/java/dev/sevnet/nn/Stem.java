package dev.sevnet.nn;

import dev.sevnet.autograd.Var;
import dev.sevnet.backend.ConvSpec;
import dev.sevnet.tensor.Shape;

/**
 * The stem: {@code conv_s} 1×7×7 stride (1,2,2) from RGB to 4g channels, {@code bn_s}, ReLU, then
 * {@code conv_t} 3×1×1, {@code bn_t}, ReLU.
 */
public final class Stem extends Module {
    private final Conv3d convS;
    private final BatchNorm3d bnS;
    private final Conv3d convT;
    private final BatchNorm3d bnT;

    public Stem(int outChannels) {
        convS = registerModule("conv_s", new Conv3d(3, outChannels,
                ConvSpec.builder().kernel(1, 7, 7).stride(1, 2, 2).padding(0, 3, 3).build()));
        bnS = registerModule("bn_s", new BatchNorm3d(outChannels));
        convT = registerModule("conv_t", new Conv3d(outChannels, outChannels,
                ConvSpec.builder().kernel(3, 1, 1).padding(1, 0, 0).build()));
        bnT = registerModule("bn_t", new BatchNorm3d(outChannels));
    }

    @Override
    public Var forward(Var x) {
        // conv -> BN -> ReLU as one op each (in evaluation on the CPU, BN and ReLU in the conv's epilogue)
        Var h = bnS.forwardConvRelu(convS, x);
        Var out = bnT.forwardConvRelu(convT, h);
        release(h);
        return out;
    }

    @Override
    public Shape outputShape(Shape input, MacCounter macs) {
        return convT.outputShape(convS.outputShape(input, macs), macs);
    }
}
