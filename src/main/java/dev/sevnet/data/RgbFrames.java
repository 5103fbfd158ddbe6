package dev.sevnet.data;

import java.util.Arrays;
import java.util.List;

/**
 * Decoded frames of one video or clip: 8-bit RGB, row-major, interleaved ({@code [H, W, 3]} per
 * frame). Frames stay on the heap until a batch is assembled, so worker threads never touch
 * off-heap memory.
 *
 * @param width  frame width in pixels
 * @param height frame height in pixels
 * @param frames one {@code width * height * 3} array per frame, in temporal order
 */
public record RgbFrames(int width, int height, List<byte[]> frames) {
    public RgbFrames {
        if (width <= 0 || height <= 0) {
            throw new IllegalArgumentException("frame size must be positive, got " + width + "x" + height);
        }
        frames = List.copyOf(frames);
        long need = 3L * width * height; // in long: 65536 x 65536 x 3 must not wrap to a small size
        if (need > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("frame of " + width + "x" + height + " RGB is too large for one array");
        }
        for (byte[] f : frames) {
            if (f.length != need) {
                throw new IllegalArgumentException("frame of " + f.length + " bytes, expected " + need
                        + " for " + width + "x" + height + " RGB");
            }
        }
    }

    public int count() {
        return frames.size();
    }

    public byte[] frame(int i) {
        return frames.get(i);
    }

    /** The frames at {@code indices} (repeats allowed), sharing the arrays. */
    public RgbFrames select(int[] indices) {
        byte[][] picked = new byte[indices.length][];
        for (int i = 0; i < indices.length; i++) {
            picked[i] = frames.get(indices[i]);
        }
        return new RgbFrames(width, height, Arrays.asList(picked));
    }

    /** Red, green, blue of pixel (x, y) of frame {@code t}, each 0..255. */
    public int[] pixel(int t, int x, int y) {
        byte[] f = frames.get(t);
        int o = (y * width + x) * 3;
        return new int[] {f[o] & 0xFF, f[o + 1] & 0xFF, f[o + 2] & 0xFF};
    }
}
