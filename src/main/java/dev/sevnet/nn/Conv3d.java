package dev.sevnet.nn;

import dev.sevnet.autograd.F;
import dev.sevnet.autograd.Var;
import dev.sevnet.backend.ConvSpec;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import java.util.random.RandomGenerator;

/**
 * 3-D convolution: {@code weight [out, in/groups, kT, kH, kW]}, optional {@code bias [out]}.
 * Initialization: Kaiming normal, fan_out, ReLU gain ({@code std = sqrt(2 / (out * kT*kH*kW))}), as
 * torchvision's video ResNets do; bias zero.
 */
public final class Conv3d extends Module {
    private final int inChannels;
    private final int outChannels;
    private final ConvSpec spec;
    private final Parameter weight;
    private final Parameter bias;

    public Conv3d(int inChannels, int outChannels, ConvSpec spec, boolean bias) {
        if (inChannels < 1 || outChannels < 1) {
            throw new IllegalArgumentException("channels must be >= 1: " + inChannels + " -> " + outChannels);
        }
        if (inChannels % spec.groups() != 0 || outChannels % spec.groups() != 0) {
            throw new IllegalArgumentException("groups " + spec.groups() + " must divide both " + inChannels + " input and "
                    + outChannels + " output channels");
        }
        this.inChannels = inChannels;
        this.outChannels = outChannels;
        this.spec = spec;
        this.weight = registerParameter("weight",
                Tensor.zeros(Shape.of(outChannels, inChannels / spec.groups(), spec.kT(), spec.kH(), spec.kW())));
        this.bias = bias ? registerParameter("bias", Tensor.zeros(Shape.of(outChannels))) : null;
    }

    /** Without bias (every conv of the model). */
    public Conv3d(int inChannels, int outChannels, ConvSpec spec) {
        this(inChannels, outChannels, spec, false);
    }

    @Override
    public Var forward(Var x) {
        return F.conv3d(x, weight.var(), bias == null ? null : bias.var(), spec);
    }

    @Override
    public Shape outputShape(Shape input, MacCounter macs) {
        if (input.rank() != 5 || input.get(1) != inChannels) {
            throw new IllegalArgumentException("conv3d expects [N, " + inChannels + ", T, H, W], got " + input);
        }
        Shape out = spec.outputShape(input, outChannels);
        macs.add(out.size() * (inChannels / spec.groups()) * spec.kernelVolume());
        return out;
    }

    @Override
    protected void resetParameters(RandomGenerator rng) {
        double std = Math.sqrt(2.0 / ((double) outChannels * spec.kernelVolume()));
        Tensor w = weight.data();
        float[] values = new float[Math.toIntExact(w.size())];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) (rng.nextGaussian() * std);
        }
        w.floatBuffer().put(0, values);
        if (bias != null) {
            dev.sevnet.backend.Backends.of(bias.data()).fill(bias.data(), 0f);
        }
    }

    public int inChannels() {
        return inChannels;
    }

    public int outChannels() {
        return outChannels;
    }

    public ConvSpec spec() {
        return spec;
    }

    public Parameter weight() {
        return weight;
    }

    /** The bias, or null. */
    public Parameter bias() {
        return bias;
    }
}
