package dev.sevnet.train;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;

import java.util.Objects;

/**
 * Everything that defines a training run. Immutable; made with {@link #builder()} (or
 * {@link #synthetic()}, the main job's defaults, or {@link Recipe#applyTo}). Saved in every
 * checkpoint's {@code state.json} so {@code --resume} and {@code eval} rebuild the same run.
 *
 * <p>Data: when {@link #trainList} is null the run uses the embedded synthetic motion dataset
 * ({@link #syntheticTrain} / {@link #syntheticVal} clips generated on the fly from {@link #seed}).
 */
public final class TrainConfig {
    // model
    private final String model;
    private final int numClasses;
    private final double dropout;
    // input
    private final int frames;
    private final int size;
    private final int trainShortMin;
    private final int trainShortMax;
    private final int testShortSide;
    private final Recipe.Sampling sampling;
    private final int denseSpan;
    /** Clips per video at test time: 10 is the usual protocol; far more only multiplies the work. */
    public static final int MAX_TEST_CLIPS = 100;

    private final int testClips;
    private final int testCrops;
    private final boolean flip;
    // optimisation
    private final int epochs;
    private final double warmupEpochs;
    private final int batch;
    private final int accum;
    private final double lr;
    private final double momentum;
    private final double weightDecay;
    private final boolean multiLabel;
    /** The training step as a CUDA graph ({@code --cuda-graphs}; a GPU, accum 1). */
    private final boolean cudaGraphs;
    /** cuDNN's deterministic algorithms only ({@code --deterministic}): a run repeats bit for bit, slower. */
    private final boolean deterministic;
    private final Precision precision;
    /** The activations' memory format on a GPU ({@code --memory-format}; null in configs saved before it: contiguous). */
    private final dev.sevnet.tensor.MemoryFormat memoryFormat;
    // data
    private final String dataRoot;
    private final String trainList;
    private final String valList;
    private final String labelsFile;
    private final String frameTemplate;
    private final int syntheticTrain;
    private final int syntheticVal;
    // run
    private final int workers;
    private final long seed;
    private final String device;
    private final String recipe;
    private final String out;

    private TrainConfig(Builder b) {
        model = Objects.requireNonNull(b.model, "model");
        numClasses = b.numClasses;
        dropout = b.dropout;
        frames = b.frames;
        size = b.size;
        trainShortMin = b.trainShortMin;
        trainShortMax = b.trainShortMax;
        testShortSide = b.testShortSide;
        sampling = b.sampling;
        denseSpan = b.denseSpan;
        testClips = b.testClips;
        testCrops = b.testCrops;
        flip = b.flip;
        epochs = b.epochs;
        warmupEpochs = b.warmupEpochs;
        batch = b.batch;
        accum = b.accum;
        lr = b.lr;
        momentum = b.momentum;
        weightDecay = b.weightDecay;
        multiLabel = b.multiLabel;
        cudaGraphs = b.cudaGraphs;
        deterministic = b.deterministic;
        precision = b.precision;
        memoryFormat = b.memoryFormat;
        dataRoot = b.dataRoot;
        trainList = b.trainList;
        valList = b.valList;
        labelsFile = b.labelsFile;
        frameTemplate = b.frameTemplate;
        syntheticTrain = b.syntheticTrain;
        syntheticVal = b.syntheticVal;
        workers = b.workers;
        seed = b.seed;
        device = b.device;
        recipe = b.recipe;
        out = b.out;
        validate();
    }

