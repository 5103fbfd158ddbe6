package dev.sevnet.train;

import dev.sevnet.backend.Backend;
import dev.sevnet.backend.Backends;
import dev.sevnet.nn.Parameter;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Stochastic gradient descent with momentum and coupled weight decay, PyTorch's {@code torch.optim.SGD}
 * semantics (no dampening, no Nesterov): for each parameter with a gradient,
 * <pre>
 *   d = grad + weight_decay * w
 *   v = momentum * v + d          (v starts as d on the first step: a zero buffer gives the same)
 *   w = w - lr * v
 * </pre>
 * Like PyTorch's default, weight decay applies to every parameter (BN and biases included) and
 * parameters without a gradient are left alone.
 *
 * <p>The velocity buffers are owned here (outside every {@link TensorScope}) and freed by
 * {@link #close()}. {@link #stateDict()} names them {@code <param>.momentum_buffer}.
 */
public final class SgdOptimizer implements AutoCloseable {
    public static final String BUFFER_SUFFIX = ".momentum_buffer";

    private final Map<String, Parameter> params;
    private final double momentum;
    private final double weightDecay;
    private final Map<String, Tensor> velocity = new LinkedHashMap<>();
    private boolean closed;

    public SgdOptimizer(Map<String, Parameter> namedParams, double momentum, double weightDecay) {
        this.params = new LinkedHashMap<>(namedParams);
        this.momentum = momentum;
        this.weightDecay = weightDecay;
    }

    public double momentum() {
        return momentum;
    }

    public double weightDecay() {
        return weightDecay;
    }

    /**
     * One update of every parameter that has a gradient, at learning rate {@code lr}: one
     * {@link Backend#sgdMomentumStepAll} call per device (on a GPU in kernel mode CUSTOM, one kernel launch
     * for all parameters; elsewhere each parameter in turn, as before).
     */
    public void step(double lr) {
        checkOpen();
        Map<Backend, List<Tensor[]>> byBackend = new LinkedHashMap<>();
        for (Map.Entry<String, Parameter> e : params.entrySet()) {
            Parameter p = e.getValue();
            Tensor g = p.grad();
            if (g == null) {
                continue;
            }
            Backend b = Backends.of(p.data());
            Tensor v = velocity.get(e.getKey());
            if (v == null) {
                v = TensorScope.detach(Tensor.zeros(p.data().shape()));
                if (!p.data().device().isCpu()) {
                    Tensor dev = TensorScope.detach(b.toDevice(v));
                    v.close();
                    v = dev;
                }
                velocity.put(e.getKey(), v);
            }
            if (v.memoryFormat() != p.data().memoryFormat()) {
                // the parameter changed memory format (Module.toMemoryFormat): its momentum follows, values unchanged
                Tensor reordered = TensorScope.detach(b.toMemoryFormat(v, p.data().memoryFormat()));
                v.close();
                v = reordered;
                velocity.put(e.getKey(), v);
            }
            byBackend.computeIfAbsent(b, k -> new ArrayList<>()).add(new Tensor[] {p.data(), g, v});
        }
        for (Map.Entry<Backend, List<Tensor[]>> e : byBackend.entrySet()) {
            List<Tensor[]> triples = e.getValue();
            List<Tensor> w = new ArrayList<>(triples.size());
            List<Tensor> g = new ArrayList<>(triples.size());
            List<Tensor> v = new ArrayList<>(triples.size());
            for (Tensor[] t : triples) {
                w.add(t[0]);
                g.add(t[1]);
                v.add(t[2]);
            }
            e.getKey().sgdMomentumStepAll(w, g, v, (float) lr, (float) momentum, (float) weightDecay);
        }
    }

    /** Sets every gradient to zero (keeping its memory). */
    public void zeroGrad() {
        for (Parameter p : params.values()) {
            p.zeroGrad();
        }
    }

    /**
     * The momentum buffers keyed {@code <param>.momentum_buffer}. The tensors are the optimizer's own:
     * read them, do not close them.
     */
    public Map<String, Tensor> stateDict() {
        checkOpen();
        Map<String, Tensor> out = new LinkedHashMap<>();
        velocity.forEach((k, v) -> out.put(k + BUFFER_SUFFIX, v));
        return out;
    }

    /**
     * Replaces the momentum buffers with copies of {@code state}'s (validated first: an unknown
     * parameter or a wrong shape throws and leaves the optimizer as it was). Parameters absent from
     * {@code state} start with no buffer, as on a first step.
     */
    public void loadStateDict(Map<String, Tensor> state) {
        checkOpen();
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : state.entrySet()) {
            String key = e.getKey();
            if (!key.endsWith(BUFFER_SUFFIX)) {
                problems.add("unexpected optimizer tensor '" + key + "'");
                continue;
            }
            Parameter p = params.get(key.substring(0, key.length() - BUFFER_SUFFIX.length()));
            if (p == null) {
                problems.add("optimizer tensor '" + key + "' names no parameter");
            } else if (!p.data().shape().equals(e.getValue().shape()) || p.data().dtype() != e.getValue().dtype()) {
                problems.add("optimizer tensor '" + key + "' is " + e.getValue().shape() + " " + e.getValue().dtype()
                        + ", the parameter is " + p.data().shape() + " " + p.data().dtype());
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("cannot load optimizer state: " + String.join("; ", problems));
        }
        velocity.values().forEach(Tensor::close);
        velocity.clear();
        for (Map.Entry<String, Tensor> e : state.entrySet()) {
            String name = e.getKey().substring(0, e.getKey().length() - BUFFER_SUFFIX.length());
            Tensor src = e.getValue();
            Tensor copy = TensorScope.detach(src.device().isCpu() ? src.copy() : Backends.of(src).toDevice(src));
            Parameter p = params.get(name);
            if (!p.data().device().equals(copy.device())) {
                Tensor moved = TensorScope.detach(Backends.of(p.data()).toDevice(copy));
                copy.close();
                copy = moved;
            }
            velocity.put(name, copy);
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the optimizer is closed");
        }
    }

    /** Frees the momentum buffers. Idempotent. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            velocity.values().forEach(Tensor::close);
            velocity.clear();
        }
    }
}
