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

    /** Graph mode: the training forward multiplies by this mask, refilled from {@link #nextSeed()} by its owner. */
    private dev.sevnet.tensor.Tensor staticMask;
    private Shape lastInput;

    @Override
    public Var forward(Var x) {
        if (!isTraining() || p == 0) {
            return x;
        }
        lastInput = x.shape();
        if (staticMask != null) {
            return F.dropoutWithMask(x, staticMask);
        }
        return F.dropout(x, p, mix(seed, calls++), true);
    }

    /**
     * The seed of the next training forward's mask (and counts that forward), for a caller that makes the mask
     * itself: the same sequence of masks as {@link #forward} draws, so a run is the same either way.
     */
    public long nextSeed() {
        return mix(seed, calls++);
    }

    /** The input shape of the last training forward, or null. */
    public Shape lastInputShape() {
        return lastInput;
    }

    /**
     * Makes training forwards multiply by {@code mask} (the caller's, refilled before each use from
     * {@link #nextSeed()}) instead of drawing a mask; null restores drawing.
     */
    public void useStaticMask(dev.sevnet.tensor.Tensor mask) {
        this.staticMask = mask;
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

    /**
     * The mask state ({@code seed}, {@code calls}) of every dropout under {@code root}, by module name: what a
     * hand-written training loop saves beside the weights so that a resume draws the same masks (the state dict holds
     * weights only, as PyTorch's does; {@code Trainer} reseeds from its own saved state).
     */
    public static java.util.Map<String, long[]> states(Module root) {
        java.util.Map<String, long[]> out = new java.util.LinkedHashMap<>();
        root.namedModules().forEach((name, m) -> {
            if (m instanceof Dropout d) {
                out.put(name, new long[] {d.seed, d.calls});
            }
        });
        return out;
    }

    /** Restores what {@link #states} saved, into the same model tree. */
    public static void restore(Module root, java.util.Map<String, long[]> states) {
        java.util.Map<String, Module> modules = root.namedModules();
        for (java.util.Map.Entry<String, long[]> e : states.entrySet()) {
            if (!(modules.get(e.getKey()) instanceof Dropout d) || e.getValue().length != 2) {
                throw new IllegalArgumentException("no dropout named '" + e.getKey() + "' to restore");
            }
            d.reseed(e.getValue()[0], e.getValue()[1]);
        }
    }
}
