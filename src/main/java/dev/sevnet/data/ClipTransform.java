package dev.sevnet.data;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Spatial augmentation and normalisation of one clip, identical for all its frames, producing the
 * model's float32 {@code [3, T, H, W]} layout.
 *
 * <ul>
 *   <li>train: resize so the short side is uniform in [{@code minShortSide}, {@code maxShortSide}],
 *       random {@code size x size} crop, optional horizontal flip that maps labels through
 *       {@code flipLabelMap} (e.g. "left to right" becomes "right to left");</li>
 *   <li>test: short side {@code testShortSide} (default = size), then the centre crop, or one of
 *       three crops along the long side (left/centre/right, or top/centre/bottom) for 3-crop testing;</li>
 *   <li>pixels scaled to [0, 1], then {@code (x - mean) / std} per channel (ImageNet statistics).</li>
 * </ul>
 *
 * <p>Resize and crop are one pass: each output pixel is bilinearly interpolated (half-pixel centres,
 * like PyTorch's {@code align_corners=False} and OpenCV's {@code INTER_LINEAR}) from the source
 * frame at the position it has in the resized image, so the full resized frame is never built.
 * The resized size is mmcv's {@code rescale_size} (long side {@code int(long * short_side / short + 0.5)}).
 * Unlike mmcv's {@code imresize} on uint8 frames, the interpolated values are not rounded to 8 bits before
 * normalisation (they differ from OpenCV's fixed-point result by at most about half a grey level).
 * Immutable and thread-safe.
 */
public final class ClipTransform {
    private static final float[] IMAGENET_MEAN = {0.485f, 0.456f, 0.406f};
    private static final float[] IMAGENET_STD = {0.229f, 0.224f, 0.225f};

    /** ImageNet's per-channel RGB mean (of pixels scaled to 0..1), a copy. */
    public static float[] imagenetMean() {
        return IMAGENET_MEAN.clone();
    }

    /** ImageNet's per-channel RGB standard deviation (of pixels scaled to 0..1), a copy. */
    public static float[] imagenetStd() {
        return IMAGENET_STD.clone();
    }

    private final int size;
    private final int minShortSide;
    private final int maxShortSide;
    private final int testShortSide;
    private final boolean flip;
    private final Map<Integer, Integer> flipLabelMap;
    private final float[] mean;
    private final float[] std;

    private ClipTransform(Builder b) {
        this.size = b.size;
        this.minShortSide = b.minShortSide > 0 ? b.minShortSide : b.size;
        this.maxShortSide = b.maxShortSide > 0 ? b.maxShortSide : this.minShortSide;
        this.testShortSide = b.testShortSide > 0 ? b.testShortSide : b.size;
        this.flip = b.flip;
        this.flipLabelMap = Map.copyOf(b.flipLabelMap);
        this.mean = b.mean.clone();
        this.std = b.std.clone();
        if (size <= 0 || minShortSide < size || maxShortSide < minShortSide || testShortSide < size) {
            throw new IllegalArgumentException("need 0 < size <= minShortSide <= maxShortSide and size <= testShortSide, got size "
                    + size + ", short side " + minShortSide + ".." + maxShortSide + ", test " + testShortSide);
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The paper's setting: train short side 224..256, crop 224; test short side 224. */
    public static ClipTransform paper() {
        return builder().build();
    }

    /**
     * A quick-run setting keeping the paper's ratios: crop {@code size}, train short side
     * {@code size .. size * 8/7}.
     */
    public static ClipTransform scaled(int size) {
        return builder().size(size).shortSideRange(size, Math.round(size * 8f / 7f)).build();
    }

    public int size() {
        return size;
    }

    public int minShortSide() {
        return minShortSide;
    }

    public int maxShortSide() {
        return maxShortSide;
    }

    public int testShortSide() {
        return testShortSide;
    }

    public boolean flip() {
        return flip;
    }

    /**
     * The label pairs a horizontal flip swaps, found by name: a class whose name, with "left" and
     * "right" exchanged, is another class's name (Something-Something's "Pushing something from left
     * to right" and "... from right to left", the synthetic "moving_up_left" and "moving_up_right").
     */
    public static Map<Integer, Integer> leftRightPairs(List<String> classNames) {
        Map<String, Integer> index = new java.util.HashMap<>();
        for (int i = 0; i < classNames.size(); i++) {
            index.put(classNames.get(i), i);
        }
        Map<Integer, Integer> pairs = new java.util.TreeMap<>();
        for (int i = 0; i < classNames.size(); i++) {
            String name = classNames.get(i);
            String swapped = name.replace("left", "\u0000").replace("right", "left").replace("\u0000", "right")
                    .replace("Left", "\u0000").replace("Right", "Left").replace("\u0000", "Right");
            Integer j = index.get(swapped);
            if (j != null && j != i) {
                pairs.put(i, j);
            }
        }
        return pairs;
    }

    public Map<Integer, Integer> flipLabelMap() {
        return flipLabelMap;
    }

    /** A training clip: random scale, random crop, maybe flipped (labels mapped accordingly). */
    public Clip train(RgbFrames frames, int[] labels, Random rng) {
        int shortSide = minShortSide + rng.nextInt(maxShortSide - minShortSide + 1);
        Geometry g = Geometry.of(frames.width(), frames.height(), shortSide);
        int x0 = rng.nextInt(g.resizedWidth - size + 1);
        int y0 = rng.nextInt(g.resizedHeight - size + 1);
        boolean flipped = flip && rng.nextBoolean();
        int[] outLabels = labels.clone();
        if (flipped) {
            for (int i = 0; i < outLabels.length; i++) {
                outLabels[i] = flipLabelMap.getOrDefault(outLabels[i], outLabels[i]);
            }
        }
        return new Clip(render(frames, g, x0, y0, flipped), frames.count(), size, size, outLabels);
    }

    /**
     * A test view: short side {@code testShortSide}, then crop {@code crop} of {@code crops} spread
     * along the long side (1 crop: the centre, mmaction2's CenterCrop; 3 crops: left/top, centre,
     * right/bottom at offsets {@code 0, slack / 2, 2 * (slack / 2)} in integer division, mmaction2's ThreeCrop).
     */
    public Clip test(RgbFrames frames, int[] labels, int crop, int crops) {
        if (crops <= 0 || crop < 0 || crop >= crops) {
            throw new IllegalArgumentException("crop " + crop + " of " + crops);
        }
        Geometry g = Geometry.of(frames.width(), frames.height(), testShortSide);
        int slackX = g.resizedWidth - size;
        int slackY = g.resizedHeight - size;
        int x0;
        int y0;
        if (crops == 1) {
            x0 = slackX / 2;
            y0 = slackY / 2;
        } else if (slackX >= slackY) {
            // mmaction2's ThreeCrop: step = slack // 2, crops at 0, step, 2 * step (never rounded up: the
            // middle crop is the centre crop's, the last one a pixel short of the edge for an odd slack)
            x0 = crop * (slackX / (crops - 1));
            y0 = slackY / 2;
        } else {
            x0 = slackX / 2;
            y0 = crop * (slackY / (crops - 1));
        }
        return new Clip(render(frames, g, x0, y0, false), frames.count(), size, size, labels);
    }

    /** Normalises frames as they are (no resize or crop): the layout the model reads. */
    public static float[] normalize(RgbFrames frames) {
        int w = frames.width();
        int h = frames.height();
        int t = frames.count();
        int plane = w * h;
        float[] out = new float[3 * t * plane];
        for (int c = 0; c < 3; c++) {
            float scale = 1f / (255f * IMAGENET_STD[c]);
            float shift = -IMAGENET_MEAN[c] / IMAGENET_STD[c];
            for (int f = 0; f < t; f++) {
                byte[] src = frames.frame(f);
                int o = (c * t + f) * plane;
                for (int p = 0, s = c; p < plane; p++, s += 3) {
                    out[o + p] = (src[s] & 0xFF) * scale + shift;
                }
            }
        }
        return out;
    }

    /** Inverse of the normalisation: the 0..255 value a normalised channel value came from. */
    public static float denormalize(float v, int channel) {
        return (v * IMAGENET_STD[channel] + IMAGENET_MEAN[channel]) * 255f;
    }

    /** Source frame size and the size it is (virtually) resized to. */
    private record Geometry(int width, int height, int resizedWidth, int resizedHeight) {
        /**
         * mmcv's {@code rescale_size} with scale {@code (inf, shortSide)}: factor {@code shortSide / min(w, h)}, long
         * side {@code int(long * factor + 0.5)} in doubles exactly as mmcv computes it (so an exact .5 tie rounds the
         * way mmcv's product does, not always up).
         */
        static Geometry of(int width, int height, int shortSide) {
            double factor = (double) shortSide / Math.min(width, height);
            int rw;
            int rh;
            if (width <= height) {
                rw = shortSide;
                rh = Math.max(shortSide, (int) (height * factor + 0.5));
            } else {
                rh = shortSide;
                rw = Math.max(shortSide, (int) (width * factor + 0.5));
            }
            return new Geometry(width, height, rw, rh);
        }
    }

    private float[] render(RgbFrames frames, Geometry g, int x0, int y0, boolean mirrored) {
        int w = g.width;
        int h = g.height;
        // per output column / row: the two source taps and the weight of the second, shared by all frames
        int[] xa = new int[size];
        int[] xb = new int[size];
        float[] xw = new float[size];
        int[] ya = new int[size];
        int[] yb = new int[size];
        float[] yw = new float[size];
        double sx = (double) w / g.resizedWidth;
        double sy = (double) h / g.resizedHeight;
        for (int o = 0; o < size; o++) {
            int col = mirrored ? x0 + size - 1 - o : x0 + o;
            taps(col, sx, w, o, xa, xb, xw);
            xa[o] *= 3; // byte offset of the pixel in its row
            xb[o] *= 3;
            taps(y0 + o, sy, h, o, ya, yb, yw);
        }
        int t = frames.count();
        int plane = size * size;
        float[] out = new float[3 * t * plane];
        float scale0 = 1f / (255f * std[0]);
        float scale1 = 1f / (255f * std[1]);
        float scale2 = 1f / (255f * std[2]);
        float shift0 = -mean[0] / std[0];
        float shift1 = -mean[1] / std[1];
        float shift2 = -mean[2] / std[2];
        int rowBytes = w * 3;
        // Separable: a source row's horizontal blend (3 channels per output column) is computed once and kept while
        // the output rows that read it are written — consecutive output rows share source rows (ya, yb never
        // decrease). The same float expressions as blending the four taps per output value: the same bits.
        float[] top = new float[3 * size];
        float[] bottom = new float[3 * size];
        for (int f = 0; f < t; f++) {
            byte[] src = frames.frame(f);
            int o0 = f * plane;
            int o1 = (t + f) * plane;
            int o2 = (2 * t + f) * plane;
            int topRow = -1;
            int bottomRow = -1;
            for (int oy = 0; oy < size; oy++) {
                if (ya[oy] != topRow) {
                    if (ya[oy] == bottomRow) { // the old bottom row is the new top one
                        float[] swap = top;
                        top = bottom;
                        bottom = swap;
                        bottomRow = -1;
                    } else {
                        blendRow(src, ya[oy] * rowBytes, xa, xb, xw, top);
                    }
                    topRow = ya[oy];
                }
                if (yb[oy] != bottomRow) {
                    blendRow(src, yb[oy] * rowBytes, xa, xb, xw, bottom);
                    bottomRow = yb[oy];
                }
                float wy = yw[oy];
                int orow = oy * size;
                for (int ox = 0, k = 0; ox < size; ox++, k += 3) {
                    int p = orow + ox;
                    out[o0 + p] = (top[k] + (bottom[k] - top[k]) * wy) * scale0 + shift0;
                    out[o1 + p] = (top[k + 1] + (bottom[k + 1] - top[k + 1]) * wy) * scale1 + shift1;
                    out[o2 + p] = (top[k + 2] + (bottom[k + 2] - top[k + 2]) * wy) * scale2 + shift2;
                }
            }
        }
        return out;
    }

    /** One source row (at byte {@code row}) blended horizontally: {@code dst[3 ox + c]} for every output column. */
    private static void blendRow(byte[] src, int row, int[] xa, int[] xb, float[] xw, float[] dst) {
        for (int ox = 0, k = 0; ox < xa.length; ox++, k += 3) {
            int a = row + xa[ox];
            int b = row + xb[ox];
            float wx = xw[ox];
            float vx = 1 - wx;
            dst[k] = (src[a] & 0xFF) * vx + (src[b] & 0xFF) * wx;
            dst[k + 1] = (src[a + 1] & 0xFF) * vx + (src[b + 1] & 0xFF) * wx;
            dst[k + 2] = (src[a + 2] & 0xFF) * vx + (src[b + 2] & 0xFF) * wx;
        }
    }

    /** The two source pixels around resized coordinate {@code i} and the weight of the second. */
    private static void taps(int i, double scale, int limit, int o, int[] a, int[] b, float[] weight) {
        double src = (i + 0.5) * scale - 0.5;
        if (src < 0) {
            src = 0;
        }
        int lo = (int) src;
        if (lo >= limit - 1) {
            lo = limit - 1;
            src = lo;
        }
        int hi = Math.min(lo + 1, limit - 1);
        a[o] = lo;
        b[o] = hi;
        weight[o] = (float) (src - lo);
    }

    @Override
    public String toString() {
        return "ClipTransform[size=" + size + ", train short side " + minShortSide + ".." + maxShortSide
                + ", test short side " + testShortSide + ", flip=" + flip + "]";
    }

    /** Configuration; every size is in pixels. */
    public static final class Builder {
        private int size = 224;
        private int minShortSide = 224;
        private int maxShortSide = 256;
        private int testShortSide = -1;
        private boolean flip;
        private final Map<Integer, Integer> flipLabelMap = new HashMap<>();
        private float[] mean = IMAGENET_MEAN;
        private float[] std = IMAGENET_STD;

        /** Crop size (the model's H = W). */
        public Builder size(int size) {
            this.size = size;
            return this;
        }

        public Builder shortSideRange(int min, int max) {
            this.minShortSide = min;
            this.maxShortSide = max;
            return this;
        }

        /** Test-time short side; default: the crop size. */
        public Builder testShortSide(int shortSide) {
            this.testShortSide = shortSide;
            return this;
        }

        /** Random horizontal flip in training (off by default: it changes the meaning of directional classes). */
        public Builder flip(boolean flip) {
            this.flip = flip;
            return this;
        }

        /** Labels that swap under a horizontal flip; pairs are made symmetric ({@code a -> b} adds {@code b -> a}). */
        public Builder flipLabelPairs(Map<Integer, Integer> pairs) {
            for (Map.Entry<Integer, Integer> e : pairs.entrySet()) {
                flipLabelMap.put(e.getKey(), e.getValue());
                flipLabelMap.put(e.getValue(), e.getKey());
            }
            return this;
        }

        public Builder normalization(float[] mean, float[] std) {
            if (mean.length != 3 || std.length != 3) {
                throw new IllegalArgumentException("mean and std need 3 channels: " + Arrays.toString(mean)
                        + " " + Arrays.toString(std));
            }
            this.mean = mean.clone();
            this.std = std.clone();
            return this;
        }

        public ClipTransform build() {
            return new ClipTransform(this);
        }
    }
}
