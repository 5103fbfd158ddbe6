package dev.sevnet.backend.cpu;

import dev.sevnet.backend.Backend;
import dev.sevnet.backend.Checks;
import dev.sevnet.backend.ConvSpec;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Device;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;

/**
 * The native CPU backend: every op is one call into {@code libsevnet} (OpenMP, vectorized), after
 * the argument checks in Java. Stateless and thread-safe.
 */
public final class CpuBackend implements Backend {
    private static final CpuBackend INSTANCE = new CpuBackend();
    private static final Device CPU = Device.CPU;

    private CpuBackend() {
        NativeCore.ensureLoaded();
    }

    public static CpuBackend get() {
        return INSTANCE;
    }

    /** Bounds the native thread pool ({@code <= 0}: all cores). */
    public static void setNumThreads(int n) {
        NativeCore.sev_set_num_threads(n);
    }

    public static int numThreads() {
        return NativeCore.sev_get_num_threads();
    }

    @Override
    public Device device() {
        return CPU;
    }

    @Override
    public String name() {
        return "cpu";
    }

    private static void f32(Tensor t, String name) {
        Checks.tensor(t, name, CPU, DType.FLOAT32);
    }

    private static void ok(int rc, String op) {
        if (rc != 0) {
            throw new IllegalStateException(op + " failed in native code (" + rc + "): " + NativeCore.sev_last_error());
        }
    }

    private static long addr(Tensor t) {
        return t == null ? 0L : t.address();
    }

    // ---- convolution ----

    private static void checkConv(Tensor x, Shape xs, Tensor w, Shape ws, ConvSpec spec) {
        if (xs.rank() != 5) {
            throw new IllegalArgumentException("conv3d input must be [N, C, T, H, W], got " + xs);
        }
        if (ws.rank() != 5) {
            throw new IllegalArgumentException("conv3d weight must be [Cout, Cin/groups, kT, kH, kW], got " + ws);
        }
        long cin = xs.get(1);
        long cout = ws.get(0);
        int g = spec.groups();
        if (cin % g != 0 || cout % g != 0) {
            throw new IllegalArgumentException("conv3d channels (in " + cin + ", out " + cout + ") must divide by groups " + g);
        }
        if (ws.get(1) != cin / g || ws.get(2) != spec.kT() || ws.get(3) != spec.kH() || ws.get(4) != spec.kW()) {
            throw new IllegalArgumentException("conv3d weight " + ws + " does not match input channels " + cin + " and "
                    + spec + " (expected [" + cout + ", " + cin / g + ", " + spec.kT() + ", " + spec.kH() + ", "
                    + spec.kW() + "])");
        }
        for (int i = 0; i < 5; i++) {
            Checks.intRange(xs.get(i), "input dim " + i);
        }
    }

    @Override
    public Tensor conv3d(Tensor x, Tensor w, Tensor bias, ConvSpec spec, boolean relu) {
        f32(x, "x");
        f32(w, "weight");
        checkConv(x, x.shape(), w, w.shape(), spec);
        long cout = w.dim(0);
        if (bias != null) {
            f32(bias, "bias");
            Checks.shape(bias, "bias", Shape.of(cout));
        }
        int[] p = spec.nativeParams(x.shape(), cout);
        Tensor y = Tensor.empty(spec.outputShape(x.shape(), cout));
        ok(NativeCore.sev_conv3d_forward(x.address(), w.address(), addr(bias), y.address(), p, relu ? 1 : 0), "conv3d");
        return y;
    }

    @Override
    public Tensor conv3dBackwardData(Tensor dy, Tensor w, ConvSpec spec, Shape xShape) {
        f32(dy, "dy");
        f32(w, "weight");
        checkConv(null, xShape, w, w.shape(), spec);
        Checks.shape(dy, "dy", spec.outputShape(xShape, w.dim(0)));
        int[] p = spec.nativeParams(xShape, w.dim(0));
        Tensor dx = Tensor.empty(xShape);
        ok(NativeCore.sev_conv3d_backward_data(dy.address(), w.address(), dx.address(), p), "conv3d backward data");
        return dx;
    }

