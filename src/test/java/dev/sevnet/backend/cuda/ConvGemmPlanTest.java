package dev.sevnet.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.backend.ConvSpec;
import dev.sevnet.backend.cpu.CpuBackend;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The GEMM plans of the 1x1x1 and temporal 3x1x1 convs ({@link ConvGemmPlan}, cuBLAS's route in kernel mode AUTO),
 * run here by a plain column-major GEMM with cuBLAS's semantics (op, leading dimensions, strided batches, beta 0/1)
 * and the same tap repacking as the backend's cublasSgeam, against the CPU backend's convolutions: forward,
 * backward-data, backward-weight; one frame (taps 0 and 2 empty), ragged sizes, a SEVNet-sized plane.
 */
class ConvGemmPlanTest {
    static final CpuBackend cpu = CpuBackend.get();

    /** cuBLAS's GemmStridedBatchedEx over host arrays (double accumulation). */
    static void run(List<ConvGemmPlan.Gemm> plan, Map<ConvGemmPlan.Operand, float[]> ops) {
        for (ConvGemmPlan.Gemm g : plan) {
            float[] a = ops.get(g.a());
            float[] b = ops.get(g.b());
            float[] c = ops.get(g.c());
            for (int bt = 0; bt < g.batch(); bt++) {
                long ab = g.aOffset() + bt * g.strideA();
                long bb = g.bOffset() + bt * g.strideB();
                long cb = g.cOffset() + bt * g.strideC();
                for (int i = 0; i < g.m(); i++) {
                    for (int j = 0; j < g.n(); j++) {
                        double s = 0;
                        for (int p = 0; p < g.k(); p++) {
                            float av = a[(int) (ab + (g.transA() ? p + (long) i * g.lda() : i + (long) p * g.lda()))];
                            float bv = b[(int) (bb + (g.transB() ? j + (long) p * g.ldb() : p + (long) j * g.ldb()))];
                            s += (double) av * bv;
                        }
                        int ci = (int) (cb + i + (long) j * g.ldc());
                        c[ci] = (float) ((g.accumulate() ? c[ci] : 0) + s);
                    }
                }
            }
        }
    }

    static float[] taps(float[] w, int j) {
        float[] t = new float[3 * j];
        for (int jj = 0; jj < j; jj++) {
            for (int k = 0; k < 3; k++) {
                t[k * j + jj] = w[jj * 3 + k];
            }
        }
        return t;
    }

    static float[] untaps(float[] acc, int j) {
        float[] w = new float[3 * j];
        for (int jj = 0; jj < j; jj++) {
            for (int k = 0; k < 3; k++) {
                w[jj * 3 + k] = acc[k * j + jj];
            }
        }
        return w;
    }

    static Tensor rand(Random r, Shape s) {
        float[] v = new float[Math.toIntExact(s.size())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return Tensor.of(v, s);
    }

    static void close(Tensor expected, float[] actual, String what) {
        float[] e = expected.toFloatArray();
        assertEquals(e.length, actual.length, what);
        double num = 0;
        double den = 0;
        for (int i = 0; i < e.length; i++) {
            num += (e[i] - actual[i]) * (double) (e[i] - actual[i]);
            den += (double) e[i] * e[i];
        }
        double rel = Math.sqrt(num / Math.max(den, 1e-30));
        assertTrue(rel < 1e-5, what + ": relative error " + rel);
    }

    @ParameterizedTest
    @CsvSource({"1,2,5,7,3,4,5", "1,3,64,96,4,7,7", "1,1,3,3,1,2,2", "3,2,5,5,3,4,5", "3,2,6,6,1,3,3", "3,1,64,64,8,7,7",
        "3,3,4,4,2,1,1"})
    void thePlanIsTheConvolution(int kT, int n, int ci, int co, int t, int h, int w) {
        ConvSpec spec = kT == 1 ? ConvSpec.of(1) : ConvSpec.builder().kernel(3, 1, 1).padding(1, 0, 0).build();
        Random r = new Random(kT * 1000 + ci);
        int hw = h * w;
        int l = t * hw;
        int j = co * ci;
        try (TensorScope scope = TensorScope.open()) {
            Shape xs = Shape.of(n, ci, t, h, w);
            Shape ws = Shape.of(co, ci, kT, 1, 1);
            Tensor x = rand(r, xs);
            Tensor wt = rand(r, ws);
            Tensor dy = rand(r, spec.outputShape(xs, co));
            String what = (kT == 1 ? "1x1x1 " : "3x1x1 ") + xs + " -> " + co;
            float[] wv = kT == 1 ? wt.toFloatArray() : taps(wt.toFloatArray(), j);
            ConvGemmPlan.Operand wOp = kT == 1 ? ConvGemmPlan.Operand.W : ConvGemmPlan.Operand.TAPS;

            Map<ConvGemmPlan.Operand, float[]> ops = new EnumMap<>(ConvGemmPlan.Operand.class);
            ops.put(ConvGemmPlan.Operand.X, x.toFloatArray());
            ops.put(wOp, wv);
            float[] y = new float[n * co * l];
            java.util.Arrays.fill(y, Float.NaN); // every element must be written, none read before
            ops.put(ConvGemmPlan.Operand.Y, y);
            run(kT == 1 ? ConvGemmPlan.pointwiseForward(n, ci, co, l) : ConvGemmPlan.temporalForward(n, ci, co, t, hw), ops);
            close(cpu.conv3d(x, wt, spec), y, what + " forward");

            ops.put(ConvGemmPlan.Operand.DY, dy.toFloatArray());
            float[] dx = new float[n * ci * l];
            java.util.Arrays.fill(dx, Float.NaN);
            ops.put(ConvGemmPlan.Operand.DX, dx);
            run(kT == 1 ? ConvGemmPlan.pointwiseBackwardData(n, ci, co, l)
                    : ConvGemmPlan.temporalBackwardData(n, ci, co, t, hw), ops);
            close(cpu.conv3dBackwardData(dy, wt, spec, xs), dx, what + " backward data");

            float[] acc = new float[kT * j]; // zeroed, as the backend's memset
            if (kT == 1) {
                java.util.Arrays.fill(acc, Float.NaN); // the first clip's GEMM writes (beta 0)
            }
            ops.put(ConvGemmPlan.Operand.ACC, acc);
            run(kT == 1 ? ConvGemmPlan.pointwiseBackwardWeight(n, ci, co, l)
                    : ConvGemmPlan.temporalBackwardWeight(n, ci, co, t, hw), ops);
            close(cpu.conv3dBackwardWeight(x, dy, spec, ws), kT == 1 ? acc : untaps(acc, j), what + " backward weight");
        }
    }

    /** The channels-last plans on NDHWC activations and KTRSC weights (no tap repacking), the same problems. */
    @ParameterizedTest
    @CsvSource({"1,2,5,7,3,4,5", "1,3,64,96,4,7,7", "1,1,3,3,1,2,2", "3,2,5,5,3,4,5", "3,2,6,6,1,3,3", "3,1,64,64,8,7,7",
        "3,3,4,4,2,1,1"})
    void theChannelsLastPlanIsTheConvolution(int kT, int n, int ci, int co, int t, int h, int w) {
        ConvSpec spec = kT == 1 ? ConvSpec.of(1) : ConvSpec.builder().kernel(3, 1, 1).padding(1, 0, 0).build();
        Random r = new Random(kT * 1000 + ci + 7);
        int hw = h * w;
        int l = t * hw;
        try (TensorScope scope = TensorScope.open()) {
            Shape xs = Shape.of(n, ci, t, h, w);
            Shape ws = Shape.of(co, ci, kT, 1, 1);
            Tensor x = rand(r, xs);
            Tensor wt = rand(r, ws);
            Tensor dy = rand(r, spec.outputShape(xs, co));
            String what = "channels-last " + (kT == 1 ? "1x1x1 " : "3x1x1 ") + xs + " -> " + co;
            Map<ConvGemmPlan.Operand, float[]> ops = new EnumMap<>(ConvGemmPlan.Operand.class);
            ops.put(ConvGemmPlan.Operand.X, ndhwc(x));
            ops.put(ConvGemmPlan.Operand.W, ndhwc(wt)); // KTRSC: the weight's channels-last bytes
            float[] y = new float[n * co * l];
            java.util.Arrays.fill(y, Float.NaN);
            ops.put(ConvGemmPlan.Operand.Y, y);
            run(kT == 1 ? ConvGemmPlan.channelsLastPointwiseForward(n, ci, co, l)
                    : ConvGemmPlan.channelsLastTemporalForward(n, ci, co, t, hw), ops);
            close(cpu.conv3d(x, wt, spec), ncdhw(y, n, co, l), what + " forward");

            ops.put(ConvGemmPlan.Operand.DY, ndhwc(dy));
            float[] dx = new float[n * ci * l];
            java.util.Arrays.fill(dx, Float.NaN);
            ops.put(ConvGemmPlan.Operand.DX, dx);
            run(kT == 1 ? ConvGemmPlan.channelsLastPointwiseBackwardData(n, ci, co, l)
                    : ConvGemmPlan.channelsLastTemporalBackwardData(n, ci, co, t, hw), ops);
            close(cpu.conv3dBackwardData(dy, wt, spec, xs), ncdhw(dx, n, ci, l), what + " backward data");

            float[] acc = new float[kT * co * ci];
            if (kT == 1) {
                java.util.Arrays.fill(acc, Float.NaN);
            }
            ops.put(ConvGemmPlan.Operand.ACC, acc);
            run(kT == 1 ? ConvGemmPlan.channelsLastPointwiseBackwardWeight(n, ci, co, l)
                    : ConvGemmPlan.channelsLastTemporalBackwardWeight(n, ci, co, t, hw), ops);
            close(cpu.conv3dBackwardWeight(x, dy, spec, ws), ncdhw(acc, co, ci, kT), what + " backward weight");
        }
    }

    /**
     * The cuBLASLt form of the channels-last 1x1x1 conv: one GEMM over N*L columns, then the epilogue as cuBLASLt
     * defines it (bias per row of D, i.e. per output channel; ReLU last; the residual as C with beta 1), against the
     * CPU's conv3d / conv3dResidual — every epilogue, with and without a residual.
     */
    @ParameterizedTest
    @CsvSource({"2,5,7,3,4,5", "3,64,96,4,7,7", "1,3,3,1,2,2", "2,32,32,1,3,3"})
    void theFusedChannelsLastPlanIsTheConvolutionAndItsEpilogue(int n, int ci, int co, int t, int h, int w) {
        ConvSpec spec = ConvSpec.of(1);
        Random r = new Random(ci * 31 + co);
        int l = t * h * w;
        try (TensorScope scope = TensorScope.open()) {
            Shape xs = Shape.of(n, ci, t, h, w);
            Tensor x = rand(r, xs);
            Tensor wt = rand(r, Shape.of(co, ci, 1, 1, 1));
            Tensor bias = rand(r, Shape.of(co));
            Tensor res = rand(r, spec.outputShape(xs, co));
            float[] b = bias.toFloatArray();
            for (boolean residual : new boolean[] {false, true}) {
                ConvGemmPlan.Gemm g = ConvGemmPlan.channelsLastPointwiseFused(n, ci, co, l, residual);
                assertEquals(1, g.batch());
                assertEquals(residual, g.accumulate());
                for (ConvGemmPlan.LtEpilogue epi : ConvGemmPlan.LtEpilogue.values()) {
                    boolean relu = epi == ConvGemmPlan.LtEpilogue.RELU || epi == ConvGemmPlan.LtEpilogue.RELU_BIAS;
                    Map<ConvGemmPlan.Operand, float[]> ops = new EnumMap<>(ConvGemmPlan.Operand.class);
                    ops.put(ConvGemmPlan.Operand.X, ndhwc(x));
                    ops.put(ConvGemmPlan.Operand.W, ndhwc(wt));
                    float[] y = residual ? ndhwc(res) : new float[n * co * l];
                    if (!residual) {
                        java.util.Arrays.fill(y, Float.NaN);
                    }
                    ops.put(ConvGemmPlan.Operand.Y, y);
                    run(List.of(g), ops);
                    for (int i = 0; i < y.length; i++) {
                        y[i] = (float) epi.apply(y[i], b[i % co]); // D is Cout x NL column-major: row = channel
                    }
                    Tensor bb = epi.hasBias() ? bias : null;
                    Tensor expected = residual ? cpu.conv3dResidual(x, wt, bb, spec, res, relu)
                            : cpu.conv3d(x, wt, bb, spec, relu);
                    close(expected, ncdhw(y, n, co, l), "fused 1x1x1 " + xs + " -> " + co + " " + epi
                            + (residual ? " + residual" : ""));
                }
            }
        }
        assertEquals(null, ConvGemmPlan.channelsLastPointwiseFused(65536, 8, 8, 65536, false), "N*L past an int");
    }

    /** The epilogue codes are cuBLASLt's (cublasLt.h), and the choice follows bias and ReLU. */
    @org.junit.jupiter.api.Test
    void ltEpiloguesAreCublasLtsValues() {
        assertEquals(org.bytedeco.cuda.global.cublas.CUBLASLT_EPILOGUE_DEFAULT, ConvGemmPlan.LtEpilogue.NONE.code());
        assertEquals(org.bytedeco.cuda.global.cublas.CUBLASLT_EPILOGUE_RELU, ConvGemmPlan.LtEpilogue.RELU.code());
        assertEquals(org.bytedeco.cuda.global.cublas.CUBLASLT_EPILOGUE_BIAS, ConvGemmPlan.LtEpilogue.BIAS.code());
        assertEquals(org.bytedeco.cuda.global.cublas.CUBLASLT_EPILOGUE_RELU_BIAS,
                ConvGemmPlan.LtEpilogue.RELU_BIAS.code());
        assertEquals(ConvGemmPlan.LtEpilogue.RELU_BIAS, ConvGemmPlan.LtEpilogue.of(true, true));
        assertEquals(ConvGemmPlan.LtEpilogue.BIAS, ConvGemmPlan.LtEpilogue.of(true, false));
        assertEquals(ConvGemmPlan.LtEpilogue.RELU, ConvGemmPlan.LtEpilogue.of(false, true));
        assertEquals(ConvGemmPlan.LtEpilogue.NONE, ConvGemmPlan.LtEpilogue.of(false, false));
        assertEquals("", CudaBackend.epilogueKey(false, false, false));
        assertEquals(":epibra", CudaBackend.epilogueKey(true, true, true));
        assertEquals(":epia", CudaBackend.epilogueKey(false, false, true));
    }

    /** t's values in NDHWC order ([N][S][C]). */
    static float[] ndhwc(Tensor t) {
        float[] v = t.toFloatArray();
        float[] out = new float[v.length];
        long n = t.dim(0), ch = t.dim(1), s = t.shape().sizeFrom(2);
        for (long i = 0; i < n; i++) {
            for (long cc = 0; cc < ch; cc++) {
                for (long p = 0; p < s; p++) {
                    out[(int) ((i * s + p) * ch + cc)] = v[(int) ((i * ch + cc) * s + p)];
                }
            }
        }
        return out;
    }

    /** [N][S][C] values back in [N][C][S] order. */
    static float[] ncdhw(float[] v, int n, int c, int s) {
        float[] out = new float[v.length];
        for (int i = 0; i < n; i++) {
            for (int cc = 0; cc < c; cc++) {
                for (int p = 0; p < s; p++) {
                    out[(i * c + cc) * s + p] = v[(i * s + p) * c + cc];
                }
            }
        }
        return out;
    }
}
