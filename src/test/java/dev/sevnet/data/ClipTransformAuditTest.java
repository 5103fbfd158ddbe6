package dev.sevnet.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Test-time crops against mmaction2's CenterCrop and ThreeCrop. */
class ClipTransformAuditTest {
    private static float originX(Clip c) {
        return ClipTransform.denormalize(c.at(0, 0, 0, 0), 0) / 3; // R = 3x in the coordinate frames
    }

    private static float originY(Clip c) {
        return ClipTransform.denormalize(c.at(1, 0, 0, 0), 1) / 4; // G = 4y
    }

    @Test
    void threeCropsUseMmaction2OffsetsForAnOddSlack() {
        // 81x60, crop 60 at short side 60 (no resize): slack 21 along x. mmaction2 ThreeCrop:
        // w_step = 21 // 2 = 10, crops at x = 0, 2 * 10 = 20 and 10 (its CenterCrop: 21 // 2 = 10)
        ClipTransform tf = ClipTransform.builder().size(60).shortSideRange(60, 60).testShortSide(60).build();
        RgbFrames f = ClipTransformTest.coordinateFrames(81, 60, 1);
        assertEquals(0, originX(tf.test(f, new int[0], 0, 3)), 1e-3);
        assertEquals(10, originX(tf.test(f, new int[0], 1, 3)), 1e-3);
        assertEquals(20, originX(tf.test(f, new int[0], 2, 3)), 1e-3);
        // the middle of three crops is the single centre crop
        assertArrayEquals(tf.test(f, new int[0], 0, 1).data(), tf.test(f, new int[0], 1, 3).data());
    }

    @Test
    void threeCropsAlongTheHeightOfAPortraitFrame() {
        // 40x63, crop 40: slack 23 along y; h_step = 11, crops at y = 0, 11, 22
        ClipTransform tf = ClipTransform.builder().size(40).shortSideRange(40, 40).testShortSide(40).build();
        RgbFrames f = ClipTransformTest.coordinateFrames(40, 63, 1);
        assertEquals(0, originY(tf.test(f, new int[0], 0, 3)), 1e-3);
        assertEquals(11, originY(tf.test(f, new int[0], 1, 3)), 1e-3);
        assertEquals(22, originY(tf.test(f, new int[0], 2, 3)), 1e-3);
        assertEquals(11, originY(tf.test(f, new int[0], 0, 1)), 1e-3);
    }
}
