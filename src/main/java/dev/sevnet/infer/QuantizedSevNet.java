package dev.sevnet.infer;

import dev.sevnet.autograd.F;
import dev.sevnet.autograd.GradMode;
import dev.sevnet.autograd.Var;
import dev.sevnet.backend.Backends;
import dev.sevnet.backend.ConvSpec;
import dev.sevnet.backend.cpu.Int8Kernels;
import dev.sevnet.backend.cpu.NativeCore;
import dev.sevnet.nn.AvgPool3d;
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
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;

import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * INT8 inference form of a SEVNet, on the CPU: the {@link FoldedSevNet} (BatchNorm folded into each
 * conv, ReLU fused) with every convolution run in 8-bit.
 *
 * <ul>
 * <li>Weights: s8, symmetric, one scale per output channel ({@code s[c] = max|w'[c]| / 127}).</li>
 * <li>Activations (each conv's input): u8 with one scale per tensor from calibration — the folded fp32
 * model runs on a few clips and records each conv input's range; a non-negative input (every input
 * after a ReLU) gets zero point 0 and {@code scale = max / 255}, a signed one (the normalised clip)
 * zero point 128 and {@code scale = max|x| / 127}.</li>
 * <li>Each conv: quantise the input, int32 accumulation of u8 x s8 (AVX-512 VNNI where the CPU has it),
 * then {@code (acc - zp * sum w) * sx * s[c] + bias[c]} and the fused ReLU, as float32
 * ({@code native/src/int8.cpp}). Squeeze-excite, pooling, the residual add, the classifier stay
 * fp32.</li>
 * </ul>
 * Immutable once built, so any number of threads may run {@link #forward} at once (under
 * {@link GradMode#noGrad()}). CPU only.
 */
public final class QuantizedSevNet extends Module {
    private final SevNetConfig config;
    private final QStem stem;
    private final ModuleList<QStage> stages;
    private final Linear fc;

    private QuantizedSevNet(SevNetConfig config, QStem stem, List<QStage> stages, Linear fc) {
        this.config = config;
        this.stem = registerModule("stem", stem);
        this.stages = registerModule("stages", new ModuleList<>(stages));
        this.fc = registerModule("head", new QHead(fc)).fc;
    }

    /**
     * Folds {@code net} (an eval-mode model; left untouched) and quantises it with activation ranges
     * calibrated on {@code calibration} ({@code [N, 3, T, H, W]} float32 clips, on the CPU).
     */
    public static QuantizedSevNet quantize(SevNet net, List<Tensor> calibration) {
        try (FoldedSevNet folded = FoldedSevNet.fold(net)) {
            return quantize(folded, calibration);
        }
    }

    /** Quantises {@code folded} (left untouched, still the caller's) calibrating on {@code calibration}. */
    public static QuantizedSevNet quantize(FoldedSevNet folded, List<Tensor> calibration) {
        if (!folded.device().isCpu()) {
            throw new IllegalArgumentException("int8 inference runs on the CPU only; the model is on " + folded.device());
        }
        if (calibration == null || calibration.isEmpty()) {
            throw new IllegalArgumentException("int8 needs at least one calibration clip [N, 3, T, H, W]");
        }
        for (Tensor c : calibration) {
            if (c.isClosed() || c.dtype() != DType.FLOAT32 || c.rank() != 5 || c.dim(1) != 3 || !c.device().isCpu()) {
                throw new IllegalArgumentException("calibration clips must be float32 [N, 3, T, H, W] CPU tensors, got "
                        + (c.isClosed() ? "a closed tensor" : c.shape() + " " + c.dtype() + " on " + c.device()));
            }
        }
        Map<String, Tensor> sd = folded.stateDict();
        QuantizedSevNet q = build(folded.config(), sd);
        try {
            q.eval();
            try (GradMode.Guard g = GradMode.noGrad()) {
                for (Tensor clip : calibration) {
                    try (TensorScope scope = TensorScope.open()) {
                        q.forward(Var.of(clip));
                    }
                }
            }
            for (QConv c : q.convs()) {
                c.finishCalibration();
            }
            return q;
        } catch (RuntimeException | Error e) {
            q.close();
            throw e;
        }
    }

    public SevNetConfig config() {
        return config;
    }

    /** Every int8 convolution, in forward order of the stem and blocks. */
    List<QConv> convs() {
        List<QConv> out = new ArrayList<>();
        for (Module m : namedModules().values()) {
            if (m instanceof QConv c) {
                out.add(c);
            }
        }
        return out;
    }

    /** Per conv (by name): the input scale and zero point calibration chose. */
    public Map<String, float[]> activationQuantization() {
        Map<String, float[]> out = new java.util.LinkedHashMap<>();
        namedModules().forEach((name, m) -> {
            if (m instanceof QConv c) {
                out.put(name, new float[] {c.xScale, c.xZeroPoint});
            }
        });
        return out;
    }

    @Override
    public Var forward(Var x) {
        if (x.shape().rank() != 5 || x.dim(1) != 3) {
            throw new IllegalArgumentException("SEVNet input must be [N, 3, T, H, W] RGB clips, got " + x.shape());
        }
        Var h = stem.forward(x);
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

    // ---- construction from the folded state dict (the structure from a template of the same config) ----

    private static QuantizedSevNet build(SevNetConfig config, Map<String, Tensor> sd) {
        List<Module> made = new ArrayList<>();
        try (SevNet template = SevNet.create(config, 0)) {
            Map<String, Module> sc = template.stem().children();
            QStem stem = track(made, new QStem(
                    QConv.of(sd, "stem.conv_s", (Conv3d) sc.get("conv_s"), true),
                    QConv.of(sd, "stem.conv_t", (Conv3d) sc.get("conv_t"), true)));
            List<QStage> stages = new ArrayList<>();
            List<Stage> ts = template.stages().items();
            for (int s = 0; s < ts.size(); s++) {
                List<QBlock> blocks = new ArrayList<>();
                List<SevBlock> tb = ts.get(s).blocks().items();
                for (int b = 0; b < tb.size(); b++) {
                    blocks.add(track(made, QBlock.of(sd, "stages." + s + ".blocks." + b, tb.get(b))));
                }
                stages.add(track(made, new QStage(blocks)));
            }
            Linear src = template.head().fc();
            Linear fc = track(made, new Linear(src.inFeatures(), src.outFeatures(), src.bias() != null));
            fc.loadStateDict(sub(sd, "head.fc"), true);
            return new QuantizedSevNet(config, stem, stages, fc);
        } catch (RuntimeException | Error e) {
            made.forEach(Module::close);
            throw e;
        }
    }

    private static <M extends Module> M track(List<Module> made, M m) {
        made.add(m);
        return m;
    }

    /** The entries under {@code prefix.}, without it. */
    private static Map<String, Tensor> sub(Map<String, Tensor> sd, String prefix) {
        Map<String, Tensor> out = new HashMap<>();
        sd.forEach((k, v) -> {
            if (k.startsWith(prefix + ".")) {
                out.put(k.substring(prefix.length() + 1), v);
            }
        });
        return out;
    }

    private static Tensor need(Map<String, Tensor> sd, String name) {
        Tensor t = sd.get(name);
        if (t == null) {
            throw new IllegalArgumentException("folded model has no '" + name + "'");
        }
        return t;
    }

    // ---- pieces ----

    /**
     * One folded conv in int8: s8 weights (rows padded to the native stride; kept in an INT64 buffer as
     * raw bytes, so that {@link Module#to} never moves them), per-channel scales, fp32 bias, and the
     * input's scale and zero point once calibrated. Until then it runs the fp32 folded conv and records
     * its input's range.
     */
    static final class QConv extends Module implements InferenceBlock.ReluConv {
        private final ConvSpec spec;
        private final boolean relu;
        private final long cout;
        private final long cinPerGroup;
        private final Tensor weight;     // fp32 folded weights: calibration pass and tests
        private final Tensor bias;
        private final Tensor wq;         // int8 bytes [cout, stride]
        private final Tensor wscale;     // [cout]
        private float xScale;
        private int xZeroPoint;
        private boolean calibrated;
        private double seenMin;
        private double seenMax;

        private QConv(Tensor weight, Tensor bias, ConvSpec spec, boolean relu) {
            this.spec = spec;
            this.relu = relu;
            this.cout = weight.dim(0);
            this.cinPerGroup = weight.dim(1);
            this.weight = registerBuffer("weight", weight);
            this.bias = registerBuffer("bias", bias);
            long k = weight.size() / cout;
            int stride = Int8Kernels.sev_int8_weight_stride(k);
            this.wq = registerBuffer("weight_q", Tensor.empty(Shape.of((cout * stride + 7) / 8), DType.INT64));
            this.wscale = registerBuffer("weight_scale", Tensor.empty(Shape.of(cout)));
            check(Int8Kernels.sev_int8_quantize_weights(weight.address(), wq.address(), wscale.address(), cout, k),
                    "weight quantisation");
        }

        static QConv of(Map<String, Tensor> sd, String name, Conv3d template, boolean relu) {
            Tensor w = need(sd, name + ".weight").copy();
            Tensor b = need(sd, name + ".bias").copy();
            if (!w.shape().equals(template.weight().data().shape())) {
                w.close();
                b.close();
                throw new IllegalArgumentException(name + ".weight is " + w.shape() + ", expected "
                        + template.weight().data().shape());
            }
            return new QConv(TensorScope.detach(w), TensorScope.detach(b), template.spec(), relu);
        }

        /** Ends calibration: the input scale and zero point from the recorded range. */
        void finishCalibration() {
            if (seenMin < 0) {
                double amax = Math.max(-seenMin, seenMax);
                xZeroPoint = 128;
                xScale = amax > 0 ? (float) (amax / 127) : 1f;
            } else {
                xZeroPoint = 0;
                xScale = seenMax > 0 ? (float) (seenMax / 255) : 1f;
            }
            calibrated = true;
        }

        @Override
        public Var forward(Var xv) {
            Tensor x = xv.value();
            if (x.rank() != 5 || x.dim(1) != cinPerGroup * spec.groups() || x.dtype() != DType.FLOAT32) {
                throw new IllegalArgumentException("conv3d expects float32 [N, " + cinPerGroup * spec.groups()
                        + ", T, H, W], got " + x.shape() + " " + x.dtype());
            }
            if (!x.device().isCpu()) {
                throw new IllegalArgumentException("int8 inference runs on the CPU only; input is on " + x.device());
            }
            if (!calibrated) {
                record(x);
                return Var.of(Backends.of(x).conv3d(x, weight, bias, spec, relu));
            }
            Tensor y = Tensor.empty(spec.outputShape(x.shape(), cout));
            check(Int8Kernels.sev_conv3d_int8_forward(x.address(), xScale, xZeroPoint, wq.address(), wscale.address(),
                    bias.address(), y.address(), spec.nativeParams(x.shape(), cout), relu ? 1 : 0), "int8 conv3d");
            return Var.of(y);
        }

        private synchronized void record(Tensor x) {
            FloatBuffer f = x.floatBuffer();
            double lo = seenMin;
            double hi = seenMax;
            for (int i = 0, n = f.limit(); i < n; i++) {
                float v = f.get(i);
                if (v < lo) {
                    lo = v;
                }
                if (v > hi) {
                    hi = v;
                }
            }
            seenMin = lo;
            seenMax = hi;
        }

        @Override
        public Shape outputShape(Shape input, MacCounter macs) {
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

        ConvSpec spec() {
            return spec;
        }

        /** The s8 weights as bytes, [cout][stride]. */
        ByteBuffer weightBytes() {
            return wq.hostBuffer();
        }

        private static void check(int rc, String op) {
            if (rc != 0) {
                throw new IllegalStateException(op + " failed in native code (" + rc + "): " + NativeCore.sev_last_error());
            }
        }
    }

    private static final class QStem extends Module {
        private final QConv convS;
        private final QConv convT;

        QStem(QConv convS, QConv convT) {
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

    private static final class QStage extends Module {
        private final ModuleList<QBlock> blocks;

        QStage(List<QBlock> blocks) {
            this.blocks = registerModule("blocks", new ModuleList<>(blocks));
        }

        @Override
        public Var forward(Var x) {
            return blocks.forward(x);
        }

        @Override
        public Shape outputShape(Shape input, MacCounter macs) {
            return blocks.outputShape(input, macs);
        }
    }

    private static final class QHead extends Module {
        private final Linear fc;

        QHead(Linear fc) {
            this.fc = registerModule("fc", fc);
        }

        @Override
        public Var forward(Var x) {
            return fc.forward(F.globalAvgPool(x));
        }

        @Override
        public Shape outputShape(Shape input, MacCounter macs) {
            return fc.outputShape(Shape.of(input.get(0), input.get(1)), macs);
        }
    }

    /** {@link FoldedSevNet}'s block with int8 convs (the same data flow). */
    private static final class QBlock extends InferenceBlock {
        private QBlock(boolean downsample, QConv conv1, QConv conv2, QConv conv3, SqueezeExcite se,
                AvgPool3d pool, QConv shortcutConv) {
            super(downsample, conv1, conv2, conv3, se, pool, shortcutConv);
        }

        static QBlock of(Map<String, Tensor> sd, String name, SevBlock t) {
            Map<String, Module> c = t.children();
            boolean down = t.isDownsample();
            boolean hasSe = c.get("se") != null;
            boolean tailRelu = down && !hasSe;   // as FoldedSevNet: relu(concat) moved into both convs
            List<Module> made = new ArrayList<>();
            try {
                QConv c1 = track(made, QConv.of(sd, name + ".conv1", (Conv3d) c.get("conv1"), true));
                QConv c2 = track(made, QConv.of(sd, name + ".conv2", (Conv3d) c.get("conv2"), true));
                QConv c3 = track(made, QConv.of(sd, name + ".conv3", (Conv3d) c.get("conv3"), tailRelu));
                SqueezeExcite se = null;
                if (hasSe) {
                    se = track(made, new SqueezeExcite(t.channels()));
                    se.loadStateDict(sub(sd, name + ".se"), true);
                }
                AvgPool3d pool = null;
                QConv sc = null;
                if (down) {
                    Map<String, Module> s = c.get("shortcut").children();
                    pool = track(made, new AvgPool3d(((AvgPool3d) s.get("pool")).window()));
                    sc = track(made, QConv.of(sd, name + ".shortcut.conv", (Conv3d) s.get("conv"), tailRelu));
                }
                return new QBlock(down, c1, c2, c3, se, pool, sc);
            } catch (RuntimeException | Error e) {
                made.forEach(Module::close);
                throw e;
            }
        }
    }
}
