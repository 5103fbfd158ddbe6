package dev.sevnet.infer;

import dev.sevnet.autograd.GradMode;
import dev.sevnet.bench.Int8Bench;
import dev.sevnet.data.Clip;
import dev.sevnet.data.SyntheticMotionDataset;
import dev.sevnet.autograd.Var;
import dev.sevnet.nn.MacCounter;
import dev.sevnet.nn.SevNet;
import dev.sevnet.nn.SevNetConfig;
import dev.sevnet.tensor.MemoryStats;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import dev.sevnet.train.Checkpoint;
import dev.sevnet.train.Datasets;
import dev.sevnet.train.TrainConfig;
import dev.sevnet.train.Trainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The int8 model against the folded fp32 one it was built from. */
class QuantizedSevNetTest {

    static int argmax(float[] a, int row, int k) {
        int best = 0;
        for (int j = 1; j < k; j++) {
            if (a[row * k + j] > a[row * k + best]) {
                best = j;
            }
        }
        return best;
    }

    @ParameterizedTest
    @ValueSource(strings = {"sevnet-g2", "sevnet-g8", "sevnet-se-g8"})
    void int8LogitsFollowTheFp32Model(String model) {
        long before = MemoryStats.liveHostBytes();
        int k = 10;
        SevNetConfig cfg = SevNetConfig.parse(model, k);
        Shape in = Shape.of(8, 3, 4, 32, 32);
        try (SevNet net = SevNet.create(cfg, 7);
                Tensor calib1 = FoldedSevNetTest.randomClips(Shape.of(2, 3, 4, 32, 32), 31);
                Tensor calib2 = FoldedSevNetTest.randomClips(Shape.of(2, 3, 4, 32, 32), 32);
                Tensor x = FoldedSevNetTest.randomClips(in, 33)) {
            FoldedSevNetTest.randomizeBatchNorms(net, 5);
            net.eval();
            try (FoldedSevNet folded = FoldedSevNet.fold(net);
                    QuantizedSevNet q = QuantizedSevNet.quantize(folded, List.of(calib1, calib2));
                    GradMode.Guard g = GradMode.noGrad();
                    TensorScope scope = TensorScope.open()) {
                float[] expected = folded.forward(Var.of(x)).value().toFloatArray();
                float[] actual = q.forward(Var.of(x)).value().toFloatArray();
                double err = FoldedSevNetTest.relErr(actual, expected);
                int agree = 0;
                for (int i = 0; i < in.get(0); i++) {
                    agree += argmax(actual, i, k) == argmax(expected, i, k) ? 1 : 0;
                }
                System.out.printf("%s: int8 vs fp32 logits, max relative error %.2e, top-1 agreement %d/%d%n", model,
                        err, agree, in.get(0));
                assertTrue(err <= 0.05, model + ": max relative error " + err);
                assertTrue(agree >= in.get(0) - 1, model + ": top-1 agreement " + agree + "/" + in.get(0));
                // every conv calibrated: the clip is signed (zp 128), everything after a ReLU is not (zp 0);
                // one scale per input channel
                q.activationQuantization().forEach((name, sz) -> {
                    assertTrue(sz[0] > 0 && Float.isFinite(sz[0]), name);
                    assertEquals(name.equals("stem.conv_s") ? 128f : 0f, sz[1], name);
                    for (int i = 2; i < sz.length; i++) {
                        assertTrue(sz[i] > 0 && sz[i] <= sz[0], name);
                    }
                });
                assertEquals(2 + 3, q.activationQuantization().get("stem.conv_s").length);
                MacCounter a = new MacCounter();
                MacCounter b = new MacCounter();
                assertEquals(folded.outputShape(in, a), q.outputShape(in, b));
                assertEquals(a.total(), b.total());
            }
        }
        assertEquals(before, MemoryStats.liveHostBytes(), "every int8 and fp32 tensor freed");
    }

