package dev.sevnet.train;

import dev.sevnet.data.AnnotationReaders;
import dev.sevnet.data.ClipSource;
import dev.sevnet.data.ClipTransform;
import dev.sevnet.data.DenseClipSampler;
import dev.sevnet.data.FrameFolderReader;
import dev.sevnet.data.FrameSampler;
import dev.sevnet.data.Seeds;
import dev.sevnet.data.SyntheticMotionDataset;
import dev.sevnet.data.TsnSampler;
import dev.sevnet.data.VideoListDataset;
import dev.sevnet.data.VideoRecord;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Builds the train / validation / prediction {@link ClipSource}s a {@link TrainConfig} describes. */
public final class Datasets {
    private Datasets() {
    }

    /** The seed of the synthetic validation split (never shares a scene with training). */
    public static long syntheticValSeed(long seed) {
        return Seeds.mix(seed, 0x76616cL);
    }

    public static ClipSource train(TrainConfig c) {
        if (c.isSynthetic()) {
            return SyntheticMotionDataset.builder().size(c.syntheticTrain()).seed(c.seed()).frames(c.frames())
                    .resolution(c.size()).freshSamplesEachEpoch(true).build();
        }
        return list(c, Path.of(c.trainList()));
    }

    public static ClipSource val(TrainConfig c) {
        if (c.isSynthetic()) {
            return SyntheticMotionDataset.builder().size(c.syntheticVal()).seed(syntheticValSeed(c.seed()))
                    .frames(c.frames()).resolution(c.size()).build();
        }
        return list(c, Path.of(c.valList()));
    }

    /** Class names: the labels file, the synthetic names, or numbered classes. */
    public static List<String> classNames(TrainConfig c) {
        if (c.labelsFile() != null) {
            List<String> names = AnnotationReaders.readLabelNames(Path.of(c.labelsFile()));
            if (names.size() != c.numClasses()) {
                throw new IllegalArgumentException("labels file " + c.labelsFile() + " has " + names.size()
                        + " names but the run has " + c.numClasses() + " classes");
            }
            return names;
        }
        if (c.isSynthetic()) {
            return SyntheticMotionDataset.classNamesList();
        }
        return AnnotationReaders.numberedClasses(c.numClasses());
    }

    public static FrameSampler sampler(TrainConfig c) {
        return c.sampling() == Recipe.Sampling.DENSE
                ? new DenseClipSampler(c.frames(), Math.max(1, c.denseSpan() / c.frames()))
                : new TsnSampler(c.frames());
    }

    public static ClipTransform transform(TrainConfig c) {
        return transform(c, List.of());
    }

    /** With {@code --flip}, classes whose names differ only by left/right swap labels when a clip is flipped. */
    public static ClipTransform transform(TrainConfig c, List<String> classNames) {
        return ClipTransform.builder().size(c.size()).shortSideRange(c.trainShortMin(), c.trainShortMax())
                .testShortSide(c.testShortSide()).flip(c.flip())
                .flipLabelPairs(ClipTransform.leftRightPairs(classNames)).build();
    }

    private static Path root(TrainConfig c) {
        return c.dataRoot() == null ? Path.of(".") : Path.of(c.dataRoot());
    }

    private static ClipSource list(TrainConfig c, Path listFile) {
        Path root = root(c);
        boolean frames = c.frameTemplate() != null || looksLikeFrameList(root, listFile);
        List<VideoRecord> records = frames ? AnnotationReaders.readFrameList(listFile) : AnnotationReaders.readVideoList(listFile);
        if (!c.multiLabel()) {
            // single-label training reads the first label only: refuse rather than drop the others unseen
            for (int i = 0; i < records.size(); i++) {
                VideoRecord r = records.get(i);
                if (r.labels().length > 1) {
                    throw new IllegalArgumentException(listFile + ": entry " + (i + 1) + " (" + r.path() + ") has "
                            + r.labels().length + " labels " + java.util.Arrays.toString(r.labels())
                            + ": train with --multi-label, or give one label per entry");
                }
            }
        }
        List<String> names = classNames(c);
        VideoListDataset.Builder b = VideoListDataset.builder(root, records, names).sampler(sampler(c))
                .transform(transform(c, names)).testViews(c.testClips(), c.testCrops());
        if (frames) {
            b.frameFolders(new FrameFolderReader(c.frameTemplate() == null ? FrameFolderReader.MMACTION_TEMPLATE
                    : c.frameTemplate(), 1));
        }
        return b.build();
    }

