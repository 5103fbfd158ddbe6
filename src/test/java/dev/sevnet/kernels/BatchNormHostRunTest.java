package dev.sevnet.kernels;

import static dev.sevnet.kernels.KernelTestSupport.assertBitwise;
import static dev.sevnet.kernels.KernelTestSupport.assertClose;
import static dev.sevnet.kernels.KernelTestSupport.nan;
import static dev.sevnet.kernels.KernelTestSupport.ok;
import static dev.sevnet.kernels.KernelTestSupport.randn;
import static dev.sevnet.kernels.KernelTestSupport.uniform;

import dev.sevnet.backend.cpu.NativeCore;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Batch-norm bodies (kernels/batchnorm.cuh: per-channel block reductions) run on the host, against the CPU. */
class BatchNormHostRunTest {
    // N, C, S: S below and above the 512-thread block, N*S not a multiple of it; S = 1 (per-item statistics)
    private static final long[][] SHAPES = {{2, 3, 1}, {3, 5, 77}, {2, 4, 513}, {5, 3, 1031}, {1, 2, 4099}};
    private static final float EPS = 1e-5f;
    private static final float MOMENTUM = 0.1f;

    @Test
    void trainingForwardMatchesCpu() {
        Random r = new Random(31);
        for (long[] s : SHAPES) {
            long n = s[0], c = s[1], sp = s[2];
            for (boolean affine : new boolean[] {true, false}) {
                try (TensorScope scope = TensorScope.open()) {
                    Tensor x = randn(r, 2.0, n, c, sp);
                    // an offset: the statistics must not cancel (two-pass variance)
                    float[] xs = x.toFloatArray();
                    for (int i = 0; i < xs.length; i++) {
                        xs[i] += 3f;
                    }
                    x = Tensor.of(xs, x.shape());
                    Tensor gamma = affine ? randn(r, c) : null;
                    Tensor beta = affine ? randn(r, c) : null;
                    Tensor rm0 = randn(r, c);
                    Tensor rv0 = uniform(r, 0.5, 1.5, c);
                    Tensor yRef = nan(n * c * sp);
                    Tensor y = nan(n * c * sp);
                    Tensor mRef = nan(c);
                    Tensor m = nan(c);
                    Tensor iRef = nan(c);
                    Tensor i = nan(c);
                    Tensor rmRef = rm0.copy();
                    Tensor rm = rm0.copy();
                    Tensor rvRef = rv0.copy();
                    Tensor rv = rv0.copy();
                    ok(NativeCore.sev_batchnorm_train_forward(x.address(), addr(gamma), addr(beta), yRef.address(),
                            mRef.address(), iRef.address(), rmRef.address(), rvRef.address(), n, c, sp, EPS, MOMENTUM),
                            "cpu");
                    ok(NativeCore.sev_hostrun_batchnorm_train_forward(x.address(), addr(gamma), addr(beta),
                            y.address(), m.address(), i.address(), rm.address(), rv.address(), n, c, sp, EPS,
                            MOMENTUM), "hostrun");
                    String what = " " + Arrays.toString(s) + (affine ? " affine" : "");
                    assertClose(mRef, m, 1e-6, 1e-7, "save_mean" + what);
                    assertClose(iRef, i, 1e-6, 0, "save_invstd" + what);
                    assertClose(rmRef, rm, 1e-6, 1e-7, "running_mean" + what);
                    assertClose(rvRef, rv, 1e-6, 0, "running_var" + what);
                    // the apply pass reads the float statistics (the CPU keeps them in double)
                    assertClose(yRef, y, 1e-5, 2e-6, "y" + what);
                }
            }
        }
    }

