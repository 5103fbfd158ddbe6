package dev.sevnet.infer;

import dev.sevnet.autograd.F;
import dev.sevnet.autograd.Var;
import dev.sevnet.nn.Linear;
import dev.sevnet.nn.MacCounter;
import dev.sevnet.nn.Module;
import dev.sevnet.tensor.Shape;

/** Global average pool then {@code fc} (dropout is the identity at inference). */
final class InferenceHead extends Module {
    final Linear fc;

    InferenceHead(Linear fc) {
        this.fc = registerModule("fc", fc);
    }

    @Override
    public Var forward(Var x) {
        return fc.forward(F.globalAvgPool(x));
    }

    @Override
    public Shape outputShape(Shape input, MacCounter macs) {
        return fc.outputShape(Shape.of(input.get(0), input.get(1)), macs);
    }
}