    @Override
    public Tensor conv3dBackwardWeight(Tensor x, Tensor dy, ConvSpec spec, Shape wShape) {
        f32(x, "x");
        f32(dy, "dy");
        checkConv(x, x.shape(), null, wShape, spec);
        Checks.shape(dy, "dy", spec.outputShape(x.shape(), wShape.get(0)));
        int[] p = spec.nativeParams(x.shape(), wShape.get(0));
        Tensor dw = Tensor.empty(wShape);
        ok(NativeCore.sev_conv3d_backward_weight(x.address(), dy.address(), dw.address(), p), "conv3d backward weight");
        return dw;
    }

    // ---- batch norm ----

    private static long[] ncs(Tensor x) {
        Checks.minRank(x, "batch norm input", 2);
        return new long[] {x.dim(0), x.dim(1), x.shape().sizeFrom(2)};
    }

    private static void channelVec(Tensor t, String name, long c) {
        if (t != null) {
            f32(t, name);
            Checks.shape(t, name, Shape.of(c));
        }
    }

    @Override
    public BatchNormResult batchNormTrain(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
            double eps, double momentum) {
        f32(x, "x");
        long[] d = ncs(x);
        channelVec(gamma, "gamma", d[1]);
        channelVec(beta, "beta", d[1]);
        channelVec(runningMean, "running_mean", d[1]);
        channelVec(runningVar, "running_var", d[1]);
        if ((runningMean == null) != (runningVar == null)) {
            throw new IllegalArgumentException("running_mean and running_var must both be given or both be null");
        }
        if (d[0] * d[2] <= 1) {
            throw new IllegalArgumentException("batch norm in training mode needs more than 1 value per channel, input " + x.shape());
        }
        Tensor y = Tensor.empty(x.shape());
        Tensor mean = Tensor.empty(Shape.of(d[1]));
        Tensor invstd = Tensor.empty(Shape.of(d[1]));
        ok(NativeCore.sev_batchnorm_train_forward(x.address(), addr(gamma), addr(beta), y.address(), mean.address(),
                invstd.address(), addr(runningMean), addr(runningVar), d[0], d[1], d[2], (float) eps, (float) momentum),
                "batch norm");
        return new BatchNormResult(y, mean, invstd);
    }

    @Override
    public Tensor batchNormEval(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, double eps,
            boolean relu) {
        f32(x, "x");
        long[] d = ncs(x);
        channelVec(gamma, "gamma", d[1]);
        channelVec(beta, "beta", d[1]);
        if (runningMean == null || runningVar == null) {
            throw new IllegalArgumentException("batch norm in eval mode needs running_mean and running_var");
        }
        channelVec(runningMean, "running_mean", d[1]);
        channelVec(runningVar, "running_var", d[1]);
        Tensor y = Tensor.empty(x.shape());
        ok(NativeCore.sev_batchnorm_eval_forward(x.address(), addr(gamma), addr(beta), runningMean.address(),
                runningVar.address(), y.address(), d[0], d[1], d[2], (float) eps, relu ? 1 : 0), "batch norm eval");
        return y;
    }

    @Override
    public Tensor[] batchNormBackward(Tensor x, Tensor dy, Tensor gamma, Tensor saveMean, Tensor saveInvstd) {
        f32(x, "x");
        f32(dy, "dy");
        Checks.sameShape(x, "x", dy, "dy");
        long[] d = ncs(x);
        channelVec(gamma, "gamma", d[1]);
        if (saveMean == null || saveInvstd == null) {
            throw new IllegalArgumentException("batch norm backward needs save_mean and save_invstd from the training forward");
        }
        channelVec(saveMean, "save_mean", d[1]);
        channelVec(saveInvstd, "save_invstd", d[1]);
        Tensor dx = Tensor.empty(x.shape());
        Tensor dg = Tensor.empty(Shape.of(d[1]));
        Tensor db = Tensor.empty(Shape.of(d[1]));
        ok(NativeCore.sev_batchnorm_backward(x.address(), dy.address(), addr(gamma), saveMean.address(),
                saveInvstd.address(), dx.address(), dg.address(), db.address(), d[0], d[1], d[2]), "batch norm backward");
        return new Tensor[] {dx, dg, db};
    }

    // ---- element-wise ----

    @Override
    public Tensor relu(Tensor x) {
        f32(x, "x");
        Tensor y = Tensor.empty(x.shape());
        ok(NativeCore.sev_relu_forward(x.address(), y.address(), x.size()), "relu");
        return y;
    }

