package dev.sevnet.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The data pipeline's values against mmaction2 / mmcv, from references written here: mmcv's
 * {@code rescale_size} + OpenCV INTER_LINEAR geometry (half-pixel centres, edge clamping) + crop +
 * ImageIO-free normalisation, mmaction2's TSN test offsets, and OpenCV's reading of grey frames.
 */
class DataSemanticsAuditTest {
    private static final double[] MEAN = {123.675, 116.28, 103.53};
    private static final double[] STD = {58.395, 57.12, 57.375};

    /** mmcv.rescale_size(old, (inf, s)): {@code int(x * scale + 0.5)} with {@code scale = s / min(w, h)}. */
    private static int[] mmcvRescale(int w, int h, int s) {
        double scale = Math.min(Double.POSITIVE_INFINITY / Math.max(w, h), (double) s / Math.min(w, h));
        return new int[] {(int) (w * scale + 0.5), (int) (h * scale + 0.5)};
    }

    /** OpenCV INTER_LINEAR source coordinate of destination pixel d, clamped as cv::resize does: {lo, hi, weight}. */
    private static double[] tap(int d, int dst, int src) {
        double f = (d + 0.5) * ((double) src / dst) - 0.5;
        int lo = (int) Math.floor(f);
        double w = f - lo;
        if (lo < 0) {
            lo = 0;
            w = 0;
        }
        if (lo >= src - 1) {
            lo = src - 1;
            w = 0;
        }
        return new double[] {lo, Math.min(lo + 1, src - 1), w};
    }

    /** Resize to (rw, rh), crop (x0, y0, size), optional mirror, normalise: [3, T, size, size]. */
    private static double[] reference(RgbFrames f, int rw, int rh, int x0, int y0, int size, boolean mirror) {
        int t = f.count();
        double[] out = new double[3 * t * size * size];
        for (int k = 0; k < t; k++) {
            for (int oy = 0; oy < size; oy++) {
                double[] ty = tap(y0 + oy, rh, f.height());
                for (int ox = 0; ox < size; ox++) {
                    double[] tx = tap(mirror ? x0 + size - 1 - ox : x0 + ox, rw, f.width());
                    for (int c = 0; c < 3; c++) {
                        double a = f.pixel(k, (int) tx[0], (int) ty[0])[c];
                        double b = f.pixel(k, (int) tx[1], (int) ty[0])[c];
                        double cc = f.pixel(k, (int) tx[0], (int) ty[1])[c];
                        double d = f.pixel(k, (int) tx[1], (int) ty[1])[c];
                        double top = a + (b - a) * tx[2];
                        double bottom = cc + (d - cc) * tx[2];
                        double v = top + (bottom - top) * ty[2];
                        out[((c * t + k) * size + oy) * size + ox] = (v - MEAN[c]) / STD[c];
                    }
                }
            }
        }
        return out;
    }

    private static RgbFrames noise(int w, int h, int t, long seed) {
        Random r = new Random(seed);
        List<byte[]> frames = new ArrayList<>();
        for (int k = 0; k < t; k++) {
            byte[] b = new byte[w * h * 3];
            r.nextBytes(b);
            frames.add(b);
        }
        return new RgbFrames(w, h, frames);
    }

    private static void assertClose(double[] want, float[] got, String what) {
        assertEquals(want.length, got.length, what);
        for (int i = 0; i < want.length; i++) {
            assertEquals(want[i], got[i], 2e-4, what + " at " + i);
        }
    }

    /**
     * 15 x 6 to short side 101: 15 * 101 / 6 = 252.5 exactly, but mmcv's {@code int(15 * (101 / 6) + 0.5)} gives
     * 252 (the double 101 / 6 is just below), where rounding the exact quotient gave 253. Same for an SSV1-like
     * 175 x 100 frame trained at short side 226 (395.5 -> 395) and a 325 x 320 one tested at 224 (227.5 -> 227).
     */
    @Test
    void longSideIsRoundedAsMmcvRescaleSize() {
        int[][] cases = {{15, 6, 101, 101}, {175, 100, 226, 224}, {325, 320, 224, 224}, {6, 15, 101, 101}};
        for (int[] c : cases) {
            int w = c[0];
            int h = c[1];
            int s = c[2];
            int size = c[3];
            RgbFrames f = noise(w, h, 2, w * 31L + h);
            int[] r = mmcvRescale(w, h, s);
            ClipTransform ct = ClipTransform.builder().size(size).shortSideRange(size, size).testShortSide(s).build();
            for (int crop = 0; crop < 3; crop++) {
                int sx = r[0] - size;
                int sy = r[1] - size;
                int x0 = sx >= sy ? crop * (sx / 2) : sx / 2;
                int y0 = sx >= sy ? sy / 2 : crop * (sy / 2);
                assertClose(reference(f, r[0], r[1], x0, y0, size, false),
                        ct.test(f, new int[] {0}, crop, 3).data(), w + "x" + h + " at " + s + ", crop " + crop);
            }
        }
    }

