package dev.sevnet.train;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The paper's training and testing recipes (section 4.1 and the dataset sections), one per dataset.
 * A recipe only fills a {@link TrainConfig.Builder}'s defaults: every value can be overridden after
 * {@link #applyTo}.
 *
 * <table>
 *   <caption>recipes</caption>
 *   <tr><th>recipe</th><th>classes</th><th>sampling</th><th>dropout</th><th>epochs</th><th>test views</th><th>metrics</th></tr>
 *   <tr><td>ssv1</td><td>174</td><td>TSN, 16 segments</td><td>0.5</td><td>64</td><td>1 clip x 1 crop</td><td>top-1, top-5</td></tr>
 *   <tr><td>ssv2</td><td>174</td><td>TSN, 16 segments</td><td>0.5</td><td>64</td><td>1 x 1</td><td>top-1, top-5</td></tr>
 *   <tr><td>k400</td><td>400</td><td>dense, 16 of 64 frames</td><td>0.2</td><td>100</td><td>10 clips x 3 crops</td><td>top-1, top-5</td></tr>
 *   <tr><td>gym99</td><td>99</td><td>TSN, 16</td><td>0.5</td><td>64</td><td>1 x 1</td><td>top-1, mean class acc</td></tr>
 *   <tr><td>gym288</td><td>288</td><td>TSN, 16</td><td>0.5</td><td>64</td><td>1 x 1</td><td>top-1, mean class acc</td></tr>
 *   <tr><td>mmit</td><td>313</td><td>TSN, 16</td><td>0.2</td><td>64</td><td>1 x 1</td><td>mAP (multi-label, BCE)</td></tr>
 * </table>
 * All train with SGD (momentum 0.9, weight decay 1e-4), 0.01 per 8 clips scaled with the batch, 4
 * warm-up epochs then cosine decay, batch 64, short side in [224, 256] then a random 224 crop; test
 * with short side 224 and a centre crop (3 crops for 10x3 testing).
 */
public record Recipe(String name, int numClasses, int frames, Sampling sampling, int denseSpan, double dropout,
        int epochs, double warmupEpochs, boolean multiLabel, int testClips, int testCrops, List<String> metrics,
        String description) {

    /** Temporal sampling: TSN segments (one frame per segment) or a dense clip of consecutive frames. */
    public enum Sampling {
        TSN, DENSE;

        public static Sampling parse(String s) {
            return switch (s.trim().toLowerCase(Locale.ROOT)) {
                case "tsn", "segments", "segment" -> TSN;
                case "dense", "clip", "clips" -> DENSE;
                default -> throw new IllegalArgumentException("unknown sampling '" + s + "': expected tsn or dense");
            };
        }
    }

    private static final Map<String, Recipe> RECIPES = new TreeMap<>();

    static {
        List<String> acc = List.of("top1", "top5", "mean_class_acc");
        add(new Recipe("ssv1", 174, 16, Sampling.TSN, 64, 0.5, 64, 4, false, 1, 1, acc,
                "Something-Something V1 (frame folders {:05d}.jpg, CSV id;label)"));
        add(new Recipe("ssv2", 174, 16, Sampling.TSN, 64, 0.5, 64, 4, false, 1, 1, acc,
                "Something-Something V2 (webm videos, JSON annotations)"));
        add(new Recipe("k400", 400, 16, Sampling.DENSE, 64, 0.2, 100, 4, false, 10, 3, acc,
                "Kinetics-400 (16 of 64 consecutive frames, 10x3-view testing)"));
        add(new Recipe("gym99", 99, 16, Sampling.TSN, 64, 0.5, 64, 4, false, 1, 1, acc,
                "FineGym Gym99 (mean class accuracy is the headline metric)"));
        add(new Recipe("gym288", 288, 16, Sampling.TSN, 64, 0.5, 64, 4, false, 1, 1, acc,
                "FineGym Gym288 (mean class accuracy is the headline metric)"));
        add(new Recipe("mmit", 313, 16, Sampling.TSN, 64, 0.2, 64, 4, true, 1, 1,
                List.of("mmit_map", "map", "top1", "top5"),
                "Multi-Moments in Time (multi-label: BCE with logits; per-sample MMIT mAP picks the best checkpoint)"));
    }

    private static void add(Recipe r) {
        RECIPES.put(r.name(), r);
    }

    /** The recipe of that name (case-insensitive). */
    public static Recipe get(String name) {
        Recipe r = RECIPES.get(name.trim().toLowerCase(Locale.ROOT));
        if (r == null) {
            throw new IllegalArgumentException("unknown recipe '" + name + "': expected one of " + String.join("|", RECIPES.keySet()));
        }
        return r;
    }

    public static List<String> names() {
        return List.copyOf(RECIPES.keySet());
    }

    /** Sets this recipe's values on {@code b} (the caller then applies its own overrides). */
    public TrainConfig.Builder applyTo(TrainConfig.Builder b) {
        return b.recipe(name)
                .numClasses(numClasses)
                .frames(frames)
                .sampling(sampling)
                .denseSpan(denseSpan)
                .dropout(dropout)
                .epochs(epochs)
                .warmupEpochs(warmupEpochs)
                .multiLabel(multiLabel)
                .testClips(testClips)
                .testCrops(testCrops)
                .size(224)
                .trainShortSide(224, 256)
                .batch(8)
                .accum(8)
                .momentum(0.9)
                .weightDecay(1e-4);
    }
}