    private void validate() {
        require(numClasses >= 1, "classes must be >= 1, got " + numClasses);
        require(dropout >= 0 && dropout < 1, "dropout must be in [0, 1), got " + dropout);
        require(frames >= 1, "frames must be >= 1, got " + frames);
        require(size >= 8, "size must be >= 8, got " + size);
        require(trainShortMin >= size && trainShortMax >= trainShortMin,
                "train short side range [" + trainShortMin + ", " + trainShortMax + "] must be >= size " + size);
        require(testShortSide >= size, "test short side " + testShortSide + " must be >= size " + size);
        // the span is dense sampling's window (frames every span/frames); TSN sampling never reads it
        require(sampling != Recipe.Sampling.DENSE || denseSpan >= frames, "dense sampling takes " + frames
                + " frames from a window of " + denseSpan + ": --frames must be at most " + denseSpan
                + " with --sampling dense");
        require(testClips >= 1 && testClips <= MAX_TEST_CLIPS && (testCrops == 1 || testCrops == 3),
                "test views must be clips x crops with 1 to " + MAX_TEST_CLIPS + " clips and crops 1 or 3, got "
                        + testClips + "x" + testCrops);
        require(epochs >= 1, "epochs must be >= 1, got " + epochs);
        require(warmupEpochs >= 0 && warmupEpochs <= epochs, "warm-up epochs must be in [0, epochs], got " + warmupEpochs);
        require(batch >= 1, "batch must be >= 1, got " + batch);
        require(accum >= 1, "accum must be >= 1, got " + accum);
        require(Double.isNaN(lr) || (lr > 0 && Double.isFinite(lr)), "lr must be a finite number > 0, got " + lr);
        require(momentum >= 0 && momentum < 1, "momentum must be in [0, 1), got " + momentum);
        require(weightDecay >= 0 && Double.isFinite(weightDecay), "weight decay must be finite and >= 0, got "
                + weightDecay);
        require(workers >= AUTO_WORKERS, "workers must be >= 0 (or " + AUTO_WORKERS + ": by device), got " + workers);
        require(precision != null, "precision must be fp32, bf16 or fp16, got null");
        require(trainList == null || valList != null, "a train list needs a val list (--train-list needs --val-list)");
        // names checked here, at build(), not at the first use inside a run
        dev.sevnet.nn.SevNetConfig.parse(model, numClasses);
        if (recipe != null) {
            Recipe.get(recipe);
        }
        if (device != null && !device.trim().equalsIgnoreCase("auto")) {
            dev.sevnet.tensor.Device.parse(device);
        }
        require(syntheticTrain >= 1 && syntheticVal >= 1, "synthetic sample counts must be >= 1");
        require(!cudaGraphs || accum == 1, "CUDA graphs need accum 1, --cuda-graphs needs --accum 1 (a graph holds one "
                + "micro-batch's step)");
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * The main job's defaults: a small SEVNet on the synthetic motion dataset, sized so that a 2-core
     * CPU trains it to >= 90% validation top-1 in a few minutes.
     */
    public static Builder synthetic() {
        return new Builder();
    }

    public Builder toBuilder() {
        Builder b = new Builder();
        b.model = model;
        b.numClasses = numClasses;
        b.dropout = dropout;
        b.frames = frames;
        b.size = size;
        b.trainShortMin = trainShortMin;
        b.trainShortMax = trainShortMax;
        b.testShortSide = testShortSide;
        b.sampling = sampling;
        b.denseSpan = denseSpan;
        b.testClips = testClips;
        b.testCrops = testCrops;
        b.flip = flip;
        b.epochs = epochs;
        b.warmupEpochs = warmupEpochs;
        b.batch = batch;
        b.accum = accum;
        b.lr = lr;
        b.momentum = momentum;
        b.weightDecay = weightDecay;
        b.multiLabel = multiLabel;
        b.cudaGraphs = cudaGraphs;
        b.deterministic = deterministic;
        // a config saved before precision existed (Gson leaves the field null) trained in fp32
        b.precision = precision == null ? Precision.FP32 : precision;
        b.memoryFormat = memoryFormat == null ? dev.sevnet.tensor.MemoryFormat.CONTIGUOUS : memoryFormat;
        b.dataRoot = dataRoot;
        b.trainList = trainList;
        b.valList = valList;
        b.labelsFile = labelsFile;
        b.frameTemplate = frameTemplate;
        b.syntheticTrain = syntheticTrain;
        b.syntheticVal = syntheticVal;
        b.workers = workers;
        b.seed = seed;
        b.device = device;
        b.recipe = recipe;
        b.out = out;
        return b;
    }

    // ---- accessors ----

    public String model() { return model; }
    public int numClasses() { return numClasses; }
    public double dropout() { return dropout; }
    public int frames() { return frames; }
    public int size() { return size; }
    public int trainShortMin() { return trainShortMin; }
    public int trainShortMax() { return trainShortMax; }
    public int testShortSide() { return testShortSide; }
    public Recipe.Sampling sampling() { return sampling; }
    public int denseSpan() { return denseSpan; }
    public int testClips() { return testClips; }
    public int testCrops() { return testCrops; }
    public boolean flip() { return flip; }
    public int epochs() { return epochs; }
    public double warmupEpochs() { return warmupEpochs; }
    public int batch() { return batch; }
    public int accum() { return accum; }
    public double momentum() { return momentum; }
    public double weightDecay() { return weightDecay; }
    public boolean multiLabel() { return multiLabel; }
    public boolean cudaGraphs() { return cudaGraphs; }
    /** On a GPU, cuDNN convolutions use deterministic algorithms only (off: the fastest, some summing with atomics). */
    public boolean deterministic() { return deterministic; }
    /** fp32, or mixed precision bf16 / fp16 ({@link Precision}). */
    public Precision precision() { return precision; }

    /**
     * The activations' memory format on a CUDA device: contiguous (NCDHW) or channels-last (NDHWC activations,
     * KTRSC conv weights; {@link dev.sevnet.nn.SevNet#toMemoryFormat}). A device without it trains contiguous.
     */
    public dev.sevnet.tensor.MemoryFormat memoryFormat() {
        return memoryFormat == null ? dev.sevnet.tensor.MemoryFormat.CONTIGUOUS : memoryFormat;
    }
    public String dataRoot() { return dataRoot; }
    public String trainList() { return trainList; }
    public String valList() { return valList; }
    public String labelsFile() { return labelsFile; }
    public String frameTemplate() { return frameTemplate; }
    public int syntheticTrain() { return syntheticTrain; }
    public int syntheticVal() { return syntheticVal; }
    /** Loader threads as configured: a count, or {@link #AUTO_WORKERS} (see {@link #loaderThreads}). */
    public int workers() { return workers; }

    /** {@link #workers()} unless set: the loader threads chosen per device ({@link #loaderThreads}). */
    public static final int AUTO_WORKERS = -1;

    /**
     * The loader threads of a run on a GPU ({@code gpu}) or the CPU: {@link #workers()} when set, else 2 beside CPU
     * training (its compute takes every core; 2 keep a G2 8x32² step fed on 2 cores) and on a GPU the host's cores
     * less two (the training thread, the JIT and GC), 2 to 16 — one thread renders ~60-70 synthetic clips/s at 16x112²
     * or decodes ~100, where a GPU trains SEVNet-G8 at several hundred: two threads left the sixteenth session's H100
     * runs loader-bound.
     */
    public int loaderThreads(boolean gpu) {
        return loaderThreads(workers, gpu, Runtime.getRuntime().availableProcessors());
    }

    static int loaderThreads(int workers, boolean gpu, int cores) {
        if (workers >= 0) {
            return workers;
        }
        return gpu ? Math.max(2, Math.min(16, cores - 2)) : 2;
    }
    public long seed() { return seed; }
    public String device() { return device; }
    public String recipe() { return recipe; }
    public String out() { return out; }

    /** True when the run trains on the embedded synthetic dataset. */
    public boolean isSynthetic() {
        return trainList == null;
    }

    /** Clips per optimizer step: batch x accum. */
    public int effectiveBatch() {
        return batch * accum;
    }

    /** The learning rate given, or 0.01 per 8 clips scaled with the effective batch. */
    public double baseLr() {
        return Double.isNaN(lr) ? LrSchedule.scaledBaseLr(effectiveBatch()) : lr;
    }

    /** The raw --lr value (NaN when it follows the scaling rule). */
    public double lrOverride() {
        return lr;
    }

    private static final Gson GSON = new GsonBuilder().serializeSpecialFloatingPointValues().setPrettyPrinting().create();

    /** The configuration as the JSON text of a run's {@code config.json}; {@link #fromJson(String)} reads it back. */
    public String toJson() {
        return GSON.toJson(toJsonObject());
    }

    /**
     * Reads a configuration written by {@link #toJson()} (or a run's {@code config.json}) and validates it as
     * {@link Builder#build()} does.
     *
     * @throws IllegalArgumentException when the text is not a JSON object or a value is invalid
     */
    public static TrainConfig fromJson(String json) {
        java.util.Objects.requireNonNull(json, "json");
        JsonObject o;
        try {
            o = com.google.gson.JsonParser.parseString(json).getAsJsonObject();
        } catch (RuntimeException e) { // JsonParseException, IllegalStateException (not an object)
            throw new IllegalArgumentException("not a training configuration (JSON object): " + e.getMessage(), e);
        }
        return fromJsonObject(o);
    }

    // Gson types stay inside the package: the public API is the JSON text
    JsonObject toJsonObject() {
        JsonObject o = GSON.toJsonTree(this).getAsJsonObject();
        if (Double.isNaN(lr)) {
            o.remove("lr"); // strict JSON has no NaN: absent means "the scaling rule" (files with NaN still load)
        }
        return o;
    }

    static TrainConfig fromJsonObject(JsonObject o) {
        TrainConfig parsed = GSON.fromJson(o, TrainConfig.class);
        // re-validate through the builder (Gson bypasses the constructor, so an absent lr reads as 0)
        Builder b = parsed.toBuilder();
        if (!o.has("lr") || o.get("lr").isJsonNull()) {
            b.lr(Double.NaN);
        }
        // Gson reads an enum by constant name and anything else as null: the documented spellings, and a clear error
        if (o.has("precision") && !o.get("precision").isJsonNull()) {
            b.precision(Precision.parse(o.get("precision").getAsString()));
        }
        if (o.has("memoryFormat") && !o.get("memoryFormat").isJsonNull()) {
            b.memoryFormat(dev.sevnet.tensor.MemoryFormat.parse(o.get("memoryFormat").getAsString()));
        }
        return b.build();
    }

    @Override
    public String toString() {
        return GSON.toJson(this);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TrainConfig c && GSON.toJson(c).equals(GSON.toJson(this));
    }

    @Override
    public int hashCode() {
        return GSON.toJson(this).hashCode();
    }

    /** Mutable builder; the defaults are the main job's (synthetic data, small model, CPU-sized). */
    public static final class Builder {
        private String model = "sevnet-g2";
        private int numClasses = dev.sevnet.data.SyntheticMotionDataset.NUM_CLASSES;
        private double dropout = 0.2;
        private int frames = 8;
        private int size = 32;
        private int trainShortMin = 32;
        private int trainShortMax = 36;
        private int testShortSide = 32;
        private Recipe.Sampling sampling = Recipe.Sampling.TSN;
        private int denseSpan = 64;
        private int testClips = 1;
        private int testCrops = 1;
        private boolean flip;
        private int epochs = 10;
        private double warmupEpochs = 1;
        private int batch = 16;
        private int accum = 1;
        private double lr = Double.NaN;
        private double momentum = 0.9;
        private double weightDecay = 1e-4;
        private boolean multiLabel;
        private boolean cudaGraphs;
        private boolean deterministic;
        private Precision precision = Precision.FP32;
        private dev.sevnet.tensor.MemoryFormat memoryFormat = dev.sevnet.tensor.MemoryFormat.CONTIGUOUS;
        private String dataRoot;
        private String trainList;
        private String valList;
        private String labelsFile;
        private String frameTemplate;
        private int syntheticTrain = 3072;
        private int syntheticVal = 512;
        private int workers = AUTO_WORKERS;
        private long seed = 42;
        private String device = "auto";
        private String recipe;
        private String out;

        private Builder() {
        }

        public Builder model(String v) { model = v; return this; }
        public Builder numClasses(int v) { numClasses = v; return this; }
        public Builder dropout(double v) { dropout = v; return this; }
        public Builder frames(int v) { frames = v; return this; }

        /** The crop size; also raises the short-side ranges to at least {@code v}, keeping their ratio to the crop. */
        public Builder size(int v) {
            double lo = trainShortMin / (double) size;
            double hi = trainShortMax / (double) size;
            double te = testShortSide / (double) size;
            size = v;
            trainShortMin = (int) Math.round(v * lo);
            trainShortMax = (int) Math.round(v * hi);
            testShortSide = (int) Math.round(v * te);
            return this;
        }

        public Builder trainShortSide(int min, int max) { trainShortMin = min; trainShortMax = max; return this; }
        public Builder testShortSide(int v) { testShortSide = v; return this; }
        public Builder sampling(Recipe.Sampling v) { sampling = v; return this; }
        public Builder denseSpan(int v) { denseSpan = v; return this; }
        public Builder testClips(int v) { testClips = v; return this; }
        public Builder testCrops(int v) { testCrops = v; return this; }

        /** Views as "1", "1x1", "10x3", "3" (clips x crops). */
        public Builder views(String v) {
            String s = java.util.Objects.requireNonNull(v, "views").trim().toLowerCase(java.util.Locale.ROOT);
            try {
                if (s.contains("x")) {
                    String[] p = s.split("x", -1);
                    if (p.length != 2) {
                        throw new IllegalArgumentException("more than two parts");
                    }
                    testClips = Integer.parseInt(p[0].trim());
                    testCrops = Integer.parseInt(p[1].trim());
                } else {
                    testClips = Integer.parseInt(s);
                    testCrops = 1;
                }
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("bad views '" + v + "': expected CLIPSxCROPS such as 1 or 10x3");
            }
            return this;
        }

        public Builder flip(boolean v) { flip = v; return this; }
        public Builder epochs(int v) { epochs = v; warmupEpochs = Math.min(warmupEpochs, v); return this; }
        public Builder warmupEpochs(double v) { warmupEpochs = v; return this; }
        public Builder batch(int v) { batch = v; return this; }
        public Builder accum(int v) { accum = v; return this; }
        /** A fixed base learning rate; NaN (the default) follows 0.01 per 8 clips x effective batch. */
        public Builder lr(double v) { lr = v; return this; }
        public Builder momentum(double v) { momentum = v; return this; }
        public Builder weightDecay(double v) { weightDecay = v; return this; }
        public Builder multiLabel(boolean v) { multiLabel = v; return this; }
        public Builder cudaGraphs(boolean v) { cudaGraphs = v; return this; }
        /** cuDNN's deterministic convolution algorithms only: two runs of the same config agree bit for bit on a GPU. */
        public Builder deterministic(boolean v) { deterministic = v; return this; }
        public Builder precision(Precision v) { precision = v; return this; }
        /** "fp32", "bf16" or "fp16". */
        public Builder precision(String v) { precision = Precision.parse(v); return this; }

        public Builder memoryFormat(dev.sevnet.tensor.MemoryFormat v) {
            memoryFormat = java.util.Objects.requireNonNull(v, "memory format");
            return this;
        }

        /** {@code contiguous} or {@code channels-last} ({@link dev.sevnet.tensor.MemoryFormat#parse}). */
        public Builder memoryFormat(String v) { return memoryFormat(dev.sevnet.tensor.MemoryFormat.parse(v)); }
        public Builder dataRoot(String v) { dataRoot = v; return this; }
        public Builder trainList(String v) { trainList = v; return this; }
        public Builder valList(String v) { valList = v; return this; }
        public Builder labelsFile(String v) { labelsFile = v; return this; }
        public Builder frameTemplate(String v) { frameTemplate = v; return this; }
        public Builder syntheticTrain(int v) { syntheticTrain = v; return this; }
        public Builder syntheticVal(int v) { syntheticVal = v; return this; }
        public Builder workers(int v) { workers = v; return this; }
        public Builder seed(long v) { seed = v; return this; }
        public Builder device(String v) { device = v; return this; }
        public Builder recipe(String v) { recipe = v; return this; }
        public Builder out(String v) { out = v; return this; }

        public int numClassesValue() { return numClasses; }

        public TrainConfig build() {
            return new TrainConfig(this);
        }
    }
}
