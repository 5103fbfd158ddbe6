package dev.sevnet.kernels;

import static dev.sevnet.kernels.KernelTestSupport.assertBitwise;
import static dev.sevnet.kernels.KernelTestSupport.assertClose;
import static dev.sevnet.kernels.KernelTestSupport.nan;
import static dev.sevnet.kernels.KernelTestSupport.ok;
import static dev.sevnet.kernels.KernelTestSupport.randn;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.backend.cpu.NativeCore;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Softmax and loss bodies (kernels/losses.cuh) run on the host, against the CPU ops. */
class LossesHostRunTest {
    // N, K: one class, few, the model's 174 / 400, and rows longer than the 256-thread block
    private static final long[][] SHAPES = {{1, 1}, {3, 1}, {5, 7}, {17, 174}, {4, 400}, {3, 5000}};

    @Test
    void softmaxCrossEntropyMatchesCpu() {
        Random r = new Random(51);
        for (long[] s : SHAPES) {
            long n = s[0], k = s[1];
            try (TensorScope scope = TensorScope.open()) {
                Tensor logits = randn(r, 4.0, n, k);
                long[] lab = new long[(int) n];
                for (int i = 0; i < n; i++) {
                    lab[i] = r.nextInt((int) k);
                }
                Tensor labels = Tensor.ofLongs(lab, n);
                Tensor pRef = nan(n * k);
                Tensor p = nan(n * k);
                Tensor lossRef = nan(1);
                Tensor loss = nan(1);
                ok(NativeCore.sev_softmax_xent_forward(logits.address(), labels.address(), pRef.address(),
                        lossRef.address(), n, k), "cpu");
                ok(NativeCore.sev_hostrun_softmax_xent_forward(logits.address(), labels.address(), p.address(),
                        loss.address(), n, k), "hostrun");
                String what = " N=" + n + " K=" + k;
                assertClose(pRef, p, 1e-6, 1e-12, "probs" + what);
                assertClose(lossRef, loss, 1e-6, 1e-7, "loss" + what);

                Tensor dRef = nan(n * k);
                Tensor d = nan(n * k);
                ok(NativeCore.sev_softmax_xent_backward(pRef.address(), labels.address(), dRef.address(), 0.75f, n, k),
                        "cpu");
                ok(NativeCore.sev_hostrun_softmax_xent_backward(pRef.address(), labels.address(), d.address(), 0.75f,
                        n, k), "hostrun");
                assertBitwise(dRef, d, "dlogits" + what);
            }
        }
    }

    @Test
    void badLabelGivesNanLoss() {
        try (TensorScope scope = TensorScope.open()) {
            Tensor logits = randn(new Random(5), 2, 3);
            Tensor labels = Tensor.ofLongs(new long[] {1, 3}, 2);
            Tensor p = nan(6);
            Tensor loss = Tensor.zeros(Shape.of(1));
            ok(NativeCore.sev_hostrun_softmax_xent_forward(logits.address(), labels.address(), p.address(),
                    loss.address(), 2, 3), "hostrun");
            assertTrue(Float.isNaN(loss.getFloat(0)), "loss " + loss.getFloat(0));
        }
    }

    @Test
    void softmaxMatchesCpu() {
        Random r = new Random(52);
        for (long[] s : SHAPES) {
            long n = s[0], k = s[1];
            try (TensorScope scope = TensorScope.open()) {
                Tensor x = randn(r, 4.0, n, k);
                Tensor yRef = nan(n * k);
                Tensor y = nan(n * k);
                ok(NativeCore.sev_softmax(x.address(), yRef.address(), n, k), "cpu");
                ok(NativeCore.sev_hostrun_softmax(x.address(), y.address(), n, k), "hostrun");
                assertClose(yRef, y, 1e-6, 1e-12, "softmax N=" + n + " K=" + k);
            }
        }
    }

    @Test
    void bceWithLogitsMatchesCpu() {
        Random r = new Random(53);
        for (long[] s : SHAPES) {
            long n = s[0], k = s[1];
            try (TensorScope scope = TensorScope.open()) {
                Tensor x = randn(r, 4.0, n, k);
                float[] t = new float[(int) (n * k)];
                for (int i = 0; i < t.length; i++) {
                    t[i] = r.nextBoolean() ? 1f : 0f;
                }
                Tensor targets = Tensor.of(t, Shape.of(n, k));
                Tensor lossRef = nan(1);
                Tensor loss = nan(1);
                ok(NativeCore.sev_bce_logits_forward(x.address(), targets.address(), lossRef.address(), n, k), "cpu");
                ok(NativeCore.sev_hostrun_bce_logits_forward(x.address(), targets.address(), loss.address(), n, k),
                        "hostrun");
                String what = " N=" + n + " K=" + k;
                assertClose(lossRef, loss, 1e-6, 1e-7, "bce loss" + what);

                Tensor dRef = nan(n * k);
                Tensor d = nan(n * k);
                ok(NativeCore.sev_bce_logits_backward(x.address(), targets.address(), dRef.address(), 2f, n, k),
                        "cpu");
                ok(NativeCore.sev_hostrun_bce_logits_backward(x.address(), targets.address(), d.address(), 2f, n, k),
                        "hostrun");
                assertClose(dRef, d, 1e-6, 1e-9, "bce dlogits" + what);
            }
        }
    }
}
