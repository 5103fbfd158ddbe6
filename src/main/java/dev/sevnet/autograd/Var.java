package dev.sevnet.autograd;

import dev.sevnet.backend.Backend;
import dev.sevnet.backend.Backends;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A value in a differentiable computation: a tensor, whether gradients flow to it, and the op that
 * produced it (none for a leaf).
 *
 * <p>Ownership: a {@code Var} never owns its value. Op results belong to the {@link TensorScope} open
 * when the op ran; a parameter's value belongs to its module. A leaf's gradient belongs to the scope
 * open at the first backward that reached it, except for {@linkplain #parameter parameter} leaves,
 * whose gradient is persistent and freed by {@link #releaseGrad()} (the owning module calls it).
 */
public final class Var {
    private final Tensor value;
    private final boolean requiresGrad;
    private final Node node;
    private final boolean persistentGrad;
    private Tensor grad;
    /**
     * {@link #zeroGrad()} ran since the gradient was last written: its memory still holds the old values, and reads
     * as zero. The next backward writes it instead of adding into it (one pass over the gradient instead of a fill
     * and an add; one launch per parameter fewer on a GPU); {@link #grad()} fills it first when read before that.
     */
    private boolean gradPendingZero;
    private volatile boolean savedForBackward;

    private Var(Tensor value, boolean requiresGrad, Node node, boolean persistentGrad) {
        if (value == null) {
            throw new IllegalArgumentException("a Var needs a value tensor");
        }
        this.value = value;
        this.requiresGrad = requiresGrad;
        this.node = node;
        this.persistentGrad = persistentGrad;
    }

    /** A constant: no gradient flows to it (inputs, labels, frozen tensors). */
    public static Var of(Tensor value) {
        return new Var(value, false, null, false);
    }

    /** A leaf that receives a gradient; the gradient belongs to the scope of the backward that makes it. */
    public static Var leaf(Tensor value) {
        return new Var(value, true, null, false);
    }

    /** A leaf whose gradient is persistent (taken out of every scope) and accumulates across backward calls. */
    public static Var parameter(Tensor value) {
        return new Var(value, true, null, true);
    }

    static Var result(Tensor value, Node node) {
        return new Var(value, true, node, false);
    }

    public Tensor value() {
        return value;
    }

    public Shape shape() {
        return value.shape();
    }

    public long dim(int i) {
        return value.dim(i);
    }

    /** The accumulated gradient of a leaf, or null before any backward reached it. */
    public Tensor grad() {
        if (gradPendingZero) {
            Backends.of(grad).fill(grad, 0f);
            gradPendingZero = false;
        }
        return grad;
    }

    public boolean requiresGrad() {
        return requiresGrad;
    }

    /**
     * Whether the backward function of an op that consumed this value reads it (a conv's input, a
     * batch norm's input...). Values no recorded op saved can be freed as soon as their consumers
     * have run, even while a graph is recorded.
     */
    public boolean isSavedForBackward() {
        return savedForBackward;
    }

    void markSavedForBackward() {
        savedForBackward = true;
    }

    public boolean isLeaf() {
        return node == null;
    }

    /** The name of the op that produced this value, or null for a leaf. */
    public String op() {
        return node == null ? null : node.op();
    }

    /** The same value as a constant, cut off from the graph. */
    public Var detach() {
        return of(value);
    }

    /** The single element of a one-element tensor (a loss). */
    public float item() {
        if (value.size() != 1) {
            throw new IllegalStateException("item() needs a one-element tensor, this one is " + value.shape());
        }
        return (float) Backends.of(value).sum(value);
    }

    /**
     * Sets an existing leaf gradient to zero, keeping its memory. Lazily, as PyTorch's {@code set_to_none} spares the
     * fill: the next backward that reaches this leaf writes its gradient instead of adding it, and {@link #grad()}
     * fills it when read before any backward did.
     */
    public void zeroGrad() {
        if (grad != null) {
            gradPendingZero = true;
        }
    }

    /**
     * Whether {@link #zeroGrad()} is pending: the next backward writes the gradient rather than adding into it (a
     * CUDA graph captured now records that write).
     */
    public boolean gradPendingZero() {
        return gradPendingZero;
    }

    /**
     * The gradient's memory was just written in full by something other than this Var's backward — the replay of a
     * CUDA graph that captured a backward writing it: a pending {@link #zeroGrad()} is dropped, not applied later.
     */
    public void markGradWritten() {
        if (grad == null) {
            throw new IllegalStateException("markGradWritten: this leaf has no gradient");
        }
        gradPendingZero = false;
    }

    /** Frees the leaf gradient; the next backward allocates a new one. */
    public void releaseGrad() {
        gradPendingZero = false;
        if (grad != null) {
            grad.close();
            grad = null;
        }
    }

    /** Backpropagates from this one-element value (a loss), seeding its gradient with 1. */
    public void backward() {
        if (value.size() != 1) {
            throw new IllegalStateException("backward() without a seed needs a one-element value (a loss), got "
                    + value.shape() + "; pass a seed gradient of the same shape");
        }
        try (Tensor seed = F.filled(Backends.of(value), value.shape(), 1f)) {
            backward(seed);
        }
    }

    /**
     * Backpropagates {@code seed} (the gradient of some scalar with respect to this value, same shape)
     * through the recorded graph, adding into every reachable leaf's gradient. The graph stays valid
     * while the scope that holds its saved tensors is open, so backward may run again (gradients add).
     * The caller keeps ownership of {@code seed}.
     */
    public void backward(Tensor seed) {
        if (!requiresGrad) {
            throw new IllegalStateException("backward() on a value that does not require grad: no op that produced it "
                    + "recorded a graph (a constant, or computed under GradMode.noGrad())");
        }
        if (!seed.shape().equals(value.shape())) {
            throw new IllegalArgumentException("seed gradient " + seed.shape() + " does not match the value " + value.shape());
        }
        List<Var> order = topologicalOrder(this);
        Map<Var, Tensor> pending = new IdentityHashMap<>();
        // leaves whose gradient is added at the end, all in one backend call (one launch instead of one per parameter)
        List<Var> deferredLeaves = new ArrayList<>();
        List<Tensor> deferredGrads = new ArrayList<>();
        // a seed made on the host for a value on a device (a loss on the GPU) is moved there
        pending.put(this, seed.device().equals(value.device()) ? seed.reshape(seed.shape())
                : Backends.of(value).toDevice(seed));
        try {
            for (int k = order.size() - 1; k >= 0; k--) {
                Var v = order.get(k);
                Tensor g = pending.remove(v);
                if (g == null) {
                    continue;
                }
                try {
                    if (v.isLeaf() && v.batchable(g)) {
                        deferredLeaves.add(v);
                        deferredGrads.add(g);
                        g = null; // closed after the batch
                    } else if (v.isLeaf()) {
                        v.accumulate(g);
                    } else {
                        propagate(v.node, g, pending);
                    }
                } finally {
                    if (g != null) {
                        g.close();
                    }
                }
            }
            accumulateAll(deferredLeaves, deferredGrads);
        } finally {
            for (Tensor t : pending.values()) {
                t.close();
            }
            for (Tensor t : deferredGrads) {
                t.close();
            }
        }
    }

    /**
     * Whether this leaf's gradient {@code g} joins the batch that {@link #accumulateAll} adds at the end of the
     * backward: where the backend asks for it ({@link Backend#batchesLeafGradients}: a GPU), for an existing float32
     * gradient of g's device and byte order (the first backward allocates the gradient leaf by leaf; 16-bit leaves
     * keep their per-tensor cast).
     */
    private boolean batchable(Tensor g) {
        return grad != null && !grad.isClosed() && grad.dtype() == dev.sevnet.tensor.DType.FLOAT32
                && Backends.of(grad).batchesLeafGradients() && g.dtype() == dev.sevnet.tensor.DType.FLOAT32
                && g.device().equals(grad.device()) && g.memoryFormat() == grad.memoryFormat() && g.size() == grad.size();
    }

    /**
     * The deferred leaves' gradients added in as few backend calls as there are (backend, write-or-add) groups —
     * {@link Backend#axpbyAll}, bit for bit the per-leaf {@link #accumulate}: a pending {@link #zeroGrad()} writes
     * (beta 0, the old values not read), otherwise adds. A device error in one group leaves the groups before it
     * added and the rest not (the exception propagates, as a failed per-leaf add would mid-backward).
     */
    private static void accumulateAll(List<Var> leaves, List<Tensor> grads) {
        if (leaves.isEmpty()) {
            return;
        }
        // groups in first-met order: one backend call per (backend, write or add)
        Map<Group, List<Integer>> groups = new java.util.LinkedHashMap<>();
        for (int i = 0; i < leaves.size(); i++) {
            Var v = leaves.get(i);
            groups.computeIfAbsent(new Group(Backends.of(v.grad), v.gradPendingZero), k -> new ArrayList<>()).add(i);
        }
        for (Map.Entry<Group, List<Integer>> e : groups.entrySet()) {
            List<Integer> idx = e.getValue();
            List<Tensor> xs = new ArrayList<>(idx.size());
            List<Tensor> ys = new ArrayList<>(idx.size());
            for (int i : idx) {
                xs.add(grads.get(i));
                ys.add(leaves.get(i).grad);
            }
            try {
                e.getKey().backend().axpbyAll(1f, xs, e.getKey().write() ? 0f : 1f, ys);
            } catch (IllegalArgumentException overlap) {
                // a list the batch refuses (checked before anything is written): a gradient sharing memory with
                // a leaf's own — a seed that is some leaf's grad() — is added leaf by leaf, as before batching
                for (int i : idx) {
                    leaves.get(i).accumulate(grads.get(i));
                }
                continue;
            }
            for (int i : idx) {
                leaves.get(i).gradPendingZero = false;
            }
        }
    }

    /** A batch of {@link #accumulateAll}: one backend, writing (a pending zeroGrad: beta 0) or adding. */
    private record Group(Backend backend, boolean write) {
    }

    private static void propagate(Node node, Tensor dy, Map<Var, Tensor> pending) {
        Tensor[] grads = node.fn().apply(dy);
        Var[] inputs = node.inputs();
        if (grads.length != inputs.length) {
            throw new IllegalStateException("backward of " + node.op() + " returned " + grads.length
                    + " gradients for " + inputs.length + " inputs");
        }
        Set<Tensor> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (int i = 0; i < inputs.length; i++) {
            Tensor g = grads[i];
            if (g == null) {
                continue;
            }
            // a function may return dy itself, or one tensor for several inputs: give each its own handle
            if (g == dy || !seen.add(g)) {
                g = g.reshape(g.shape());
            }
            Var in = inputs[i];
            if (in == null || !in.requiresGrad) {
                g.close();
                continue;
            }
            if (!g.shape().equals(in.shape())) {
                g.close();
                throw new IllegalStateException("backward of " + node.op() + " gave input " + i + " a gradient of shape "
                        + g.shape() + " for a value of shape " + in.shape());
            }
            Tensor prev = pending.get(in);
            if (prev == null) {
                pending.put(in, g);
            } else {
                // out of place: prev and g may share storage with other pending gradients
                Tensor sum = Backends.of(prev).add(prev, g);
                pending.put(in, sum);
                prev.close();
                g.close();
            }
        }
    }

    private void accumulate(Tensor g) {
        Backend b = Backends.of(g);
        if (grad == null) {
            // a private copy: g may share storage with other gradients, and we add into grad in place later
            // (a 16-bit leaf's gradient is 16-bit: copied by a same-type cast)
            Tensor copy = g.dtype() == dev.sevnet.tensor.DType.FLOAT32 ? b.scale(g, 1f) : b.cast(g, g.dtype());
            grad = persistentGrad ? TensorScope.detach(copy) : copy;
        } else if (gradPendingZero) {
            b.axpby(1f, g, 0f, grad); // beta 0 does not read grad: the old values (a NaN too) are not carried over
            gradPendingZero = false;
        } else {
            b.axpby(1f, g, 1f, grad);
        }
    }

    /** Vars that need a gradient, each after all of its inputs. */
    private static List<Var> topologicalOrder(Var root) {
        List<Var> order = new ArrayList<>();
        Set<Var> visited = Collections.newSetFromMap(new IdentityHashMap<>());
        ArrayDeque<Var> stack = new ArrayDeque<>();
        ArrayDeque<int[]> next = new ArrayDeque<>();
        visited.add(root);
        stack.push(root);
        next.push(new int[] {0});
        while (!stack.isEmpty()) {
            Var v = stack.peek();
            int[] cursor = next.peek();
            Var[] inputs = v.node == null ? new Var[0] : v.node.inputs();
            if (cursor[0] == inputs.length) {
                stack.pop();
                next.pop();
                order.add(v);
                continue;
            }
            Var in = inputs[cursor[0]++];
            if (in != null && in.requiresGrad && visited.add(in)) {
                stack.push(in);
                next.push(new int[] {0});
            }
        }
        return order;
    }

    @Override
    public String toString() {
        return "Var" + value.shape() + (node != null ? " <- " + node.op() : requiresGrad ? " (leaf)" : " (const)");
    }
}
