package dev.sevnet.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.autograd.F;
import dev.sevnet.autograd.Var;
import dev.sevnet.nn.Linear;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link LossScaler}: PyTorch GradScaler's defaults and rules, unscaling, accumulation, checkpoint state. */
class LossScalerTest {
    @Test
    void defaultsAreGradScalers() {
        LossScaler s = new LossScaler();
        assertEquals(65536.0, s.scale());
        assertEquals(0, s.goodSteps());
        assertEquals(2000, LossScaler.DEFAULT_GROWTH_INTERVAL);
        assertEquals(2.0, LossScaler.DEFAULT_GROWTH_FACTOR);
        assertEquals(0.5, LossScaler.DEFAULT_BACKOFF_FACTOR);
        assertThrows(IllegalArgumentException.class, () -> new LossScaler(1, 1, 0.5, 10));
        assertThrows(IllegalArgumentException.class, () -> new LossScaler(0, 2, 0.5, 10));
    }

    @Test
    void aNonFiniteGradientSkipsTheStepBacksOffAndLeavesEveryGradientAlone() {
        for (float bad : new float[] {Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN}) {
            LossScaler s = new LossScaler();
            s.update(true);
            s.update(true);
            assertEquals(2, s.goodSteps());
            try (Tensor a = Tensor.of(new float[] {4f, 8f}, 2); Tensor b = Tensor.of(new float[] {1f, bad, 3f}, 3)) {
                assertFalse(s.unscaleAndUpdate(Arrays.asList(a, null, b)));
                assertArrayEquals(new float[] {4f, 8f}, a.toFloatArray(), "untouched");
                assertEquals(32768.0, s.scale());
                assertEquals(0, s.goodSteps());
                assertEquals(1, s.skippedSteps());
            }
        }
    }

    @Test
    void finiteGradientsAreUnscaledInPlaceAndTheScaleGrowsAfterTheInterval() {
        LossScaler s = new LossScaler(1024, 2, 0.5, 3);
        try (Tensor a = Tensor.of(new float[] {1024f, -3072f, 0.5f}, 3)) {
            assertTrue(s.unscaleAndUpdate(List.of(a)));
            assertArrayEquals(new float[] {1f, -3f, 0.5f / 1024}, a.toFloatArray());
        }
        assertEquals(1, s.goodSteps());
        s.update(true);
        assertEquals(1024.0, s.scale());
        s.update(true);
        assertEquals(2048.0, s.scale(), "grown after 3 finite steps");
        assertEquals(0, s.goodSteps());
        s.update(false);
        assertEquals(1024.0, s.scale());
        s.update(true);
        s.update(true);
        assertEquals(1024.0, s.scale(), "the count restarted at the overflow");
        s.update(true);
        assertEquals(2048.0, s.scale());
    }

    @Test
    void accumulatedScaledGradientsUnscaledOnceEqualTheUnscaledAccumulation() {
        float[][] results = new float[2][];
        for (int run = 0; run < 2; run++) {
            boolean scaled = run == 1;
            LossScaler s = new LossScaler();
            try (Linear fc = new Linear(3, 2); TensorScope scope = TensorScope.open()) {
                fc.initialize(3);
                for (int micro = 0; micro < 3; micro++) {
                    Tensor x = Tensor.of(new float[] {1f + micro, -2f, 0.25f * micro, 3f, 0.5f, -1f}, 2, 3);
                    Var loss = F.softmaxCrossEntropy(fc.forward(Var.of(x)), Tensor.ofLongs(new long[] {micro % 2, 1}, 2));
                    // seeded with 1/accum, times the loss scale
                    try (Tensor seed = Tensor.full(Shape.of(1), (float) ((scaled ? s.scale() : 1.0) / 3))) {
                        loss.backward(seed);
                    }
                }
                List<Tensor> grads = new ArrayList<>();
                fc.namedParameters().values().forEach(p -> grads.add(p.grad()));
                if (scaled) {
                    assertTrue(s.unscaleAndUpdate(grads));
                }
                float[] all = new float[0];
                for (Tensor g : grads) {
                    float[] v = g.toFloatArray();
                    float[] joined = Arrays.copyOf(all, all.length + v.length);
                    System.arraycopy(v, 0, joined, all.length, v.length);
                    all = joined;
                }
                results[run] = all;
                fc.zeroGrad();
            }
        }
        // a power-of-two scale is exact in float32 (no overflow, no underflow here)
        assertArrayEquals(results[0], results[1]);
    }

