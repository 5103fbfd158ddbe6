package dev.sevnet.cli;

import dev.sevnet.infer.Predictor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import picocli.CommandLine.Option;

/**
 * The {@code --precision} (fp32, int8, bf16, fp16), {@code --calibration} (int8) and {@code --memory-format} options
 * shared by {@code predict} and {@code serve}.
 */
final class Int8Calibration {
    /** Most calibration videos taken from a folder. */
    static final int MAX_FROM_FOLDER = 64;

    @Option(names = "--precision", paramLabel = "fp32|int8|bf16|fp16", defaultValue = "fp32",
            description = "fp32; int8 on the CPU: 8-bit weights and activations, calibrated at load on "
                    + "--calibration videos (a synthetic-dataset checkpoint has default ones); bf16 or fp16 on a CUDA "
                    + "device: 16-bit weights and activations, fp32 accumulation and logits (default: ${DEFAULT-VALUE}).")
    String precision;

    @Option(names = "--calibration", paramLabel = "PATH",
            description = "int8: videos (or frame folders) of the data to serve that calibrate the activation ranges; "
                    + "a folder of videos gives its first " + MAX_FROM_FOLDER + " files in name order. Repeatable.")
    List<Path> calibration;

    @Option(names = "--memory-format", paramLabel = "contiguous|channels-last", defaultValue = "contiguous",
            description = "channels-last keeps activations NDHWC from the first conv to the global pool: on a CUDA "
                    + "device the layout of cuDNN's tensor-core convolutions; on the CPU a slower reference (every op "
                    + "on NCDHW copies). fp32, bf16 or fp16 (default: ${DEFAULT-VALUE}).")
    String memoryFormat;

    void applyTo(Predictor.Builder b) {
        b.precision(precision);
        b.memoryFormat(dev.sevnet.tensor.MemoryFormat.parse(memoryFormat));
        if (calibration != null && !calibration.isEmpty() && !"int8".equalsIgnoreCase(String.valueOf(precision).trim())) {
            throw new IllegalArgumentException("--calibration calibrates int8 only: add --precision int8, or leave it out");
        }
        if (calibration != null && !calibration.isEmpty()) {
            b.calibrationVideos(expand(calibration));
        }
    }

    /** Files as given; a folder of files: its first {@link #MAX_FROM_FOLDER}; a folder of images: a frame folder. */
    static List<Path> expand(List<Path> paths) {
        List<Path> out = new ArrayList<>();
        for (Path p : paths) {
            if (!Files.exists(p)) {
                throw new IllegalArgumentException("--calibration " + p + ": no such file or folder");
            }
            if (!Files.isDirectory(p) || isFrameFolder(p)) {
                out.add(p);
                continue;
            }
            try (Stream<Path> s = Files.list(p)) {
                // videos and frame folders only: a labels.txt or list file beside them is not a clip
                s.filter(f -> Files.isDirectory(f) ? isFrameFolder(f) : Files.isRegularFile(f) && isVideoName(f))
                        .sorted().limit(MAX_FROM_FOLDER).forEach(out::add);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot list " + p + ": " + e.getMessage(), e);
            }
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("--calibration " + paths + " holds no videos");
        }
        return out;
    }

    private static final java.util.Set<String> VIDEO_EXTENSIONS = java.util.Set.of("mp4", "webm", "mkv", "avi", "mov",
            "m4v", "mpg", "mpeg", "ogv", "flv", "wmv", "3gp", "ts");

    private static boolean isVideoName(Path f) {
        String n = f.getFileName().toString();
        int dot = n.lastIndexOf('.');
        return dot > 0 && VIDEO_EXTENSIONS.contains(n.substring(dot + 1).toLowerCase(java.util.Locale.ROOT));
    }

    private static boolean isFrameFolder(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.anyMatch(f -> {
                String n = f.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
                return n.endsWith(".jpg") || n.endsWith(".jpeg") || n.endsWith(".png");
            });
        } catch (IOException e) {
            return false;
        }
    }
}
