package dev.sevnet.infer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A CUDA Predictor in bf16 / fp16 on the tiny random checkpoint (sevnet-g2, 8x32x32) against the CPU fp32
 * Predictor: logits within the tolerance HalfPrecisionInferenceTest states (bf16 1e-2, fp16 2e-3 of the logits'
 * range). Skipped, with the reason, without a GPU.
 */
@Tag("gpu")
class CudaHalfPredictorTest {
    @ParameterizedTest
    @CsvSource({"bf16, 1e-2", "fp16, 2e-3"})
    void sixteenBitCudaPredictorMatchesFp32OnTheCpu(String precision, double tol, @TempDir Path dir) {
        dev.sevnet.backend.cuda.GpuTestSupport.assumeUsableGpu();
        Path ck = InferFixture.checkpoint(dir, 3);
        try (Predictor cpu = Predictor.builder().checkpoint(ck).device("cpu").build();
                Predictor gpu = Predictor.builder().checkpoint(ck).device("cuda").precision(precision).build();
                Tensor clip = FoldedSevNetTest.randomClips(Shape.of(3, 3, 8, 32, 32), 5)) {
            assertEquals(precision, gpu.precision());
            assertTrue(!gpu.device().isCpu(), gpu.device().toString());
            for (int v = 0; v < 3; v++) {
                try (Tensor one = Tensor.of(java.util.Arrays.copyOfRange(clip.toFloatArray(), v * 3 * 8 * 32 * 32,
                        (v + 1) * 3 * 8 * 32 * 32), 3, 8, 32, 32)) {
                    float[] a = cpu.predict(one).logits();
                    float[] b = gpu.predict(one).logits();
                    double lo = Double.POSITIVE_INFINITY;
                    double hi = Double.NEGATIVE_INFINITY;
                    double d = 0;
                    for (int i = 0; i < a.length; i++) {
                        lo = Math.min(lo, a[i]);
                        hi = Math.max(hi, a[i]);
                        d = Math.max(d, Math.abs((double) a[i] - b[i]));
                    }
                    double rel = d / Math.max(hi - lo, 1e-12);
                    System.out.printf("Predictor %s on %s vs fp32 on the CPU: %.2e of the logit range%n", precision,
                            gpu.device(), rel);
                    assertTrue(rel <= tol, precision + ": " + rel + " > " + tol);
                }
            }
        }
    }
}
