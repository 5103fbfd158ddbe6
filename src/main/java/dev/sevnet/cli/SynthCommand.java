package dev.sevnet.cli;

import dev.sevnet.data.SyntheticExport;
import dev.sevnet.data.SyntheticMotionDataset;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code sevnet synth}: writes the synthetic motion dataset as mp4 files plus list files. */
@Command(name = "synth", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Write the synthetic motion dataset as H.264 mp4 files with mmaction2 list files "
                + "(train.txt, val.txt: 'path label') and labels.txt, so the real video path can be exercised:",
                "  sevnet synth --out data/synth && sevnet train --data-root data/synth --train-list data/synth/train.txt "
                        + "--val-list data/synth/val.txt --classes 10 --labels data/synth/labels.txt --frames 8 --size 48"})
public final class SynthCommand implements Callable<Integer> {
    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output folder.")
    Path out;

    @Option(names = "--train", paramLabel = "N", defaultValue = "800", description = "Training videos (default: ${DEFAULT-VALUE}).")
    int train;

    @Option(names = "--val", paramLabel = "M", defaultValue = "200", description = "Validation videos (default: ${DEFAULT-VALUE}).")
    int val;

    @Option(names = "--frames", paramLabel = "T", defaultValue = "16", description = "Frames per video (default: ${DEFAULT-VALUE}).")
    int frames;

    @Option(names = "--size", paramLabel = "PX", defaultValue = "64", description = "Width and height, even (default: ${DEFAULT-VALUE}).")
    int size;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "0", description = "Seed of the train split; val uses seed + 1 (default: ${DEFAULT-VALUE}).")
    long seed;

    @Override
    public Integer call() throws Exception {
        if (train < 0 || val < 0) {
            throw new IllegalArgumentException("--train and --val must be >= 0");
        }
        if (size % 2 != 0 || size < 16 || size > 4096) {
            throw new IllegalArgumentException("--size must be even (H.264 4:2:0) and 16..4096, got " + size);
        }
        if (frames < 2 || frames > 4096) {
            throw new IllegalArgumentException("--frames must be 2..4096, got " + frames);
        }
        if (java.nio.file.Files.exists(out) && !java.nio.file.Files.isDirectory(out)) {
            throw new IllegalArgumentException("--out " + out + " is a file, not a folder");
        }
        if (java.nio.file.Files.isDirectory(out)) {
            // a second export into the same folder rewrote the lists but left the first one's videos beside them
            try (java.util.stream.Stream<Path> entries = java.nio.file.Files.list(out)) {
                long n = entries.count();
                if (n > 0) {
                    throw new IllegalArgumentException("--out " + out + " is not empty (" + n + " entries): give a new "
                            + "or empty folder, so that no video of an earlier export is left beside the new lists");
                }
            }
        }
        SyntheticMotionDataset template = SyntheticMotionDataset.builder().seed(seed).frames(frames).resolution(size).build();
        long t0 = System.nanoTime();
        SyntheticExport.Summary s = SyntheticExport.write(out, train, val, template);
        System.out.printf("wrote %d train + %d val videos (%d frames, %dx%d) to %s in %.1f s%n  %s%n  %s%n  %s%n",
                s.trainCount(), s.valCount(), frames, size, size, s.outDir(), (System.nanoTime() - t0) / 1e9,
                s.trainList(), s.valList(), s.labels());
        return 0;
    }
}
