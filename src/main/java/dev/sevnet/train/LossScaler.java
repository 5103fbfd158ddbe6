package dev.sevnet.train;

import dev.sevnet.backend.Backend;
import dev.sevnet.backend.Backends;
import dev.sevnet.tensor.Tensor;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Dynamic loss scaling for fp16 training, PyTorch's {@code torch.amp.GradScaler} with its defaults: the loss
 * gradient is multiplied by {@link #scale()} (initially 65536) so that small gradients survive fp16's narrow
 * range; after backward, {@link #unscale} checks every parameter gradient for infinities and NaNs and, when all
 * are finite, divides them by the scale in place (once per optimizer step, whatever the accumulation); then
 * {@link #update} halves the scale after a step with a non-finite gradient (the caller skips that step: the
 * optimizer and the weights stay untouched) and doubles it after 2000 consecutive finite steps.
 *
 * <p>The state ({@link #state()}: scale and the count of finite steps since the last change) is saved in the
 * checkpoint, so a resumed run scales exactly as an uninterrupted one.
 */
public final class LossScaler {
    public static final double DEFAULT_INIT_SCALE = 65536.0;
    public static final double DEFAULT_GROWTH_FACTOR = 2.0;
    public static final double DEFAULT_BACKOFF_FACTOR = 0.5;
    public static final int DEFAULT_GROWTH_INTERVAL = 2000;

    /** What a checkpoint keeps: the scale and the finite steps counted towards the next growth. */
    public record State(double scale, int goodSteps) {
        public State {
            if (!(scale > 0) || Double.isInfinite(scale)) {
                throw new IllegalArgumentException("loss scale must be finite and > 0, got " + scale);
            }
            if (goodSteps < 0) {
                throw new IllegalArgumentException("good steps must be >= 0, got " + goodSteps);
            }
        }
    }

    private final double growthFactor;
    private final double backoffFactor;
    private final int growthInterval;
    private double scale;
    private int goodSteps;
    private long skippedSteps;

    /** PyTorch's defaults: init 65536, growth x2 every 2000 finite steps, backoff x0.5. */
    public LossScaler() {
        this(DEFAULT_INIT_SCALE, DEFAULT_GROWTH_FACTOR, DEFAULT_BACKOFF_FACTOR, DEFAULT_GROWTH_INTERVAL);
    }

    public LossScaler(double initScale, double growthFactor, double backoffFactor, int growthInterval) {
        if (!(growthFactor > 1) || !(backoffFactor > 0 && backoffFactor < 1) || growthInterval < 1) {
            throw new IllegalArgumentException("loss scaler needs growth > 1, backoff in (0, 1), interval >= 1; got "
                    + growthFactor + ", " + backoffFactor + ", " + growthInterval);
        }
        this.growthFactor = growthFactor;
        this.backoffFactor = backoffFactor;
        this.growthInterval = growthInterval;
        load(new State(initScale, 0));
    }

    /** The factor the loss gradient is multiplied by (the backward seed's scale). */
    public double scale() {
        return scale;
    }

    /** Consecutive finite steps since the scale last changed. */
    public int goodSteps() {
        return goodSteps;
    }

    /** Steps skipped for non-finite gradients since this scaler was made (not saved). */
    public long skippedSteps() {
        return skippedSteps;
    }

    public State state() {
        return new State(scale, goodSteps);
    }

    public void load(State s) {
        scale = s.scale();
        goodSteps = s.goodSteps();
    }

    /**
     * Whether every gradient (null entries are skipped) is finite; when they all are, each is multiplied by
     * {@code 1 / scale} in place. When one is not, none is touched (the step is to be skipped).
     *
     * <p>The gradients are grouped by device: one {@link Backend#allFinite} per device (on a GPU in kernel mode
     * CUSTOM one launch and one flag copied back, instead of a sum and a synchronisation per gradient), and
     * only when every group is finite one {@link Backend#scaleAll} per device.
     */
    public boolean unscale(Collection<Tensor> grads) {
        Map<Backend, List<Tensor>> byBackend = new LinkedHashMap<>();
        Set<Tensor> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Tensor g : grads) {
            if (g != null && seen.add(g)) { // one gradient listed twice is unscaled once
                byBackend.computeIfAbsent(Backends.of(g), k -> new ArrayList<>()).add(g);
            }
        }
        for (Map.Entry<Backend, List<Tensor>> e : byBackend.entrySet()) {
            if (!e.getKey().allFinite(e.getValue())) {
                return false;
            }
        }
        float inv = (float) (1.0 / scale);
        for (Map.Entry<Backend, List<Tensor>> e : byBackend.entrySet()) {
            e.getKey().scaleAll(e.getValue(), inv);
        }
        return true;
    }

    /** After a step: back off (and count a skip) when its gradients were not finite, else count towards growth. */
    public void update(boolean finite) {
        if (!finite) {
            // floored where 1/scale is still a finite float (a run that far gone diverged long before)
            scale = Math.max(scale * backoffFactor, Float.MIN_NORMAL);
            goodSteps = 0;
            skippedSteps++;
            return;
        }
        goodSteps++;
        if (goodSteps >= growthInterval) {
            double grown = scale * growthFactor;
            if (Double.isFinite(grown) && grown <= Float.MAX_VALUE) {
                scale = grown;
            }
            goodSteps = 0;
        }
    }

    /** {@link #unscale} then {@link #update}: whether the optimizer should step. */
    public boolean unscaleAndUpdate(Collection<Tensor> grads) {
        boolean finite = unscale(grads);
        update(finite);
        return finite;
    }
}
