package dev.sevnet.nn;

import dev.sevnet.autograd.F;
import dev.sevnet.autograd.Var;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import java.util.random.RandomGenerator;

/**
 * Fully connected layer {@code y = x W^T + b}: {@code weight [out, in]}, {@code bias [out]}.
 * Initialization as PyTorch's default: Kaiming uniform with a = sqrt(5), i.e. weight and bias uniform
 * in {@code ±1/sqrt(in)}.
 */
public final class Linear extends Module {
    private final int inFeatures;
    private final int outFeatures;
    private final Parameter weight;
    private final Parameter bias;

    public Linear(int inFeatures, int outFeatures, boolean bias) {
        if (inFeatures < 1 || outFeatures < 1) {
            throw new IllegalArgumentException("features must be >= 1: " + inFeatures + " -> " + outFeatures);
        }
        this.inFeatures = inFeatures;
        this.outFeatures = outFeatures;
        this.weight = registerParameter("weight", Tensor.zeros(Shape.of(outFeatures, inFeatures)));
        this.bias = bias ? registerParameter("bias", Tensor.zeros(Shape.of(outFeatures))) : null;
    }

    public Linear(int inFeatures, int outFeatures) {
        this(inFeatures, outFeatures, true);
    }

    @Override
    public Var forward(Var x) {
        return F.linear(x, weight.var(), bias == null ? null : bias.var());
    }

    @Override
    public Shape outputShape(Shape input, MacCounter macs) {
        if (input.rank() != 2 || input.get(1) != inFeatures) {
            throw new IllegalArgumentException("linear expects [N, " + inFeatures + "], got " + input);
        }
        macs.add(input.get(0) * inFeatures * outFeatures);
        return Shape.of(input.get(0), outFeatures);
    }

    @Override
    protected void resetParameters(RandomGenerator rng) {
        double bound = 1.0 / Math.sqrt(inFeatures);
        fillUniform(weight.data(), bound, rng);
        if (bias != null) {
            fillUniform(bias.data(), bound, rng);
        }
    }

    private static void fillUniform(Tensor t, double bound, RandomGenerator rng) {
        float[] values = new float[Math.toIntExact(t.size())];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) ((rng.nextDouble() * 2 - 1) * bound);
        }
        t.floatBuffer().put(0, values);
    }

    public int inFeatures() {
        return inFeatures;
    }

    public int outFeatures() {
        return outFeatures;
    }

    public Parameter weight() {
        return weight;
    }

    /** The bias, or null. */
    public Parameter bias() {
        return bias;
    }
}
