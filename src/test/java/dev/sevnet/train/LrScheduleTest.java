package dev.sevnet.train;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LrScheduleTest {
    @Test
    void linearScalingRule() {
        assertEquals(0.01, LrSchedule.scaledBaseLr(8), 1e-15);
        assertEquals(0.08, LrSchedule.scaledBaseLr(64), 1e-15);
        assertEquals(0.005, LrSchedule.scaledBaseLr(4), 1e-15);
    }

    @Test
    void warmupThenCosine() {
        // 10 epochs of 5 steps, 2 warm-up epochs: 10 warm-up steps, 40 cosine steps
        LrSchedule s = new LrSchedule(0.1, 2, 10, 5);
        assertEquals(50, s.totalSteps());
        assertEquals(10, s.warmupSteps());
        assertEquals(0.01, s.lr(0), 1e-12);
        assertEquals(0.05, s.lr(4), 1e-12);
        assertEquals(0.1, s.lr(9), 1e-12);
        assertEquals(0.1, s.lr(10), 1e-12);                    // cosine starts at the base rate
        assertEquals(0.05, s.lr(30), 1e-12);                   // half-way through the decay
        assertEquals(0.1 * 0.5 * (1 + Math.cos(Math.PI * 0.25)), s.lr(20), 1e-12);
        assertEquals(0.1 * 0.5 * (1 + Math.cos(Math.PI * 39 / 40.0)), s.lr(49), 1e-12);
        assertTrue(s.lr(49) > 0 && s.lr(49) < 0.001);
        assertEquals(0.0, s.lr(50), 1e-12);                    // past the end: 0
        for (long i = 10; i < 49; i++) {
            assertTrue(s.lr(i + 1) < s.lr(i), "decreasing at " + i);
        }
    }

    @Test
    void noWarmup() {
        LrSchedule s = new LrSchedule(0.2, 0, 4, 1);
        assertEquals(0.2, s.lr(0), 1e-12);
        assertEquals(0.1, s.lr(2), 1e-12);
    }

    @Test
    void rejectsNonsense() {
        assertThrows(IllegalArgumentException.class, () -> new LrSchedule(0.1, 1, 0, 5));
        assertThrows(IllegalArgumentException.class, () -> new LrSchedule(0.1, 1, 5, 0));
    }
}
