package dev.sevnet.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.backend.DeviceOutOfMemoryException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The trainer's recovery from a device out-of-memory error, driven by a fake step. */
class OutOfMemorySplitterTest {
    /** A step that runs out of memory above {@code fits} samples at once; records what it ran. */
    static final class FakeStep implements OutOfMemorySplitter.Chunk {
        final int fits;
        final List<int[]> ran = new ArrayList<>();
        double weights;
        int discards;

        FakeStep(int fits) {
            this.fits = fits;
        }

        @Override
        public void run(int from, int to, double weight) {
            if (to - from > fits) {
                throw new DeviceOutOfMemoryException("fake:0", (to - from) * 100L, 50, 0, 1000);
            }
            ran.add(new int[] {from, to});
            weights += weight;
        }
    }

    @Test
    void aBatchThatFitsRunsInOnePiece() {
        OutOfMemorySplitter s = new OutOfMemorySplitter();
        FakeStep f = new FakeStep(16);
        s.run(16, f, () -> f.discards++);
        assertEquals(1, f.ran.size());
        assertEquals(1.0, f.weights, 1e-12);
        assertEquals(0, f.discards);
    }

    @Test
    void outOfMemoryHalvesTheChunksUntilTheyFitAndRemembersIt() {
        OutOfMemorySplitter s = new OutOfMemorySplitter();
        FakeStep f = new FakeStep(5);
        s.run(16, f, () -> {
            f.discards++;
            f.ran.clear();
            f.weights = 0;
        });
        assertEquals(4, s.chunks(), "16 -> 8 -> 4 clips per chunk");
        assertEquals(2, f.discards);
        assertEquals(4, f.ran.size());
        assertEquals(1.0, f.weights, 1e-12, "chunk weights add up to the whole batch");
        int covered = 0;
        for (int[] r : f.ran) {
            assertEquals(covered, r[0], "chunks tile the batch in order");
            covered = r[1];
        }
        assertEquals(16, covered);
        // the next batch starts with the smaller chunks right away
        FakeStep g = new FakeStep(5);
        s.run(16, g, () -> g.discards++);
        assertEquals(0, g.discards);
        assertEquals(4, g.ran.size());
        // a ragged last batch of 7 clips: 4 chunks of 1-2 clips
        FakeStep h = new FakeStep(5);
        s.run(7, h, () -> h.discards++);
        assertEquals(4, h.ran.size());
        assertEquals(1.0, h.weights, 1e-12);
    }

    @Test
    void whenOneClipDoesNotFitTheErrorSaysSo() {
        OutOfMemorySplitter s = new OutOfMemorySplitter();
        FakeStep f = new FakeStep(0);
        var e = assertThrows(DeviceOutOfMemoryException.Unrecoverable.class, () -> s.run(4, f, () -> { }));
        assertTrue(e.getMessage().contains("even one clip"), e.getMessage());
        assertTrue(e.getCause() instanceof DeviceOutOfMemoryException);
    }
}
