package dev.sevnet.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.SplittableRandom;

/**
 * The embedded default dataset: clips of one large, high-contrast object whose class is its
 * motion: moving in one of eight directions (right, left, up, down and the four diagonals), growing
 * or shrinking. (Rotation was tried and dropped: telling clockwise from counter-clockwise needs a
 * spatial layout a small model at 32x32 did not learn within the main job's few minutes.)
 * Generated on the fly at any resolution and length, each sample a pure function of
 * {@code (seed, index)}; labels are balanced ({@code label = index mod NUM_CLASSES}).
 *
 * <p>No single frame says the class. Position lives on a torus (the image wraps around) with a
 * uniform start, and a moving class only translates it at constant speed, which keeps every frame's
 * position uniform. Size does not wrap (a jump from largest to smallest reads as the opposite motion): the log-size at mid-clip is uniform and identical for
 * every class, and a clip grows or shrinks around it. Everything else (shape, colours, texture,
 * background, noise) is drawn independently of the class. So a frame-only classifier stays near
 * chance, and the label is only in how frames change.
 *
 * <p>Random per sample: shape (square, disc, triangle, cross), two contrasting colours painted as
 * halves or stripes at a random orientation, background colour with a gradient, pixel noise,
 * speed, start state. The object is always lighter than the background (for every class alike).
 * Motions are large (half to three quarters of the frame, size x1.45-1.6 over the clip) so a small
 * 3-D CNN learns them from 8 frames at 32x32 in a few epochs.
 */
public final class SyntheticMotionDataset implements ClipSource {
    /** The classes, in label order. */
    public enum MotionClass {
        MOVING_RIGHT, MOVING_LEFT, MOVING_UP, MOVING_DOWN,
        MOVING_UP_RIGHT, MOVING_UP_LEFT, MOVING_DOWN_RIGHT, MOVING_DOWN_LEFT, GROWING, SHRINKING;

        public String displayName() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** Shapes the object takes. */
    enum Shape { SQUARE, DISC, TRIANGLE, CROSS }

    public static final int NUM_CLASSES = MotionClass.values().length;

    /** Label pairs that a horizontal flip swaps (for {@link ClipTransform.Builder#flipLabelPairs}). */
    public static final Map<Integer, Integer> FLIP_PAIRS = Map.of(
            MotionClass.MOVING_RIGHT.ordinal(), MotionClass.MOVING_LEFT.ordinal(),
            MotionClass.MOVING_UP_RIGHT.ordinal(), MotionClass.MOVING_UP_LEFT.ordinal(),
            MotionClass.MOVING_DOWN_RIGHT.ordinal(), MotionClass.MOVING_DOWN_LEFT.ordinal());

    // object radius as a fraction of the short side; log-size wraps within this range
    private static final double MIN_RADIUS = 0.13;
    private static final double MAX_RADIUS = 0.40;

    private final int size;
    private final long seed;
    private final int frames;
    private final int width;
    private final int height;
    private final boolean freshSamplesEachEpoch;

    private SyntheticMotionDataset(Builder b) {
        if (b.size < 0 || b.frames < 2 || b.width < 8 || b.height < 8) {
            throw new IllegalArgumentException("need size >= 0, frames >= 2 and 8x8 pixels or more, got " + b.size
                    + " samples of " + b.frames + "x" + b.height + "x" + b.width);
        }
        this.size = b.size;
        this.seed = b.seed;
        this.frames = b.frames;
        this.width = b.width;
        this.height = b.height;
        this.freshSamplesEachEpoch = b.freshSamplesEachEpoch;
    }

    public static Builder builder() {
        return new Builder();
    }

    public static List<String> classNamesList() {
        List<String> names = new ArrayList<>();
        for (MotionClass c : MotionClass.values()) {
            names.add(c.displayName());
        }
        return List.copyOf(names);
    }

    public long seed() {
        return seed;
    }

    public int frames() {
        return frames;
    }

    public int width() {
        return width;
    }

