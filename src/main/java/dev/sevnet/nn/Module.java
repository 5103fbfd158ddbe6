package dev.sevnet.nn;

import dev.sevnet.autograd.Var;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.random.RandomGenerator;

/**
 * A node of the model tree, PyTorch style: it owns its parameters and buffers, has named children,
 * and a training flag. Full names join the path with dots exactly like PyTorch's {@code state_dict}
 * keys ({@code stages.0.blocks.0.conv2.weight}); every map this class returns is in PyTorch's order
 * (a module's parameters, then its buffers, then its children's entries in registration order).
 *
 * <p>Closing a module frees every parameter, gradient and buffer of its subtree.
 *
 * <p><b>Threads.</b> A module is not thread-safe: training updates its weights, gradients and running
 * statistics in place, and {@link #train}/{@link #eval} change its mode. Several threads may run
 * {@code forward} on one module in eval mode under {@code GradMode.noGrad()} while nobody changes it; for
 * serving, {@link dev.sevnet.infer.Predictor} does that with its own batching threads and is the
 * supported way to share one model between request threads.
 */
public abstract class Module implements AutoCloseable {
    private final Map<String, Parameter> parameters = new LinkedHashMap<>();
    private final Map<String, Tensor> buffers = new LinkedHashMap<>();
    private final Map<String, Module> children = new LinkedHashMap<>();
    private boolean training = true;
    private boolean closed;

    /** Runs the module on {@code x}; records a graph when grad mode is on and parameters require grad. */
    public abstract Var forward(Var x);

    /**
     * Frees an intermediate activation once its last consumer has run, unless a recorded op saved it
     * for its backward pass (a conv's or batch norm's input). Inference then peaks at a few
     * activations, and training keeps only what backward reads (batch-norm outputs feeding a ReLU, a
     * residual add or a concat are dropped). Never pass a module's own input.
     */
    protected static void release(Var intermediate) {
        if (!dev.sevnet.autograd.GradMode.isEnabled() || !intermediate.isSavedForBackward()) {
            intermediate.value().close();
        }
    }

    /**
     * The output shape for an input shape, adding the multiply-accumulates of this module's
     * convolutions and linear layers to {@code macs} (counts without running anything).
     */
    public abstract Shape outputShape(Shape input, MacCounter macs);

    /** Initializes this module's own parameters (not its children's) from {@code rng}; default: nothing. */
    protected void resetParameters(RandomGenerator rng) {
    }

    // ---- registration (constructors of subclasses) ----

    protected final Parameter registerParameter(String name, Tensor data) {
        checkName(name);
        Parameter p = new Parameter(name, data);
        parameters.put(name, p);
        return p;
    }

    /** Registers a persistent buffer (running statistics); the module takes it out of every scope. */
    protected final Tensor registerBuffer(String name, Tensor data) {
        checkName(name);
        buffers.put(name, TensorScope.detach(data));
        return data;
    }

    protected final <M extends Module> M registerModule(String name, M module) {
        checkName(name);
        children.put(name, module);
        return module;
    }

    private void checkName(String name) {
        if (name.isEmpty() || name.contains(".")) {
            throw new IllegalArgumentException("a module member name must be non-empty and without dots: '" + name + "'");
        }
        if (parameters.containsKey(name) || buffers.containsKey(name) || children.containsKey(name)) {
            throw new IllegalArgumentException("'" + name + "' is already registered in " + getClass().getSimpleName());
        }
    }

    /** This module's own buffer by local name. */
    protected final Tensor buffer(String name) {
        return buffers.get(name);
    }

    // ---- tree views ----

    /** Direct children by local name. */
    public Map<String, Module> children() {
        return Collections.unmodifiableMap(children);
    }

    /** Every module of the subtree by full name, this one first as "". */
    public Map<String, Module> namedModules() {
        Map<String, Module> out = new LinkedHashMap<>();
        collectModules("", out);
        return out;
    }

    private void collectModules(String prefix, Map<String, Module> out) {
        out.put(prefix, this);
        children.forEach((n, m) -> m.collectModules(join(prefix, n), out));
    }

    /** Every parameter of the subtree by full state_dict name. */
    public Map<String, Parameter> namedParameters() {
        Map<String, Parameter> out = new LinkedHashMap<>();
        namedModules().forEach((prefix, m) -> m.parameters.forEach((n, p) -> out.put(join(prefix, n), p)));
        return out;
    }

