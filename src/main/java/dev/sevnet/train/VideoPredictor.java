package dev.sevnet.train;

import dev.sevnet.autograd.GradMode;
import dev.sevnet.autograd.Var;
import dev.sevnet.backend.Backend;
import dev.sevnet.backend.Backends;
import dev.sevnet.data.Clip;
import dev.sevnet.data.VideoListDataset;
import dev.sevnet.nn.SevNet;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Predicts the classes of video files with a checkpoint: decodes each file with the data layer's
 * video reader, applies the run's test-time transform and views, and averages the softmax
 * probabilities (sigmoid for multi-label) over the views. A file that cannot be decoded gets an
 * error instead of a prediction; the others are still predicted.
 */
public final class VideoPredictor implements AutoCloseable {
    private final TrainConfig config;
    private final List<String> labels;
    private final SevNet model;

    /** One file's outcome: the top classes and probabilities, or an error message. */
    public record Prediction(Path video, int[] classes, float[] probabilities, List<String> names, String error) {
        public boolean ok() {
            return error == null;
        }
    }

    private VideoPredictor(TrainConfig config, List<String> labels, SevNet model) {
        this.config = config;
        this.labels = labels;
        this.model = model;
    }

    /** Loads a checkpoint folder (or a run directory: its last checkpoint) onto the device {@code auto} picks. */
    public static VideoPredictor load(Path checkpoint) {
        return load(checkpoint, "auto");
    }

    /** Loads a checkpoint onto {@code device} (auto, cpu, cuda[:i]). */
    public static VideoPredictor load(Path checkpoint, String device) {
        DeviceChoice choice = DeviceChoice.resolve(device);
        Checkpoint.State st = Checkpoint.readState(checkpoint);
        TrainConfig c = st.config();
        SevNet model = Trainer.createModel(c);
        Map<String, Tensor> w = Checkpoint.readModel(checkpoint);
        try {
            model.loadStateDict(w, true);
        } catch (RuntimeException e) {
            model.close();
            throw e;
        } finally {
            w.values().forEach(Tensor::close);
        }
        try {
            model.to(choice.backend());
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
        model.train(false);
        List<String> names = st.labels().size() == c.numClasses() ? st.labels()
                : dev.sevnet.data.AnnotationReaders.numberedClasses(c.numClasses());
        return new VideoPredictor(c, names, model);
    }

    public TrainConfig config() {
        return config;
    }

    public List<String> labels() {
        return labels;
    }

    /** Predicts each file; never throws for a bad file (its Prediction carries the error). */
    public List<Prediction> predict(List<Path> videos, int top) {
        VideoListDataset files = Datasets.files(config, videos, labels);
        List<Prediction> out = new ArrayList<>(videos.size());
        for (int i = 0; i < videos.size(); i++) {
            Path v = videos.get(i);
            try {
                List<Clip> views = files.loadViews(i);
                float[] probs = probabilities(views);
                int[] best = Metrics.topKIndices(probs, top);
                float[] p = new float[best.length];
                List<String> names = new ArrayList<>();
                for (int j = 0; j < best.length; j++) {
                    p[j] = probs[best[j]];
                    names.add(labels.get(best[j]));
                }
                out.add(new Prediction(v, best, p, names, null));
            } catch (RuntimeException e) {
                String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
                out.add(new Prediction(v, new int[0], new float[0], List.of(), m.lines().findFirst().orElse(m)));
            }
        }
        return out;
    }

    /** Averaged class probabilities of the views of one video. */
    public float[] probabilities(List<Clip> views) {
        Clip first = views.get(0);
        int per = first.data().length;
        int k = config.numClasses();
        try (GradMode.Guard g = GradMode.noGrad(); TensorScope scope = TensorScope.open()) {
            Tensor x = Tensor.empty(Shape.of(views.size(), 3, first.frames(), first.height(), first.width()));
            var buf = x.floatBuffer();
            for (int v = 0; v < views.size(); v++) {
                buf.put(v * per, views.get(v).data());
            }
            Var logits = model.forward(Var.of(Evaluator.onDevice(model, x)));
            Backend b = Backends.of(logits.value());
            Tensor probs = config.multiLabel() ? b.sigmoid(logits.value()) : b.softmax(logits.value());
            float[] p = b.toHost(probs).toFloatArray();
            float[] avg = new float[k];
            for (int v = 0; v < views.size(); v++) {
                for (int c = 0; c < k; c++) {
                    avg[c] += p[v * k + c] / views.size();
                }
            }
            return avg;
        }
    }

    @Override
    public void close() {
        model.close();
    }
}