    @Override
    public Tensor reluBackward(Tensor y, Tensor dy) {
        f32(y, "y");
        f32(dy, "dy");
        Checks.sameShape(y, "y", dy, "dy");
        Tensor dx = Tensor.empty(y.shape());
        ok(NativeCore.sev_relu_backward(y.address(), dy.address(), dx.address(), y.size()), "relu backward");
        return dx;
    }

    private Tensor binary(Tensor a, Tensor b, String op) {
        f32(a, "a");
        f32(b, "b");
        Checks.sameShape(a, "a", b, "b");
        return Tensor.empty(a.shape());
    }

    @Override
    public Tensor add(Tensor a, Tensor b) {
        Tensor y = binary(a, b, "add");
        ok(NativeCore.sev_add(a.address(), b.address(), y.address(), a.size()), "add");
        return y;
    }

    @Override
    public Tensor addRelu(Tensor a, Tensor b) {
        Tensor y = binary(a, b, "add+relu");
        ok(NativeCore.sev_add_relu(a.address(), b.address(), y.address(), a.size()), "add+relu");
        return y;
    }

    @Override
    public Tensor mul(Tensor a, Tensor b) {
        Tensor y = binary(a, b, "mul");
        ok(NativeCore.sev_mul(a.address(), b.address(), y.address(), a.size()), "mul");
        return y;
    }

    @Override
    public Tensor scale(Tensor x, float alpha) {
        f32(x, "x");
        Tensor y = Tensor.empty(x.shape());
        ok(NativeCore.sev_scale(x.address(), alpha, y.address(), x.size()), "scale");
        return y;
    }

    @Override
    public void axpby(float alpha, Tensor x, float beta, Tensor y) {
        f32(x, "x");
        f32(y, "y");
        if (x.size() != y.size()) {
            throw new IllegalArgumentException("axpby: x " + x.shape() + " and y " + y.shape() + " differ in size");
        }
        ok(NativeCore.sev_axpby(alpha, x.address(), beta, y.address(), x.size()), "axpby");
    }

    @Override
    public void fill(Tensor y, float value) {
        f32(y, "y");
        ok(NativeCore.sev_fill(y.address(), value, y.size()), "fill");
    }

    @Override
    public Tensor sigmoid(Tensor x) {
        f32(x, "x");
        Tensor y = Tensor.empty(x.shape());
        ok(NativeCore.sev_sigmoid_forward(x.address(), y.address(), x.size()), "sigmoid");
        return y;
    }

    @Override
    public Tensor sigmoidBackward(Tensor y, Tensor dy) {
        f32(y, "y");
        f32(dy, "dy");
        Checks.sameShape(y, "y", dy, "dy");
        Tensor dx = Tensor.empty(y.shape());
        ok(NativeCore.sev_sigmoid_backward(y.address(), dy.address(), dx.address(), y.size()), "sigmoid backward");
        return dx;
    }

    @Override
    public Tensor[] dropout(Tensor x, float p, long seed) {
        f32(x, "x");
        if (!(p >= 0f && p < 1f)) {
            throw new IllegalArgumentException("dropout probability must be in [0, 1), got " + p);
        }
        Tensor y = Tensor.empty(x.shape());
        Tensor mask = Tensor.empty(x.shape());
        ok(NativeCore.sev_dropout_forward(x.address(), y.address(), mask.address(), x.size(), p, seed), "dropout");
        return new Tensor[] {y, mask};
    }

    // ---- shape ops ----

    @Override
    public Tensor concatChannels(Tensor a, Tensor b) {
        f32(a, "a");
        f32(b, "b");
        Checks.minRank(a, "a", 2);
        if (a.rank() != b.rank() || !a.shape().with(1, 0).equals(b.shape().with(1, 0))) {
            throw new IllegalArgumentException("concat: " + a.shape() + " and " + b.shape() + " differ outside the channel axis");
        }
        long s = a.shape().sizeFrom(2);
        Tensor y = Tensor.empty(a.shape().with(1, a.dim(1) + b.dim(1)));
        ok(NativeCore.sev_concat_channels(a.address(), b.address(), y.address(), a.dim(0), a.dim(1), b.dim(1), s), "concat");
        return y;
    }

