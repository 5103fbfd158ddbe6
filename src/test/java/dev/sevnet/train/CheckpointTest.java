package dev.sevnet.train;

import dev.sevnet.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CheckpointTest {
    private static Checkpoint.State state(int epoch) {
        return new Checkpoint.State(epoch, 10L * epoch, -1234567890123L, 0.75, 1, 0.5, 12.5,
                TrainConfig.builder().epochs(5).build(), List.of("a", "b"));
    }

    @Test
    void roundTrip(@TempDir Path dir) {
        Path ck = dir.resolve("last");
        try (Tensor w = Tensor.of(new float[] {1, 2, 3}, 3); Tensor v = Tensor.of(new float[] {4, 5, 6}, 3)) {
            Checkpoint.write(ck, Map.of("fc.weight", w), Map.of("fc.weight.momentum_buffer", v), state(2));
        }
        Checkpoint.State s = Checkpoint.readState(ck);
        assertEquals(2, s.epoch());
        assertEquals(20, s.step());
        assertEquals(-1234567890123L, s.rngState());
        assertEquals(0.75, s.bestScore());
        assertEquals(List.of("a", "b"), s.labels());
        assertEquals(5, s.config().epochs());
        Map<String, Tensor> m = Checkpoint.readModel(ck);
        Map<String, Tensor> o = Checkpoint.readOptimizer(ck);
        try {
            assertArrayEquals(new float[] {1, 2, 3}, m.get("fc.weight").toFloatArray());
            assertArrayEquals(new float[] {4, 5, 6}, o.get("fc.weight.momentum_buffer").toFloatArray());
        } finally {
            m.values().forEach(Tensor::close);
            o.values().forEach(Tensor::close);
        }
        // a run directory resolves to its last checkpoint
        assertEquals(ck, Checkpoint.resolve(dir));
    }

    @Test
    void aFailureMidWriteLeavesThePreviousCheckpointWhole(@TempDir Path dir) throws Exception {
        Path ck = dir.resolve("last");
        try (Tensor w = Tensor.of(new float[] {1, 2, 3}, 3)) {
            Checkpoint.write(ck, Map.of("w", w), Map.of(), state(1));
        }
        // the model file is written, then the optimizer state fails (a closed tensor)
        Tensor closed = Tensor.of(new float[] {9}, 1);
        closed.close();
        Map<String, Tensor> opt = new LinkedHashMap<>();
        opt.put("w.momentum_buffer", closed);
        try (Tensor w2 = Tensor.of(new float[] {7, 8, 9}, 3)) {
            assertThrows(RuntimeException.class, () -> Checkpoint.write(ck, Map.of("w", w2), opt, state(2)));
        }
        assertEquals(1, Checkpoint.readState(ck).epoch());
        Map<String, Tensor> m = Checkpoint.readModel(ck);
        try {
            assertArrayEquals(new float[] {1, 2, 3}, m.get("w").toFloatArray());
        } finally {
            m.values().forEach(Tensor::close);
        }
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of(ck), s.toList(), "no temp folder left behind");
        }
    }

    @Test
    void aFailedFirstWriteLeavesNothing(@TempDir Path dir) throws Exception {
        Tensor closed = Tensor.of(new float[] {9}, 1);
        closed.close();
        assertThrows(RuntimeException.class, () -> Checkpoint.write(dir.resolve("last"), Map.of("w", closed), Map.of(), state(1)));
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(0, s.count(), "no partial last/ and no temp folder");
        }
        assertThrows(IllegalArgumentException.class, () -> Checkpoint.resolve(dir.resolve("last")));
    }

    @Test
    void aCrashBetweenTheRenamesIsRecovered(@TempDir Path dir) throws Exception {
        Path ck = dir.resolve("best");
        try (Tensor w = Tensor.of(new float[] {1}, 1)) {
            Checkpoint.write(ck, Map.of("w", w), Map.of(), state(3));
        }
        // simulate the crash window: the old checkpoint moved aside, the new one not yet in place
        Files.move(ck, dir.resolve(".best.old"));
        assertEquals(dir.resolve(".best.old"), Checkpoint.resolve(ck));
        assertEquals(3, Checkpoint.readState(ck).epoch());
        assertTrue(Files.exists(dir.resolve(".best.old").resolve(Checkpoint.MODEL_FILE)));
    }

    @Test
    void unreadableStateIsAClearError(@TempDir Path dir) throws Exception {
        Files.createDirectories(dir.resolve("x"));
        Files.writeString(dir.resolve("x").resolve(Checkpoint.STATE_FILE), "{not json");
        var e = assertThrows(IllegalArgumentException.class, () -> Checkpoint.readState(dir.resolve("x")));
        assertTrue(e.getMessage().contains("state.json"));
    }
}
