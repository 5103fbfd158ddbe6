package dev.sevnet.nn;

import dev.sevnet.autograd.Var;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;

/**
 * A trainable tensor of a module: its local name ("weight"), its data (owned by the module, outside
 * every scope) and a persistent gradient that backward calls accumulate into until {@link #zeroGrad()}.
 */
public final class Parameter implements AutoCloseable {
    private final String name;
    private final Tensor data;
    private final Var var;
    /** The same data as a constant: what ops see while the parameter is frozen (no graph, no gradient). */
    private final Var frozen;
    private volatile boolean requiresGrad = true;

    Parameter(String name, Tensor data) {
        this.name = name;
        this.data = TensorScope.detach(data);
        this.var = Var.parameter(this.data);
        this.frozen = Var.of(this.data);
    }

    /** Whether backward computes a gradient for it (true unless frozen). */
    public boolean requiresGrad() {
        return requiresGrad;
    }

    /**
     * Freezes ({@code false}) or unfreezes the parameter, PyTorch's {@code requires_grad_}. A frozen parameter gets no
     * gradient (its gradient is freed) and the optimizer leaves it as it is; when nothing before a layer requires
     * a gradient, backward does not run through it at all (fine-tuning a head is then a head's cost).
     */
    public Parameter requiresGrad(boolean on) {
        if (!on) {
            var.releaseGrad();
        }
        requiresGrad = on;
        return this;
    }

    /** The local name inside its module; {@link Module#namedParameters()} gives the full name. */
    public String name() {
        return name;
    }

    public Tensor data() {
        return data;
    }

    public Shape shape() {
        return data.shape();
    }

    /** The leaf that ops take as input; backward accumulates into its gradient (a constant while frozen). */
    public Var var() {
        return requiresGrad ? var : frozen;
    }

    /** The accumulated gradient, or null before the first backward (or after {@link #releaseGrad()}). */
    public Tensor grad() {
        return var.grad();
    }

    /** Sets the gradient to zero, keeping its memory for the next step. */
    public void zeroGrad() {
        var.zeroGrad();
    }

    /** Frees the gradient (PyTorch's {@code zero_grad(set_to_none=True)}). */
    public void releaseGrad() {
        var.releaseGrad();
    }

    @Override
    public void close() {
        var.releaseGrad();
        data.close();
    }

    @Override
    public String toString() {
        return "Parameter " + name + " " + data.shape();
    }
}
