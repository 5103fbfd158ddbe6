package dev.sevnet.bench;

import dev.sevnet.backend.cpu.NativeCore;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.BoolPointer;
import org.bytedeco.openblas.global.openblas_full;
import org.bytedeco.pytorch.LongArrayRefOptional;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.T_TensorTensorTensor_T;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.runner.RunnerException;

/**
 * sevnet's native CPU convolutions against PyTorch's libtorch ({@code at::conv3d} and
 * {@code at::convolution_backward}, through the JavaCPP pytorch preset) at the layer shapes of
 * {@link ConvKernelsBench} (SEVNet-G8 stage 0: batch 1, C = 64, 8 frames, 56x56; 1x1x1, grouped 1x3x3
 * with groups = C/8, temporal 3x1x1), float32, NCDHW on both sides, the same number of threads on both
 * sides ({@code threads}, 0 = every core). Benchmark-only: compiled by the {@code bench-torch} Maven
 * profile (bench/jmh_conv.sh), never by the default build.
 *
 * <p>Both sides read the same input and weight values. The trial set-up runs each pass once on each
 * side and fails the trial unless libtorch's result matches sevnet's within 1e-4 (norm-wise relative
 * error), so a timing never compares different results.
 *
 * <p>What each call includes: sevnet writes into buffers allocated once (as the backend's op does after
 * allocating its output); libtorch allocates its result tensor on every call, as {@code torch.conv3d}
 * does in eager PyTorch (a few MB from the heap: glibc reuses the block, no page faults). The backward
 * passes use the op that PyTorch's autograd calls ({@code convolution_backward}) with an output mask that
 * asks for one gradient only.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class TorchConvBench {

    /** The layers of {@link ConvKernelsBench}: pointwise 1x1x1, grouped 1x3x3 (g = C/8), temporal 3x1x1. */
    @Param({"pointwise", "grouped", "temporal"})
    public String layer;

    /** Threads for both sides (sev_set_num_threads and torch.set_num_threads); 0 = every core. */
    @Param({"0"})
    public int threads;

    /** Norm-wise relative error allowed between libtorch's and sevnet's result. */
    static final double RTOL = 1e-4;

    int[] p;
    int nThreads;
    // sevnet side: the backend's off-heap tensors, used through NativeCore as in ConvKernelsBench
    dev.sevnet.tensor.Tensor x;
    dev.sevnet.tensor.Tensor w;
    dev.sevnet.tensor.Tensor y;
    dev.sevnet.tensor.Tensor dy;
    dev.sevnet.tensor.Tensor dx;
    dev.sevnet.tensor.Tensor dw;
    // libtorch side
    Tensor tx;
    Tensor tw;
    Tensor tdy;
    TensorOptional noBias;
    LongArrayRefOptional noBiasSizes;
    long[] stride;
    long[] padding;
    long[] dilation;
    long[] outputPadding;
    long groups;
    BoolPointer maskData;
    BoolPointer maskWeight;

    static float[] random(Random r, long n) {
        float[] a = new float[(int) n];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) (r.nextDouble() * 2 - 1);
        }
        return a;
    }

    static Tensor torchTensor(float[] data, long... shape) {
        Tensor t = torch.empty(shape, new TensorOptions(torch.ScalarType.Float), new MemoryFormatOptional());
        if (t.numel() != data.length || !t.is_contiguous()) {
            throw new IllegalStateException("unexpected libtorch tensor");
        }
        t.data_ptr_float().put(data);
        return t;
    }

    static float[] toArray(Tensor t) {
        Tensor c = t.contiguous();
        float[] a = new float[(int) c.numel()];
        c.data_ptr_float().get(a);
        c.close();
        return a;
    }

    /** Norm-wise relative error ||a - e|| / ||e||, as the backend tests compute it. */
    static double relError(float[] expected, float[] actual) {
        if (expected.length != actual.length) {
            throw new IllegalStateException("sizes differ: " + expected.length + " vs " + actual.length);
        }
        if (norm(expected) == 0) {
            throw new IllegalStateException("reference result is all zeros");
        }
        double num = 0;
        double den = 0;
        for (int i = 0; i < expected.length; i++) {
            if (!Float.isFinite(actual[i])) {
                return Double.POSITIVE_INFINITY;
            }
            double d = expected[i] - (double) actual[i];
            num += d * d;
            den += expected[i] * (double) expected[i];
        }
        return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
    }

    static double norm(float[] a) {
        double s = 0;
        for (float v : a) {
            s += v * (double) v;
        }
        return Math.sqrt(s);
    }

    static void check(int rc, String what) {
        if (rc != 0) {
            throw new IllegalStateException(what + " failed: " + NativeCore.sev_last_error());
        }
    }

    static dev.sevnet.tensor.Tensor sevTensor(float[] data) {
        return dev.sevnet.tensor.Tensor.of(data, data.length);
    }

    @Setup(Level.Trial)
    public void setup() {
        NativeCore.ensureLoaded(); // first: its OpenMP settings (GOMP_SPINCOUNT) apply before libtorch loads
        nThreads = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
        setThreads();
        p = ConvKernelsBench.params(layer);
        int n = p[0];
        int cin = p[1];
        int cout = p[5];
        long[] xShape = {n, cin, p[2], p[3], p[4]};
        long[] wShape = {cout, cin / p[15], p[6], p[7], p[8]};
        long[] yShape = {n, cout, p[16], p[17], p[18]};
        Random r = new Random(1);
        float[] xa = random(r, prod(xShape));
        float[] wa = random(r, prod(wShape));
        float[] dya = random(r, prod(yShape));
        x = sevTensor(xa);
        w = sevTensor(wa);
        dy = sevTensor(dya);
        y = sevTensor(new float[(int) prod(yShape)]);
        dx = sevTensor(new float[(int) prod(xShape)]);
        dw = sevTensor(new float[(int) prod(wShape)]);

        tx = torchTensor(xa, xShape);
        tw = torchTensor(wa, wShape);
        tdy = torchTensor(dya, yShape);
        noBias = new TensorOptional();
        noBiasSizes = new LongArrayRefOptional();
        stride = new long[] {p[9], p[10], p[11]};
        padding = new long[] {p[12], p[13], p[14]};
        dilation = new long[] {1, 1, 1};
        outputPadding = new long[] {0, 0, 0};
        groups = p[15];
        maskData = new BoolPointer(3).put(0, true).put(1, false).put(2, false);
        maskWeight = new BoolPointer(3).put(0, false).put(1, true).put(2, false);

        verify();
    }

    static long prod(long[] s) {
        long n = 1;
        for (long d : s) {
            n *= d;
        }
        return n;
    }

    /** Same thread count on both sides; per iteration too, since OpenMP's count is per calling thread. */
    @Setup(Level.Iteration)
    public void setThreads() {
        check(NativeCore.sev_set_num_threads(nThreads), "sev_set_num_threads");
        torch.set_num_threads(nThreads);
        openblas_full.openblas_set_num_threads(nThreads);
        if (torch.get_num_threads() != nThreads || NativeCore.sev_get_num_threads() != nThreads) {
            throw new IllegalStateException("thread counts: sevnet " + NativeCore.sev_get_num_threads()
                    + ", libtorch " + torch.get_num_threads() + ", wanted " + nThreads);
        }
    }

    /** Once per trial, untimed: every pass on both sides, libtorch's result against sevnet's. */
    void verify() {
        check(NativeCore.sev_conv3d_forward(x.address(), w.address(), 0L, y.address(), p, 0), "sevnet forward");
        Tensor ty = torchForward();
        double eFwd = relError(y.toFloatArray(), toArray(ty));
        ty.close();

        check(NativeCore.sev_conv3d_backward_data(dy.address(), w.address(), dx.address(), p), "sevnet backward data");
        T_TensorTensorTensor_T gd = torchBackward(maskData);
        double eData = relError(dx.toFloatArray(), toArray(gd.get0()));
        gd.close();

        check(NativeCore.sev_conv3d_backward_weight(x.address(), dy.address(), dw.address(), p), "sevnet backward weight");
        T_TensorTensorTensor_T gw = torchBackward(maskWeight);
        double eWeight = relError(dw.toFloatArray(), toArray(gw.get1()));
        gw.close();

        System.out.printf("# verified %s (%d threads): libtorch vs sevnet relative error forward %.2e, "
                + "backward-data %.2e, backward-weight %.2e (limit %.0e)%n",
                layer, nThreads, eFwd, eData, eWeight, RTOL);
        if (!(eFwd <= RTOL && eData <= RTOL && eWeight <= RTOL)) {
            throw new IllegalStateException("libtorch and sevnet disagree on " + layer + ": forward " + eFwd
                    + ", backward-data " + eData + ", backward-weight " + eWeight + " (limit " + RTOL + ")");
        }
    }

    Tensor torchForward() {
        return torch.conv3d(tx, tw, noBias, stride, padding, dilation, groups);
    }

    T_TensorTensorTensor_T torchBackward(BoolPointer mask) {
        return torch.convolution_backward(tdy, tx, tw, noBiasSizes, stride, padding, dilation, false,
                outputPadding, groups, mask);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (dev.sevnet.tensor.Tensor t : new dev.sevnet.tensor.Tensor[] {x, w, y, dy, dx, dw}) {
            t.close();
        }
        for (org.bytedeco.javacpp.Pointer q : new org.bytedeco.javacpp.Pointer[] {
                tx, tw, tdy, noBias, noBiasSizes, maskData, maskWeight}) {
            q.close();
        }
    }

    // ---- forward ----

    @Benchmark
    public int forward_sevnet() {
        return NativeCore.sev_conv3d_forward(x.address(), w.address(), 0L, y.address(), p, 0);
    }

    @Benchmark
    public long forward_torch() {
        Tensor t = torchForward();
        long n = t.numel();
        t.close(); // frees the result now, as PyTorch's refcount would
        return n;
    }

    // ---- backward data (dx) ----

    @Benchmark
    public int backwardData_sevnet() {
        return NativeCore.sev_conv3d_backward_data(dy.address(), w.address(), dx.address(), p);
    }

    @Benchmark
    public long backwardData_torch() {
        T_TensorTensorTensor_T g = torchBackward(maskData);
        long n = g.get0().numel();
        g.close();
        return n;
    }

    // ---- backward weight (dw) ----

    @Benchmark
    public int backwardWeight_sevnet() {
        return NativeCore.sev_conv3d_backward_weight(x.address(), dy.address(), dw.address(), p);
    }

    @Benchmark
    public long backwardWeight_torch() {
        T_TensorTensorTensor_T g = torchBackward(maskWeight);
        long n = g.get1().numel();
        g.close();
        return n;
    }

    /** libtorch's build configuration and threading, as the benchmark sees it. */
    static void printConfig() {
        NativeCore.ensureLoaded();
        System.out.println("sevnet: " + NativeCore.sev_version() + ", CPU features: " + NativeCore.sev_cpu_features());
        System.out.println("libtorch (JavaCPP pytorch preset " + torch.class.getPackage().getImplementationVersion()
                + "): MKLDNN (oneDNN) " + torch.hasMKLDNN() + ", MKL " + torch.hasMKL() + ", OpenMP " + torch.hasOpenMP());
        System.out.println("OpenBLAS: " + openblas_full.openblas_get_config().getString() + ", core "
                + openblas_full.openblas_get_corename().getString());
        System.out.println(torch.show_config().getString());
        System.out.println(torch.get_parallel_info().getString());
    }

    /**
     * Runs this class's benchmarks; JMH options pass through ({@code -wi 3 -i 5 -f 1}, {@code -p layer=grouped},
     * a benchmark regex such as {@code 'TorchConvBench.forward_torch$'}). {@code --config} prints libtorch's build
     * configuration and exits.
     */
    public static void main(String[] args) throws RunnerException {
        if (args.length > 0 && args[0].equals("--config")) {
            printConfig();
            return;
        }
        JmhMain.run(TorchConvBench.class, args);
    }
}
