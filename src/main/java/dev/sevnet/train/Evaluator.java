package dev.sevnet.train;

import dev.sevnet.autograd.GradMode;
import dev.sevnet.autograd.Var;
import dev.sevnet.backend.Backend;
import dev.sevnet.backend.Backends;
import dev.sevnet.backend.Uploader;
import dev.sevnet.data.Batch;
import dev.sevnet.data.ClipLoader;
import dev.sevnet.data.ClipSource;
import dev.sevnet.nn.Module;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;

import java.util.function.BiConsumer;

/**
 * Evaluation: the model in eval mode under {@link GradMode#noGrad()}, one view or several per sample
 * (softmax probabilities averaged over the views; sigmoid for multi-label), every metric of
 * {@link Metrics}.
 */
public final class Evaluator {
    private Evaluator() {
    }

    /**
     * Runs {@code model} over every sample of {@code source}.
     *
     * @param perSample called with (dataset index, averaged probabilities) for each sample, or null
     * @param progress  counts clips (samples x views) as they finish, or null
     */
    public static Metrics.Result evaluate(Module model, ClipSource source, boolean multiLabel, int batch, int workers,
            long seed, Progress progress, BiConsumer<Integer, float[]> perSample) {
        boolean wasTraining = model.isTraining();
        model.train(false);
        int views = source.testViews();
        int k = source.numClasses();
        Metrics.Accumulator acc = new Metrics.Accumulator(k, multiLabel);
        int perBatch = Math.max(1, batch / Math.max(1, views));
        dev.sevnet.tensor.Device device = model.device();
        boolean prefetch = BatchPrefetcher.enabledFor(device);
        try (GradMode.Guard g = GradMode.noGrad();
                ClipLoader loader = ClipLoader.builder(source).batchSize(perBatch).workers(workers).seed(seed)
                        .train(false).shuffle(false).multiView(views > 1).build();
                ClipLoader.Epoch epoch = loader.epoch(0);
                Uploader uploader = prefetch ? Backends.forDevice(device).uploader(2) : null;
                BatchPrefetcher prefetcher = prefetch ? new BatchPrefetcher(epoch, uploader, "sevnet-prefetch-eval") : null) {
            java.util.Iterator<BatchPrefetcher.Item> batches = prefetch ? prefetcher : BatchPrefetcher.direct(epoch);
            boolean any = false;
            while (batches.hasNext()) {
                try (BatchPrefetcher.Item item = batches.next(); TensorScope scope = TensorScope.open()) {
                    Batch b = item.batch();
                    Tensor x = item.clips() != null ? item.clips().take() : onDevice(model, b.clips());
                    Var logits = model.forward(Var.of(x));
                    Backend be = Backends.of(logits.value());
                    Tensor probs = multiLabel ? be.sigmoid(logits.value()) : be.softmax(logits.value());
                    float[] p = be.toHost(probs).toFloatArray();
                    int n = b.size();
                    int v = b.viewsPerSample();
                    int[] idx = b.indices();
                    for (int i = 0; i < n; i++) {
                        float[] avg = new float[k];
                        for (int j = 0; j < v; j++) {
                            int row = (i * v + j) * k;
                            for (int c = 0; c < k; c++) {
                                avg[c] += p[row + c] / v;
                            }
                        }
                        int[] labels = b.labelSet(i);
                        acc.add(avg, labels);
                        double loss = sampleLoss(avg, labels, multiLabel);
                        if (!Double.isNaN(loss)) {
                            acc.addLoss(loss, 1);
                        }
                        if (perSample != null) {
                            perSample.accept(idx[i], avg);
                        }
                    }
                    if (progress != null) {
                        progress.step((long) n * v, null);
                    }
                    any |= n > 0;
                }
            }
            if (!any) {
                throw new IllegalArgumentException(Trainer.noSamples("evaluation", source.size(), epoch.skipped()));
            }
        } finally {
            model.train(wasTraining);
        }
        return acc.result();
    }

    /** Cross-entropy of the averaged probabilities (BCE for multi-label); NaN for unlabelled samples. */
    static double sampleLoss(float[] probs, int[] labels, boolean multiLabel) {
        if (labels.length == 0) {
            return Double.NaN;
        }
        final double eps = 1e-7;
        if (!multiLabel) {
            return -Math.log(Math.max(probs[labels[0]], eps));
        }
        boolean[] pos = new boolean[probs.length];
        for (int l : labels) {
            pos[l] = true;
        }
        double s = 0;
        for (int c = 0; c < probs.length; c++) {
            double p = Math.min(Math.max(probs[c], eps), 1 - eps);
            s -= pos[c] ? Math.log(p) : Math.log(1 - p);
        }
        return s / probs.length;
    }

    /** {@code t} on the model's device (a new reference, owned by the current scope). */
    static Tensor onDevice(Module model, Tensor t) {
        dev.sevnet.tensor.Device d = model.device();
        return t.device().equals(d) ? t.reshape(t.shape()) : Backends.forDevice(d).toDevice(t);
    }
}
