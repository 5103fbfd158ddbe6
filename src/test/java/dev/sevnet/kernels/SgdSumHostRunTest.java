package dev.sevnet.kernels;

import static dev.sevnet.kernels.KernelTestSupport.assertBitwise;
import static dev.sevnet.kernels.KernelTestSupport.ok;
import static dev.sevnet.kernels.KernelTestSupport.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.sevnet.backend.cpu.NativeCore;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** SGD (kernels/sgd.cuh) and sum (kernels/reduce.cuh) bodies run on the host, against the CPU ops. */
class SgdSumHostRunTest {
    private static final long[] SIZES = {1, 37, 1000, 4097, 100_003};
    /** The multi-tensor launch's: empty tensors among them (no chunk), sizes below, at and above a chunk. */
    private static final long[] MULTI_SIZES = {1, 37, 0, 7, 1000, 4097, 0, 100_003, 14, 0};

    @Test
    void sgdStepMatchesCpu() {
        Random r = new Random(61);
        for (long n : SIZES) {
            try (TensorScope scope = TensorScope.open()) {
                Tensor w = randn(r, n);
                Tensor g = randn(r, n);
                Tensor v = randn(r, n);
                Tensor wRef = w.copy();
                Tensor vRef = v.copy();
                for (int step = 0; step < 3; step++) {
                    ok(NativeCore.sev_sgd_momentum_step(wRef.address(), g.address(), vRef.address(), n, 0.1f, 0.9f,
                            1e-4f), "cpu");
                    ok(NativeCore.sev_hostrun_sgd_momentum_step(w.address(), g.address(), v.address(), n, 0.1f, 0.9f,
                            1e-4f), "hostrun");
                }
                assertBitwise(wRef, w, "sgd w n=" + n);
                assertBitwise(vRef, v, "sgd v n=" + n);
            }
        }
    }

    @Test
    void sgdMultiMatchesOneStepPerTensor() {
        Random r = new Random(62);
        try (TensorScope scope = TensorScope.open()) {
            int count = MULTI_SIZES.length;
            Tensor[] w = new Tensor[count];
            Tensor[] g = new Tensor[count];
            Tensor[] v = new Tensor[count];
            Tensor[] wRef = new Tensor[count];
            Tensor[] vRef = new Tensor[count];
            long[] pw = new long[count];
            long[] pg = new long[count];
            long[] pv = new long[count];
            for (int i = 0; i < count; i++) {
                w[i] = randn(r, MULTI_SIZES[i]);
                g[i] = randn(r, MULTI_SIZES[i]);
                v[i] = randn(r, MULTI_SIZES[i]);
                wRef[i] = w[i].copy();
                vRef[i] = v[i].copy();
                pw[i] = w[i].address();
                pg[i] = g[i].address();
                pv[i] = v[i].address();
                ok(NativeCore.sev_sgd_momentum_step(wRef[i].address(), g[i].address(), vRef[i].address(), MULTI_SIZES[i],
                        0.05f, 0.8f, 5e-4f), "cpu");
            }
            // small chunks: several in the large tensors, a partial last one, none in an empty tensor
            long chunk = 7;
            long[] prefix = dev.sevnet.backend.cuda.MultiTensorChunks.prefix(MULTI_SIZES, chunk);
            ok(NativeCore.sev_hostrun_sgd_momentum_step_multi(pw, pg, pv, MULTI_SIZES.clone(), prefix, count, prefix[count],
                    chunk, 0.05f, 0.8f, 5e-4f), "hostrun multi");
            for (int i = 0; i < count; i++) {
                assertBitwise(wRef[i], w[i], "sgd multi w[" + i + "]");
                assertBitwise(vRef[i], v[i], "sgd multi v[" + i + "]");
            }
        }
    }

    @Test
    void multiTensorChunksCountEveryTensorsChunksOnce() {
        org.junit.jupiter.api.Assertions.assertArrayEquals(new long[] {0, 1, 1, 3, 4, 4},
                dev.sevnet.backend.cuda.MultiTensorChunks.prefix(new long[] {5, 0, 14, 7, 0}, 7));
        org.junit.jupiter.api.Assertions.assertArrayEquals(new long[] {0},
                dev.sevnet.backend.cuda.MultiTensorChunks.prefix(new long[0], 7));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> dev.sevnet.backend.cuda.MultiTensorChunks.prefix(new long[] {1}, 0));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> dev.sevnet.backend.cuda.MultiTensorChunks.prefix(new long[] {-1}, 7));
    }

    @Test
    void sumMatchesCpu() {
        Random r = new Random(63);
        for (long n : new long[] {1, 255, 257, 100_003, 1_000_003}) {
            try (TensorScope scope = TensorScope.open()) {
                Tensor x = randn(r, n);
                double[] ref = new double[1];
                double[] got = new double[1];
                ok(NativeCore.sev_sum(x.address(), n, ref), "cpu");
                ok(NativeCore.sev_hostrun_sum(x.address(), n, got), "hostrun");
                assertEquals(ref[0], got[0], 1e-9 * Math.max(1, Math.abs(ref[0])) + 1e-9, "sum n=" + n);
            }
        }
    }
}