    public int height() {
        return height;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public List<String> classNames() {
        return classNamesList();
    }

    public int label(int index) {
        return Math.floorMod(index, NUM_CLASSES);
    }

    @Override
    public int[] labels(int index) {
        return new int[] {label(index)};
    }

    @Override
    public String describe(int index) {
        return "synthetic sample " + index + " (seed " + seed + ")";
    }

    /** The RGB frames of sample {@code index}. */
    public RgbFrames render(int index) {
        return render(label(index), Seeds.mix(seed, index), frames, width, height);
    }

    /**
     * In training with {@code freshSamplesEachEpoch}, a new scene of the same class every epoch
     * (drawn from {@code rng}); otherwise sample {@code index} itself.
     */
    @Override
    public Clip load(int index, Random rng, boolean train) {
        RgbFrames clip = train && freshSamplesEachEpoch
                ? render(label(index), rng.nextLong(), frames, width, height)
                : render(index);
        return new Clip(ClipTransform.normalize(clip), frames, height, width, labels(index));
    }

    /** Renders one scene of class {@code label} from {@code sampleSeed}. */
    public static RgbFrames render(int label, long sampleSeed, int frames, int width, int height) {
        if (label < 0 || label >= NUM_CLASSES) {
            throw new IllegalArgumentException("label " + label + " outside 0.." + (NUM_CLASSES - 1));
        }
        Scene s = Scene.draw(MotionClass.values()[label], new Random(sampleSeed), frames, width, height);
        // the pixel noise: SplittableRandom's ziggurat Gaussian, several times java.util.Random's (a synchronised polar
        // method with a log and a square root per pair) — the noise was a third of a clip's rendering time
        SplittableRandom noise = new SplittableRandom(Seeds.mix(sampleSeed, 1));
        List<byte[]> out = new ArrayList<>(frames);
        for (int t = 0; t < frames; t++) {
            out.add(s.renderFrame(t, noise));
        }
        return new RgbFrames(width, height, out);
    }

    /** Everything random about one sample; the class only decides which state coordinate moves. */
    private record Scene(MotionClass motion, int frames, int width, int height, Shape shape,
            double[] objectColor, double[] secondColor, boolean stripes, double stripePeriod,
            double[] background, double[] gradient, double gradientDirX, double gradientDirY, double noise,
            double x0, double y0, double angle0, double logSizePhase0,
            double stepX, double stepY, double stepLogSize) {

        static Scene draw(MotionClass motion, Random r, int frames, int width, int height) {
            Shape shape = Shape.values()[r.nextInt(Shape.values().length)];
            // One contrast polarity for every class (a light object on a dark background): motion then
            // shows as the same sign of temporal change at the leading edge, which a small 3-D CNN
            // picks up in a few epochs; with random polarity it needed far longer. Polarity is drawn
            // independently of the class, so a single frame still says nothing about it.
            double[] background = randomColor(r, 0.0, 0.3);
            double[] object = randomColor(r, 0.65, 1.0);
            double[] second = farColor(r, object, 0.35, background, 0.5, 0.55, 1.0);
            boolean stripes = r.nextBoolean();
            double stripePeriod = 0.35 + 0.3 * r.nextDouble(); // in object radii
            double gAngle = r.nextDouble() * 2 * Math.PI;
            double[] gradient = {uniform(r, -0.08, 0.08), uniform(r, -0.08, 0.08), uniform(r, -0.08, 0.08)};
            double noise = uniform(r, 0.005, 0.03);
            // start state: uniform on every circle, independent of the class
            double x0 = r.nextDouble() * width;
            double y0 = r.nextDouble() * height;
            double angle0 = r.nextDouble() * 2 * Math.PI;
            int steps = frames - 1;
            double travel = uniform(r, 0.5, 0.75); // fraction of the frame crossed over the clip
            double diagonal = travel / Math.sqrt(2);
            double logRange = Math.log(MAX_RADIUS / MIN_RADIUS);
            // log-size change over the clip (x1.45..x1.6), in units of the log range
            double zoom = Math.log(uniform(r, 1.45, 1.6)) / logRange;
            // The size never wraps from largest to smallest (that jump reads as the opposite motion).
            // Instead the log-size at MID-clip is uniform on [zoom/2, 1 - zoom/2] for every class, so
            // the middle frame says nothing; at the clip's ends only the extreme quarter of sizes
            // hints at growing vs shrinking, and the size range is wide enough to keep that small.
            double midPhase = uniform(r, zoom / 2, 1 - zoom / 2);
            double phase0 = motion == MotionClass.GROWING ? midPhase - zoom / 2
                    : motion == MotionClass.SHRINKING ? midPhase + zoom / 2 : midPhase;
            double sx = 0;
            double sy = 0;
            double sz = 0;
            switch (motion) {
                case MOVING_RIGHT -> sx = travel * width / steps;
                case MOVING_LEFT -> sx = -travel * width / steps;
                case MOVING_UP -> sy = -travel * height / steps;
                case MOVING_DOWN -> sy = travel * height / steps;
                case MOVING_UP_RIGHT -> {
                    sx = diagonal * width / steps;
                    sy = -diagonal * height / steps;
                }
                case MOVING_UP_LEFT -> {
                    sx = -diagonal * width / steps;
                    sy = -diagonal * height / steps;
                }
                case MOVING_DOWN_RIGHT -> {
                    sx = diagonal * width / steps;
                    sy = diagonal * height / steps;
                }
                case MOVING_DOWN_LEFT -> {
                    sx = -diagonal * width / steps;
                    sy = diagonal * height / steps;
                }
                case GROWING -> sz = zoom / steps;
                case SHRINKING -> sz = -zoom / steps;
                default -> throw new IllegalStateException();
            }
            return new Scene(motion, frames, width, height, shape, object, second, stripes, stripePeriod,
                    background, gradient, Math.cos(gAngle), Math.sin(gAngle), noise,
                    x0, y0, angle0, phase0, sx, sy, sz);
        }

        byte[] renderFrame(int t, SplittableRandom noiseRng) {
            double cx = x0 + stepX * t;
            double cy = y0 + stepY * t;
            double angle = angle0;
            double phase = Math.max(0, Math.min(1, logSizePhase0 + stepLogSize * t));
            double shortSide = Math.min(width, height);
            double radius = shortSide * MIN_RADIUS * Math.exp(phase * Math.log(MAX_RADIUS / MIN_RADIUS));
            double cos = Math.cos(angle);
            double sin = Math.sin(angle);
            double inv = 1.0 / radius;
            byte[] rgb = new byte[width * height * 3];
            // what depends on the column only, once per frame (the same expressions as per pixel: the same bits)
            double[] dxs = new double[width];
            double[] gxs = new double[width];
            for (int px = 0; px < width; px++) {
                dxs[px] = torusDelta(px + 0.5 - cx, width);
                gxs[px] = ((px + 0.5) / width - 0.5) * gradientDirX;
            }
            int o = 0;
            for (int py = 0; py < height; py++) {
                double dy = torusDelta(py + 0.5 - cy, height);
                double gy = ((py + 0.5) / height - 0.5) * gradientDirY;
                for (int px = 0; px < width; px++) {
                    double dx = dxs[px];
                    // object coordinates, in radii
                    double lx = (dx * cos + dy * sin) * inv;
                    double ly = (-dx * sin + dy * cos) * inv;
                    double[] color;
                    double g = 0;
                    if (inside(shape, lx, ly)) {
                        boolean first = stripes ? Math.floorMod((long) Math.floor(lx / stripePeriod), 2) == 0 : lx >= 0;
                        color = first ? objectColor : secondColor;
                    } else {
                        color = background;
                        g = gxs[px] + gy;
                    }
                    for (int c = 0; c < 3; c++) {
                        double v = color[c] + gradient[c] * g * 2 + noise * noiseRng.nextGaussian();
                        rgb[o++] = (byte) Math.max(0, Math.min(255, (int) Math.round(v * 255)));
                    }
                }
            }
            return rgb;
        }

        static boolean inside(Shape shape, double x, double y) {
            return switch (shape) {
                case DISC -> x * x + y * y <= 1.0;
                case SQUARE -> Math.abs(x) <= 0.85 && Math.abs(y) <= 0.85;
                case CROSS -> (Math.abs(x) <= 0.35 && Math.abs(y) <= 1.0) || (Math.abs(y) <= 0.35 && Math.abs(x) <= 1.0);
                case TRIANGLE -> {
                    // equilateral, circumradius 1: inside all three edges at distance 1/2 from the centre
                    boolean in = true;
                    for (int k = 0; k < 3; k++) {
                        in &= x * TRIANGLE_COS[k] + y * TRIANGLE_SIN[k] <= 0.5;
                    }
                    yield in;
                }
            };
        }

        /** The triangle's edge normals, at pi/2 + k 2pi/3 (computed once: they were six trig calls a pixel). */
        private static final double[] TRIANGLE_COS = new double[3];
        private static final double[] TRIANGLE_SIN = new double[3];

        static {
            for (int k = 0; k < 3; k++) {
                double a = Math.PI / 2 + k * 2 * Math.PI / 3;
                TRIANGLE_COS[k] = Math.cos(a);
                TRIANGLE_SIN[k] = Math.sin(a);
            }
        }

        /** Shortest signed distance on a circle of {@code period}. */
        static double torusDelta(double d, int period) {
            d = d % period;
            if (d > period / 2.0) {
                d -= period;
            } else if (d < -period / 2.0) {
                d += period;
            }
            return d;
        }

        static double uniform(Random r, double lo, double hi) {
            return lo + (hi - lo) * r.nextDouble();
        }

        /** A random colour at least {@code minDistance} from {@code from} (and {@code minOther} from {@code other}). */
        /** A colour whose channels lie in [lo, hi]. */
        static double[] randomColor(Random r, double lo, double hi) {
            return new double[] {uniform(r, lo, hi), uniform(r, lo, hi), uniform(r, lo, hi)};
        }

        static double[] farColor(Random r, double[] from, double minDistance, double[] other, double minOther,
                double lo, double hi) {
            double[] best = null;
            double bestScore = -1;
            for (int attempt = 0; attempt < 64; attempt++) {
                double[] c = randomColor(r, lo, hi);
                double d = distance(c, from);
                double score = Math.min(d / minDistance, other == null ? 1e9 : distance(c, other) / minOther);
                if (score >= 1) {
                    return c;
                }
                if (score > bestScore) {
                    bestScore = score;
                    best = c;
                }
            }
            return best;
        }

        static double distance(double[] a, double[] b) {
            double s = 0;
            for (int i = 0; i < 3; i++) {
                s += (a[i] - b[i]) * (a[i] - b[i]);
            }
            return Math.sqrt(s);
        }

        @Override
        public String toString() {
            return "Scene[" + motion + ", " + shape + ", colour " + Arrays.toString(objectColor) + "]";
        }
    }

    /** Configuration: defaults are 1000 samples of 8 frames at 64x64, seed 0. */
    public static final class Builder {
        private int size = 1000;
        private long seed;
        private int frames = 8;
        private int width = 64;
        private int height = 64;
        private boolean freshSamplesEachEpoch;

        public Builder size(int samples) {
            this.size = samples;
            return this;
        }

        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        public Builder frames(int frames) {
            this.frames = frames;
            return this;
        }

        public Builder resolution(int width, int height) {
            this.width = width;
            this.height = height;
            return this;
        }

        /** Square frames of {@code side} pixels. */
        public Builder resolution(int side) {
            return resolution(side, side);
        }

        /** Training draws a new scene of the sample's class every epoch (an endless training set). */
        public Builder freshSamplesEachEpoch(boolean fresh) {
            this.freshSamplesEachEpoch = fresh;
            return this;
        }

        public SyntheticMotionDataset build() {
            return new SyntheticMotionDataset(this);
        }
    }
}
