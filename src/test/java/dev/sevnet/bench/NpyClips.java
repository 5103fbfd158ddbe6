package dev.sevnet.bench;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/**
 * Writes COUNT float32 .npy files (NumPy format 1.0, C order) of shape (3, FRAMES, SIZE, SIZE), standard
 * normal values (seed = file index), named 00.npy, 01.npy, ...: the decoded-clip bodies
 * (application/x-npy) of bench/serve_load.sh's npy rounds. Not a unit test: run with
 * {@code java -cp target/test-classes dev.sevnet.bench.NpyClips DIR FRAMES SIZE COUNT}.
 */
public final class NpyClips {
    private NpyClips() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println("usage: NpyClips DIR FRAMES SIZE COUNT");
            System.exit(2);
        }
        Path dir = Path.of(args[0]);
        int frames = Integer.parseInt(args[1]);
        int size = Integer.parseInt(args[2]);
        int count = Integer.parseInt(args[3]);
        Files.createDirectories(dir);
        for (int i = 0; i < count; i++) {
            Files.write(dir.resolve(String.format("%02d.npy", i)), clip(frames, size, new Random(i)));
        }
    }

    static byte[] clip(int frames, int size, Random r) {
        int n = 3 * frames * size * size;
        String h = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, " + frames + ", " + size + ", " + size + "), }";
        // magic (6) + version (2) + header length (2) + header + '\n' padded to a multiple of 64
        int pad = 64 - (10 + h.length() + 1) % 64;
        h = h + " ".repeat(pad % 64) + "\n";
        ByteBuffer b = ByteBuffer.allocate(10 + h.length() + 4 * n).order(ByteOrder.LITTLE_ENDIAN);
        b.put((byte) 0x93).put("NUMPY".getBytes(StandardCharsets.US_ASCII)).put((byte) 1).put((byte) 0)
                .putShort((short) h.length()).put(h.getBytes(StandardCharsets.US_ASCII));
        for (int k = 0; k < n; k++) {
            b.putFloat((float) r.nextGaussian());
        }
        return b.array();
    }
}