    @Override
    public Tensor[] splitChannels(Tensor y, long ca) {
        f32(y, "y");
        Checks.minRank(y, "y", 2);
        if (ca <= 0 || ca >= y.dim(1)) {
            throw new IllegalArgumentException("split at channel " + ca + " is outside (0, " + y.dim(1) + ")");
        }
        long cb = y.dim(1) - ca;
        long s = y.shape().sizeFrom(2);
        Tensor a = Tensor.empty(y.shape().with(1, ca));
        Tensor b = Tensor.empty(y.shape().with(1, cb));
        ok(NativeCore.sev_split_channels(y.address(), a.address(), b.address(), y.dim(0), ca, cb, s), "split");
        return new Tensor[] {a, b};
    }

    private static void checkChannelScale(Tensor x, Tensor g) {
        f32(x, "x");
        f32(g, "scale");
        Checks.minRank(x, "x", 2);
        Checks.shape(g, "scale", Shape.of(x.dim(0), x.dim(1)));
    }

    @Override
    public Tensor channelScale(Tensor x, Tensor g) {
        checkChannelScale(x, g);
        Tensor y = Tensor.empty(x.shape());
        ok(NativeCore.sev_channel_scale_forward(x.address(), g.address(), y.address(), x.dim(0), x.dim(1),
                x.shape().sizeFrom(2)), "channel scale");
        return y;
    }

    @Override
    public Tensor[] channelScaleBackward(Tensor x, Tensor g, Tensor dy) {
        checkChannelScale(x, g);
        f32(dy, "dy");
        Checks.sameShape(x, "x", dy, "dy");
        Tensor dx = Tensor.empty(x.shape());
        Tensor dg = Tensor.empty(g.shape());
        ok(NativeCore.sev_channel_scale_backward(x.address(), g.address(), dy.address(), dx.address(), dg.address(),
                x.dim(0), x.dim(1), x.shape().sizeFrom(2)), "channel scale backward");
        return new Tensor[] {dx, dg};
    }

    // ---- pooling ----

    private static ConvSpec depthwise(ConvSpec w, long c) {
        return new ConvSpec(w.kT(), w.kH(), w.kW(), w.sT(), w.sH(), w.sW(), w.pT(), w.pH(), w.pW(), Math.toIntExact(c));
    }

    private static void checkPool(Shape xs, ConvSpec window) {
        if (window == null) {
            throw new IllegalArgumentException("avg-pool window is null");
        }
        if (xs == null || xs.rank() != 5) {
            throw new IllegalArgumentException("avg-pool input must be [N, C, T, H, W], got " + xs);
        }
        if (2 * window.pT() > window.kT() || 2 * window.pH() > window.kH() || 2 * window.pW() > window.kW()) {
            throw new IllegalArgumentException("avg-pool padding must be at most half the window: " + window);
        }
    }

    @Override
    public Tensor avgPool3d(Tensor x, ConvSpec window) {
        f32(x, "x");
        checkPool(x.shape(), window);
        ConvSpec dw = depthwise(window, x.dim(1));
        Tensor y = Tensor.empty(dw.outputShape(x.shape(), x.dim(1)));
        ok(NativeCore.sev_avgpool3d_forward(x.address(), y.address(), dw.nativeParams(x.shape(), x.dim(1))), "avg-pool");
        return y;
    }

    @Override
    public Tensor avgPool3dBackward(Tensor dy, ConvSpec window, Shape xShape) {
        f32(dy, "dy");
        checkPool(xShape, window);
        ConvSpec dw = depthwise(window, xShape.get(1));
        Checks.shape(dy, "dy", dw.outputShape(xShape, xShape.get(1)));
        Tensor dx = Tensor.empty(xShape);
        ok(NativeCore.sev_avgpool3d_backward(dy.address(), dx.address(), dw.nativeParams(xShape, xShape.get(1))),
                "avg-pool backward");
        return dx;
    }

    @Override
    public Tensor globalAvgPool(Tensor x) {
        f32(x, "x");
        Checks.minRank(x, "x", 3);
        if (x.shape().sizeFrom(2) == 0) {
            throw new IllegalArgumentException("global avg-pool of an empty spatial extent: " + x.shape());
        }
        Tensor y = Tensor.empty(Shape.of(x.dim(0), x.dim(1)));
        ok(NativeCore.sev_global_avgpool_forward(x.address(), y.address(), x.dim(0), x.dim(1), x.shape().sizeFrom(2)),
                "global avg-pool");
        return y;
    }

