package dev.sevnet.infer;

import dev.sevnet.autograd.F;
import dev.sevnet.autograd.GradMode;
import dev.sevnet.autograd.Var;
import dev.sevnet.backend.Backends;
import dev.sevnet.backend.ConvSpec;
import dev.sevnet.backend.cpu.Int8Conv;
import dev.sevnet.backend.cpu.Int8Ops;
import dev.sevnet.backend.cpu.QTensor;
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
import dev.sevnet.tensor.MemoryFormat;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * INT8 inference form of a SEVNet, on the CPU: the {@link FoldedSevNet} (BatchNorm folded into each
 * conv, ReLU fused) with every convolution in 8-bit and the activations kept in 8-bit between them.
 *
 * <ul>
 * <li>Activations: u8 ({@link QTensor}, channel-blocked), one scale per channel from calibration — the
 * folded fp32 model runs on a few clips and records each channel's range of every conv input and
 * block output; a non-negative tensor (everything after a ReLU) gets zero point 0 and
 * {@code scale = 1.25 max / 255}, the signed normalised clip zero point 128 and
 * {@code scale = 1.25 max|x| / 127}; no channel's scale is below half the tensor's largest
 * ({@link Range}).</li>
 * <li>Weights: s8, symmetric, one scale per output channel ({@code s[c] = max|w'[c]| / 127}) of the
 * folded weights times their input channel's activation scale (so the kernel reads the u8 codes of
 * differently scaled channels as they are), packed for the AVX-512 VNNI kernel ({@link Int8Conv}). The
 * mean output shift their rounding causes is added back to the bias (bias correction, from the input
 * means calibration recorded).</li>
 * <li>Each conv reads u8 and writes u8 at its consumer's scales: bias, ReLU and requantisation in the
 * conv's epilogue, no float pass in between ({@code native/src/int8.cpp}). A standard block's residual
 * add + ReLU happens in conv3's epilogue (the block input is added as u8); a downsample block's two
 * branches write their halves of one u8 tensor (the concat), its shortcut pool averages u8 values.
 * Squeeze-excite: conv3 writes fp32 (the gate needs the whole output's mean first), the gate is computed
 * in fp32, and the channel scaling, the residual add + ReLU and the quantisation are one pass
 * ({@link Int8Ops#quantizeGatedInto}); the global pool reads u8 and the classifier is fp32.</li>
 * </ul>
 * Immutable once built, so any number of threads may run {@link #forward} at once (under
 * {@link GradMode#noGrad()}). CPU only.
 */
public final class QuantizedSevNet extends Module {
    private final SevNetConfig config;
    private final QStem stem;
    private final ModuleList<InferenceStage<QBlock>> stages;
    private final Linear fc;
    private final List<QBlock> blocks = new ArrayList<>();
    private volatile boolean calibrated;

    private QuantizedSevNet(SevNetConfig config, QStem stem, List<InferenceStage<QBlock>> stages, Linear fc) {
        this.config = config;
        this.stem = registerModule("stem", stem);
        this.stages = registerModule("stages", new ModuleList<>(stages));
        this.fc = registerModule("head", new InferenceHead(fc)).fc;
        for (InferenceStage<QBlock> st : stages) {
            blocks.addAll(st.blocks.items());
        }
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
            if (c == null) {
                throw new IllegalArgumentException("calibration clips must not be null");
            }
            if (c.isClosed() || c.dtype() != DType.FLOAT32 || c.rank() != 5 || c.dim(1) != 3 || !c.device().isCpu()) {
                throw new IllegalArgumentException("calibration clips must be float32 [N, 3, T, H, W] CPU tensors, got "
                        + (c.isClosed() ? "a closed tensor" : c.shape() + " " + c.dtype() + " on " + c.device()));
            }
            // an empty clip records no range (every scale would fall back to 1), a NaN poisons the recorded
            // means (bias correction: a NaN bias, every output of that conv 0): refuse both, as the
            // Predictor refuses a non-finite clip to predict
            if (c.size() == 0) {
                throw new IllegalArgumentException("calibration clips must hold at least one clip of at least one "
                        + "frame and pixel, got " + c.shape());
            }
            int bad = Tensor.countNonFinite(c.toFloatArray());   // any memory format
            if (bad > 0) {
                throw new IllegalArgumentException("calibration clip " + c.shape() + " holds " + bad
                        + " non-finite values (NaN or infinity)");
            }
        }
        Map<String, Tensor> sd = folded.stateDict();
        QuantizedSevNet q = build(folded.config(), sd);
        try {
            q.eval();
            try (GradMode.Guard g = GradMode.noGrad()) {
                for (Tensor clip : calibration) {
                    try (TensorScope scope = TensorScope.open()) {
                        // the range recorders read NCDHW bytes: an NDHWC clip goes in as an NCDHW copy
                        q.forward(Var.of(clip.isChannelsLast() && !MemoryFormat.isLayoutInvariant(clip.shape())
                                ? Backends.of(clip).toMemoryFormat(clip, MemoryFormat.CONTIGUOUS) : clip));
                    }
                }
            }
            q.finishCalibration();
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

    /**
     * Per conv (by name): how calibration quantised its input, {@code {largest channel scale, zero point,
     * scale of channel 0, scale of channel 1, ...}}.
     */
    public Map<String, float[]> activationQuantization() {
        Map<String, float[]> out = new java.util.LinkedHashMap<>();
        namedModules().forEach((name, m) -> {
            if (m instanceof QConv c) {
                float[] v = new float[2 + c.inScales.length];
                for (int i = 0; i < c.inScales.length; i++) {
                    v[0] = Math.max(v[0], c.inScales[i]);
                    v[2 + i] = c.inScales[i];
                }
                v[1] = c.xZeroPoint;
                out.put(name, v);
            }
        });
        return out;
    }

    /**
     * Scales from the recorded ranges (per channel), then wires each u8 tensor's producer to its
     * consumers: a conv writes at the scales its consumer reads; a block's output scales come from its
     * own recorded range, and the next block reads them. Last, every conv packs its weights with its
     * input's channel scales folded in.
     */
    private void finishCalibration() {
        for (QConv c : convs()) {
            c.finishCalibration();
        }
        if (blocks.isEmpty()) {
            throw new IllegalStateException("a SEVNet without blocks");
        }
        stem.convS.outScales = stem.convT.inScales;
        float[] in = stem.convT.outScales = blocks.get(0).conv1.inScales;
        for (QBlock b : blocks) {
            b.finishCalibration();
            int c3 = Math.toIntExact(b.conv3.outChannels());
            b.conv1.inScales = in;                                 // the block input, as its producer wrote it
            b.conv1.outScales = b.conv2.inScales;
            b.conv2.outScales = b.conv3.inScales;
            // with squeeze-excite: float, SE in fp32
            b.conv3.outScales = b.se == null ? Arrays.copyOfRange(b.outScales, 0, c3) : null;
            if (b.shortcutConv != null) {
                b.shortcutConv.inScales = in;                      // the pool keeps its input's scales
                b.shortcutConv.outScales = Arrays.copyOfRange(b.outScales, c3, b.outScales.length);
            }
            in = b.outScales;
        }
        for (QConv c : convs()) {
            if (c != stem.convS) {
                c.xZeroPoint = 0;   // it reads a u8 tensor a conv wrote (after a ReLU: zero point 0)
            }
            c.pack();
        }
        calibrated = true;
    }

    @Override
    public Var forward(Var x) {
        if (x.shape().rank() != 5 || x.dim(1) != 3) {
            throw new IllegalArgumentException("SEVNet input must be [N, 3, T, H, W] RGB clips, got " + x.shape());
        }
        if (!calibrated) {
            return forwardFloat(x);
        }
        Tensor clip = x.value();
        if (clip.dtype() != DType.FLOAT32 || !clip.device().isCpu()) {
            throw new IllegalArgumentException("int8 inference takes float32 CPU clips, got " + clip);
        }
        QTensor h;
        if (clip.isChannelsLast() && !MemoryFormat.isLayoutInvariant(clip.shape())) {
            // the quantiser reads NCDHW bytes: an NDHWC clip (which the folded fp32 model takes) would be read
            // with its channels and positions mixed up
            try (Tensor ncdhw = Backends.of(clip).toMemoryFormat(clip, MemoryFormat.CONTIGUOUS)) {
                h = Int8Ops.quantize(ncdhw, stem.convS.inScales, stem.convS.xZeroPoint);
            }
        } else {
            h = Int8Ops.quantize(clip, stem.convS.inScales, stem.convS.xZeroPoint);
        }
        try {
            QTensor next = stem.forwardInt8(h);
            h.close();
            h = next;
            for (QBlock b : blocks) {
                next = b.forwardInt8(h);
                h.close();
                h = next;
            }
            Var pooled = Var.of(Int8Ops.globalAvgPool(h));
            h.close();
            Var logits = fc.forward(pooled);
            release(pooled);
            return logits;
        } finally {
            h.close();
        }
    }

    /** The folded fp32 model (while calibrating: every QConv and block records its range). */
    private Var forwardFloat(Var x) {
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
            List<InferenceStage<QBlock>> stages = new ArrayList<>();
            List<Stage> ts = template.stages().items();
            for (int s = 0; s < ts.size(); s++) {
                List<QBlock> blocks = new ArrayList<>();
                List<SevBlock> tb = ts.get(s).blocks().items();
                for (int b = 0; b < tb.size(); b++) {
                    blocks.add(track(made, QBlock.of(sd, "stages." + s + ".blocks." + b, tb.get(b))));
                }
                stages.add(track(made, new InferenceStage<>(blocks)));
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
     * One folded conv in int8: packed s8 weights and their per-channel scales ({@link Int8Conv}; raw bytes
     * in an int64 buffer, so that {@link Module#to} never moves them), fp32 bias, its input's channel
     * scales and zero point, and the scales it writes at (its consumer's input scales; null: float
     * output). Until calibrated, {@link #forward} runs the fp32 folded conv and records its input's
     * range per channel.
     */
    static final class QConv extends Module implements InferenceBlock.ReluConv {
        private final ConvSpec spec;
        private final boolean relu;
        private final long cout;
        private final long cinPerGroup;
        private final Tensor weight;     // fp32 folded weights: calibration pass and tests
        private final Tensor bias;
        private final Tensor biasInt8;   // bias + the mean shift the weights' rounding causes (see pack)
        private final Int8Conv packed;   // its two tensors are this module's buffers
        float[] inScales;
        int xZeroPoint;
        float[] outScales;
        private boolean calibrated;
        private final Range range = new Range();

        private QConv(Tensor weight, Tensor bias, ConvSpec spec, boolean relu) {
            this.spec = spec;
            this.relu = relu;
            this.cout = weight.dim(0);
            this.cinPerGroup = weight.dim(1);
            this.weight = registerBuffer("weight", weight);
            this.bias = registerBuffer("bias", bias);
            this.biasInt8 = registerBuffer("bias_int8", bias.copy());
            this.packed = Int8Conv.pack(weight, spec);
            registerBuffer("weight_q", packed.packedWeights());
            registerBuffer("weight_scale", packed.scales());
        }

        static QConv of(Map<String, Tensor> sd, String name, Conv3d template, boolean relu) {
            // NCDHW host copies whatever the folded model's memory format: the int8 packer reads NCDHW bytes
            Tensor w = need(sd, name + ".weight").toHostCopy();
            Tensor b = need(sd, name + ".bias").toHostCopy();
            if (!w.shape().equals(template.weight().data().shape())) {
                w.close();
                b.close();
                throw new IllegalArgumentException(name + ".weight is " + w.shape() + ", expected "
                        + template.weight().data().shape());
            }
            try {
                return new QConv(TensorScope.detach(w), TensorScope.detach(b), template.spec(), relu);
            } catch (RuntimeException e) {
                w.close();
                b.close();
                throw e;
            }
        }

        /** Ends calibration: the input scale and zero point from the recorded range. */
        void finishCalibration() {
            if (range.signed()) {
                xZeroPoint = 128;
                inScales = range.scales127();
            } else {
                xZeroPoint = 0;
                inScales = range.scales255();
            }
            calibrated = true;
        }

        /** Packs the weights for the input scales the wiring settled on. */
        void pack() {
            packed.repack(weight, inScales);
            correctBias();
        }

        /**
         * Bias correction: rounding the weights to 8 bits shifts each output's mean by
         * {@code sum (w - w8) * E[x]}, and the inputs (after a ReLU) have far-from-zero means. The shift
         * of channel c, from the per-channel input means calibration recorded, goes into the int8 bias.
         * The s8 values are recomputed here exactly as the native packing rounds them (same float
         * formulas), from the folded weights {@code w * inScale}.
         */
        private void correctBias() {
            FloatBuffer w = weight.floatBuffer();
            float[] ws = packed.scales().toFloatArray();
            float[] mean = range.means();
            long cog = cout / spec.groups();
            long kv = spec.kernelVolume();
            float[] b = bias.toFloatArray();
            for (int c = 0; c < cout; c++) {
                double shift = 0;
                long g = c / cog;
                for (long ci = 0; ci < cinPerGroup; ci++) {
                    int in = Math.toIntExact(g * cinPerGroup + ci);
                    float sIn = inScales[in];
                    double sum = 0;
                    for (long k = 0; k < kv; k++) {
                        float wf = w.get(Math.toIntExact((c * cinPerGroup + ci) * kv + k)) * sIn;
                        int q = (int) Math.max(-127, Math.min(127, Math.rint(wf / ws[c])));
                        sum += wf - (double) q * ws[c];
                    }
                    shift += sum * mean[in] / sIn;   // folded weights multiply codes x / sIn
                }
                b[c] = (float) (b[c] + shift);
            }
            biasInt8.floatBuffer().put(0, b);
        }

        /** The folded fp32 conv (recording the input's range until calibrated). */
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
                range.record(x);
            }
            return Var.of(Backends.of(x).conv3d(x, weight, bias, spec, relu));
        }

        /** u8 in, u8 out at {@link #outScales}, with an optional u8 residual added before the ReLU. */
        QTensor int8(QTensor x, QTensor residual) {
            return packed.forward(x, biasInt8, residual, outScales);
        }

        /** u8 in, written into channels [offset, offset + cout) of {@code y}. */
        void int8Into(QTensor x, QTensor y, long offset) {
            packed.forward(x, biasInt8, null, y, offset);
        }

        /** u8 in, float32 out (the fused ReLU when this conv has one). */
        Tensor int8Float(QTensor x) {
            return packed.forwardFloat(x, biasInt8, null, relu);
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

        long outChannels() {
            return cout;
        }
    }

    /**
     * The range (and mean) of each channel of a float tensor {@code [N, C, ...]} over the calibration
     * clips, and the u8 scales it gives. A channel's scale covers {@link #HEADROOM} times the largest
     * value calibration saw, and is at least {@link #FLOOR} times the tensor's largest channel scale: a
     * few calibration clips see each channel's largest values only now and then (a trained model's
     * channels answer to particular classes), so the estimate of one channel's range is poor while the
     * tensor's is good; per channel alone saturated more than it gained (bench/RESULTS.md, int8).
     */
    static final class Range {
        /** Scales cover 1.25 x the calibration maximum. */
        static final double HEADROOM = 1.25;
        /** No channel's scale below half the tensor's largest: at most 1 bit finer than per tensor. */
        static final double FLOOR = 0.5;

        private double[] min = new double[0];
        private double[] max = new double[0];
        private double[] sum = new double[0];
        private long count;

        synchronized void record(Tensor x) {
            int c = Math.toIntExact(x.dim(1));
            long s = x.shape().sizeFrom(2);
            if (min.length == 0) {
                min = new double[c];
                max = new double[c];
                sum = new double[c];
            }
            count += x.dim(0) * s;
            FloatBuffer f = x.floatBuffer();
            for (long n = 0; n < x.dim(0); n++) {
                for (int ch = 0; ch < c; ch++) {
                    double lo = min[ch];
                    double hi = max[ch];
                    double total = 0;
                    for (long i = (n * c + ch) * s, end = i + s; i < end; i++) {
                        float v = f.get(Math.toIntExact(i));
                        total += v;
                        if (v < lo) {
                            lo = v;
                        }
                        if (v > hi) {
                            hi = v;
                        }
                    }
                    min[ch] = lo;
                    max[ch] = hi;
                    sum[ch] += total;
                }
            }
        }

        /** Each channel's mean. */
        float[] means() {
            float[] m = new float[sum.length];
            for (int c = 0; c < m.length; c++) {
                m[c] = count > 0 ? (float) (sum[c] / count) : 0f;
            }
            return m;
        }

        /** Some value below 0: the tensor needs zero point 128. */
        boolean signed() {
            for (double v : min) {
                if (v < 0) {
                    return true;
                }
            }
            return false;
        }

        /** Zero point 0: each channel's full u8 range over [0, max]. */
        float[] scales255() {
            float[] s = new float[max.length];
            for (int c = 0; c < s.length; c++) {
                s[c] = (float) (max[c] * HEADROOM / 255);
            }
            return floored(s);
        }

        /** Zero point 128: +-127 steps over [-max|x|, max|x|] of each channel. */
        float[] scales127() {
            float[] s = new float[max.length];
            for (int c = 0; c < s.length; c++) {
                s[c] = (float) (Math.max(-min[c], max[c]) * HEADROOM / 127);
            }
            return floored(s);
        }

        /**
         * Applies the floor. It also keeps a channel that was 0 on every calibration clip from a scale
         * of 0 (or a large one: a scale multiplies its weights in the consumer, folded, so a large one
         * would take the weights' 8-bit range from the live channels); a tensor never above 0 gets 1.
         */
        private static float[] floored(float[] s) {
            float most = 0;
            for (float v : s) {
                most = Math.max(most, v);
            }
            for (int c = 0; c < s.length; c++) {
                s[c] = most > 0 ? Math.max(s[c], (float) (FLOOR * most)) : 1f;
            }
            return s;
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

        QTensor forwardInt8(QTensor x) {
            try (QTensor h = convS.int8(x, null)) {
                return convT.int8(h, null);
            }
        }

        @Override
        public Shape outputShape(Shape input, MacCounter macs) {
            return convT.outputShape(convS.outputShape(input, macs), macs);
        }
    }

    /**
     * {@link FoldedSevNet}'s block with int8 convs: {@link #forward} is the fp32 data flow (calibration,
     * recording the output range), {@link #forwardInt8} the u8 one.
     */
    private static final class QBlock extends InferenceBlock {
        private final boolean downsample;
        private final QConv conv1;
        private final QConv conv2;
        private final QConv conv3;
        private final SqueezeExcite se;
        private final AvgPool3d pool;
        private final QConv shortcutConv;
        private final Range range = new Range();
        private boolean calibrated;
        private float[] outScales;

        private QBlock(boolean downsample, QConv conv1, QConv conv2, QConv conv3, SqueezeExcite se,
                AvgPool3d pool, QConv shortcutConv) {
            super(downsample, conv1, conv2, conv3, se, pool, shortcutConv);
            this.downsample = downsample;
            this.conv1 = conv1;
            this.conv2 = conv2;
            this.conv3 = conv3;
            this.se = se;
            this.pool = pool;
            this.shortcutConv = shortcutConv;
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

        @Override
        public Var forward(Var x) {
            Var out = super.forward(x);
            if (!calibrated) {
                range.record(out.value());
            }
            return out;
        }

        void finishCalibration() {
            outScales = range.scales255();   // every block output is after a ReLU
            calibrated = true;
        }

        /**
         * The block on u8 {@code x} (left open), a new u8 output at {@link #outScales}. Standard block
         * without squeeze-excite: {@code relu(conv3 + x)} is conv3's epilogue. Downsample block: conv3 and
         * the shortcut conv write the two halves of the output (the concat; the ReLU is their clamp).
         */
        QTensor forwardInt8(QTensor x) {
            try (QTensor h1 = conv1.int8(x, null); QTensor h2 = conv2.int8(h1, null)) {
                if (!downsample) {
                    if (se == null) {
                        return conv3.int8(h2, x);
                    }
                    try (TensorScope scope = TensorScope.open()) {
                        Tensor z = conv3.int8Float(h2);
                        QTensor out = QTensor.empty(z.shape(), outScales, 0).keepIn(scope);   // outlives the scope
                        try {
                            Int8Ops.quantizeGatedInto(z, se.gate(Var.of(z)).value(), x, out, 0);
                            return out;
                        } catch (RuntimeException e) {
                            out.close();
                            throw e;
                        }
                    }
                }
                Shape hs = conv3.spec().outputShape(h2.shape(), conv3.outChannels());
                QTensor out = QTensor.empty(hs.with(1, conv3.outChannels() + shortcutConv.outChannels()), outScales, 0);
                try {
                    if (se == null) {
                        conv3.int8Into(h2, out, 0);
                    } else {
                        try (TensorScope scope = TensorScope.open()) {
                            // relu(concat(se, shortcut)) = concat(relu(se), ...): the u8 clamp is that ReLU
                            Tensor z = conv3.int8Float(h2);
                            Int8Ops.quantizeGatedInto(z, se.gate(Var.of(z)).value(), null, out, 0);
                        }
                    }
                    try (QTensor pooled = Int8Ops.avgPool(x, pool.window())) {
                        shortcutConv.int8Into(pooled, out, conv3.outChannels());
                    }
                    return out;
                } catch (RuntimeException e) {
                    out.close();
                    throw e;
                }
            }
        }
    }
}
