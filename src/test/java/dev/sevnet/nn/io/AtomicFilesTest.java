package dev.sevnet.nn.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An interrupted atomic write says so (the JDK's exception has no message), leaves the old file and no temp file. */
class AtomicFilesTest {
    @Test
    void anInterruptedWriteSaysSoAndLosesNothing(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("state.json");
        byte[] old = "{\"epoch\": 3}".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        AtomicFiles.write(f, ch -> AtomicFiles.writeFully(ch, ByteBuffer.wrap(old)));
        Thread.currentThread().interrupt();
        UncheckedIOException e;
        try {
            e = assertThrows(UncheckedIOException.class, () -> AtomicFiles.write(f,
                    ch -> AtomicFiles.writeFully(ch, ByteBuffer.wrap(new byte[] {1, 2, 3}))));
        } finally {
            assertTrue(Thread.interrupted(), "the interrupt stays visible to the caller");
        }
        assertTrue(e.getMessage().contains("interrupted") && e.getMessage().contains("state.json"), e.getMessage());
        assertArrayEquals(old, Files.readAllBytes(f));
        try (var s = Files.list(dir)) {
            assertEquals(1, s.count(), "no temp file left");
        }
    }
}
