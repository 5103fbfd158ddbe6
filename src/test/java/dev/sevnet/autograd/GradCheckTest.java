package dev.sevnet.autograd;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.backend.Backends;
import dev.sevnet.tensor.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The checker itself: it must catch a wrong backward, not only pass right ones. */
class GradCheckTest {
    /** relu whose backward forgets the mask: wrong wherever x < 0. */
    private static Var brokenRelu(Var x) {
        Tensor y = Backends.of(x.value()).relu(x.value());
        return Var.result(y, new Node("broken_relu", new Var[] {x}, dy -> new Tensor[] {dy}));
    }

    @Test
    void catchesAWrongBackward() {
        try (Tensor x = Tensor.of(new float[] {-1f, 0.5f, -0.3f, 2f}, 4)) {
            GradCheck.Report r = GradCheck.check(v -> brokenRelu(v.get(0)), List.of(x), GradCheck.Options.defaults());
            assertFalse(r.passed(), r.toString());
            assertTrue(r.failed() == 2, r.toString());
        }
    }

    @Test
    void passesTheRightBackward() {
        try (Tensor x = Tensor.of(new float[] {-1f, 0.5f, -0.3f, 2f}, 4)) {
            assertTrue(GradCheck.check(v -> F.relu(v.get(0)), List.of(x), GradCheck.Options.defaults()).passed());
        }
    }
}
