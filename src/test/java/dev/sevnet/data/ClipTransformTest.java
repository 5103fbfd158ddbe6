package dev.sevnet.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ClipTransformTest {
    /** R = 3x, G = 4y, B = 10 + 20t: every output pixel says where it came from. */
    static RgbFrames coordinateFrames(int width, int height, int count) {
        List<byte[]> frames = new ArrayList<>();
        for (int t = 0; t < count; t++) {
            byte[] f = new byte[width * height * 3];
            for (int y = 0; y < height; y++) {
                for (int x = 0; x < width; x++) {
                    int o = (y * width + x) * 3;
                    f[o] = (byte) (3 * x);
                    f[o + 1] = (byte) (4 * y);
                    f[o + 2] = (byte) (10 + 20 * t);
                }
            }
            frames.add(f);
        }
        return new RgbFrames(width, height, frames);
    }

    static float raw(Clip c, int ch, int t, int y, int x) {
        return ClipTransform.denormalize(c.at(ch, t, y, x), ch);
    }

    @Test
    void centreCropWithoutResizeKeepsPixelsAndLayout() {
        ClipTransform tf = ClipTransform.builder().size(30).shortSideRange(60, 60).testShortSide(60).build();
        Clip c = tf.test(coordinateFrames(80, 60, 3), new int[] {4}, 0, 1);
        assertEquals(3 * 3 * 30 * 30, c.data().length);
        assertEquals(3, c.frames());
        assertArrayEquals(new int[] {4}, c.labels());
        // crop origin (25, 15)
        assertEquals(75, raw(c, 0, 0, 0, 0), 1e-3);
        assertEquals(60, raw(c, 1, 0, 0, 0), 1e-3);
        assertEquals(3 * (25 + 29), raw(c, 0, 2, 29, 29), 1e-3);
        assertEquals(50, raw(c, 2, 2, 7, 3), 1e-3);
        // normalisation: (v / 255 - mean) / std
        assertEquals((75 / 255f - 0.485f) / 0.229f, c.at(0, 0, 0, 0), 1e-5);
    }

    @Test
    void threeCropsRunAlongTheLongSide() {
        ClipTransform tf = ClipTransform.builder().size(30).shortSideRange(60, 60).testShortSide(60).build();
        RgbFrames landscape = coordinateFrames(80, 60, 1);
        assertEquals(0, raw(tf.test(landscape, new int[0], 0, 3), 0, 0, 0, 0), 1e-3);
        assertEquals(75, raw(tf.test(landscape, new int[0], 1, 3), 0, 0, 0, 0), 1e-3);
        assertEquals(150, raw(tf.test(landscape, new int[0], 2, 3), 0, 0, 0, 0), 1e-3);
        assertEquals(60, raw(tf.test(landscape, new int[0], 2, 3), 1, 0, 0, 0), 1e-3); // centred vertically
        RgbFrames portrait = coordinateFrames(40, 60, 1);
        ClipTransform small = ClipTransform.builder().size(40).shortSideRange(40, 40).testShortSide(40).build();
        assertEquals(0, raw(small.test(portrait, new int[0], 0, 3), 1, 0, 0, 0), 1e-3);
        assertEquals(80, raw(small.test(portrait, new int[0], 2, 3), 1, 0, 0, 0), 1e-3);
    }

    @Test
    void bilinearDownscaleAveragesNeighbours() {
        // vertical stripes 0/255 at 64 px, resized to short side 32: each output pixel averages a pair
        byte[] f = new byte[64 * 64 * 3];
        for (int y = 0; y < 64; y++) {
            for (int x = 0; x < 64; x++) {
                byte v = (byte) (x % 2 == 0 ? 0 : 255);
                int o = (y * 64 + x) * 3;
                f[o] = v;
                f[o + 1] = v;
                f[o + 2] = v;
            }
        }
        ClipTransform tf = ClipTransform.builder().size(32).shortSideRange(32, 32).build();
        Clip c = tf.test(new RgbFrames(64, 64, List.of(f)), new int[0], 0, 1);
        for (int x = 0; x < 32; x++) {
            assertEquals(127.5f, raw(c, 0, 0, 5, x), 1e-2);
        }
        // upscale of the coordinate ramp: linear in between, clamped at the border
        Clip up = ClipTransform.builder().size(20).shortSideRange(20, 20).build()
                .test(coordinateFrames(10, 10, 1), new int[0], 0, 1);
        assertEquals(0, raw(up, 0, 0, 0, 0), 1e-3);
        assertEquals(0.75f, raw(up, 0, 0, 0, 1), 1e-3); // source x = 0.25 -> 3 * 0.25
        assertEquals(27, raw(up, 0, 0, 0, 19), 1e-3);
    }

    /**
     * The resize + crop + normalise pass (separable: each source row blended horizontally once) is bit for bit the
     * direct four-tap bilinear of every output value — random frames, down- and upscaled, landscape and portrait, every
     * crop of a three-crop test view.
     */
    @Test
    void theSeparableResizeIsTheFourTapBilinearBitForBit() {
        Random r = new Random(17);
        int[][] cases = {{128, 96, 40, 56}, {64, 64, 32, 32}, {30, 50, 24, 60}, {17, 23, 16, 16}, {200, 120, 72, 90}};
        for (int[] cs : cases) {
            int w = cs[0];
            int h = cs[1];
            int size = cs[2];
            int shortSide = cs[3];
            List<byte[]> frames = new ArrayList<>();
            for (int t = 0; t < 3; t++) {
                byte[] f = new byte[w * h * 3];
                r.nextBytes(f);
                frames.add(f);
            }
            RgbFrames rgb = new RgbFrames(w, h, frames);
            ClipTransform tf = ClipTransform.builder().size(size).shortSideRange(shortSide, shortSide)
                    .testShortSide(shortSide).build();
            for (int crop = 0; crop < 3; crop++) {
                Clip c = tf.test(rgb, new int[0], crop, 3);
                float[] ref = fourTap(rgb, size, shortSide, crop);
                assertArrayEquals(ref, c.data(), 0f, w + "x" + h + " -> " + size + " (short side " + shortSide
                        + "), crop " + crop);
            }
        }
    }

    /** The direct bilinear: four taps per output value, mmcv's resize geometry, mmaction2's three crops. */
    private static float[] fourTap(RgbFrames frames, int size, int shortSide, int crop) {
        int w = frames.width();
        int h = frames.height();
        double factor = (double) shortSide / Math.min(w, h);
        int rw = w <= h ? shortSide : Math.max(shortSide, (int) (w * factor + 0.5));
        int rh = w <= h ? Math.max(shortSide, (int) (h * factor + 0.5)) : shortSide;
        int slackX = rw - size;
        int slackY = rh - size;
        int x0 = slackX >= slackY ? crop * (slackX / 2) : slackX / 2;
        int y0 = slackX >= slackY ? slackY / 2 : crop * (slackY / 2);
        float[] mean = {0.485f, 0.456f, 0.406f};
        float[] std = {0.229f, 0.224f, 0.225f};
        int t = frames.count();
        float[] out = new float[3 * t * size * size];
        for (int f = 0; f < t; f++) {
            byte[] src = frames.frame(f);
            for (int oy = 0; oy < size; oy++) {
                double[] ty = tap(y0 + oy, (double) h / rh, h);
                for (int ox = 0; ox < size; ox++) {
                    double[] tx = tap(x0 + ox, (double) w / rw, w);
                    int xa = (int) tx[0] * 3;
                    int xb = (int) tx[1] * 3;
                    int ra = (int) ty[0] * w * 3;
                    int rb = (int) ty[1] * w * 3;
                    float wx = (float) tx[2];
                    float wy = (float) ty[2];
                    for (int c = 0; c < 3; c++) {
                        float top = (src[ra + xa + c] & 0xFF) * (1 - wx) + (src[ra + xb + c] & 0xFF) * wx;
                        float bottom = (src[rb + xa + c] & 0xFF) * (1 - wx) + (src[rb + xb + c] & 0xFF) * wx;
                        out[((c * t + f) * size + oy) * size + ox] = (top + (bottom - top) * wy)
                                * (1f / (255f * std[c])) + (-mean[c] / std[c]);
                    }
                }
            }
        }
        return out;
    }

    /** {lo, hi, weight of hi} around resized coordinate i (half-pixel centres, clamped at the borders). */
    private static double[] tap(int i, double scale, int limit) {
        double src = Math.max(0, (i + 0.5) * scale - 0.5);
        int lo = (int) src;
        if (lo >= limit - 1) {
            lo = limit - 1;
            src = lo;
        }
        return new double[] {lo, Math.min(lo + 1, limit - 1), (float) (src - lo)};
    }

    @Test
    void trainCropIsRandomButConsistentAcrossFrames() {
        ClipTransform tf = ClipTransform.builder().size(32).shortSideRange(36, 48).build();
        RgbFrames frames = coordinateFrames(64, 48, 4);
        Clip a = tf.train(frames, new int[] {2}, new Random(5));
        Clip b = tf.train(frames, new int[] {2}, new Random(5));
        assertEquals(a, b);
        for (int t = 1; t < 4; t++) {
            for (int y = 0; y < 32; y += 7) {
                for (int x = 0; x < 32; x += 5) {
                    assertEquals(a.at(0, 0, y, x), a.at(0, t, y, x), "same crop in every frame");
                }
            }
        }
        boolean differs = false;
        Random rng = new Random(6);
        for (int i = 0; i < 10; i++) {
            differs |= !tf.train(frames, new int[] {2}, rng).equals(a);
        }
        assertTrue(differs);
    }

    @Test
    void flipMirrorsTheClipAndSwapsPairedLabels() {
        ClipTransform tf = ClipTransform.builder().size(30).shortSideRange(30, 30).flip(true)
                .flipLabelPairs(Map.of(0, 1)).build();
        RgbFrames frames = coordinateFrames(30, 30, 1);
        int flipped = 0;
        Random rng = new Random(11);
        for (int i = 0; i < 40; i++) {
            Clip c = tf.train(frames, new int[] {0, 5}, rng);
            boolean mirrored = raw(c, 0, 0, 0, 0) > raw(c, 0, 0, 0, 29);
            assertEquals(mirrored ? 1 : 0, c.labels()[0], "label follows the flip");
            assertEquals(5, c.labels()[1], "unpaired labels stay");
            if (mirrored) {
                flipped++;
                assertEquals(87, raw(c, 0, 0, 3, 0), 1e-3);
            }
        }
        assertTrue(flipped > 5 && flipped < 35, "about half flipped, got " + flipped);
        assertEquals(0, ClipTransform.builder().size(30).shortSideRange(30, 30).build()
                .train(frames, new int[] {0}, new Random(1)).label());
    }

    @Test
    void paperDefaultsAndValidation() {
        ClipTransform p = ClipTransform.paper();
        assertEquals(224, p.size());
        assertEquals(224, p.minShortSide());
        assertEquals(256, p.maxShortSide());
        assertEquals(224, p.testShortSide());
        assertEquals(false, p.flip());
        assertEquals(128, ClipTransform.scaled(112).maxShortSide());
        assertThrows(IllegalArgumentException.class, () -> ClipTransform.builder().size(64).shortSideRange(32, 40).build());
        assertThrows(IllegalArgumentException.class, () -> p.test(coordinateFrames(8, 8, 1), new int[0], 3, 3));
    }

    @Test
    void leftRightPairsAreFoundByName() {
        List<String> ssv = List.of("Pushing something from left to right", "Holding something",
                "Pushing something from right to left", "Turning the camera left while filming something",
                "Turning the camera right while filming something");
        assertEquals(Map.of(0, 2, 2, 0, 3, 4, 4, 3), ClipTransform.leftRightPairs(ssv));
        Map<Integer, Integer> synth = ClipTransform.leftRightPairs(SyntheticMotionDataset.classNamesList());
        assertEquals(6, synth.size());
        List<String> names = SyntheticMotionDataset.classNamesList();
        synth.forEach((a, b) -> assertEquals(names.get(b),
                names.get(a).contains("left") ? names.get(a).replace("left", "right") : names.get(a).replace("right", "left")));
    }
}
