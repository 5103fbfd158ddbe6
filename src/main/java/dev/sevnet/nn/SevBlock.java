package dev.sevnet.nn;

import dev.sevnet.autograd.F;
import dev.sevnet.autograd.Var;
import dev.sevnet.backend.ConvSpec;
import dev.sevnet.tensor.Shape;

/**
 * One block of a stage: {@code conv1 -> bn1 -> ReLU -> conv2 -> bn2 -> ReLU -> conv3 -> bn3 [-> se]}.
 * A standard block ends in {@code ReLU(branch + x)}; a downsample block halves H and W in
 * {@code conv2} and ends in {@code ReLU(concat(branch, shortcut(x)))}, doubling the channels.
 *
 * <p>The variant picks the three convolutions (C = the block's input width, s = (1,2,2) in a
 * downsample block, else 1):
 * <ul>
 * <li>SEVNet: 1×1×1 C→C; 1×3×3 C→C, groups C/g, stride s; 3×1×1 C→C.</li>
 * <li>R(2+1)D ablation (paper Fig. 4a): 1×1×1 C→C/2; dense 1×3×3 C/2→C/2, stride s; 3×1×1 C/2→C.</li>
 * <li>R3D ablation (paper Fig. 4b): 1×1×1 C→m with m = round(C/2.6); dense 3×3×3 m→m, padding 1,
 *     stride s; 1×1×1 m→C.</li>
 * </ul>
 * The ablation blocks keep the module names conv1/bn1, conv2/bn2, conv3/bn3 (and shortcut) of the SEV
 * block; these widths reproduce the paper's Table 6 figures.
 */
public final class SevBlock extends Module {
    private final int channels;
    private final boolean downsample;
    private final Conv3d conv1;
    private final BatchNorm3d bn1;
    private final Conv3d conv2;
    private final BatchNorm3d bn2;
    private final Conv3d conv3;
    private final BatchNorm3d bn3;
    private final SqueezeExcite se;
    private final Shortcut shortcut;

    /** A block whose residual branch works at {@code channels} (the input width of a downsample block). */
    public SevBlock(int channels, boolean downsample, SevNetConfig config) {
        this.channels = channels;
        this.downsample = downsample;
        int g = config.groupWidth();
        int st = downsample ? 2 : 1;
        int mid;
        ConvSpec first = ConvSpec.of(1);
        ConvSpec second;
        ConvSpec third;
        switch (config.variant()) {
            case SEVNET, SEVNET_SE -> {
                if (channels % g != 0) {
                    throw new IllegalArgumentException("group width " + g + " does not divide " + channels + " channels");
                }
                mid = channels;
                second = ConvSpec.builder().kernel(1, 3, 3).stride(1, st, st).padding(0, 1, 1).groups(channels / g).build();
                third = ConvSpec.builder().kernel(3, 1, 1).padding(1, 0, 0).build();
            }
            case R2PLUS1D -> {
                mid = Math.max(1, channels / 2);
                second = ConvSpec.builder().kernel(1, 3, 3).stride(1, st, st).padding(0, 1, 1).build();
                third = ConvSpec.builder().kernel(3, 1, 1).padding(1, 0, 0).build();
            }
            case R3D -> {
                mid = Math.max(1, (int) Math.round(channels / 2.6));
                second = ConvSpec.builder().kernel(3, 3, 3).stride(1, st, st).padding(1, 1, 1).build();
                third = ConvSpec.of(1);
            }
            default -> throw new IllegalStateException("unknown variant " + config.variant());
        }
        conv1 = registerModule("conv1", new Conv3d(channels, mid, first));
        bn1 = registerModule("bn1", new BatchNorm3d(mid));
        conv2 = registerModule("conv2", new Conv3d(mid, mid, second));
        bn2 = registerModule("bn2", new BatchNorm3d(mid));
        conv3 = registerModule("conv3", new Conv3d(mid, channels, third));
        bn3 = registerModule("bn3", new BatchNorm3d(channels));
        se = config.variant().hasSqueezeExcite() ? registerModule("se", new SqueezeExcite(channels)) : null;
        shortcut = downsample ? registerModule("shortcut", new Shortcut(channels)) : null;
    }

    @Override
    public Var forward(Var x) {
        // conv -> BN -> ReLU as one op each (fused kernels where the backend has them, the same ops otherwise)
        Var h = bn1.forwardConvRelu(conv1, x);
        Var h2 = bn2.forwardConvRelu(conv2, h);
        release(h);
        if (se == null && !downsample) {
            Var out = bn3.forwardConvAddRelu(conv3, h2, x);
            release(h2);
            return out;
        }
        if (downsample && se == null && !isTraining()) {
            // relu(concat(h, s)) is concat(relu(h), relu(s)) element for element: in evaluation each branch's ReLU
            // (and BN) goes with its conv (on the CPU into the conv's epilogue), and no pass of its own follows
            Var hr = bn3.forwardConvRelu(conv3, h2);
            release(h2);
            Var sr = shortcut.forwardRelu(x);
            Var out = F.concatChannels(hr, sr);
            release(hr);
            release(sr);
            return out;
        }
        Var c = conv3.forward(h2);
        release(h2);
        h = bn3.forward(c);
        release(c);
        if (se != null) {
            Var scaled = se.forward(h);
            release(h);
            h = scaled;
        }
        Var out;
        if (downsample) {
            Var s = shortcut.forward(x);
            Var cat = F.concatChannels(h, s);
            release(s);
            out = F.relu(cat);
            release(cat);
        } else {
            out = F.addRelu(h, x);
        }
        release(h);
        return out;
    }

    @Override
    public Shape outputShape(Shape input, MacCounter macs) {
        Shape h = conv3.outputShape(conv2.outputShape(conv1.outputShape(input, macs), macs), macs);
        if (se != null) {
            se.outputShape(h, macs);
        }
        if (downsample) {
            Shape s = shortcut.outputShape(input, macs);
            return h.with(1, h.get(1) + s.get(1));
        }
        return h;
    }

    public boolean isDownsample() {
        return downsample;
    }

    /** Width of the residual branch (the input width). */
    public int channels() {
        return channels;
    }
}
