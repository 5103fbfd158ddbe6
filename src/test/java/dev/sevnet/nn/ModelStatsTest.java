package dev.sevnet.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.tensor.Shape;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class ModelStatsTest {

    private static void assertWithin(double expected, double actual, double relative, String what) {
        assertTrue(Math.abs(actual - expected) <= relative * expected,
                what + ": expected " + expected + " within " + relative * 100 + "%, got " + actual);
    }

    /** The figures table of ARCHITECTURE.md §2 (the paper's Table 2), input 16×224×224 unless stated. */
    @ParameterizedTest(name = "{0}, {1} classes, {2} frames: {3} M params, {4} GFLOPs")
    @CsvSource({
        "sevnet-g6, 174, 16, 2.5, 8.3",
        "sevnet-g8, 174, 16, 4.4, 14.4",
        "sevnet-g8, 400, 16, 4.5, 14.4",
        "sevnet-g12, 400, 16, 10.0, 31.8",
        "sevnet-g8, 174, 24, 4.4, 21.7"})
    void reproducesTheArchitectureTable(String model, int classes, int frames, double mParams, double gflops) {
        ModelStats s = ModelStats.of(SevNetConfig.parse(model, classes), frames, 224);
        assertWithin(mParams, s.millionParams(), 0.02, model + " parameters (M)");
        assertWithin(gflops, s.gflops(), 0.02, model + " GFLOPs");
    }

    /**
     * Ablation variants against the paper's Table 6. The paper rounds to one decimal (±0.05 of 2.5 is
     * already 2%), so these use 3%; the widths in {@link SevBlock} land within 1% of every entry.
     */
    @ParameterizedTest(name = "{0}: {1} M params, {2} GFLOPs")
    @CsvSource({
        "r3d-g6, 2.8, 8.4",
        "r3d-g8, 4.9, 14.7",
        "r2plus1d-g6, 2.5, 7.7",
        "r2plus1d-g8, 4.4, 13.4"})
    void ablationVariantsMatchTable6(String model, double mParams, double gflops) {
        ModelStats s = ModelStats.of(SevNetConfig.parse(model, 174), 16, 224);
        assertWithin(mParams, s.millionParams(), 0.03, model + " parameters (M)");
        assertWithin(gflops, s.gflops(), 0.03, model + " GFLOPs");
    }

    /**
     * SE variant against Table 7: parameters 2.8 M (g=6) and 4.9 M (g=8). Table 7's GFLOPs column is
     * not usable as an absolute (it lists plain SEVNet-G8 at 13.4, Table 2 and ARCHITECTURE.md say
     * 14.4); what it does say is that SE adds "negligible" computation, so FLOPs must stay within 0.1%
     * of the plain model.
     */
    @ParameterizedTest(name = "sevnet-se-g{0}: {1} M params")
    @CsvSource({"6, 2.8", "8, 4.9"})
    void squeezeExciteMatchesTable7(int g, double mParams) {
        ModelStats se = ModelStats.of(SevNetConfig.parse("sevnet-se-g" + g, 174), 16, 224);
        ModelStats plain = ModelStats.of(SevNetConfig.parse("sevnet-g" + g, 174), 16, 224);
        assertWithin(mParams, se.millionParams(), 0.03, "SE parameters (M)");
        assertTrue(se.macs() > plain.macs());
        assertWithin(plain.gflops(), se.gflops(), 0.001, "SE GFLOPs");
    }

    @Test
    void partsAddUpAndHaveTheTable1Shapes() {
        ModelStats s = ModelStats.of(SevNetConfig.parse("sevnet-g8", 174), 16, 224);
        List<ModelStats.Part> parts = s.parts();
        assertEquals(List.of("stem", "stages.0", "stages.1", "stages.2", "stages.3", "head"),
                parts.stream().map(ModelStats.Part::name).toList());
        assertEquals(Shape.of(32, 16, 112, 112), parts.get(0).output());
        assertEquals(Shape.of(64, 16, 56, 56), parts.get(1).output());
        assertEquals(Shape.of(128, 16, 28, 28), parts.get(2).output());
        assertEquals(Shape.of(256, 16, 14, 14), parts.get(3).output());
        assertEquals(Shape.of(512, 16, 7, 7), parts.get(4).output());
        assertEquals(Shape.of(174), parts.get(5).output());
        assertEquals(s.params(), parts.stream().mapToLong(ModelStats.Part::params).sum());
        assertEquals(s.macs(), parts.stream().mapToLong(ModelStats.Part::macs).sum());
        assertEquals(512L * 174, parts.get(5).macs());
        // stem by hand: 1x7x7 3->32 and 3x1x1 32->32 at 16x112x112
        assertEquals((32L * 3 * 49 + 32L * 32 * 3) * 16 * 112 * 112, parts.get(0).macs());
        try (SevNet net = SevNet.create(SevNetConfig.parse("sevnet-g8", 174), 0)) {
            assertEquals(net.parameterCount(), s.params());
        }
    }
}