    @Test
    void stateRoundTripsThroughTheCheckpoint(@TempDir java.nio.file.Path dir) {
        LossScaler s = new LossScaler();
        s.update(false);
        s.update(true);
        LossScaler.State st = s.state();
        assertEquals(new LossScaler.State(32768.0, 1), st);
        TrainConfig c = TrainConfig.builder().precision(Precision.FP16).build();
        Checkpoint.State cs = new Checkpoint.State(1, 5, 9, 0.5, 1, 0.5, 1.0, c, List.of("a"), st);
        try (Tensor w = Tensor.zeros(Shape.of(2))) {
            Checkpoint.write(dir.resolve("ck"), Map.of("w", w), Map.of(), cs);
        }
        Checkpoint.State back = Checkpoint.readState(dir.resolve("ck"));
        assertEquals(st, back.lossScaler());
        assertEquals(Precision.FP16, back.config().precision());
        LossScaler t = new LossScaler();
        t.load(back.lossScaler());
        assertEquals(32768.0, t.scale());
        assertEquals(1, t.goodSteps());
        assertThrows(IllegalArgumentException.class, () -> new LossScaler.State(0, 1));
    }

    @Test
    void manyGradientsOneNaNInTheLastElementOfTheLastLeavesThemAllAlone() {
        LossScaler s = new LossScaler(256, 2, 0.5, 10);
        try (TensorScope scope = TensorScope.open()) {
            List<Tensor> grads = new ArrayList<>();
            List<float[]> before = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                float[] v = new float[1 + (i * 37) % 300];
                for (int j = 0; j < v.length; j++) {
                    v[j] = 256f * (j - i);
                }
                grads.add(Tensor.of(v, v.length));
                before.add(v);
            }
            Tensor last = grads.get(grads.size() - 1);
            last.setFloat(last.size() - 1, Float.NaN);
            assertFalse(s.unscaleAndUpdate(grads));
            for (int i = 0; i < grads.size() - 1; i++) {
                assertArrayEquals(before.get(i), grads.get(i).toFloatArray(), "untouched " + i);
            }
            assertEquals(128.0, s.scale());
            last.setFloat(last.size() - 1, 0f);
            assertTrue(s.unscaleAndUpdate(grads));
            for (int i = 0; i < grads.size() - 1; i++) {
                float[] g = grads.get(i).toFloatArray();
                for (int j = 0; j < g.length; j++) {
                    assertEquals(2f * (j - i), g[j], "unscaled " + i + "[" + j + "]");
                }
            }
        }
    }

    @Test
    void aGradientListedTwiceIsUnscaledOnceAndBadGradientsAreRefused() {
        LossScaler s = new LossScaler(4, 2, 0.5, 10);
        try (TensorScope scope = TensorScope.open()) {
            Tensor a = Tensor.of(new float[] {8f, -4f}, 2);
            assertTrue(s.unscale(Arrays.asList(a, null, a)));
            assertArrayEquals(new float[] {2f, -1f}, a.toFloatArray());
            Tensor longs = Tensor.ofLongs(new long[] {1, 2}, 2);
            assertThrows(IllegalArgumentException.class, () -> s.unscale(List.of(a, longs)));
            assertArrayEquals(new float[] {2f, -1f}, a.toFloatArray(), "nothing written before the check");
            assertTrue(s.unscale(List.of()));
        }
    }
}
