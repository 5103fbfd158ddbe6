package dev.sevnet.infer;

import dev.sevnet.autograd.F;
import dev.sevnet.autograd.Var;
import dev.sevnet.backend.Backend;
import dev.sevnet.backend.Backends;
import dev.sevnet.backend.ConvSpec;
import dev.sevnet.nn.AvgPool3d;
import dev.sevnet.nn.BatchNorm3d;
import dev.sevnet.nn.Conv3d;
import dev.sevnet.nn.Linear;
import dev.sevnet.nn.MacCounter;
import dev.sevnet.nn.Module;
import dev.sevnet.nn.ModuleList;
import dev.sevnet.nn.SevBlock;
import dev.sevnet.nn.SevNet;
import dev.sevnet.nn.SevNetConfig;
import dev.sevnet.nn.SqueezeExcite;
import dev.sevnet.nn.Stage;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.MemoryFormat;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The inference form of a {@link SevNet}: every {@link BatchNorm3d} folded into the convolution before
 * it and every ReLU that follows it fused into that convolution, so each {@code conv -> BN [-> ReLU]}
 * of the model is one {@link Backend#conv3d(Tensor, Tensor, Tensor, ConvSpec, boolean) conv3d} call with
 * a bias (and the ReLU in its epilogue), on the CPU and the GPU backends alike.
 *
 * <p>Per output channel {@code c}, with BN's running statistics (evaluation mode):
 * <pre>
 *   s[c]     = gamma[c] / sqrt(running_var[c] + eps)
 *   w'[c]    = w[c] * s[c]
 *   b'[c]    = beta[c] + (conv_bias[c] - running_mean[c]) * s[c]
 * </pre>
 * computed in double precision, so {@code conv(x, w') + b'} equals {@code BN(conv(x, w))} up to float
 * rounding. Where a block's output goes through a ReLU right after its last BN (a downsample block
 * without squeeze-excite: {@code ReLU(concat(bn3, shortcut.bn))}), the ReLU moves into both convs.
 * Squeeze-excite, the average pool, the residual add+ReLU and the classifier are kept as they are.
 *
 * <p>Parameter names follow the source tree ({@code stem.conv_s.weight}, {@code stem.conv_s.bias},
 * {@code stages.0.blocks.0.conv1.bias}, {@code stages.0.blocks.0.shortcut.conv.weight}, ...; no
 * {@code bn*} entries). Inference only: forward records no graph; run it under
 * {@link dev.sevnet.autograd.GradMode#noGrad()} so intermediate activations are freed as soon as they
 * are consumed. Immutable after {@link #fold}, so any number of threads may run {@link #forward} at
 * once.
 *
 * <p><b>Precision</b> ({@link #fold(SevNet, DType)}, {@link #dtype()}): float32, or a 16-bit storage type for
 * GPU inference &mdash; bfloat16 or float16. Then the weights are folded in double/float32 as above and cast
 * ONCE, at fold time, to the 16-bit type (round to nearest even); the biases, squeeze-excite and the classifier
 * stay float32. {@link #forward} casts the input clip to 16 bits at entry, every conv (and its epilogue), pool,
 * add and concat stores 16-bit activations (fp32 arithmetic inside each op, one rounding per store), the
 * global average pool returns float32, and the head computes float32 logits. The CUDA backend runs these ops;
 * the CPU backend runs them too, as the bit-level reference of the same rounding points (slow: it widens
 * every tensor) &mdash; {@code Predictor} therefore offers bf16/fp16 on CUDA devices only.
 */
public final class FoldedSevNet extends Module {
    private final SevNetConfig config;
    private final DType dtype;
    private final Stem stem;
    private final ModuleList<InferenceStage<FoldedBlock>> stages;
    private final Linear fc;
    /** The memory format of the activations between the input and the global pool (toMemoryFormat). */
    private volatile MemoryFormat activations = MemoryFormat.CONTIGUOUS;

    private FoldedSevNet(SevNetConfig config, DType dtype, Stem stem, List<InferenceStage<FoldedBlock>> stages,
            Linear fc) {
        this.config = config;
        this.dtype = dtype;
        this.stem = registerModule("stem", stem);
        this.stages = registerModule("stages", new ModuleList<>(stages));
        InferenceHead head = registerModule("head", new InferenceHead(fc));
        this.fc = head.fc;
    }

    /**
     * Folds {@code net} (its parameters and running statistics, whatever its training flag) into a new
     * model on the same device. {@code net} is left untouched and still owned by the caller.
     */
    public static FoldedSevNet fold(SevNet net) {
        return fold(net, DType.FLOAT32);
    }

    /**
     * {@link #fold(SevNet)} with the conv weights stored in {@code dtype}: {@code FLOAT32}, {@code BFLOAT16}
     * or {@code FLOAT16} (folded in double/float32, then rounded once to nearest even); biases and the head
     * stay float32. See the class comment for where a 16-bit model rounds.
     */
    public static FoldedSevNet fold(SevNet net, DType dtype) {
        if (dtype != DType.FLOAT32 && dtype != DType.BFLOAT16 && dtype != DType.FLOAT16) {
            throw new IllegalArgumentException("a folded SEVNet computes in " + DType.FLOAT32 + ", " + DType.BFLOAT16
                    + " or " + DType.FLOAT16 + ", not " + dtype);
        }
        List<Module> made = new ArrayList<>();
        FoldedSevNet folded;
        try (TensorScope scope = TensorScope.open()) {
            Map<String, Module> sc = net.stem().children();
            Stem stem = track(made, new Stem(
                    FusedConv.fold((Conv3d) sc.get("conv_s"), (BatchNorm3d) sc.get("bn_s"), true, dtype),
                    FusedConv.fold((Conv3d) sc.get("conv_t"), (BatchNorm3d) sc.get("bn_t"), true, dtype)));
            List<InferenceStage<FoldedBlock>> stages = new ArrayList<>();
            for (Stage s : net.stages().items()) {
                List<FoldedBlock> blocks = new ArrayList<>();
                for (SevBlock b : s.blocks().items()) {
                    blocks.add(track(made, FoldedBlock.fold(b, dtype)));
                }
                stages.add(track(made, new InferenceStage<>(blocks)));
            }
            Linear fc = track(made, copyLinear(net.head().fc()));
            folded = new FoldedSevNet(net.config(), dtype, stem, stages, fc);
        } catch (RuntimeException | Error e) {
            made.forEach(Module::close);
            throw e;
        }
        try {
            folded.to(Backends.forDevice(net.device()));
            if (net.activationFormat() != MemoryFormat.CONTIGUOUS) {
                folded.toMemoryFormat(net.activationFormat()); // a channels-last model folds into a channels-last one
            }
        } catch (RuntimeException e) {
            folded.close();
            throw e;
        }
        folded.eval();
        return folded;
    }

    private static <M extends Module> M track(List<Module> made, M m) {
        made.add(m);
        return m;
    }

    public SevNetConfig config() {
        return config;
    }

    /** The storage type of the conv weights and activations: FLOAT32, BFLOAT16 or FLOAT16 (logits are FLOAT32). */
    public DType dtype() {
        return dtype;
    }

    /**
     * Also runs the activations in {@code format} from now on: {@link MemoryFormat#CHANNELS_LAST} reorders the clip
     * to NDHWC once at entry (after its rounding to 16 bits), keeps every activation NDHWC up to the global pool and
     * the conv weights in KTRSC (the layout of cuDNN's tensor-core convolutions). The logits are the contiguous
     * model's up to the convolution algorithms' summation order. On the CPU a reference, slower than contiguous
     * (every op on NCDHW copies).
     */
    @Override
    public FoldedSevNet toMemoryFormat(MemoryFormat format) {
        super.toMemoryFormat(format);
        activations = format;
        return this;
    }

    /** The memory format of the activations ({@link #toMemoryFormat}); contiguous unless set. */
    public MemoryFormat activationFormat() {
        return activations;
    }

    @Override
    public Var forward(Var x) {
        if (x.shape().rank() != 5 || x.dim(1) != 3) {
            throw new IllegalArgumentException("SEVNet input must be [N, 3, T, H, W] RGB clips, got " + x.shape());
        }
        Var in = x;
        if (dtype != DType.FLOAT32) {
            if (x.value().dtype() != DType.FLOAT32) {
                throw new IllegalArgumentException("SEVNet input must be " + DType.FLOAT32 + " clips, got "
                        + x.value().dtype());
            }
            in = Var.of(Backends.of(x.value()).cast(x.value(), dtype)); // the one rounding of the input
        }
        if (activations != in.value().memoryFormat() && Backends.of(in.value()).supportsChannelsLast()) {
            Var reordered = F.toMemoryFormat(in, activations);
            if (in != x) {
                release(in);
            }
            in = reordered;
        }
        Var h = stem.forward(in);
        if (in != x) {
            release(in);
        }
        Var features = stages.forward(h);
        if (features != h) {
            release(h);
        }
        Var pooled = F.globalAvgPool(features);
        release(features);
        Var logits = fc.forward(pooled);
        release(pooled);
        return logits;
    }

    @Override
    public Shape outputShape(Shape input, MacCounter macs) {
        Shape s = stages.outputShape(stem.outputShape(input, macs), macs);
        return fc.outputShape(Shape.of(s.get(0), s.get(1)), macs);
    }

    // ---- pieces ----

    private static Linear copyLinear(Linear src) {
        Linear l = new Linear(src.inFeatures(), src.outFeatures(), src.bias() != null);
        try {
            l.loadStateDict(src.stateDict(), true);
        } catch (RuntimeException e) {
            l.close();
            throw e;
        }
        return l;
    }

    /** {@code conv3d(x, weight) + bias}, then ReLU when {@code relu}: one backend call. */
    static final class FusedConv extends Module implements InferenceBlock.ReluConv, InferenceBlock.ResidualConv {
        private final ConvSpec spec;
        private final boolean relu;
        private final Tensor weight;
        private final Tensor bias;

        private FusedConv(Tensor weight, Tensor bias, ConvSpec spec, boolean relu) {
            this.spec = spec;
            this.relu = relu;
            this.weight = registerParameter("weight", weight).data();
            this.bias = registerParameter("bias", bias).data();
        }

        /** {@code conv} followed by {@code bn} (running statistics), and a ReLU when {@code relu}; weights in dtype. */
        static FusedConv fold(Conv3d conv, BatchNorm3d bn, boolean relu, DType dtype) {
            int cout = conv.outChannels();
            if (bn.channels() != cout) {
                throw new IllegalArgumentException("batch norm of " + bn.channels() + " channels after a conv with "
                        + cout + " outputs");
            }
            float[] w = conv.weight().data().toFloatArray();
            float[] cb = conv.bias() == null ? null : conv.bias().data().toFloatArray();
            float[] gamma = bn.weight().data().toFloatArray();
            float[] beta = bn.bias().data().toFloatArray();
            float[] mean = bn.runningMean().toFloatArray();
            float[] var = bn.runningVar().toFloatArray();
            int per = w.length / cout;
            float[] fw = new float[w.length];
            float[] fb = new float[cout];
            for (int c = 0; c < cout; c++) {
                double s = gamma[c] / Math.sqrt((double) var[c] + BatchNorm3d.EPS);
                for (int i = c * per; i < (c + 1) * per; i++) {
                    fw[i] = (float) (w[i] * s);
                }
                double b0 = cb == null ? 0 : cb[c];
                fb[c] = (float) (beta[c] + (b0 - mean[c]) * s);
            }
            Shape ws = conv.weight().data().shape();
            Tensor weight = Tensor.of(fw, ws);
            if (dtype != DType.FLOAT32) {
                try (Tensor f32 = weight) {
                    weight = Backends.cpu().cast(f32, dtype); // the one rounding of the weights
                }
            }
            return new FusedConv(weight, Tensor.of(fb, Shape.of(cout)), conv.spec(), relu);
        }

        @Override
        public Var forward(Var x) {
            Backend b = Backends.of(x.value());
            return Var.of(b.conv3d(x.value(), weight, bias, spec, relu));
        }

        @Override
        public Var forwardAddRelu(Var x, Var residual) {
            Backend b = Backends.of(x.value());
            return Var.of(b.conv3dResidual(x.value(), weight, bias, spec, residual.value(), true));
        }

        @Override
        public Shape outputShape(Shape input, MacCounter macs) {
            long cout = weight.dim(0);
            long cinPerGroup = weight.dim(1);
            if (input.rank() != 5 || input.get(1) != cinPerGroup * spec.groups()) {
                throw new IllegalArgumentException("conv3d expects [N, " + cinPerGroup * spec.groups() + ", T, H, W], got "
                        + input);
            }
            Shape out = spec.outputShape(input, cout);
            macs.add(out.size() * cinPerGroup * spec.kernelVolume());
            return out;
        }

        @Override
        public boolean relu() {
            return relu;
        }
    }

    /** {@code conv_s} and {@code conv_t}, both with BN folded in and ReLU fused. */
    private static final class Stem extends Module {
        private final FusedConv convS;
        private final FusedConv convT;

        Stem(FusedConv convS, FusedConv convT) {
            this.convS = registerModule("conv_s", convS);
            this.convT = registerModule("conv_t", convT);
        }

        @Override
        public Var forward(Var x) {
            Var h = convS.forward(x);
            Var out = convT.forward(h);
            release(h);
            return out;
        }

        @Override
        public Shape outputShape(Shape input, MacCounter macs) {
            return convT.outputShape(convS.outputShape(input, macs), macs);
        }
    }

    /** A {@link SevBlock} with its three conv+BN pairs (and the shortcut's) folded. */
    static final class FoldedBlock extends InferenceBlock {
        private FoldedBlock(boolean downsample, FusedConv conv1, FusedConv conv2, FusedConv conv3, SqueezeExcite se,
                AvgPool3d pool, FusedConv shortcutConv) {
            super(downsample, conv1, conv2, conv3, se, pool, shortcutConv);
        }

        static FoldedBlock fold(SevBlock b, DType dtype) {
            Map<String, Module> c = b.children();
            boolean down = b.isDownsample();
            SqueezeExcite srcSe = (SqueezeExcite) c.get("se");
            // relu(concat(a, s)) = concat(relu(a), relu(s)): without squeeze-excite both branch convs take it
            boolean tailRelu = down && srcSe == null;
            List<Module> made = new ArrayList<>();
            try {
                FusedConv c1 = track(made, FusedConv.fold((Conv3d) c.get("conv1"), (BatchNorm3d) c.get("bn1"), true,
                        dtype));
                FusedConv c2 = track(made, FusedConv.fold((Conv3d) c.get("conv2"), (BatchNorm3d) c.get("bn2"), true,
                        dtype));
                FusedConv c3 = track(made, FusedConv.fold((Conv3d) c.get("conv3"), (BatchNorm3d) c.get("bn3"), tailRelu,
                        dtype));
                SqueezeExcite se = null;
                if (srcSe != null) {
                    se = track(made, new SqueezeExcite(b.channels()));
                    se.loadStateDict(srcSe.stateDict(), true);
                }
                AvgPool3d pool = null;
                FusedConv sc = null;
                if (down) {
                    Map<String, Module> s = c.get("shortcut").children();
                    pool = track(made, new AvgPool3d(((AvgPool3d) s.get("pool")).window()));
                    sc = track(made, FusedConv.fold((Conv3d) s.get("conv"), (BatchNorm3d) s.get("bn"), tailRelu, dtype));
                }
                return new FoldedBlock(down, c1, c2, c3, se, pool, sc);
            } catch (RuntimeException | Error e) {
                made.forEach(Module::close);
                throw e;
            }
        }
    }
}