    @Override
    public Tensor globalAvgPoolBackward(Tensor dy, Shape xShape) {
        f32(dy, "dy");
        if (xShape == null || xShape.rank() < 3 || xShape.sizeFrom(2) == 0) {
            throw new IllegalArgumentException("global avg-pool input must have at least 3 dims and a non-empty spatial "
                    + "extent, got " + xShape);
        }
        Checks.shape(dy, "dy", Shape.of(xShape.get(0), xShape.get(1)));
        Tensor dx = Tensor.empty(xShape);
        ok(NativeCore.sev_global_avgpool_backward(dy.address(), dx.address(), xShape.get(0), xShape.get(1),
                xShape.sizeFrom(2)), "global avg-pool backward");
        return dx;
    }

    // ---- dense ----

    @Override
    public Tensor linear(Tensor x, Tensor w, Tensor bias) {
        f32(x, "x");
        f32(w, "weight");
        Checks.rank(x, "x", 2);
        Checks.rank(w, "weight", 2);
        if (x.dim(1) != w.dim(1)) {
            throw new IllegalArgumentException("linear: input " + x.shape() + " has " + x.dim(1) + " features, weight "
                    + w.shape() + " expects " + w.dim(1));
        }
        long n = x.dim(0), out = w.dim(0), in = w.dim(1);
        if (bias != null) {
            f32(bias, "bias");
            Checks.shape(bias, "bias", Shape.of(out));
        }
        Tensor y = Tensor.empty(Shape.of(n, out));
        if (bias != null) {
            // broadcast the bias into y, then accumulate x w^T on top (beta = 1)
            java.nio.FloatBuffer yb = y.floatBuffer();
            java.nio.FloatBuffer bb = bias.floatBuffer();
            for (int i = 0; i < n; i++) {
                yb.put(i * (int) out, bb, 0, (int) out);
            }
        }
        ok(NativeCore.sev_sgemm(0, 1, n, out, in, 1f, x.address(), in, w.address(), in, bias != null ? 1f : 0f,
                y.address(), out), "linear");
        return y;
    }

    @Override
    public Tensor[] linearBackward(Tensor x, Tensor w, Tensor dy, boolean hasBias) {
        f32(x, "x");
        f32(w, "weight");
        f32(dy, "dy");
        Checks.rank(x, "x", 2);
        Checks.rank(w, "weight", 2);
        if (x.dim(1) != w.dim(1)) {
            throw new IllegalArgumentException("linear backward: input " + x.shape() + " has " + x.dim(1)
                    + " features, weight " + w.shape() + " expects " + w.dim(1));
        }
        Checks.shape(dy, "dy", Shape.of(x.dim(0), w.dim(0)));
        long n = x.dim(0), out = w.dim(0), in = w.dim(1);
        Tensor dx = Tensor.empty(x.shape());
        Tensor dw = Tensor.empty(w.shape());
        ok(NativeCore.sev_sgemm(0, 0, n, in, out, 1f, dy.address(), out, w.address(), in, 0f, dx.address(), in),
                "linear backward data");
        ok(NativeCore.sev_sgemm(1, 0, out, in, n, 1f, dy.address(), out, x.address(), in, 0f, dw.address(), in),
                "linear backward weight");
        Tensor db = null;
        if (hasBias) {
            db = Tensor.empty(Shape.of(out));
            java.nio.FloatBuffer d = dy.floatBuffer();
            java.nio.FloatBuffer o = db.floatBuffer();
            for (int j = 0; j < out; j++) {
                double s = 0;
                for (int i = 0; i < n; i++) {
                    s += d.get(i * (int) out + j);
                }
                o.put(j, (float) s);
            }
        }
        return new Tensor[] {dx, dw, db};
    }

    @Override
    public void gemm(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c) {
        f32(a, "A");
        f32(b, "B");
        f32(c, "C");
        Checks.rank(a, "A", 2);
        Checks.rank(b, "B", 2);
        Checks.rank(c, "C", 2);
        long m = transA ? a.dim(1) : a.dim(0);
        long k = transA ? a.dim(0) : a.dim(1);
        long kb = transB ? b.dim(1) : b.dim(0);
        long n = transB ? b.dim(0) : b.dim(1);
        if (k != kb || c.dim(0) != m || c.dim(1) != n) {
            throw new IllegalArgumentException("gemm: op(A) " + m + "x" + k + ", op(B) " + kb + "x" + n + ", C " + c.shape());
        }
        ok(NativeCore.sev_sgemm(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, a.address(), a.dim(1), b.address(),
                b.dim(1), beta, c.address(), n), "gemm");
    }

    // ---- losses ----

