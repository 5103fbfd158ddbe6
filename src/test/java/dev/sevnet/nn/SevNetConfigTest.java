package dev.sevnet.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class SevNetConfigTest {
    @Test
    void parsesEveryModelName() {
        assertEquals(SevNetConfig.Variant.SEVNET, SevNetConfig.parse("sevnet-g8").variant());
        assertEquals(8, SevNetConfig.parse("sevnet-g8").groupWidth());
        assertEquals(SevNetConfig.Variant.SEVNET_SE, SevNetConfig.parse("sevnet-se-g6").variant());
        assertEquals(6, SevNetConfig.parse("sevnet-se-g6").groupWidth());
        assertEquals(SevNetConfig.Variant.R2PLUS1D, SevNetConfig.parse("r2plus1d-g12").variant());
        assertEquals(SevNetConfig.Variant.R3D, SevNetConfig.parse("R3D-G3").variant());
        assertEquals(400, SevNetConfig.parse("sevnet-g12", 400).numClasses());
        for (String name : new String[] {"sevnet-g8", "sevnet-se-g2", "r2plus1d-g6", "r3d-g10"}) {
            assertEquals(name, SevNetConfig.parse(name).modelName());
        }
    }

    @Test
    void defaultsAndBuilder() {
        SevNetConfig c = SevNetConfig.builder().build();
        assertEquals(174, c.numClasses());
        assertEquals(0.5, c.dropout());
        assertEquals(c, SevNetConfig.parse("sevnet-g8"));
        assertEquals(64, c.stageWidth(0));
        assertEquals(512, c.stageWidth(3));
        SevNetConfig d = c.toBuilder().dropout(0.2).numClasses(400).build();
        assertEquals(0.2, d.dropout());
        assertEquals(8, d.groupWidth());
    }

    @Test
    void rejectsBadNamesAndValues() {
        assertThrows(IllegalArgumentException.class, () -> SevNetConfig.parse("resnet-g8"));
        assertThrows(IllegalArgumentException.class, () -> SevNetConfig.parse("sevnet-g0"));
        assertThrows(IllegalArgumentException.class, () -> SevNetConfig.parse("sevnet-8"));
        assertThrows(IllegalArgumentException.class, () -> SevNetConfig.builder().numClasses(0).build());
        assertThrows(IllegalArgumentException.class, () -> SevNetConfig.builder().dropout(1.0).build());
    }
}
