package dev.sevnet.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.junit.jupiter.api.Test;

/** Run files are strict JSON (no bare NaN, which JavaScript and other strict parsers refuse) and still round-trip. */
class StrictJsonTest {
    @Test
    void aConfigFollowingTheLrRuleHasNoNaNAndReadsBackTheSame() {
        TrainConfig c = TrainConfig.builder().seed(4).build();
        assertTrue(Double.isNaN(c.lrOverride()), "the default follows the scaling rule");
        String text = c.toJson();
        assertFalse(text.contains("NaN"), text);
        assertEquals(c, TrainConfig.fromJson(text));
        JsonObject o = c.toJsonObject();
        TrainConfig fixed = c.toBuilder().lr(0.05).build();
        assertEquals(fixed, TrainConfig.fromJson(fixed.toJson()));
        // files written before: "lr": NaN still loads
        JsonObject old = JsonParser.parseString(o.toString().replaceFirst("\\{", "{\"lr\": NaN,")).getAsJsonObject();
        assertEquals(c, TrainConfig.fromJsonObject(old));
    }

    @Test
    void textThatIsNoConfigIsAnIllegalArgument() {
        for (String bad : new String[] {"", "[1, 2]", "{\"model\": ", "{\"model\": \"sevnet-g9x\"}",
            "{\"precision\": \"bogus\"}", "{\"memoryFormat\": \"nhwc4\"}"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.fromJson(bad));
            assertTrue(e.getMessage() != null && !e.getMessage().isEmpty(), bad);
        }
    }
}
