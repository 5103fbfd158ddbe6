package dev.sevnet.backend;

import static dev.sevnet.backend.OpsTestSupport.B;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.MemoryStats;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * Bad arguments to every non-conv op: each must be an {@link IllegalArgumentException} with a
 * message, thrown in Java before any native call (a native call with a wrong shape would read or
 * write out of bounds and could take the JVM down).
 */
class CpuBackendArgumentTest {
    private TensorScope scope;

    @BeforeEach
    void open() {
        scope = TensorScope.open();
    }

    @AfterEach
    void close() {
        scope.close();
    }

    private static void bad(String what, Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call, what);
        assertTrue(e.getMessage() != null && !e.getMessage().isBlank(), what + ": exception without a message");
    }

    private static Tensor f(long... dims) {
        return Tensor.zeros(Shape.of(dims));
    }

    private static Tensor closed(long... dims) {
        Tensor t = f(dims);
        t.close();
        return t;
    }

    private static Tensor longs(long... dims) {
        return Tensor.zeros(Shape.of(dims), DType.INT64);
    }

    private static Tensor half(long... dims) {
        return Tensor.zeros(Shape.of(dims), DType.FLOAT16);
    }

    @Test
    void batchNorm() {
        Tensor x = f(2, 3, 2, 2, 2);
        Tensor c3 = f(3);
        Tensor c3b = f(3);
        bad("rank-1 input", () -> B.batchNormTrain(f(6), c3, c3, null, null, 1e-5, 0.1));
        bad("gamma of the wrong size", () -> B.batchNormTrain(x, f(4), c3, null, null, 1e-5, 0.1));
        bad("gamma of the wrong rank", () -> B.batchNormTrain(x, f(1, 3), c3, null, null, 1e-5, 0.1));
        // (batchNormTrain has a 16-bit form for mixed precision: HalfTrainingOpsTest; evaluation has none)
        bad("float16 input", () -> B.batchNormEval(half(2, 3, 4), c3, c3, c3b, c3b, 1e-5, false));
        bad("int64 input", () -> B.batchNormTrain(Tensor.zeros(Shape.of(2, 3, 4), DType.INT64), c3, c3, null, null, 1e-5,
                0.1));
        bad("closed input", () -> B.batchNormTrain(closed(2, 3, 4), c3, c3, null, null, 1e-5, 0.1));
        bad("closed running_var", () -> B.batchNormTrain(x, c3, c3, c3b, closed(3), 1e-5, 0.1));
        bad("only running_mean", () -> B.batchNormTrain(x, c3, c3, c3b, null, 1e-5, 0.1));
        bad("one value per channel", () -> B.batchNormTrain(f(1, 3, 1), c3, c3, null, null, 1e-5, 0.1));
        bad("null input", () -> B.batchNormTrain(null, c3, c3, null, null, 1e-5, 0.1));

        bad("eval without running stats", () -> B.batchNormEval(x, c3, c3, null, null, 1e-5, false));
        bad("eval running_var of the wrong size", () -> B.batchNormEval(x, c3, c3, c3b, f(2), 1e-5, true));
        bad("eval int64 input", () -> B.batchNormEval(longs(2, 3, 4), c3, c3, c3, c3b, 1e-5, false));

        bad("backward dy of another shape", () -> B.batchNormBackward(x, f(2, 3, 8), c3, c3, c3b));
        bad("backward without save_mean", () -> B.batchNormBackward(x, f(2, 3, 2, 2, 2), c3, null, c3b));
        bad("backward without save_invstd", () -> B.batchNormBackward(x, f(2, 3, 2, 2, 2), c3, c3, null));
        bad("backward save_mean of the wrong size", () -> B.batchNormBackward(x, f(2, 3, 2, 2, 2), c3, f(2), c3b));
        bad("backward closed dy", () -> B.batchNormBackward(x, closed(2, 3, 2, 2, 2), c3, c3, c3b));
    }

    @Test
    void elementwise() {
        Tensor a = f(2, 3);
        bad("relu of a closed tensor", () -> B.relu(closed(2, 3)));
        bad("relu of int64", () -> B.relu(longs(2, 3)));
        bad("relu of null", () -> B.relu(null));
        bad("relu backward, shapes differ", () -> B.reluBackward(a, f(3, 2)));
        bad("add, shapes differ", () -> B.add(a, f(6)));
        bad("add, float16", () -> B.add(a, half(2, 3)));
        bad("add+relu, shapes differ", () -> B.addRelu(a, f(2, 4)));
        bad("add+relu, closed", () -> B.addRelu(closed(2, 3), a));
        bad("mul, shapes differ", () -> B.mul(f(2, 3, 1), a));
        bad("scale of a closed tensor", () -> B.scale(closed(4), 2f));
        bad("axpby, sizes differ", () -> B.axpby(1f, a, 1f, f(5)));
        bad("axpby into a closed y", () -> B.axpby(1f, a, 0f, closed(2, 3)));
        bad("fill of int64", () -> B.fill(longs(3), 1f));
        bad("fill of a closed tensor", () -> B.fill(closed(3), 1f));
        bad("sigmoid of float16", () -> B.sigmoid(half(3)));
        bad("sigmoid backward, shapes differ", () -> B.sigmoidBackward(a, f(2, 2)));
    }

    @Test
    void dropout() {
        Tensor x = f(10);
        bad("p = 1", () -> B.dropout(x, 1f, 1L));
        bad("p > 1", () -> B.dropout(x, 1.5f, 1L));
        bad("p < 0", () -> B.dropout(x, -0.1f, 1L));
        bad("p NaN", () -> B.dropout(x, Float.NaN, 1L));
        bad("closed input", () -> B.dropout(closed(10), 0.5f, 1L));
        bad("int64 input", () -> B.dropout(longs(10), 0.5f, 1L));
    }

    @Test
    void shapeOps() {
        bad("concat, batch differs", () -> B.concatChannels(f(2, 3, 4), f(3, 3, 4)));
        bad("concat, spatial differs", () -> B.concatChannels(f(2, 3, 4), f(2, 3, 5)));
        bad("concat, same spatial size but another layout", () -> B.concatChannels(f(1, 2, 2, 3), f(1, 2, 3, 2)));
        bad("concat, ranks differ", () -> B.concatChannels(f(2, 3, 4), f(2, 3, 2, 2)));
        bad("concat of rank 1", () -> B.concatChannels(f(3), f(3)));
        bad("concat of a closed tensor", () -> B.concatChannels(f(2, 3, 4), closed(2, 3, 4)));
        bad("split at 0", () -> B.splitChannels(f(2, 4, 3), 0));
        bad("split at C", () -> B.splitChannels(f(2, 4, 3), 4));
        bad("split of rank 1", () -> B.splitChannels(f(4), 2));
        bad("channel scale, g of the wrong shape", () -> B.channelScale(f(2, 3, 4), f(3, 2)));
        bad("channel scale, g of rank 1", () -> B.channelScale(f(2, 3, 4), f(6)));
        bad("channel scale, closed g", () -> B.channelScale(f(2, 3, 4), closed(2, 3)));
        bad("channel scale backward, dy differs", () -> B.channelScaleBackward(f(2, 3, 4), f(2, 3), f(2, 3, 5)));
    }

    @Test
    void pooling() {
        ConvSpec k = ConvSpec.builder().kernel(1, 3, 3).stride(1, 2, 2).padding(0, 1, 1).build();
        bad("avg-pool of rank 4", () -> B.avgPool3d(f(2, 3, 8, 8), k));
        bad("avg-pool, padding over half the window",
                () -> B.avgPool3d(f(1, 1, 4, 4, 4), ConvSpec.builder().kernel(2, 2, 2).padding(0, 0, 2).build()));
        bad("avg-pool, window larger than the input", () -> B.avgPool3d(f(1, 1, 1, 2, 2), ConvSpec.of(3)));
        bad("avg-pool of a closed tensor", () -> B.avgPool3d(closed(1, 1, 4, 4, 4), k));
        bad("avg-pool, null window", () -> B.avgPool3d(f(1, 1, 4, 4, 4), null));
        bad("avg-pool backward, dy of the wrong shape",
                () -> B.avgPool3dBackward(f(1, 1, 4, 5, 5), k, Shape.of(1, 1, 4, 8, 8)));
        bad("avg-pool backward, x shape of rank 4", () -> B.avgPool3dBackward(f(1, 1, 4, 4), k, Shape.of(1, 1, 8, 8)));
        bad("global avg-pool of rank 2", () -> B.globalAvgPool(f(2, 3)));
        bad("global avg-pool of an empty volume", () -> B.globalAvgPool(f(2, 3, 0, 4, 4)));
        // float16 / bfloat16 input is the 16-bit inference form (fp32 out, HalfOpsHostRunTest); int64 is not
        bad("global avg-pool of int64", () -> B.globalAvgPool(longs(2, 3, 4)));
        bad("global avg-pool backward of float16 dy", () -> B.globalAvgPoolBackward(half(2, 3), Shape.of(2, 3, 4)));
        bad("global avg-pool backward, dy of the wrong shape",
                () -> B.globalAvgPoolBackward(f(2, 4), Shape.of(2, 3, 2, 2, 2)));
        bad("global avg-pool backward, x shape of rank 2", () -> B.globalAvgPoolBackward(f(2, 3), Shape.of(2, 3)));
    }

    @Test
    void dense() {
        Tensor x = f(4, 5);
        Tensor w = f(3, 5);
        bad("linear, features differ", () -> B.linear(f(4, 6), w, null));
        bad("linear, bias of the wrong size", () -> B.linear(x, w, f(4)));
        bad("linear, int64 bias", () -> B.linear(x, w, longs(3)));
        bad("linear of rank 3", () -> B.linear(f(4, 5, 1), w, null));
        bad("linear, weight of rank 1", () -> B.linear(x, f(5), null));
        bad("linear, closed weight", () -> B.linear(x, closed(3, 5), null));
        bad("linear backward, features differ", () -> B.linearBackward(f(4, 2), w, f(4, 3), true));
        bad("linear backward, dy of the wrong shape", () -> B.linearBackward(x, w, f(4, 4), false));
        bad("gemm, inner dims differ", () -> B.gemm(false, false, 1f, f(2, 3), f(4, 5), 0f, f(2, 5)));
        bad("gemm, C of the wrong shape", () -> B.gemm(false, true, 1f, f(2, 3), f(5, 3), 0f, f(2, 3)));
        bad("gemm of rank 3", () -> B.gemm(false, false, 1f, f(2, 3, 1), f(3, 5), 0f, f(2, 5)));
    }

    @Test
    void losses() {
        Tensor logits = f(3, 4);
        bad("float labels", () -> B.softmaxCrossEntropy(logits, f(3)));
        bad("label = K", () -> B.softmaxCrossEntropy(logits, Tensor.ofLongs(new long[] {0, 4, 1}, 3)));
        bad("negative label", () -> B.softmaxCrossEntropy(logits, Tensor.ofLongs(new long[] {0, -1, 1}, 3)));
        bad("labels of the wrong length", () -> B.softmaxCrossEntropy(logits, Tensor.ofLongs(new long[] {0, 1}, 2)));
        bad("labels of rank 2", () -> B.softmaxCrossEntropy(logits, longs(3, 1)));
        bad("closed labels", () -> {
            Tensor l = longs(3);
            l.close();
            B.softmaxCrossEntropy(logits, l);
        });
        bad("logits of rank 1", () -> B.softmaxCrossEntropy(f(4), longs(4)));
        bad("backward, label out of range",
                () -> B.softmaxCrossEntropyBackward(logits, Tensor.ofLongs(new long[] {0, 9, 1}, 3), 1f));
        bad("backward, float labels", () -> B.softmaxCrossEntropyBackward(logits, f(3), 1f));
        bad("BCE, targets of another shape", () -> B.bceWithLogits(logits, f(4, 3)));
        bad("BCE, int64 targets", () -> B.bceWithLogits(logits, longs(3, 4)));
        bad("BCE of rank 1", () -> B.bceWithLogits(f(12), f(12)));
        bad("BCE backward, closed logits", () -> B.bceWithLogitsBackward(closed(3, 4), f(3, 4), 1f));
        bad("softmax of rank 3", () -> B.softmax(f(2, 3, 4)));
        bad("softmax over zero classes", () -> B.softmax(f(2, 0)));
    }

    @Test
    void optimizerAndReductions() {
        Tensor w = f(10);
        bad("sgd, grad of another shape", () -> B.sgdMomentumStep(w, f(11), f(10), 0.1f, 0.9f, 1e-4f));
        bad("sgd, velocity of another shape", () -> B.sgdMomentumStep(w, f(10), f(2, 5), 0.1f, 0.9f, 1e-4f));
        bad("sgd, closed velocity", () -> B.sgdMomentumStep(w, f(10), closed(10), 0.1f, 0.9f, 1e-4f));
        bad("sum of int64", () -> B.sum(longs(3)));
        bad("sum of a closed tensor", () -> B.sum(closed(3)));
        bad("toDevice of a closed tensor", () -> B.toDevice(closed(3)));
    }

    @Test
    void failedCallsLeakNothing() {
        // an argument error must not leave a half-made result behind, even outside a scope
        scope.close();
        long before = MemoryStats.liveHostBytes();
        try (Tensor x = f(4, 5); Tensor w = f(3, 5); Tensor b = f(4)) {
            long withInputs = MemoryStats.liveHostBytes();
            bad("linear, bias of the wrong size", () -> B.linear(x, w, b));
            assertEquals(withInputs, MemoryStats.liveHostBytes(), "linear leaked its output on a bad bias");
        }
        assertEquals(before, MemoryStats.liveHostBytes());
        scope = TensorScope.open();
    }
}
