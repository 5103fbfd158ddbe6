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
