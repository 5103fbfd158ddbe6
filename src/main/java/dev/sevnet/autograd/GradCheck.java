package dev.sevnet.autograd;

import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;

/**
 * Finite-difference gradient checking for tests. The function's output is projected to a scalar
 * {@code L = sum(out * r)} with fixed random weights {@code r} (so every output element matters), the
 * analytic gradient comes from {@link Var#backward(Tensor)} with seed {@code r}, and the numeric one from
 * central differences {@code (L(x+eps) - L(x-eps)) / 2eps} with L accumulated in float64. An element
 * passes when {@code |analytic - numeric| <= atol + rtol * max(|analytic|, |numeric|)}.
 *
 * <p>Inputs must be float32 host tensors; they are perturbed in place and restored. Everything the
 * check allocates is freed before it returns.
 */
public final class GradCheck {
    private GradCheck() {
    }

    /**
     * Settings: step {@code eps}, tolerances, and at most {@code maxElementsPerInput} elements checked
     * per input (a seeded random sample when the input is larger).
     */
    public record Options(double eps, double atol, double rtol, int maxElementsPerInput, long seed) {
        public static Options defaults() {
            return new Options(1e-2, 1e-3, 1e-2, 64, 42L);
        }

        public Options withEps(double e) {
            return new Options(e, atol, rtol, maxElementsPerInput, seed);
        }

        public Options withTolerance(double absolute, double relative) {
            return new Options(eps, absolute, relative, maxElementsPerInput, seed);
        }

        public Options withMaxElements(int n) {
            return new Options(eps, atol, rtol, n, seed);
        }
    }

    /** The outcome: how many elements were compared, the worst errors and where the worst one was. */
    public record Report(int checked, int failed, double maxAbsError, double maxRelError, String worst) {
        public boolean passed() {
            return failed == 0;
        }

        @Override
        public String toString() {
            return (passed() ? "passed" : failed + " of " + checked + " elements failed") + "; max abs error "
                    + maxAbsError + ", max rel error " + maxRelError + "; worst: " + worst;
        }
    }

    /** Checks the gradient of {@code f} with respect to every tensor in {@code inputs}. */
    public static Report check(Function<List<Var>, Var> f, List<Tensor> inputs, Options options) {
        for (int i = 0; i < inputs.size(); i++) {
            Tensor t = inputs.get(i);
            if (t.dtype() != DType.FLOAT32 || !t.device().isCpu()) {
                throw new IllegalArgumentException("input " + i + " must be a float32 host tensor, got " + t);
            }
        }
        try (TensorScope scope = TensorScope.open()) {
            List<Var> leaves = new ArrayList<>();
            for (Tensor t : inputs) {
                leaves.add(Var.leaf(t));
            }
            Var out;
            try (GradMode.Guard g = GradMode.enableGrad()) {
                out = f.apply(leaves);
            }
            Tensor weights = randomWeights(out, options.seed());
            out.backward(weights);

            SplittableRandom pick = new SplittableRandom(options.seed() + 1);
            int checked = 0;
            int failed = 0;
            double maxAbs = 0;
            double maxRel = 0;
            String worst = "none";
            double worstScore = -1;
            for (int i = 0; i < inputs.size(); i++) {
                Tensor x = inputs.get(i);
                Tensor grad = leaves.get(i).grad();
                for (long j : sample(x.size(), options.maxElementsPerInput(), pick)) {
                    float original = x.getFloat(j);
                    x.setFloat(j, (float) (original + options.eps()));
                    double plus = projected(f, leaves, weights);
                    x.setFloat(j, (float) (original - options.eps()));
                    double minus = projected(f, leaves, weights);
                    x.setFloat(j, original);
                    double numeric = (plus - minus) / (2 * options.eps());
                    double analytic = grad == null ? 0 : grad.getFloat(j);
                    double abs = Math.abs(analytic - numeric);
                    double scale = Math.max(Math.abs(analytic), Math.abs(numeric));
                    double rel = scale == 0 ? 0 : abs / scale;
                    double allowed = options.atol() + options.rtol() * scale;
                    checked++;
                    if (abs > allowed) {
                        failed++;
                    }
                    maxAbs = Math.max(maxAbs, abs);
                    maxRel = Math.max(maxRel, rel);
                    if (abs / allowed > worstScore) {
                        worstScore = abs / allowed;
                        worst = "input " + i + " element " + j + ": analytic " + analytic + ", numeric " + numeric;
                    }
                }
            }
            return new Report(checked, failed, maxAbs, maxRel, worst);
        }
    }

    /** {@link #check} that throws an {@link AssertionError} with the report when an element fails. */
    public static Report assertGradients(Function<List<Var>, Var> f, List<Tensor> inputs, Options options) {
        Report r = check(f, inputs, options);
        if (!r.passed()) {
            throw new AssertionError("gradient check failed: " + r);
        }
        return r;
    }

    private static double projected(Function<List<Var>, Var> f, List<Var> leaves, Tensor weights) {
        try (TensorScope scope = TensorScope.open(); GradMode.Guard g = GradMode.noGrad()) {
            Var out = f.apply(leaves);
            float[] y = out.value().toFloatArray();
            float[] r = weights.toFloatArray();
            double sum = 0;
            for (int k = 0; k < y.length; k++) {
                sum += (double) y[k] * r[k];
            }
            return sum;
        }
    }

    private static Tensor randomWeights(Var out, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        float[] r = new float[Math.toIntExact(out.value().size())];
        for (int k = 0; k < r.length; k++) {
            r[k] = r.length == 1 ? 1f : (float) (rng.nextDouble() * 2 - 1);
        }
        return Tensor.of(r, out.shape());
    }

    private static long[] sample(long size, int max, SplittableRandom rng) {
        if (size <= max) {
            long[] all = new long[(int) size];
            for (int k = 0; k < all.length; k++) {
                all[k] = k;
            }
            return all;
        }
        long[] s = new long[max];
        for (int k = 0; k < max; k++) {
            s[k] = rng.nextLong(size);
        }
        return s;
    }
}
