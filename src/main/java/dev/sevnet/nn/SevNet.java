package dev.sevnet.nn;

import dev.sevnet.autograd.Var;
import dev.sevnet.tensor.Shape;
import java.util.ArrayList;
import java.util.List;

/**
 * A SEVNet (ARCHITECTURE.md §2): {@code stem}, four {@code stages} of depths (3, 4, 6, 3) and widths
 * 8g·2^s, and the {@code head}. Parameter and buffer names are PyTorch's state_dict keys of that tree.
 * Input: float32 {@code [N, 3, T, H, W]}, normalized RGB; output: logits {@code [N, K]}.
 *
 * <p>Created in training mode (PyTorch's default); call {@link #eval()} for inference.
 */
public final class SevNet extends Module {
    private static final int[] DEPTHS = {3, 4, 6, 3};

    /** Blocks per stage, ResNet-50's (3, 4, 6, 3); a copy (the model's own never changes). */
    public static int[] depths() {
        return DEPTHS.clone();
    }

    private final SevNetConfig config;
    private final Stem stem;
    private final ModuleList<Stage> stages;
    private final Head head;
    /** The memory format of the activations between the input and the global pool (toMemoryFormat). */
    private volatile dev.sevnet.tensor.MemoryFormat activations = dev.sevnet.tensor.MemoryFormat.CONTIGUOUS;

    private SevNet(SevNetConfig config) {
        this.config = config;
        int g = config.groupWidth();
        stem = registerModule("stem", new Stem(4 * g));
        List<Stage> list = new ArrayList<>();
        for (int s = 0; s < DEPTHS.length; s++) {
            list.add(new Stage(config.stageWidth(s), DEPTHS[s], config));
        }
        stages = registerModule("stages", new ModuleList<>(list));
        head = registerModule("head", new Head(config.stageWidth(DEPTHS.length - 1), config.numClasses(),
                config.dropout()));
    }

    /**
     * A model with deterministic initial weights for {@code seed}: convolutions Kaiming normal (fan_out,
     * ReLU gain), linear layers PyTorch's default uniform, batch norm weight 1 / bias 0.
     */
    public static SevNet create(SevNetConfig config, long seed) {
        SevNet net = new SevNet(config);
        try {
            net.initialize(seed);
        } catch (RuntimeException e) {
            net.close();
            throw e;
        }
        return net;
    }

    /** The tree with zero conv and linear weights, for counting and for loading weights into. */
    static SevNet uninitialized(SevNetConfig config) {
        return new SevNet(config);
    }

    /**
     * Also runs the activations in {@code format} from now on (forward and backward): {@link
     * dev.sevnet.tensor.MemoryFormat#CHANNELS_LAST} reorders the clip to NDHWC once at entry and keeps every
     * activation and gradient NDHWC up to the global pool, with conv weights (and so their gradients and the
     * optimizer's momentum) in KTRSC: the layout of cuDNN's tensor-core convolutions, PyTorch's
     * {@code model.to(memory_format=torch.channels_last_3d)}. On the CPU it is a reference, slower than
     * contiguous (every op on NCDHW copies). Values and state dicts are unchanged.
     */
    @Override
    public SevNet toMemoryFormat(dev.sevnet.tensor.MemoryFormat format) {
        super.toMemoryFormat(format);
        activations = format;
        return this;
    }

    /** The memory format of the activations ({@link #toMemoryFormat}); contiguous unless set. */
    public dev.sevnet.tensor.MemoryFormat activationFormat() {
        return activations;
    }

    @Override
    public Var forward(Var x) {
        if (x.shape().rank() != 5 || x.dim(1) != 3) {
            throw new IllegalArgumentException("SEVNet input must be [N, 3, T, H, W] RGB clips, got " + x.shape());
        }
        Var in = x;
        if (activations != x.value().memoryFormat()
                && dev.sevnet.backend.Backends.of(x.value()).supportsChannelsLast()) {
            in = dev.sevnet.autograd.F.toMemoryFormat(x, activations);
        }
        Var stemOut = stem.forward(in);
        if (in != x) {
            release(in);
        }
        Var features = stages.forward(stemOut);
        release(stemOut);
        Var logits = head.forward(features);
        release(features);
        return logits;
    }

    @Override
    public Shape outputShape(Shape input, MacCounter macs) {
        return head.outputShape(stages.outputShape(stem.outputShape(input, macs), macs), macs);
    }

    /**
     * A new model for {@code numClasses} classes with this one's stem and stages (their weights and batch-norm
     * statistics copied) and a freshly initialised head: the start of fine-tuning on another label set
     * (PyTorch: {@code model.head.fc = nn.Linear(64 * g, k)}). This model is unchanged; the caller owns both.
     */
    public SevNet withNewHead(int numClasses, long seed) {
        SevNet out = create(config.toBuilder().numClasses(numClasses).build(), seed);
        java.util.Map<String, dev.sevnet.tensor.Tensor> body = java.util.Map.of();
        try {
            body = stateDictCopy(k -> !k.startsWith("head."));
            out.loadStateDict(body, false);
            if (activations != dev.sevnet.tensor.MemoryFormat.CONTIGUOUS) {
                out.toMemoryFormat(activations); // the new model keeps this one's layout
            }
            return out;
        } catch (RuntimeException e) {
            out.close();
            throw e;
        } finally {
            body.values().forEach(dev.sevnet.tensor.Tensor::close);
        }
    }

    public SevNetConfig config() {
        return config;
    }

    public Stem stem() {
        return stem;
    }

    public ModuleList<Stage> stages() {
        return stages;
    }

    public Head head() {
        return head;
    }
}
