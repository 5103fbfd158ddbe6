package dev.sevnet.data;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Locale;

/**
 * Writes the synthetic motion dataset as real video files plus mmaction2-style lists, so the
 * video path (FFmpeg decoding, list reading, sampling, augmentation) can be exercised on it:
 *
 * <pre>
 * outDir/labels.txt               one class name per line (line i = class i)
 * outDir/train.txt, outDir/val.txt  "train/000123.mp4 5" per line
 * outDir/train/000000.mp4 ...     H.264 in mp4
 * outDir/val/000000.mp4 ...
 * </pre>
 *
 * The train split uses the config's seed and the val split {@code seed + 1}, so they never share a scene.
 */
public final class SyntheticExport {
    /** What was written. */
    public record Summary(Path outDir, Path trainList, Path valList, Path labels, int trainCount, int valCount) {
    }

    private SyntheticExport() {
    }

    /**
     * @param template dataset settings (seed, frames, resolution; its size is ignored). Width and
     *                 height must be even (4:2:0 video).
     * @param fps      frame rate written into the files
     */
    public static Summary write(Path outDir, int trainCount, int valCount, SyntheticMotionDataset template, int fps,
            VideoWriter.Codec codec) throws IOException {
        Files.createDirectories(outDir);
        Path labels = outDir.resolve("labels.txt");
        writeAtomically(labels, String.join("\n", SyntheticMotionDataset.classNamesList()) + "\n");
        Path train = writeSplit(outDir, "train", trainCount, template.seed(), template, fps, codec);
        Path val = writeSplit(outDir, "val", valCount, template.seed() + 1, template, fps, codec);
        return new Summary(outDir, train, val, labels, trainCount, valCount);
    }

    /** H.264 mp4 at 8 frames per second. */
    public static Summary write(Path outDir, int trainCount, int valCount, SyntheticMotionDataset template)
            throws IOException {
        return write(outDir, trainCount, valCount, template, 8, VideoWriter.Codec.H264_MP4);
    }

    private static Path writeSplit(Path outDir, String split, int count, long seed, SyntheticMotionDataset template,
            int fps, VideoWriter.Codec codec) throws IOException {
        SyntheticMotionDataset data = SyntheticMotionDataset.builder().size(count).seed(seed)
                .frames(template.frames()).resolution(template.width(), template.height()).build();
        StringBuilder list = new StringBuilder();
        for (int i = 0; i < count; i++) {
            String rel = String.format(Locale.ROOT, "%s/%06d%s", split, i, codec.extension);
            VideoWriter.write(outDir.resolve(rel), data.render(i), fps, codec);
            list.append(rel).append(' ').append(data.label(i)).append('\n');
        }
        Path listFile = outDir.resolve(split + ".txt");
        writeAtomically(listFile, list.toString());
        return listFile;
    }

    private static void writeAtomically(Path file, String text) throws IOException {
        Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
        Files.writeString(tmp, text, StandardCharsets.UTF_8);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** The class names written to {@code labels.txt}. */
    public static List<String> classNames() {
        return SyntheticMotionDataset.classNamesList();
    }
}
