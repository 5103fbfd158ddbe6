package dev.sevnet.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.sevnet.backend.cpu.CpuBackend;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.Random;
import java.util.function.Supplier;

/** Random data, naive-reference comparison and finite-difference helpers shared by the CPU op tests. */
final class OpsTestSupport {
    static final CpuBackend B = CpuBackend.get();

    private OpsTestSupport() {
    }

    static int size(long... dims) {
        long n = 1;
        for (long d : dims) {
            n *= d;
        }
        return Math.toIntExact(n);
    }

    static float[] randn(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return a;
    }

    static float[] uniform(Random r, int n, double lo, double hi) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (lo + (hi - lo) * r.nextDouble());
        }
        return a;
    }

    /** Random values with |v| in [min, min + 1]: keeps finite differences away from ReLU's kink. */
    static float[] awayFromZero(Random r, int n, double min) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            double v = min + r.nextDouble();
            a[i] = (float) (r.nextBoolean() ? v : -v);
        }
        return a;
    }

    static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i];
        }
        return d;
    }

    /** |expected - actual| <= atol + rtol * |expected| element by element (NaN never passes). */
    static void assertClose(double[] expected, float[] actual, double rtol, double atol, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            double tol = atol + rtol * Math.abs(expected[i]);
            double err = Math.abs(expected[i] - actual[i]);
            if (!(err <= tol)) {
                fail(what + "[" + i + "]: expected " + expected[i] + ", got " + actual[i] + " (error " + err
                        + " > tolerance " + tol + ")");
            }
        }
    }

    static void assertClose(float[] expected, float[] actual, double rtol, double atol, String what) {
        assertClose(toDouble(expected), actual, rtol, atol, what);
    }

    static void assertClose(double expected, double actual, double rtol, double atol, String what) {
        double err = Math.abs(expected - actual);
        if (!(err <= atol + rtol * Math.abs(expected))) {
            fail(what + ": expected " + expected + ", got " + actual + " (error " + err + ")");
        }
    }

    /** Runs {@code op} in its own scope and returns its result as an array: no tensor outlives the call. */
    static float[] run(Supplier<Tensor> op) {
        try (TensorScope s = TensorScope.open()) {
            return op.get().toFloatArray();
        }
    }

    /** sum(y * r), accumulated in double. */
    static double dot(float[] y, float[] r) {
        assertEquals(r.length, y.length, "output length");
        double s = 0;
        for (int i = 0; i < y.length; i++) {
            s += (double) y[i] * r[i];
        }
        return s;
    }

    /** A forward pass as a function of one (possibly perturbed) input array. */
    interface Forward {
        float[] apply(float[] x);
    }

    /**
     * Central-difference gradient of L(x) = sum(f(x) * r). The perturbation is applied in float; the
     * step actually taken (after float rounding) is the denominator, and L is accumulated in double.
     */
    static double[] numericGrad(float[] x, Forward f, float[] r, float eps) {
        double[] g = new double[x.length];
        float[] xp = x.clone();
        for (int i = 0; i < x.length; i++) {
            float hi = x[i] + eps;
            float lo = x[i] - eps;
            xp[i] = hi;
            double lh = dot(f.apply(xp), r);
            xp[i] = lo;
            double ll = dot(f.apply(xp), r);
            xp[i] = x[i];
            g[i] = (lh - ll) / ((double) hi - (double) lo);
        }
        return g;
    }

    /** Compares an analytic gradient against {@link #numericGrad}. */
    static void assertGrad(float[] x, Forward f, float[] r, float eps, float[] analytic, double rtol, double atol,
            String what) {
        assertClose(numericGrad(x, f, r, eps), analytic, rtol, atol, what + " (finite differences)");
    }
}