    private static void checkLabels(Tensor logits, Tensor labels) {
        f32(logits, "logits");
        Checks.rank(logits, "logits", 2);
        Checks.tensor(labels, "labels", CPU, DType.INT64);
        Checks.shape(labels, "labels", Shape.of(logits.dim(0)));
        long k = logits.dim(1);
        java.nio.LongBuffer lb = labels.longBuffer();
        for (int i = 0; i < labels.size(); i++) {
            long l = lb.get(i);
            if (l < 0 || l >= k) {
                throw new IllegalArgumentException("label " + l + " of sample " + i + " is outside [0, " + k + ")");
            }
        }
    }

    @Override
    public Tensor[] softmaxCrossEntropy(Tensor logits, Tensor labels) {
        checkLabels(logits, labels);
        Tensor probs = Tensor.empty(logits.shape());
        Tensor loss = Tensor.empty(Shape.of(1));
        ok(NativeCore.sev_softmax_xent_forward(logits.address(), labels.address(), probs.address(), loss.address(),
                logits.dim(0), logits.dim(1)), "softmax cross-entropy");
        return new Tensor[] {loss, probs};
    }

    @Override
    public Tensor softmaxCrossEntropyBackward(Tensor probs, Tensor labels, float scale) {
        checkLabels(probs, labels);
        Tensor d = Tensor.empty(probs.shape());
        ok(NativeCore.sev_softmax_xent_backward(probs.address(), labels.address(), d.address(), scale, probs.dim(0),
                probs.dim(1)), "softmax cross-entropy backward");
        return d;
    }

    private static void checkTargets(Tensor logits, Tensor targets) {
        f32(logits, "logits");
        f32(targets, "targets");
        Checks.rank(logits, "logits", 2);
        Checks.sameShape(logits, "logits", targets, "targets");
    }

    @Override
    public Tensor bceWithLogits(Tensor logits, Tensor targets) {
        checkTargets(logits, targets);
        Tensor loss = Tensor.empty(Shape.of(1));
        ok(NativeCore.sev_bce_logits_forward(logits.address(), targets.address(), loss.address(), logits.dim(0),
                logits.dim(1)), "BCE with logits");
        return loss;
    }

    @Override
    public Tensor bceWithLogitsBackward(Tensor logits, Tensor targets, float scale) {
        checkTargets(logits, targets);
        Tensor d = Tensor.empty(logits.shape());
        ok(NativeCore.sev_bce_logits_backward(logits.address(), targets.address(), d.address(), scale, logits.dim(0),
                logits.dim(1)), "BCE with logits backward");
        return d;
    }

    @Override
    public Tensor softmax(Tensor logits) {
        f32(logits, "logits");
        Checks.rank(logits, "logits", 2);
        if (logits.dim(1) == 0 && logits.dim(0) > 0) {
            throw new IllegalArgumentException("softmax over zero classes: " + logits.shape());
        }
        Tensor y = Tensor.empty(logits.shape());
        ok(NativeCore.sev_softmax(logits.address(), y.address(), logits.dim(0), logits.dim(1)), "softmax");
        return y;
    }

    // ---- optimizer ----

    @Override
    public void sgdMomentumStep(Tensor w, Tensor grad, Tensor velocity, float lr, float momentum, float weightDecay) {
        f32(w, "weight");
        f32(grad, "grad");
        f32(velocity, "velocity");
        Checks.sameShape(w, "weight", grad, "grad");
        Checks.sameShape(w, "weight", velocity, "velocity");
        ok(NativeCore.sev_sgd_momentum_step(w.address(), grad.address(), velocity.address(), w.size(), lr, momentum,
                weightDecay), "sgd step");
    }

    @Override
    public double sum(Tensor x) {
        f32(x, "x");
        double[] out = new double[1];
        ok(NativeCore.sev_sum(x.address(), x.size(), out), "sum");
        return out[0];
    }

    @Override
    public Tensor toDevice(Tensor t) {
        if (t == null || t.isClosed()) {
            throw new IllegalArgumentException("toDevice of a " + (t == null ? "null" : "closed") + " tensor");
        }
        if (!t.device().isCpu()) {
            throw new IllegalArgumentException("the CPU backend cannot read " + t.device() + " memory; use that device's backend");
        }
        return t.copy();
    }

    @Override
    public Tensor toHost(Tensor t) {
        return toDevice(t);
    }
}
