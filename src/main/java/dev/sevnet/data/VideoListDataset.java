package dev.sevnet.data;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Random;
import java.util.TreeSet;

/**
 * A {@link ClipSource} over annotation records: video files decoded with FFmpeg, or frame folders.
 * Sampling with a {@link FrameSampler}, augmentation with a {@link ClipTransform}. Test views are
 * {@code temporalViews x spatialCrops} (e.g. 10 x 3), ordered temporal-major.
 */
public final class VideoListDataset implements ClipSource {
    private final Path root;
    private final List<VideoRecord> records;
    private final List<String> classNames;
    private final FrameSampler sampler;
    private final ClipTransform transform;
    private final FrameFolderReader frameFolders;
    private final int temporalViews;
    private final int spatialCrops;

    private VideoListDataset(Builder b) {
        this.root = b.root;
        this.records = List.copyOf(b.records);
        this.classNames = List.copyOf(b.classNames);
        this.sampler = Objects.requireNonNull(b.sampler, "sampler");
        this.transform = Objects.requireNonNull(b.transform, "transform");
        this.frameFolders = b.frameFolders;
        this.temporalViews = b.temporalViews;
        this.spatialCrops = b.spatialCrops;
        if (temporalViews <= 0 || spatialCrops <= 0) {
            throw new IllegalArgumentException("views must be positive, got " + temporalViews + "x" + spatialCrops);
        }
        for (VideoRecord r : records) {
            for (int l : r.labels()) {
                if (l >= classNames.size()) {
                    throw new IllegalArgumentException("label " + l + " of " + r.path() + " >= " + classNames.size()
                            + " classes");
                }
            }
        }
    }

    /**
     * @param root       folder the records' relative paths start from
     * @param records    the annotation list
     * @param classNames class names (label i = name i); see {@link AnnotationReaders#numberedClasses}
     */
    public static Builder builder(Path root, List<VideoRecord> records, List<String> classNames) {
        return new Builder(root, records, classNames);
    }

    public List<VideoRecord> records() {
        return records;
    }

    public FrameSampler sampler() {
        return sampler;
    }

    public ClipTransform transform() {
        return transform;
    }

    @Override
    public int size() {
        return records.size();
    }

    @Override
    public List<String> classNames() {
        return classNames;
    }

    @Override
    public int[] labels(int index) {
        return records.get(index).labels();
    }

    @Override
    public String describe(int index) {
        return records.get(index).resolve(root).toString();
    }

    @Override
    public int testViews() {
        return temporalViews * spatialCrops;
    }

    @Override
    public Clip load(int index, Random rng, boolean train) {
        VideoRecord r = records.get(index);
        if (train) {
            RgbFrames frames = decode(r, n -> sampler.sampleTrain(n, rng));
            return transform.train(frames, r.labels(), rng);
        }
        RgbFrames frames = decode(r, n -> sampler.sampleTest(n, 0, 1));
        return transform.test(frames, r.labels(), 0, 1);
    }

    @Override
    public List<Clip> loadViews(int index) {
        VideoRecord r = records.get(index);
        int[][] perView = new int[temporalViews][];
        // decode the union of every view's frames once, then pick each view out of it
        RgbFrames union = decode(r, n -> {
            TreeSet<Integer> all = new TreeSet<>();
            for (int v = 0; v < temporalViews; v++) {
                perView[v] = sampler.sampleTest(n, v, temporalViews);
                for (int i : perView[v]) {
                    all.add(i);
                }
            }
            return all.stream().mapToInt(Integer::intValue).toArray();
        });
        int[] unionIndices = new TreeSet<>(flatten(perView)).stream().mapToInt(Integer::intValue).toArray();
        List<Clip> views = new ArrayList<>(testViews());
        for (int v = 0; v < temporalViews; v++) {
            int[] positions = new int[perView[v].length];
            for (int i = 0; i < positions.length; i++) {
                positions[i] = Arrays.binarySearch(unionIndices, perView[v][i]);
            }
            RgbFrames clip = union.select(positions);
            for (int c = 0; c < spatialCrops; c++) {
                views.add(transform.test(clip, r.labels(), c, spatialCrops));
            }
        }
        return views;
    }

    private static List<Integer> flatten(int[][] arrays) {
        List<Integer> out = new ArrayList<>();
        for (int[] a : arrays) {
            for (int i : a) {
                out.add(i);
            }
        }
        return out;
    }

    private RgbFrames decode(VideoRecord r, VideoReader.FrameSelection selection) {
        Path p = r.resolve(root);
        if (frameFolders == null) {
            return VideoReader.read(p, selection);
        }
        int n = r.totalFrames() > 0 ? r.totalFrames() : frameFolders.countFrames(p);
        return frameFolders.read(p, selection.select(n));
    }

    /** Configuration of a list dataset. */
    public static final class Builder {
        private final Path root;
        private final List<VideoRecord> records;
        private final List<String> classNames;
        private FrameSampler sampler = new TsnSampler(8);
        private ClipTransform transform = ClipTransform.paper();
        private FrameFolderReader frameFolders;
        private int temporalViews = 1;
        private int spatialCrops = 1;

        private Builder(Path root, List<VideoRecord> records, List<String> classNames) {
            this.root = root;
            this.records = records;
            this.classNames = classNames;
        }

        public Builder sampler(FrameSampler sampler) {
            this.sampler = sampler;
            return this;
        }

        public Builder transform(ClipTransform transform) {
            this.transform = transform;
            return this;
        }

        /** Records are frame folders read with this template (default: records are video files). */
        public Builder frameFolders(FrameFolderReader reader) {
            this.frameFolders = reader;
            return this;
        }

        /** Multi-view testing: {@code temporal} clips x {@code spatial} crops per video (1 x 1 by default). */
        public Builder testViews(int temporal, int spatial) {
            this.temporalViews = temporal;
            this.spatialCrops = spatial;
            return this;
        }

        public VideoListDataset build() {
            return new VideoListDataset(this);
        }
    }
}
