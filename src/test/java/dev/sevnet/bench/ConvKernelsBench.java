package dev.sevnet.bench;

import dev.sevnet.backend.cpu.NativeCore;
import dev.sevnet.tensor.Tensor;
import java.util.Random;
import java.util.concurrent.TimeUnit;
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
 * Native CPU convolution kernels at SEVNet-G8 layer shapes (by default stage 0: batch 1, 8 frames, 56x56, 64
 * channels; {@code -p stage=... -p batch=...} for the others): the optimized paths (forward, backward-data,
 * backward-weight) against the naive reference loops ({@code sev_conv3d_forward_reference}). Not a unit test: run with
 * {@code java -cp target/test-classes:target/classes:<deps> dev.sevnet.bench.ConvKernelsBench [jmh args]}.
 * GFLOP/s = 2 * MACs / time; MACs per layer are printed by {@link #main}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ConvKernelsBench {

    /** pointwise: 1x1x1 64->64; grouped: 1x3x3 g=8 C=64 pad 1; temporal: 3x1x1 64->64 pad (1,0,0). */
    @Param({"pointwise", "grouped", "temporal"})
    public String layer;

    /**
     * The CPU's fp32 precision ({@code -p fp32Precision=ieee,bf16}: the pointwise and temporal GEMMs and the grouped
     * conv in bf16 — AMX or AVX512-BF16, {@code -Dsevnet.bf16Kernel} picks; the grouped conv with AVX512-BF16 only — beside fp32;
     * without either bf16 runs as ieee). Default ieee only, so jmh_conv.sh's table is unchanged.
     */
    @Param({"ieee"})
    public String fp32Precision;

    /**
     * The layer's stage, channels x plane side ({@code -p stage=64x56,128x28,256x14,512x7}: SEVNet-G8's stages at
     * 16x224² inference; {@code 512x4} is the last stage at 8x112² training), 8 frames. Default stage 0 only.
     */
    @Param({"64x56"})
    public String stage;

    /** Clips per call ({@code -p batch=8}: a training step's). */
    @Param({"1"})
    public int batch;

    int[] p;
    Tensor x;
    Tensor w;
    Tensor y;
    Tensor dy;
    Tensor dx;
    Tensor dw;

    static final int T = 8;

    /** The conv parameter block of {@code layer} at {@code stage} ("CxS": C channels, S x S planes), n clips. */
    static int[] params(String layer, String stage, int n) {
        String[] cs = stage.split("x");
        if (cs.length != 2) {
            throw new IllegalArgumentException("stage must be CxS, e.g. 64x56: " + stage);
        }
        int c = Integer.parseInt(cs[0]), h = Integer.parseInt(cs[1]), w = h;
        return switch (layer) {
            case "pointwise" -> new int[] {n, c, T, h, w, c, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, T, h, w};
            case "grouped" -> new int[] {n, c, T, h, w, c, 1, 3, 3, 1, 1, 1, 0, 1, 1, c / 8, T, h, w};
            case "temporal" -> new int[] {n, c, T, h, w, c, 3, 1, 1, 1, 1, 1, 1, 0, 0, 1, T, h, w};
            default -> throw new IllegalArgumentException(layer);
        };
    }

    /** Multiply-accumulates of one forward pass (the same count for each backward pass). */
    static long macs(int[] p) {
        long out = (long) p[0] * p[5] * p[16] * p[17] * p[18];
        return out * (p[1] / p[15]) * p[6] * p[7] * p[8];
    }

    static Tensor random(Random r, long n) {
        float[] a = new float[(int) n];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) (r.nextDouble() * 2 - 1);
        }
        return Tensor.of(a, n);
    }

    @Setup(Level.Trial)
    public void setup() {
        NativeCore.ensureLoaded();
        dev.sevnet.backend.cpu.CpuBackend.setFp32Precision(
                dev.sevnet.backend.cpu.CpuBackend.Fp32Precision.parse(fp32Precision));
        p = params(layer, stage, batch);
        Random r = new Random(1);
        long xs = (long) p[0] * p[1] * p[2] * p[3] * p[4];
        long ys = (long) p[0] * p[5] * p[16] * p[17] * p[18];
        long ws = (long) p[5] * (p[1] / p[15]) * p[6] * p[7] * p[8];
        x = random(r, xs);
        w = random(r, ws);
        y = random(r, ys);
        dy = random(r, ys);
        dx = random(r, xs);
        dw = random(r, ws);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {x, w, y, dy, dx, dw}) {
            t.close();
        }
    }

    @Benchmark
    public int forward() {
        return NativeCore.sev_conv3d_forward(x.address(), w.address(), 0L, y.address(), p, 0);
    }

    @Benchmark
    public int forwardNaive() {
        return NativeCore.sev_conv3d_forward_reference(x.address(), w.address(), 0L, y.address(), p, 0);
    }

    @Benchmark
    public int backwardData() {
        return NativeCore.sev_conv3d_backward_data(dy.address(), w.address(), dx.address(), p);
    }

    @Benchmark
    public int backwardWeight() {
        return NativeCore.sev_conv3d_backward_weight(x.address(), dy.address(), dw.address(), p);
    }

    public static void main(String[] args) throws RunnerException {
        for (String l : new String[] {"pointwise", "grouped", "temporal"}) {
            long m = macs(params(l, "64x56", 1));
            System.out.printf("%-9s MACs per pass at stage 64x56, batch 1: %d (GFLOP/s = %.4f / ms)%n", l, m,
                    2.0 * m / 1e6);
        }
        // JMH command-line options (-wi, -i, -p layer=grouped, a benchmark regex, ...) are honoured
        JmhMain.run(ConvKernelsBench.class, args);
    }
}