    @Test
    void evalForwardMatchesCpu() {
        Random r = new Random(32);
        for (long[] s : SHAPES) {
            long n = s[0], c = s[1], sp = s[2];
            for (int relu = 0; relu < 2; relu++) {
                try (TensorScope scope = TensorScope.open()) {
                    Tensor x = randn(r, n, c, sp);
                    Tensor gamma = randn(r, c);
                    Tensor beta = randn(r, c);
                    Tensor rm = randn(r, c);
                    Tensor rv = uniform(r, 0.1, 2, c);
                    Tensor yRef = nan(n * c * sp);
                    Tensor y = nan(n * c * sp);
                    ok(NativeCore.sev_batchnorm_eval_forward(x.address(), gamma.address(), beta.address(),
                            rm.address(), rv.address(), yRef.address(), n, c, sp, EPS, relu), "cpu");
                    ok(NativeCore.sev_hostrun_batchnorm_eval_forward(x.address(), gamma.address(), beta.address(),
                            rm.address(), rv.address(), y.address(), n, c, sp, EPS, relu), "hostrun");
                    assertBitwise(yRef, y, "eval relu=" + relu + " " + Arrays.toString(s));
                    // no affine parameters
                    ok(NativeCore.sev_batchnorm_eval_forward(x.address(), 0L, 0L, rm.address(), rv.address(),
                            yRef.address(), n, c, sp, EPS, relu), "cpu");
                    ok(NativeCore.sev_hostrun_batchnorm_eval_forward(x.address(), 0L, 0L, rm.address(), rv.address(),
                            y.address(), n, c, sp, EPS, relu), "hostrun");
                    assertBitwise(yRef, y, "eval (no affine) relu=" + relu + " " + Arrays.toString(s));
                }
            }
        }
    }

    @Test
    void backwardMatchesCpu() {
        Random r = new Random(33);
        for (long[] s : SHAPES) {
            long n = s[0], c = s[1], sp = s[2];
            try (TensorScope scope = TensorScope.open()) {
                Tensor x = randn(r, n, c, sp);
                Tensor dy = randn(r, n, c, sp);
                Tensor gamma = randn(r, c);
                Tensor beta = randn(r, c);
                Tensor mean = nan(c);
                Tensor invstd = nan(c);
                Tensor scratch = nan(n * c * sp);
                ok(NativeCore.sev_batchnorm_train_forward(x.address(), gamma.address(), beta.address(),
                        scratch.address(), mean.address(), invstd.address(), 0L, 0L, n, c, sp, EPS, MOMENTUM),
                        "statistics");
                Tensor dxRef = nan(n * c * sp);
                Tensor dx = nan(n * c * sp);
                Tensor dgRef = nan(c);
                Tensor dg = nan(c);
                Tensor dbRef = nan(c);
                Tensor db = nan(c);
                ok(NativeCore.sev_batchnorm_backward(x.address(), dy.address(), gamma.address(), mean.address(),
                        invstd.address(), dxRef.address(), dgRef.address(), dbRef.address(), n, c, sp), "cpu");
                ok(NativeCore.sev_hostrun_batchnorm_backward(x.address(), dy.address(), gamma.address(),
                        mean.address(), invstd.address(), dx.address(), dg.address(), db.address(), n, c, sp),
                        "hostrun");
                String what = " " + Arrays.toString(s);
                assertClose(dgRef, dg, 1e-5, 1e-5, "dgamma" + what);
                assertClose(dbRef, db, 1e-5, 1e-5, "dbeta" + what);
                // dx = k * (dy - mean(dy) - xhat * mean(dy xhat)): a small difference of larger terms
                assertClose(dxRef, dx, 1e-4, 1e-5, "dx" + what);

                // without gamma and without the parameter gradients (NULL outputs are skipped)
                ok(NativeCore.sev_batchnorm_backward(x.address(), dy.address(), 0L, mean.address(),
                        invstd.address(), dxRef.address(), 0L, 0L, n, c, sp), "cpu");
                ok(NativeCore.sev_hostrun_batchnorm_backward(x.address(), dy.address(), 0L, mean.address(),
                        invstd.address(), dx.address(), 0L, 0L, n, c, sp), "hostrun");
                assertClose(dxRef, dx, 1e-4, 1e-5, "dx (no gamma)" + what);
            }
        }
    }

    private static long addr(Tensor t) {
        return t == null ? 0L : t.address();
    }
}
