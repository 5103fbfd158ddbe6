package dev.sevnet.nn;

import dev.sevnet.autograd.F;
import dev.sevnet.autograd.Var;
import dev.sevnet.tensor.Shape;
import java.util.random.RandomGenerator;

/**
 * Inverted dropout, active only in training mode. Masks are reproducible: the k-th training forward
 * uses a mask seeded from ({@link #seed()}, k); {@link #reseed} restores a position for an exact resume.
 */
public final class Dropout extends Module {
    private final double p;
    private long seed;
    private long calls;

    public Dropout(double p) {
        if (!(p >= 0 && p < 1)) {
            throw new IllegalArgumentException("dropout probability must be in [0, 1), got " + p);
        }
        this.p = p;
    }

    @Override
    public Var forward(Var x) {
        if (!isTraining() || p == 0) {
            return x;
        }
        return F.dropout(x, p, mix(seed, calls++), true);
    }

    @Override
    public Shape outputShape(Shape input, MacCounter macs) {
        return input;
    }

    @Override
    protected void resetParameters(RandomGenerator rng) {
        reseed(rng.nextLong(), 0);
    }

    public double p() {
        return p;
    }

    public long seed() {
        return seed;
    }

    /** Training forwards since the last reseed. */
    public long calls() {
        return calls;
    }

    public void reseed(long seed, long calls) {
        this.seed = seed;
        this.calls = calls;
    }
}
