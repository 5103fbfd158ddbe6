package dev.sevnet.infer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.autograd.GradMode;
import dev.sevnet.autograd.Var;
import dev.sevnet.nn.SevNet;
import dev.sevnet.nn.SevNetConfig;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.MemoryStats;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * bf16 / fp16 inference without a GPU: the 16-bit folded graph run by the CPU backend, whose 16-bit ops round at
 * exactly the points where the CUDA backend stores 16-bit values (input, weights, each conv's raw output and its
 * epilogue's output, pools, adds, concats; global pool and head in fp32). That emulation states what the GPU
 * test ({@code CudaHalfInferenceTest}) asserts: the 16-bit logits against fp32 logits of the same folded model.
 *
 * <p>Measure: {@code max |logit16 - logit32| / (max logit32 - min logit32)} over the batch (the logits' range, so
 * the figure does not depend on where the logits sit), and top-1 agreement on every clip whose fp32 top-1 leads
 * the runner-up by more than twice that tolerance (a smaller lead may flip legitimately).
 */
class HalfPrecisionInferenceTest {
    /** Tolerances of the 16-bit logits vs fp32, relative to the fp32 logits' range (measured figures below). */
    static final double BF16_TOL = 1e-2;
    static final double FP16_TOL = 2e-3;

    static double tolerance(DType dt) {
        return dt == DType.BFLOAT16 ? BF16_TOL : FP16_TOL;
    }

    /** {max abs diff / range, clips compared for top-1, clips whose top-1 agreed}. */
    static double[] compare(float[] half, float[] fp32, int n, int k, double tol) {
        assertEquals(fp32.length, half.length);
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        double diff = 0;
        for (int i = 0; i < fp32.length; i++) {
            assertTrue(Float.isFinite(half[i]), "non-finite 16-bit logit " + half[i]);
            lo = Math.min(lo, fp32[i]);
            hi = Math.max(hi, fp32[i]);
            diff = Math.max(diff, Math.abs((double) half[i] - fp32[i]));
        }
        double range = Math.max(hi - lo, 1e-12);
        int compared = 0;
        int agreed = 0;
        for (int j = 0; j < n; j++) {
            int a = argmax(fp32, j * k, k);
            int b = argmax(half, j * k, k);
            double lead = Double.POSITIVE_INFINITY;
            for (int c = 0; c < k; c++) {
                if (c != a) {
                    lead = Math.min(lead, fp32[j * k + a] - fp32[j * k + c]);
                }
            }
            if (lead > 2 * tol * range) {
                compared++;
                agreed += a == b ? 1 : 0;
            }
        }
        return new double[] {diff / range, compared, agreed};
    }

    static int argmax(float[] v, int off, int k) {
        int best = 0;
        for (int c = 1; c < k; c++) {
            if (v[off + c] > v[off + best]) {
                best = c;
            }
        }
        return best;
    }

    @ParameterizedTest
    @CsvSource({"sevnet-g2, BFLOAT16", "sevnet-g2, FLOAT16", "sevnet-se-g2, BFLOAT16", "sevnet-se-g2, FLOAT16"})
    void sixteenBitLogitsStayWithinTheStatedToleranceOfFp32(String model, DType dt) {
        long before = MemoryStats.liveHostBytes();
        int n = 4;
        int k = 10;
        SevNetConfig cfg = SevNetConfig.parse(model, k);
        try (SevNet net = SevNet.create(cfg, 7); Tensor x = FoldedSevNetTest.randomClips(Shape.of(n, 3, 8, 32, 32), 3)) {
            FoldedSevNetTest.randomizeBatchNorms(net, 5);
            net.eval();
            try (FoldedSevNet f32 = FoldedSevNet.fold(net); FoldedSevNet f16 = FoldedSevNet.fold(net, dt);
                    GradMode.Guard g = GradMode.noGrad(); TensorScope scope = TensorScope.open()) {
                assertEquals(DType.FLOAT32, f32.dtype());
                assertEquals(dt, f16.dtype());
                assertEquals(dt, f16.stateDict().get("stages.0.blocks.0.conv1.weight").dtype(), "weights cast once");
                assertEquals(DType.FLOAT32, f16.stateDict().get("stages.0.blocks.0.conv1.bias").dtype(), "biases fp32");
                assertEquals(DType.FLOAT32, f16.stateDict().get("head.fc.weight").dtype(), "head fp32");
                Tensor y32 = f32.forward(Var.of(x)).value();
                Tensor y16 = f16.forward(Var.of(x)).value();
                assertEquals(DType.FLOAT32, y16.dtype(), "fp32 logits");
                assertEquals(y32.shape(), y16.shape());
                double tol = tolerance(dt);
                double[] m = compare(y16.toFloatArray(), y32.toFloatArray(), n, k, tol);
                System.out.printf("%s %s (CPU emulation) vs fp32: max |diff| / logit range %.2e (tolerance %.0e), "
                        + "top-1 agrees on %d of %d clips with a clear lead%n", model, dt, m[0], tol, (int) m[2],
                        (int) m[1]);
                assertTrue(m[0] <= tol, model + " " + dt + ": " + m[0] + " > " + tol);
                assertEquals(m[1], m[2], "top-1 agreement where fp32's lead exceeds 2x the tolerance");
                // the emulation is deterministic: a second pass gives the same bits
                float[] again = f16.forward(Var.of(x)).value().toFloatArray();
                assertTrue(java.util.Arrays.equals(again, y16.toFloatArray()));
            }
        }
        assertEquals(before, MemoryStats.liveHostBytes(), "every tensor freed");
    }

    @Test
    void foldRejectsANonFloatingType() {
        try (SevNet net = SevNet.create(SevNetConfig.parse("sevnet-g2", 3), 1)) {
            assertThrows(IllegalArgumentException.class, () -> FoldedSevNet.fold(net, DType.INT64));
        }
    }

    @Test
    void predictorRejectsSixteenBitOnTheCpuNamingTheAlternatives(@TempDir Path dir) {
        Path ck = InferFixture.checkpoint(dir, 3);
        for (String p : new String[] {"bf16", "fp16", "BF16"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Predictor.builder().checkpoint(ck).device("cpu").precision(p).build());
            String m = e.getMessage();
            assertTrue(m.contains("CUDA") && m.contains("fp32") && m.contains("int8"), m);
        }
        // auto on a machine without a usable GPU resolves to the CPU: the same error, with the reason
        boolean autoIsCpu;
        try (Predictor probe = Predictor.builder().checkpoint(ck).device("auto").build()) {
            autoIsCpu = probe.device().isCpu();
        }
        if (autoIsCpu) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Predictor.builder().checkpoint(ck).device("auto").precision("bf16").build());
            assertTrue(e.getMessage().contains("resolved to the CPU") && e.getMessage().contains("int8"),
                    e.getMessage());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Predictor.builder().checkpoint(ck).device("cuda").precision("bf16").foldBatchNorm(false).build());
        assertTrue(e.getMessage().contains("foldBatchNorm"), e.getMessage());
        IllegalArgumentException u = assertThrows(IllegalArgumentException.class,
                () -> Predictor.builder().precision("fp8"));
        assertTrue(u.getMessage().contains("bf16") && u.getMessage().contains("fp16")
                && u.getMessage().contains("int8"), u.getMessage());
        try (Predictor p = Predictor.builder().checkpoint(ck).device("cpu").build()) {
            assertEquals("fp32", p.precision());
        }
    }
}
