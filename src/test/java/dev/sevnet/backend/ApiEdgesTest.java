package dev.sevnet.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.data.Clip;
import dev.sevnet.data.ClipTransform;
import dev.sevnet.data.RgbFrames;
import dev.sevnet.nn.SevNet;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.MemoryStats;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import dev.sevnet.train.TrainConfig;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The public API's edges found by an audit: sizes that overflow 64 bits are clear errors (they used to wrap and
 * reach native code with a tiny buffer), scopes closed out of order lose nothing, {@code keep} never closes a tensor
 * it does not own, shared constants cannot be changed, builders reject names and numbers at {@code build()}.
 */
class ApiEdgesTest {
    @Test
    void aTensorWhoseByteSizeOverflowsIsRefusedBeforeAnyAllocation() {
        long before = MemoryStats.liveHostBytes();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tensor.empty(Shape.of(1L << 61)));
        assertTrue(e.getMessage().contains("too large"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(Shape.of(1L << 62)));
        assertThrows(IllegalArgumentException.class, () -> Tensor.empty(Shape.of(1L << 62), DType.BFLOAT16));
        assertEquals(before, MemoryStats.liveHostBytes());
        assertThrows(ArithmeticException.class, () -> Shape.of(1L << 40, 1L << 40).sizeFrom(0));
        IndexOutOfBoundsException axis = assertThrows(IndexOutOfBoundsException.class, () -> Shape.of(2, 3).get(5));
        assertTrue(axis.getMessage().contains("axis 5"), axis.getMessage());
    }

    @Test
    void scopesClosedOutOfOrderCanStillBeClosedInOrderAndFreeEverything() {
        long before = MemoryStats.liveHostBytes();
        TensorScope outer = TensorScope.open();
        Tensor.zeros(Shape.of(1 << 16));
        TensorScope inner = TensorScope.open();
        Tensor.zeros(Shape.of(1 << 10));
        assertThrows(IllegalStateException.class, outer::close);
        inner.close();
        outer.close();
        assertEquals(before, MemoryStats.liveHostBytes(), "both scopes freed their tensors");
        try (Tensor free = Tensor.zeros(Shape.of(3))) {
            // no dead scope left on the thread's stack to adopt it
            assertTrue(!free.isClosed());
        }
    }

    @Test
    void keepRefusesATensorTheScopeDoesNotOwn() {
        try (Tensor mine = Tensor.zeros(Shape.of(3))) {
            try (TensorScope o = TensorScope.open(); TensorScope i = TensorScope.open()) {
                assertThrows(IllegalArgumentException.class, () -> i.keep(mine));
            }
            assertTrue(!mine.isClosed(), "the caller's tensor stays the caller's");
        }
    }

    @Test
    void sharedConstantsAreCopies() {
        int[] d = SevNet.depths();
        d[0] = 1;
        assertEquals(3, SevNet.depths()[0]);
        float[] m = ClipTransform.imagenetMean();
        m[0] = 0;
        assertNotEquals(0f, ClipTransform.imagenetMean()[0]);
    }

    @Test
    void buildersAndValueTypesRejectWhatCannotWork() {
        assertThrows(IllegalArgumentException.class, () -> TrainConfig.builder().model("foo").build());
        // views: "10x3x2" used to run as 10x3, and 100000 clips ran out of memory instead of being refused
        assertThrows(IllegalArgumentException.class, () -> TrainConfig.builder().views("10x3x2"));
        assertThrows(IllegalArgumentException.class, () -> TrainConfig.builder().views("10x"));
        assertThrows(IllegalArgumentException.class, () -> TrainConfig.builder().views("100000x3").build());
        assertEquals(30, TrainConfig.builder().views("10x3").build().testClips() * 3);
        assertThrows(IllegalArgumentException.class, () -> TrainConfig.builder().device("bogus").build());
        assertThrows(IllegalArgumentException.class, () -> TrainConfig.builder().recipe("nope").build());
        assertThrows(IllegalArgumentException.class, () -> TrainConfig.builder().lr(Double.POSITIVE_INFINITY).build());
        assertThrows(IllegalArgumentException.class,
                () -> TrainConfig.builder().weightDecay(Double.POSITIVE_INFINITY).build());
        assertThrows(IllegalArgumentException.class, () -> new RgbFrames(65536, 65536, List.of(new byte[0])));
        assertThrows(IllegalArgumentException.class, () -> new Clip(new float[3], -1, -1, 1, new int[0]));
        assertThrows(IllegalArgumentException.class, () -> dev.sevnet.infer.Predictor.builder()
                .checkpoint(java.nio.file.Path.of("x")).maxBatch(Integer.MAX_VALUE).build());
        assertThrows(IllegalArgumentException.class, () -> dev.sevnet.infer.Predictor.builder()
                .checkpoint(java.nio.file.Path.of("x")).queueCapacity(Integer.MAX_VALUE).build());
        assertThrows(IllegalArgumentException.class, () -> dev.sevnet.infer.Predictor.builder()
                .checkpoint(java.nio.file.Path.of("x")).inFlight(100000).build());
    }

    @Test
    void predictorStatsCompareAndPrintByValue() {
        var a = new dev.sevnet.infer.Predictor.Stats(1, 1, 0, 0, 0, 1, 1, 0, 0, new long[] {0, 1}, 0, 0);
        var b = new dev.sevnet.infer.Predictor.Stats(1, 1, 0, 0, 0, 1, 1, 0, 0, new long[] {0, 1}, 0, 0);
        assertEquals(a, b);
        assertEquals(a.hashCode(), b.hashCode());
        assertTrue(a.toString().contains("batchSizes=[0, 1]"), a.toString());
    }
}
