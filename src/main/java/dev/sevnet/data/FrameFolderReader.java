package dev.sevnet.data;

import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;

/**
 * Reads clips from folders of extracted frames, named by a Python-style template as mmaction2 and
 * the datasets write them: {@code img_{:05d}.jpg} (mmaction2's default, numbered from 1) or
 * {@code {:05d}.jpg} (Something-Something V1). Frames are decoded with ImageIO (JPEG, PNG, BMP).
 */
public final class FrameFolderReader {
    /** mmaction2's default template. */
    public static final String MMACTION_TEMPLATE = "img_{:05d}.jpg";
    /** Something-Something V1's frame names. */
    public static final String SSV1_TEMPLATE = "{:05d}.jpg";

    private static final Pattern FIELD = Pattern.compile("\\{(?::(0?)(\\d*)d)?\\}");

    static {
        ImageIO.setUseCache(false); // no temp files per decoded JPEG
    }

    private final String template;
    private final String javaFormat;
    private final Pattern namePattern;
    private final int startIndex;

    /**
     * @param template   file name with one {@code {}} / {@code {:d}} / {@code {:05d}} field for the frame number
     * @param startIndex the number of the first frame on disk (1 for mmaction2 and SSV1)
     */
    public FrameFolderReader(String template, int startIndex) {
        Matcher m = FIELD.matcher(template);
        if (!m.find()) {
            throw new IllegalArgumentException("frame template '" + template + "' has no {} or {:05d} field");
        }
        String prefix = template.substring(0, m.start());
        String suffix = template.substring(m.end());
        if (FIELD.matcher(suffix).find()) {
            throw new IllegalArgumentException("frame template '" + template + "' has more than one field");
        }
        String width = m.group(2) == null || m.group(2).isEmpty() ? "" : m.group(2);
        String zero = m.group(1) == null ? "" : m.group(1);
        this.template = template;
        this.javaFormat = prefix.replace("%", "%%") + "%" + (width.isEmpty() ? "" : zero + width) + "d"
                + suffix.replace("%", "%%");
        this.namePattern = Pattern.compile(Pattern.quote(prefix) + "(\\d{1,9})" + Pattern.quote(suffix));
        this.startIndex = startIndex;
    }

    public static FrameFolderReader mmaction() {
        return new FrameFolderReader(MMACTION_TEMPLATE, 1);
    }

    public String template() {
        return template;
    }

    /** File name of 0-based frame {@code index}. */
    public String fileName(int index) {
        return String.format(javaFormat, index + startIndex);
    }

