package dev.sevnet.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.sevnet.tensor.Tensor;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Native SGEMM (packed, blocked, multi-threaded) against a naive Java triple loop. */
class GemmNativeTest {

    static Stream<Arguments> cases() {
        Stream.Builder<Arguments> b = Stream.builder();
        int[][] sizes = {{37, 53, 29}, {1, 1, 1}, {12, 32, 7}, {13, 33, 300}, {5, 700, 17}, {64, 64, 1100}, {200, 75, 64}};
        for (int[] s : sizes) {
            for (int ta = 0; ta < 2; ta++) {
                for (int tb = 0; tb < 2; tb++) {
                    for (float beta : new float[] {0f, 1f, 0.5f}) {
                        b.add(Arguments.of(ta == 1, tb == 1, s[0], s[1], s[2], beta, 3));
                    }
                }
            }
        }
        b.add(Arguments.of(false, false, 37, 53, 29, 0.5f, 0));
        return b.build();
    }

    static float[] random(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (r.nextDouble() * 2 - 1);
        }
        return a;
    }

    @ParameterizedTest(name = "tA={0} tB={1} M={2} N={3} K={4} beta={5} pad={6}")
    @MethodSource("cases")
    void matchesNaive(boolean tA, boolean tB, int m, int n, int k, float beta, int pad) {
        Random r = new Random(m * 31L + n * 7L + k + (tA ? 1000 : 0) + (tB ? 2000 : 0));
        float alpha = 0.75f;
        int aRows = tA ? k : m, aCols = tA ? m : k;
        int bRows = tB ? n : k, bCols = tB ? k : n;
        int lda = aCols + pad, ldb = bCols + pad + 1, ldc = n + 2 * pad;
        float[] a = random(r, aRows * lda);
        float[] bm = random(r, bRows * ldb);
        float[] c = random(r, m * ldc);
        if (beta == 0f) {
            // beta == 0 must not read C: NaN there must not leak into the result
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    c[i * ldc + j] = Float.NaN;
                }
            }
        }
        double[] expected = new double[m * ldc];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < ldc; j++) {
                expected[i * ldc + j] = c[i * ldc + j];
            }
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) {
                    double av = tA ? a[p * lda + i] : a[i * lda + p];
                    double bv = tB ? bm[j * ldb + p] : bm[p * ldb + j];
                    s += av * bv;
                }
                expected[i * ldc + j] = alpha * s + (beta == 0f ? 0.0 : beta * c[i * ldc + j]);
            }
        }
        float[] got;
        try (Tensor ta = Tensor.of(a, a.length); Tensor tb = Tensor.of(bm, bm.length);
                Tensor tc = Tensor.of(c, c.length)) {
            int rc = NativeCore.sev_sgemm(tA ? 1 : 0, tB ? 1 : 0, m, n, k, alpha, ta.address(), lda, tb.address(), ldb,
                    beta, tc.address(), ldc);
            assertEquals(0, rc);
            got = tc.toFloatArray();
        }
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < ldc; j++) {
                double e = expected[i * ldc + j];
                float g = got[i * ldc + j];
                if (j >= n) {
                    // padding columns are untouched
                    assertEquals(Float.floatToIntBits(c[i * ldc + j]), Float.floatToIntBits(g), "pad col touched");
                } else {
                    assertEquals(e, g, 1e-4 * (1 + Math.abs(e)) * Math.max(1, Math.sqrt(k) / 4),
                            "C[" + i + "," + j + "]");
                }
            }
        }
    }

    @Test
    void zeroKScalesC() {
        float[] c = {1, 2, 3, 4};
        try (Tensor ta = Tensor.of(new float[1], 1); Tensor tb = Tensor.of(new float[1], 1);
                Tensor tc = Tensor.of(c, 4)) {
            assertEquals(0, NativeCore.sev_sgemm(0, 0, 2, 2, 0, 1f, ta.address(), 1, tb.address(), 2, 0.5f, tc.address(), 2));
            float[] got = tc.toFloatArray();
            for (int i = 0; i < 4; i++) {
                assertEquals(c[i] * 0.5f, got[i], 0f);
            }
        }
    }
}
