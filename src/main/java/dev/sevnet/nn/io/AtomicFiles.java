package dev.sevnet.nn.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/** Atomic file replacement: write a temp file in the target's directory, fsync, rename over the target. */
public final class AtomicFiles {
    private AtomicFiles() {
    }

    /** Writes what {@code body} puts on the channel to {@code target}, atomically. */
    public interface Body {
        void writeTo(FileChannel channel) throws IOException;
    }

    public static void write(Path target, Body body) {
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        Path tmp = null;
        try {
            if (dir != null) {
                Files.createDirectories(dir);
            }
            tmp = Files.createTempFile(dir, "." + abs.getFileName() + ".", ".tmp");
            keepPermissions(tmp, abs);
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                body.writeTo(ch);
                ch.force(true);
            }
            Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            tmp = null;
        } catch (java.nio.channels.ClosedByInterruptException e) {
            // the JDK closes the channel of an interrupted thread (the interrupt flag stays set); its message is null
            throw new UncheckedIOException("interrupted while writing " + target + " (Thread.interrupt): the previous "
                    + "file is unchanged", e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + target + ": " + e.getMessage(), e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // best effort: the target itself was never touched
                }
            }
        }
    }

    /**
     * A temp file is created owner-only (0600); the file it replaces keeps its permissions, and a new one gets the usual
     * rw-r--r-- (without this, metrics.jsonl turned 0600 at the first rewrite).
     */
    private static void keepPermissions(Path tmp, Path target) throws IOException {
        try {
            Files.setPosixFilePermissions(tmp, Files.exists(target) ? Files.getPosixFilePermissions(target)
                    : java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
        } catch (UnsupportedOperationException notPosix) {
            // Windows and other non-POSIX file systems: their defaults stand
        }
    }

    public static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    /** Reads exactly {@code dst.remaining()} bytes at {@code position}; false if the file ends first. */
    static boolean readFully(FileChannel ch, ByteBuffer dst, long position) throws IOException {
        long p = position;
        while (dst.hasRemaining()) {
            int n = ch.read(dst, p);
            if (n < 0) {
                return false;
            }
            p += n;
        }
        return true;
    }
}