    /** Every buffer of the subtree by full state_dict name (running_mean, running_var, num_batches_tracked). */
    public Map<String, Tensor> namedBuffers() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        namedModules().forEach((prefix, m) -> m.buffers.forEach((n, b) -> out.put(join(prefix, n), b)));
        return out;
    }

    public List<Parameter> parameters() {
        return new ArrayList<>(namedParameters().values());
    }

    /** The number of trainable values. */
    public long parameterCount() {
        long n = 0;
        for (Parameter p : namedParameters().values()) {
            n += p.data().size();
        }
        return n;
    }

    /**
     * Parameters and buffers by full name, in PyTorch's {@code state_dict} order. The tensors are the
     * module's own (not copies): read them, do not close them.
     */
    public Map<String, Tensor> stateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        namedModules().forEach((prefix, m) -> {
            m.parameters.forEach((n, p) -> out.put(join(prefix, n), p.data()));
            m.buffers.forEach((n, b) -> out.put(join(prefix, n), b));
        });
        return out;
    }

    /**
     * Host copies of the {@link #stateDict()} entries whose names {@code keep} accepts, wherever the module lives; the
     * caller owns (and closes) them.
     */
    public Map<String, Tensor> stateDictCopy(java.util.function.Predicate<String> keep) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, Tensor> e : stateDict().entrySet()) {
                if (keep.test(e.getKey())) {
                    out.put(e.getKey(), e.getValue().toHostCopy());
                }
            }
            return out;
        } catch (RuntimeException e) {
            out.values().forEach(Tensor::close);
            throw e;
        }
    }

    /**
     * Copies {@code state}'s values into this module's parameters and buffers. Everything is validated
     * before anything is copied: a wrong shape or dtype, and with {@code strict} a missing or unexpected
     * key, throws an {@link IllegalArgumentException} that names the tensor, and leaves the module as it
     * was. Without {@code strict}, missing and unexpected keys are skipped. The caller keeps ownership of
     * {@code state}.
     */
    public void loadStateDict(Map<String, Tensor> state, boolean strict) {
        Map<String, Tensor> own = stateDict();
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : own.entrySet()) {
            Tensor src = state.get(e.getKey());
            if (src == null) {
                if (strict) {
                    problems.add("missing tensor '" + e.getKey() + "' " + e.getValue().shape() + " " + e.getValue().dtype());
                }
                continue;
            }
            Tensor dst = e.getValue();
            if (src.isClosed()) {
                problems.add("tensor '" + e.getKey() + "' is closed");
            } else if (src.dtype() != dst.dtype()) {
                problems.add("tensor '" + e.getKey() + "' has dtype " + src.dtype() + ", expected " + dst.dtype());
            } else if (!src.shape().equals(dst.shape())) {
                problems.add("tensor '" + e.getKey() + "' has shape " + src.shape() + ", expected " + dst.shape());
            }
        }
        if (strict) {
            for (String key : state.keySet()) {
                if (!own.containsKey(key)) {
                    problems.add("unexpected tensor '" + key + "'");
                }
            }
        }
        if (!problems.isEmpty()) {
            // the first few name the cause (a wrong model or group width makes every tensor wrong)
            int shown = Math.min(problems.size(), 5);
            throw new IllegalArgumentException("cannot load state dict into " + getClass().getSimpleName() + ": "
                    + (problems.size() > 1 ? problems.size() + " problems: " : "")
                    + String.join("; ", problems.subList(0, shown))
                    + (problems.size() > shown ? "; ... and " + (problems.size() - shown) + " more (a checkpoint of "
                    + "another model or group width?)" : ""));
        }
        for (Map.Entry<String, Tensor> e : own.entrySet()) {
            Tensor src = state.get(e.getKey());
            if (src != null) {
                copyInto(src, e.getValue());
            }
        }
    }

    private static void copyInto(Tensor src, Tensor dst) {
        dst.copyFrom(src);
    }

    // ---- devices ----

    /** The device of this module's parameters (the host for a module without any). */
    public dev.sevnet.tensor.Device device() {
        for (Parameter p : parameters()) {
            return p.data().device();
        }
        for (Tensor b : namedBuffers().values()) {
            return b.device();
        }
        return dev.sevnet.tensor.Device.CPU;
    }

    /**
     * Moves every parameter and float buffer of this module tree to {@code backend}'s device, in
     * place (gradients are dropped). Returns this module.
     */
    public Module to(dev.sevnet.backend.Backend backend) {
        for (Parameter p : parameters()) {
            p.releaseGrad();
            move(p.data(), backend);
        }
        for (Tensor b : namedBuffers().values()) {
            // integer buffers are host-side counters (BatchNorm's num_batches_tracked): they stay there
            if (b.dtype() == dev.sevnet.tensor.DType.FLOAT32) {
                move(b, backend);
            }
        }
        return this;
    }

    /**
     * Stores every 5-D floating parameter (conv weights) in {@code format}, on the device it is on, as PyTorch's
     * {@code module.to(memory_format=...)}: {@link dev.sevnet.tensor.MemoryFormat#CHANNELS_LAST} keeps conv weights
     * in cuDNN's KTRSC order so a channels-last forward pass reorders none of them per call. Values, shapes and
     * {@link #stateDict()} are unchanged (a state dict is always NCDHW). Channels-last needs a device backend that
     * {@linkplain dev.sevnet.backend.Backend#supportsChannelsLast supports it} (CUDA; the CPU as a slower reference).
     */
    public Module toMemoryFormat(dev.sevnet.tensor.MemoryFormat format) {
        java.util.Objects.requireNonNull(format, "format");
        for (Parameter p : namedParameters().values()) {
            Tensor t = p.data();
            boolean floating = t.dtype() == dev.sevnet.tensor.DType.FLOAT32 || t.dtype() == dev.sevnet.tensor.DType.BFLOAT16
                    || t.dtype() == dev.sevnet.tensor.DType.FLOAT16;
            if (t.rank() == 5 && floating && t.memoryFormat() != format) {
                try (Tensor moved = dev.sevnet.backend.Backends.of(t).toMemoryFormat(t, format)) {
                    t.adoptStorage(moved);
                }
                Tensor g = p.grad(); // a gradient pairs element for element with its weight (PyTorch's _apply too)
                if (g != null && !g.isClosed() && g.memoryFormat() != format) {
                    try (Tensor moved = dev.sevnet.backend.Backends.of(g).toMemoryFormat(g, format)) {
                        g.adoptStorage(moved);
                    }
                }
            }
        }
        return this;
    }

    private static void move(Tensor t, dev.sevnet.backend.Backend backend) {
        if (t.device().equals(backend.device())) {
            return;
        }
        try (Tensor moved = backend.device().isCpu() ? hostCopyIn(t, backend) : backend.toDevice(t)) {
            t.adoptStorage(moved);
        }
    }

    /** A host copy of t in t's memory format (toHostCopy alone gives NCDHW): a model keeps its layout across devices. */
    private static Tensor hostCopyIn(Tensor t, dev.sevnet.backend.Backend host) {
        Tensor h = t.toHostCopy();
        if (h.memoryFormat() == t.memoryFormat() || !host.supportsChannelsLast()) {
            return h;
        }
        try (h) {
            return host.toMemoryFormat(h, t.memoryFormat());
        }
    }

    // ---- modes, gradients, initialization ----

    /**
     * Freezes ({@code false}) or unfreezes every parameter of the subtree, PyTorch's {@code module.requires_grad_()}:
     * e.g. {@code net.stages().requiresGrad(false)} to train only the head. Batch norm still updates its running
     * statistics in training mode; put a frozen part in {@link #eval()} mode as well to keep them.
     */
    public Module requiresGrad(boolean on) {
        for (Parameter p : namedParameters().values()) {
            p.requiresGrad(on);
        }
        return this;
    }

    /** Sets training mode (batch statistics, dropout) on the whole subtree. */
    public Module train(boolean on) {
        namedModules().values().forEach(m -> m.training = on);
        return this;
    }

    /** Evaluation mode: running statistics, no dropout. */
    public Module eval() {
        return train(false);
    }

    public boolean isTraining() {
        return training;
    }

    public void zeroGrad() {
        namedParameters().values().forEach(Parameter::zeroGrad);
    }

    /**
     * Re-initializes every parameter of the subtree. Each module draws from its own generator, seeded
     * from {@code seed} and its full name, so a module's initial weights do not depend on what other
     * modules the tree holds.
     */
    public void initialize(long seed) {
        namedModules().forEach((name, m) -> m.resetParameters(new SplittableRandom(mix(seed, name.hashCode()))));
    }

    protected static long mix(long seed, long salt) {
        // SplitMix64 finalizer: nearby seeds and names give unrelated streams
        long z = seed * 0x9E3779B97F4A7C15L + salt;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    private static String join(String prefix, String name) {
        return prefix.isEmpty() ? name : prefix + "." + name;
    }

    /** Frees every parameter, gradient and buffer of the subtree. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        parameters.values().forEach(Parameter::close);
        buffers.values().forEach(Tensor::close);
        children.values().forEach(Module::close);
    }
}