    /** Training: short side uniform in [lo, hi] inclusive, crop uniform over every position, same for all frames. */
    @Test
    void trainClipsMatchAnIndependentResizeCropReference() {
        RgbFrames f = noise(175, 100, 3, 5);
        ClipTransform ct = ClipTransform.builder().size(96).shortSideRange(100, 140).flip(true).build();
        for (long seed = 0; seed < 12; seed++) {
            Random draw = new Random(seed); // the documented order: scale, x, y, flip
            int s = 100 + draw.nextInt(41);
            int[] r = mmcvRescale(175, 100, s);
            int x0 = draw.nextInt(r[0] - 96 + 1);
            int y0 = draw.nextInt(r[1] - 96 + 1);
            boolean flip = draw.nextBoolean();
            assertClose(reference(f, r[0], r[1], x0, y0, 96, flip), ct.train(f, new int[] {0}, new Random(seed)).data(),
                    "seed " + seed + " (short side " + s + ")");
        }
    }

    /**
     * mmaction2's {@code _get_test_clips} for clip_len 1 is {@code (arange(T) * avg + avg / 2).astype(int)}; with 24
     * segments a centre can fall exactly on a frame boundary, and these are numpy's answers (the segment-length
     * product used before gave 5 and 19 / 27 here).
     */
    @Test
    void tsnTestOffsetsAreMmaction2sForTwentyFourSegments() {
        TsnSampler s = new TsnSampler(24);
        assertArrayEquals(new int[] {0, 1, 1, 2, 3, 3, 4, 4, 5, 6, 6, 7, 8, 9, 9, 10, 11, 11, 12, 13, 13, 14, 15, 15},
                s.sampleTest(16, 0, 1));
        assertArrayEquals(new int[] {0, 2, 3, 4, 6, 7, 8, 9, 11, 12, 13, 15, 16, 18, 19, 20, 22, 23, 24, 26, 27, 28,
            30, 31}, s.sampleTest(32, 0, 1));
        assertArrayEquals(new int[] {1, 4, 6, 9, 12, 14, 17, 19, 22, 25, 27, 30, 33, 36, 38, 41, 44, 46, 49, 52, 54,
            57, 60, 62}, s.sampleTest(64, 0, 1));
        // 16 segments (a power of two) and two views are unchanged
        assertArrayEquals(new int[] {1, 4, 7, 10, 13, 16, 19, 22, 25, 28, 31, 34, 37, 40, 43, 46},
                new TsnSampler(16).sampleTest(48, 0, 1));
        assertArrayEquals(new int[] {7, 17, 27, 37}, new TsnSampler(4).sampleTest(40, 1, 2));
    }

    /**
     * A grey JPEG/PNG frame is read as its stored level on all three channels (OpenCV's imread), not brightened
     * by Java's linear-grey to sRGB conversion (which made 64 -> 137 and 128 -> 188). Frame files are 1-based:
     * index 0 is img_00001.
     */
    @Test
    void greyFramesKeepTheirLevels(@TempDir Path dir) throws Exception {
        BufferedImage grey = new BufferedImage(4, 2, BufferedImage.TYPE_BYTE_GRAY);
        byte[] levels = ((DataBufferByte) grey.getRaster().getDataBuffer()).getData();
        int[] want = {0, 64, 128, 200, 1, 17, 250, 255};
        for (int i = 0; i < want.length; i++) {
            levels[i] = (byte) want[i];
        }
        ImageIO.write(grey, "png", dir.resolve("img_00001.png").toFile());
        BufferedImage colour = new BufferedImage(4, 2, BufferedImage.TYPE_3BYTE_BGR);
        colour.setRGB(1, 0, 0x102030);
        ImageIO.write(colour, "png", dir.resolve("img_00002.png").toFile());
        RgbFrames f = new FrameFolderReader("img_{:05d}.png", 1).read(dir, new int[] {0, 1});
        for (int i = 0; i < want.length; i++) {
            assertArrayEquals(new int[] {want[i], want[i], want[i]}, f.pixel(0, i % 4, i / 4), "grey pixel " + i);
        }
        assertArrayEquals(new int[] {0x10, 0x20, 0x30}, f.pixel(1, 1, 0), "RGB order of a colour frame");
    }
}
