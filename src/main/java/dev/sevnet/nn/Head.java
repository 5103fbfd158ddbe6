package dev.sevnet.nn;

import dev.sevnet.autograd.F;
import dev.sevnet.autograd.Var;
import dev.sevnet.tensor.Shape;

/** Global average pool over T,H,W, {@code dropout}, then the classifier {@code fc}. */
public final class Head extends Module {
    private final Dropout dropout;
    private final Linear fc;

    public Head(int features, int numClasses, double dropout) {
        this.dropout = registerModule("dropout", new Dropout(dropout));
        this.fc = registerModule("fc", new Linear(features, numClasses));
    }

    @Override
    public Var forward(Var x) {
        return fc.forward(dropout.forward(F.globalAvgPool(x)));
    }

    @Override
    public Shape outputShape(Shape input, MacCounter macs) {
        return fc.outputShape(Shape.of(input.get(0), input.get(1)), macs);
    }

    public Dropout dropout() {
        return dropout;
    }

    public Linear fc() {
        return fc;
    }
}
