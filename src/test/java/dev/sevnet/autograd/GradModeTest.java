package dev.sevnet.autograd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.tensor.DType;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

class GradModeTest {

    @Test
    void guardsNestAndRestoreInOrder() {
        assertTrue(GradMode.isEnabled());
        try (GradMode.Guard off = GradMode.noGrad()) {
            assertFalse(GradMode.isEnabled());
            try (GradMode.Guard on = GradMode.enableGrad()) {
                assertTrue(GradMode.isEnabled());
            }
            assertFalse(GradMode.isEnabled());
            off.close();
            off.close(); // a second close does nothing
            assertTrue(GradMode.isEnabled());
        }
        assertTrue(GradMode.isEnabled());
    }

    @Test
    void closingAnOuterGuardFirstIsRefusedAndChangesNothing() {
        GradMode.Guard outer = GradMode.noGrad();
        GradMode.Guard inner = GradMode.enableGrad();
        IllegalStateException e = assertThrows(IllegalStateException.class, outer::close);
        assertTrue(e.getMessage().contains("out of order"), e.getMessage());
        assertTrue(GradMode.isEnabled(), "the inner guard's mode still holds");
        inner.close();
        assertFalse(GradMode.isEnabled());
        outer.close();
        assertTrue(GradMode.isEnabled(), "closed in order after the refusal: back to the default");
    }

    @Test
    void closingOnAnotherThreadIsRefused() throws Exception {
        GradMode.Guard g = GradMode.noGrad();
        try {
            Throwable t = CompletableFuture.runAsync(g::close).handle((v, err) -> err).get();
            assertTrue(t.getCause() instanceof IllegalStateException, String.valueOf(t));
            assertTrue(t.getCause().getMessage().contains("closed on thread"), t.getCause().getMessage());
            assertFalse(GradMode.isEnabled(), "this thread's mode is untouched");
        } finally {
            g.close();
        }
        assertTrue(GradMode.isEnabled());
    }

    @Test
    void autocastGuardsFollowTheSameRules() {
        assertNull(Autocast.dtype());
        Autocast.Guard bf16 = Autocast.enable(DType.BFLOAT16);
        Autocast.Guard off = Autocast.disable();
        assertThrows(IllegalStateException.class, bf16::close);
        assertNull(Autocast.dtype());
        off.close();
        assertEquals(DType.BFLOAT16, Autocast.dtype());
        bf16.close();
        assertNull(Autocast.dtype());
    }
}
