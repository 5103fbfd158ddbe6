package dev.sevnet.train;

import dev.sevnet.autograd.Autocast;
import dev.sevnet.autograd.F;
import dev.sevnet.autograd.Var;
import dev.sevnet.backend.CachingAllocator;
import dev.sevnet.backend.Uploader;
import dev.sevnet.backend.cuda.CudaBackend;
import dev.sevnet.backend.cuda.CudaGraph;
import dev.sevnet.data.Batch;
import dev.sevnet.nn.BatchNorm3d;
import dev.sevnet.nn.Dropout;
import dev.sevnet.nn.Module;
import dev.sevnet.nn.Parameter;
import dev.sevnet.nn.SevNet;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The training step — zero the gradients, forward, loss, backward — as one CUDA graph ({@code train --cuda-graphs}):
 * a few hundred kernel launches per step become one, which is what a small model or small clips spend their time
 * on (PyTorch's {@code torch.cuda.graphs} training recipe). The optimizer step stays eager: it is one launch, and the
 * learning rate changes every step.
 *
 * <p>The first {@value #WARMUP_STEPS} full batches run eagerly (cuDNN's algorithm search, the kernel routes measured,
 * the gradients and momentum buffers allocated); the next one is captured — reading a static clip buffer, static
 * labels and a static loss seed, its activations in a private pool of the caching allocator — and replayed, as is
 * every later batch of that shape after its clips and labels are copied in. Dropout masks are drawn before each
 * replay from the same seeds the eager forward would use ({@link Dropout#nextSeed()}) into static masks, and every
 * batch norm's {@code num_batches_tracked} is counted on the host, so a graphed run is the eager run: same masks, same
 * statistics, same checkpoint. Other batch shapes (a last partial batch) and out-of-memory splits run eagerly.
 *
 * <p>fp32, bf16 and fp16: fp16's loss scale seeds the loss gradient from a static device value refilled before a
 * replay when the scale changed, and its check and unscale of the gradients stay with the (eager) optimizer step.
 * One micro-batch per step ({@code accum} 1; the trainer checks). A capture that fails is logged and the run
 * continues eagerly.
 */
public final class GraphedTrainStep implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(GraphedTrainStep.class);
    public static final int WARMUP_STEPS = 2;

    private final Module model;
    private final CudaBackend gpu;
    private final Precision precision;
    private final boolean multiLabel;
    private final int numClasses;
    private final CachingAllocator.Pool pool;
    private final List<Dropout> dropouts = new ArrayList<>();
    private final List<BatchNorm3d> norms = new ArrayList<>();
    private final List<Tensor[]> masks = new ArrayList<>(); // per dropout: {static mask, ones}
    /**
     * The leaves whose gradients the captured backward writes in full (their zeroGrad was pending at the capture, so
     * the graph holds the write, not an add): after a replay a zeroGrad pending since is dropped, not applied.
     */
    private final List<Var> written = new ArrayList<>();
    private Shape shape;
    private Tensor clips;
    private Tensor targets;
    private Tensor seed;
    private Tensor loss;
    private Tensor logits;
    private CudaGraph graph;
    private int eagerSteps;
    private boolean failed;
    private long replays;
    /** The value in the static loss seed (fp16's loss scale, else 1). */
    private float seedValue = Float.NaN;
    /** Per batch norm, the batches one step counts (what its forward counted while the capture recorded). */
    private long[] countedPerStep;

    GraphedTrainStep(SevNet model, CudaBackend gpu, TrainConfig config) {
        this(model, gpu, config.precision(), config.multiLabel(), config.numClasses());
        if (config.accum() != 1) {
            close();
            throw new IllegalArgumentException("--cuda-graphs needs --accum 1 (a graph holds one micro-batch's step), got "
                    + config.accum());
        }
    }

    /**
     * The step of {@code model} (on {@code gpu}, in training mode) with softmax cross-entropy over
     * {@code numClasses} (BCE with logits when {@code multiLabel}), under {@code precision}'s autocast.
     */
    public GraphedTrainStep(Module model, CudaBackend gpu, Precision precision, boolean multiLabel, int numClasses) {
        this.model = model;
        this.gpu = gpu;
        this.precision = precision;
        this.multiLabel = multiLabel;
        this.numClasses = numClasses;
        this.pool = gpu.cudaDevice().allocator().newPool();
        for (Module m : model.namedModules().values()) {
            if (m instanceof Dropout d && d.p() > 0) {
                dropouts.add(d);
            } else if (m instanceof BatchNorm3d bn) {
                norms.add(bn);
            }
        }
    }

    /** Steps replayed so far. */
    public long replays() {
        return replays;
    }

    /** Whether the step has been captured (then the gradients are zeroed by each replay, not after the step). */
    public boolean captured() {
        return graph != null;
    }

    /**
     * The step of the full batch {@code b} through the graph: its loss, with the logits copied into
     * {@code logitsOut}; or NaN when this batch runs eagerly instead (still warming up, another shape, a failed
     * capture). {@code upload}: the batch's prefetched clips, or null.
     */
    double run(Batch b, Uploader.Upload upload, float[] logitsOut, float lossScale) {
        return step(b.clips(), upload, multiLabel ? null : b.labels(), multiLabel ? b.multiHot() : null, logitsOut,
                lossScale);
    }

    /**
     * One training step of {@code clips} (on the host or this device) with int64 {@code labels} (or {@code multiHot}
     * targets [N * K] when multi-label) through the graph: the loss, the logits copied into {@code logitsOut} (or
     * null); NaN when the caller must run this step eagerly itself (the first {@value #WARMUP_STEPS} steps, another
     * shape than the captured one, a failed capture). The loss gradient is seeded with {@code lossScale} (fp16's
     * loss scale; 1 otherwise): the optimizer step, with fp16's check and unscale of the gradients, is the caller's,
     * after this.
     */
    public double step(Tensor clips, long[] labels, float[] multiHot, float[] logitsOut, float lossScale) {
        return step(clips, null, labels, multiHot, logitsOut, lossScale);
    }

    private double step(Tensor host, Uploader.Upload upload, long[] labels, float[] multiHot, float[] logitsOut,
            float lossScale) {
        if (failed || shape != null && !shape.equals(host.shape())) {
            return Double.NaN;
        }
        if (eagerSteps < WARMUP_STEPS) {
            eagerSteps++;
            return Double.NaN;
        }
        if (graph == null) {
            try {
                capture(host.shape());
            } catch (RuntimeException | Error e) {
                failed = true;
                LOG.warn("could not capture the training step into a CUDA graph ({}); training goes on eagerly",
                        e.toString());
                try {
                    release();
                } finally {
                    pool.close(); // what the capture took goes back to the shared cache now, not at the end of the run
                }
                return Double.NaN;
            }
        }
        fillInputs(host, upload, labels, multiHot);
        if (lossScale != seedValue) {
            gpu.fill(seed, lossScale); // read by the replay: the seed is a static buffer
            seedValue = lossScale;
        }
        drawMasks();
        graph.replay();
        replays++;
        written.forEach(Var::markGradWritten);
        for (int i = 0; i < norms.size(); i++) {
            BatchNorm3d bn = norms.get(i);
            bn.setNumBatchesTracked(bn.numBatchesTracked() + countedPerStep[i]);
        }
        if (logitsOut != null) {
            float[] l = logits.toFloatArray(); // waits for the replay
            System.arraycopy(l, 0, logitsOut, 0, l.length);
        }
        return loss.toFloatArray()[0];
    }

    private void capture(Shape s) {
        int n = Math.toIntExact(s.get(0));
        int k = numClasses;
        shape = s;
        clips = TensorScope.detach(gpu.allocate(s, DType.FLOAT32));
        targets = TensorScope.detach(multiLabel ? gpu.allocate(Shape.of(n, k), DType.FLOAT32)
                : gpu.allocate(Shape.of(n), DType.INT64));
        seed = TensorScope.detach(gpu.allocate(Shape.of(1), DType.FLOAT32));
        gpu.fill(seed, 1f); // accum 1; a loss scale is filled in before each replay
        seedValue = 1f;
        for (Dropout d : dropouts) {
            Shape ms = d.lastInputShape();
            if (ms == null) {
                throw new IllegalStateException("dropout " + d + " did not run in the eager warm-up steps");
            }
            Tensor mask = TensorScope.detach(gpu.allocate(ms, DType.FLOAT32));
            Tensor ones = TensorScope.detach(gpu.allocate(ms, DType.FLOAT32));
            gpu.fill(ones, 1f);
            masks.add(new Tensor[] {mask, ones});
            d.useStaticMask(mask);
        }
        // the capture records kernels without running them: what the Java side counts while recording is undone,
        // and added again per replay
        long[] counted = new long[norms.size()];
        for (int i = 0; i < counted.length; i++) {
            counted[i] = norms.get(i).numBatchesTracked();
        }
        Tensor[] out = new Tensor[2];
        boolean ok = false;
        try {
            graph = CudaGraph.capture(gpu, pool, () -> {
                try (TensorScope scope = TensorScope.open()) {
                    model.zeroGrad();
                    Var lg;
                    try (Autocast.Guard ac = Autocast.enable(precision.autocastType())) {
                        lg = model.forward(Var.of(clips));
                    }
                    Var l = multiLabel ? F.bceWithLogits(lg, targets) : F.softmaxCrossEntropy(lg, targets);
                    l.backward(seed);
                    out[0] = TensorScope.detach(l.value());
                    out[1] = TensorScope.detach(lg.value());
                }
            });
            ok = true;
        } finally {
            countedPerStep = new long[counted.length];
            for (int i = 0; i < counted.length; i++) {
                countedPerStep[i] = norms.get(i).numBatchesTracked() - counted[i];
                norms.get(i).setNumBatchesTracked(counted[i]);
            }
            // the static masks serve the recording only: an eager forward later (another shape, an out-of-memory
            // split) draws its own mask from the same seed sequence
            for (Dropout d : dropouts) {
                d.useStaticMask(null);
            }
            if (!ok) {
                for (Tensor t : out) {
                    if (t != null) {
                        t.close();
                    }
                }
            }
        }
        loss = out[0];
        logits = out[1];
        for (Parameter p : model.namedParameters().values()) {
            Var v = p.var();
            if (p.requiresGrad() && !v.gradPendingZero() && v.grad() != null) {
                written.add(v);
            }
        }
        LOG.info("training step captured into a CUDA graph (batch {}, {} graph blocks); later steps of this shape "
                + "replay it", s, pool.blocks());
    }

    /** The step's clips and labels into the static buffers (labels checked on the host first). */
    private void fillInputs(Tensor host, Uploader.Upload upload, long[] labels, float[] multiHot) {
        if (upload != null) {
            try (Tensor d = upload.take()) {
                gpu.copyInto(d, clips);
            }
        } else {
            gpu.copyInto(host, clips);
        }
        int k = numClasses;
        int n = Math.toIntExact(host.dim(0));
        if (multiLabel) {
            try (Tensor t = Tensor.of(multiHot, n, k)) {
                gpu.copyInto(t, targets);
            }
        } else {
            if (labels.length != n) {
                throw new IllegalArgumentException(labels.length + " labels for a batch of " + n);
            }
            for (int i = 0; i < labels.length; i++) {
                if (labels[i] < 0 || labels[i] >= k) {
                    throw new IllegalArgumentException("label " + labels[i] + " of sample " + i + " is outside [0, " + k
                            + ")");
                }
            }
            try (Tensor t = Tensor.ofLongs(labels, labels.length)) {
                gpu.copyInto(t, targets);
            }
        }
    }

    /** Each dropout's next mask, from the seed its eager forward would have used. */
    private void drawMasks() {
        for (int i = 0; i < dropouts.size(); i++) {
            Dropout d = dropouts.get(i);
            Tensor[] mo = masks.get(i);
            Tensor[] ym = gpu.dropout(mo[1], (float) d.p(), d.nextSeed());
            try {
                gpu.copyInto(ym[1], mo[0]);
            } finally {
                ym[0].close();
                ym[1].close();
            }
        }
    }

    private void release() {
        for (Dropout d : dropouts) {
            d.useStaticMask(null);
        }
        try {
            if (graph != null) {
                graph.close();
            }
        } finally {
            graph = null;
            for (Tensor t : new Tensor[] {clips, targets, seed, loss, logits}) {
                if (t != null) {
                    t.close();
                }
            }
            clips = targets = seed = loss = logits = null;
            for (Tensor[] mo : masks) {
                mo[0].close();
                mo[1].close();
            }
            masks.clear();
            written.clear();
        }
    }

    /** Destroys the graph and gives its memory back; the model's dropouts draw their own masks again. */
    @Override
    public void close() {
        try {
            release();
        } finally {
            pool.close();
        }
    }
}