    /**
     * Number of frames in {@code dir}: the files named by the template, which must be numbered
     * {@code startIndex, startIndex + 1, ...} without a gap. A gap is an error naming the missing frames:
     * counting files would silently drop the frames after it (and sample across it).
     */
    public int countFrames(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new VideoDecodeException(dir, "no such frame folder");
        }
        java.util.BitSet numbers = new java.util.BitSet();
        int n = 0;
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (Path f : files) {
                Matcher m = namePattern.matcher(f.getFileName().toString());
                if (m.matches()) {
                    numbers.set(Integer.parseInt(m.group(1)));
                    n++;
                }
            }
        } catch (IOException e) {
            throw new VideoDecodeException(dir, "cannot list frame folder (" + e.getMessage() + ")", e);
        }
        if (n == 0) {
            throw new VideoDecodeException(dir, "no frame named like " + template);
        }
        int first = numbers.nextSetBit(0);
        int last = numbers.length() - 1;
        if (first != startIndex || numbers.cardinality() != last - first + 1) {
            java.util.List<String> missing = new java.util.ArrayList<>();
            for (int k = startIndex; k <= last && missing.size() < 5; k++) {
                if (!numbers.get(k)) {
                    missing.add(String.format(javaFormat, k));
                }
            }
            throw new VideoDecodeException(dir, "frames " + String.format(javaFormat, first) + " to "
                    + String.format(javaFormat, last) + " are not numbered from " + startIndex + " without a gap"
                    + (missing.isEmpty() ? "" : ": missing " + String.join(", ", missing)
                            + (missing.size() == 5 ? ", ..." : "")));
        }
        return n;
    }

    /** The frames at 0-based {@code indices} (repeats are decoded once). */
    public RgbFrames read(Path dir, int[] indices) {
        if (!Files.isDirectory(dir)) {
            throw new VideoDecodeException(dir, "no such frame folder");
        }
        int[] distinct = Arrays.stream(indices).distinct().sorted().toArray();
        byte[][] decoded = new byte[distinct.length][];
        int width = -1;
        int height = -1;
        for (int i = 0; i < distinct.length; i++) {
            Path file = dir.resolve(fileName(distinct[i]));
            BufferedImage img = readImage(file);
            if (width < 0) {
                width = img.getWidth();
                height = img.getHeight();
            } else if (img.getWidth() != width || img.getHeight() != height) {
                throw new VideoDecodeException(file, "frame size " + img.getWidth() + "x" + img.getHeight()
                        + " differs from the folder's " + width + "x" + height);
            }
            decoded[i] = toRgb(img);
        }
        byte[][] out = new byte[indices.length][];
        for (int i = 0; i < indices.length; i++) {
            out[i] = decoded[Arrays.binarySearch(distinct, indices[i])];
        }
        return new RgbFrames(width, height, Arrays.asList(out));
    }

    private static BufferedImage readImage(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new VideoDecodeException(file, "missing frame");
        }
        try {
            BufferedImage img = ImageIO.read(file.toFile());
            if (img == null) {
                throw new VideoDecodeException(file, "not a readable image");
            }
            return img;
        } catch (IOException | RuntimeException e) {
            if (e instanceof VideoDecodeException v) {
                throw v;
            }
            throw new VideoDecodeException(file, "corrupt image (" + e.getMessage() + ")", e);
        }
    }

    /** A grey image whose raster holds the grey level (not a palette): TYPE_BYTE_GRAY, 16-bit grey, grey + alpha. */
    private static boolean isGray(BufferedImage img) {
        return img.getColorModel() instanceof java.awt.image.ComponentColorModel cm
                && cm.getColorSpace().getType() == java.awt.color.ColorSpace.TYPE_GRAY
                && img.getRaster().getNumBands() >= 1;
    }

    /**
     * Packed RGB bytes; the common JPEG layout (3-byte BGR) is swizzled straight from the raster, grey images
     * replicate their stored level, others go through {@code getRGB} (palette, 16-bit RGB, alpha dropped).
     */
    static byte[] toRgb(BufferedImage img) {
        int w = img.getWidth();
        int h = img.getHeight();
        byte[] rgb = new byte[w * h * 3];
        if (img.getType() == BufferedImage.TYPE_3BYTE_BGR
                && img.getRaster().getDataBuffer() instanceof DataBufferByte db
                && db.getData().length == rgb.length) {
            byte[] bgr = db.getData();
            for (int i = 0; i < rgb.length; i += 3) {
                rgb[i] = bgr[i + 2];
                rgb[i + 1] = bgr[i + 1];
                rgb[i + 2] = bgr[i];
            }
            return rgb;
        }
        if (isGray(img)) {
            // grey (and grey + alpha) images: the stored level itself, as OpenCV's imread(IMREAD_COLOR) gives it;
            // getRGB would treat Java's linear CS_GRAY as linear light and brighten it to sRGB (64 -> 137)
            java.awt.image.Raster raster = img.getRaster();
            int bits = img.getColorModel().getComponentSize(0);
            int[] samples = new int[w];
            for (int y = 0; y < h; y++) {
                raster.getSamples(0, y, w, 1, 0, samples);
                int o = y * w * 3;
                for (int x = 0; x < w; x++) {
                    int v = samples[x];
                    v = bits > 8 ? v >> (bits - 8) : bits < 8 ? (v * 255 + ((1 << bits) - 1) / 2) / ((1 << bits) - 1) : v;
                    byte b = (byte) v;
                    rgb[o++] = b;
                    rgb[o++] = b;
                    rgb[o++] = b;
                }
            }
            return rgb;
        }
        int[] row = new int[w];
        for (int y = 0; y < h; y++) {
            img.getRGB(0, y, w, 1, row, 0, w);
            int o = y * w * 3;
            for (int x = 0; x < w; x++) {
                int p = row[x];
                rgb[o++] = (byte) (p >> 16);
                rgb[o++] = (byte) (p >> 8);
                rgb[o++] = (byte) p;
            }
        }
        return rgb;
    }
}