    /**
     * The small model of the inference tests (sevnet-g2, random weights and BatchNorm statistics) on 256
     * synthetic validation clips, int8 calibrated on 8 clips of the training distribution as the
     * Predictor does: top-1 agreement with fp32 and logit errors bounded. (A trained model's accuracy is
     * {@code Int8Bench acc}: training one takes minutes; bench/RESULTS.md has the figures.)
     */
    @Test
    void int8AgreesWithFp32OnSyntheticClips(@TempDir Path dir) {
        Path ck = InferFixture.checkpoint(dir, 5);
        TrainConfig c = Checkpoint.readState(ck).config().toBuilder().syntheticVal(256).build();
        try (SevNet net = Trainer.createModel(c); TensorScope scope = TensorScope.open()) {
            net.loadStateDict(Checkpoint.readModel(ck), true);
            net.eval();
            SyntheticMotionDataset train = SyntheticMotionDataset.builder().size(8).seed(c.seed()).frames(c.frames())
                    .resolution(c.size()).build();
            List<Tensor> calib = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                Clip clip = train.load(i, new Random(i), false);
                calib.add(Tensor.of(clip.data(), 1, 3, clip.frames(), clip.height(), clip.width()));
            }
            try (FoldedSevNet folded = FoldedSevNet.fold(net);
                    QuantizedSevNet q = QuantizedSevNet.quantize(folded, calib)) {
                Int8Bench.Agreement a = Int8Bench.compare(folded, q, Datasets.val(c), 16);
                System.out.printf("sevnet-g2 (random), %d synthetic val clips: top-1 agree %.2f%%, |logit error| mean "
                        + "%.4f, max %.4f (mean |logit| %.3f)%n", a.clips(), 100 * a.agree(), a.meanLogitErr(),
                        a.maxLogitErr(), a.logitScale());
                assertTrue(a.agree() >= 0.98, "top-1 agreement " + a.agree());
                assertTrue(a.meanLogitErr() <= 0.02 * a.logitScale(), a.meanLogitErr() + " vs " + a.logitScale());
            }
        }
    }

    @Test
    void needsCalibrationClips() {
        try (SevNet net = SevNet.create(SevNetConfig.parse("sevnet-g2", 4), 1)) {
            net.eval();
            assertThrows(IllegalArgumentException.class, () -> QuantizedSevNet.quantize(net, List.of()));
        }
    }

    @Test
    void predictorRunsInt8AndRefusesTheGpu(@TempDir Path dir) {
        Path ck = InferFixture.checkpoint(dir, 3);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Predictor.builder().checkpoint(ck).device("cuda").precision("int8").build());
        assertTrue(e.getMessage().contains("CPU only"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Predictor.builder().checkpoint(ck).precision("int4"));
        long before = MemoryStats.liveHostBytes();
        try (Tensor clip = FoldedSevNetTest.randomClips(Shape.of(3, 8, 32, 32), 4)) {
            // synthetic checkpoint: default calibration clips; and explicit ones
            try (Predictor fp = Predictor.builder().checkpoint(ck).device("cpu").build();
                    Predictor q = Predictor.builder().checkpoint(ck).precision("int8").build();
                    Predictor q2 = Predictor.builder().checkpoint(ck).precision("int8").calibration(List.of(clip))
                            .build()) {
                assertEquals("int8", q.precision());
                assertEquals("fp32", fp.precision());
                assertTrue(q.device().isCpu());
                float[] a = fp.predict(clip).logits();
                float[] b = q.predict(clip).logits();
                float[] c = q2.predict(clip).logits();
                double errB = FoldedSevNetTest.relErr(b, a);
                double errC = FoldedSevNetTest.relErr(c, a);
                System.out.printf("predictor int8 vs fp32 logits: %.2e (synthetic calibration), %.2e (the clip)%n",
                        errB, errC);
                assertTrue(errB <= 0.1 && errC <= 0.1, errB + " " + errC);
            }
        }
        assertEquals(before, MemoryStats.liveHostBytes(), "predictors closed, every buffer freed");
    }

    @Test
    void calibrationVideosAreDecodedLikeRequestsAndABadOneIsNamed(@TempDir Path dir) throws Exception {
        Path ck = InferFixture.checkpoint(dir, 5);
        List<Path> videos = InferFixture.videos(dir, 4);
        try (Predictor fp = Predictor.builder().checkpoint(ck).device("cpu").build();
                Predictor q = Predictor.builder().checkpoint(ck).precision("int8").calibrationVideos(videos).build()) {
            for (Path v : videos) {
                double err = FoldedSevNetTest.relErr(q.predict(v).logits(), fp.predict(v).logits());
                assertTrue(err <= 0.1, v + ": int8 calibrated on the videos vs fp32 logits " + err);
            }
        }
        Path text = dir.resolve("notes.mp4");
        java.nio.file.Files.writeString(text, "not a video");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Predictor.builder()
                .checkpoint(ck).precision("int8").calibrationVideos(List.of(videos.get(0), text)).build());
        assertTrue(e.getMessage().contains("notes.mp4"), e.getMessage());
    }
}