    /** Entries {@link #looksLikeFrameList} looks at: enough to outvote a few bad ones, cheap on a 300k-line list. */
    private static final int SNIFF_ENTRIES = 64;
    private static final java.util.regex.Pattern VIDEO_FILE =
            java.util.regex.Pattern.compile("(?i).*\\.(mp4|webm|mkv|avi|mov|m4v|mpg|mpeg|flv|ogv)");

    /**
     * A frame list names folders ({@code dir total_frames label...}), a video list files ({@code path label...}).
     * Decided by a vote over the first {@value #SNIFF_ENTRIES} entries: a path that is a folder counts for frames,
     * a regular file or a name with a video extension for videos; missing paths do not vote. So one missing or
     * misnamed first entry no longer turns the whole list into the wrong kind (it read total_frames as a label).
     * Without any vote, three or more columns mean frames.
     */
    static boolean looksLikeFrameList(Path root, Path listFile) {
        int folders = 0;
        int videos = 0;
        int looked = 0;
        boolean threeColumns = false;
        try {
            for (String line : Files.readAllLines(listFile)) {
                String s = line.replace("\uFEFF", "").strip();
                if (s.isEmpty() || s.startsWith("#")) {
                    continue;
                }
                String[] cols = s.split("\\s+");
                if (looked++ == 0) {
                    threeColumns = cols.length >= 3;
                }
                Path p = Path.of(cols[0]).isAbsolute() ? Path.of(cols[0]) : root.resolve(cols[0]);
                if (Files.isDirectory(p)) {
                    folders++;
                } else if (Files.isRegularFile(p) || VIDEO_FILE.matcher(cols[0]).matches()) {
                    videos++;
                }
                if (looked == SNIFF_ENTRIES) {
                    break;
                }
            }
        } catch (java.io.IOException | java.nio.file.InvalidPathException e) {
            throw new IllegalArgumentException("cannot read list file " + listFile + ": "
                    + (e instanceof java.io.IOException io ? RunDirectory.reason(io) : e.getMessage())
                    + (e instanceof java.nio.file.NoSuchFileException ? " (if the data moved, resume with --data-root, "
                            + "--train-list and --val-list at its new place)" : ""), e);
        }
        return folders != videos ? folders > videos : threeColumns;
    }

    /** Unlabelled video files with the test-time transform and views of {@code c}. */
    public static VideoListDataset files(TrainConfig c, List<Path> videos, List<String> classNames) {
        List<VideoRecord> records = new ArrayList<>();
        for (Path p : videos) {
            records.add(VideoRecord.ofVideo(p.toAbsolutePath().toString()));
        }
        TrainConfig forFiles = c;
        var b = VideoListDataset.builder(null, records, classNames).sampler(sampler(forFiles))
                .transform(transform(forFiles)).testViews(c.testClips(), c.testCrops());
        // folders of extracted frames (mmaction2 rawframes: img_00001.jpg ...) instead of video files
        if (!videos.isEmpty() && videos.stream().allMatch(java.nio.file.Files::isDirectory)) {
            b.frameFolders(new dev.sevnet.data.FrameFolderReader(c.frameTemplate() != null ? c.frameTemplate()
                    : frameTemplateOf(videos.get(0)), 1));
        }
        return b.build();
    }

    /** Frame names the extraction tools write, numbered from 1: mmaction2, SSV1, denseflow/ffmpeg variants. */
    private static final String[] FRAME_NAMES = {"img_{:05d}", "{:05d}", "image_{:05d}", "frame_{:05d}", "frame{:06d}",
        "{:06d}", "img_{:06d}"};

    /**
     * The template of a folder's frames: the first of {@link #FRAME_NAMES} (in .jpg, .png or .jpeg) whose first
     * frame exists, so SSV1's 00001.jpg works without an option; mmaction2's img_{:05d}.jpg when none does.
     */
    static String frameTemplateOf(Path folder) {
        for (String name : FRAME_NAMES) {
            for (String ext : new String[] {"jpg", "png", "jpeg"}) {
                String template = name + "." + ext;
                if (java.nio.file.Files.exists(folder.resolve(new dev.sevnet.data.FrameFolderReader(template, 1)
                        .fileName(0)))) {
                    return template;
                }
            }
        }
        return dev.sevnet.data.FrameFolderReader.MMACTION_TEMPLATE;
    }
}
