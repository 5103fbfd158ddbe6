package dev.sevnet.infer;

import dev.sevnet.data.SyntheticExport;
import dev.sevnet.data.SyntheticMotionDataset;
import dev.sevnet.data.VideoWriter;
import dev.sevnet.nn.SevNet;
import dev.sevnet.train.Checkpoint;
import dev.sevnet.train.TrainConfig;
import dev.sevnet.train.Trainer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A tiny model and videos for the inference tests: sevnet-g2, the 10 synthetic motion classes, 8x32x32
 * clips (the main job's defaults), initialised (not trained) with random BatchNorm statistics and saved
 * as a checkpoint; synthetic mp4 (and webm) files of 8 frames at 32x32.
 */
final class InferFixture {
    private InferFixture() {
    }

    static TrainConfig config(long seed) {
        return TrainConfig.builder().seed(seed).build();
    }

    /** Writes the checkpoint folder {@code dir/checkpoint} and returns it. */
    static Path checkpoint(Path dir, long seed) {
        TrainConfig c = config(seed);
        Path ck = dir.resolve("checkpoint");
        try (SevNet net = Trainer.createModel(c)) {
            FoldedSevNetTest.randomizeBatchNorms(net, seed);
            Checkpoint.write(ck, net.stateDict(), Map.of(), new Checkpoint.State(0, 0, 0, Double.NaN, 0, Double.NaN, 0, c,
                    SyntheticMotionDataset.classNamesList()));
        }
        return ck;
    }

    /** {@code n} synthetic videos (mp4, H.264) under {@code dir/videos}. */
    static List<Path> videos(Path dir, int n) {
        SyntheticMotionDataset template = SyntheticMotionDataset.builder().seed(11).frames(8).resolution(32).build();
        try {
            SyntheticExport.Summary s = SyntheticExport.write(dir.resolve("videos"), 0, n, template);
            List<Path> out = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                out.add(s.outDir().resolve(String.format("val/%06d.mp4", i)));
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** One synthetic video as VP9 in webm. */
    static Path webm(Path dir) {
        SyntheticMotionDataset d = SyntheticMotionDataset.builder().size(1).seed(5).frames(8).resolution(32).build();
        Path f = dir.resolve("clip.webm");
        try {
            VideoWriter.write(f, d.render(0), 8, VideoWriter.Codec.VP9_WEBM);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return f;
    }
}
