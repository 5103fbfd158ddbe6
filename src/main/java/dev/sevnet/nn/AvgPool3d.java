package dev.sevnet.nn;

import dev.sevnet.autograd.F;
import dev.sevnet.autograd.Var;
import dev.sevnet.backend.ConvSpec;
import dev.sevnet.tensor.Shape;

/** Average pooling (count_include_pad = true); no parameters. */
public final class AvgPool3d extends Module {
    private final ConvSpec window;

    public AvgPool3d(ConvSpec window) {
        this.window = window;
    }

    @Override
    public Var forward(Var x) {
        return F.avgPool3d(x, window);
    }

    @Override
    public Shape outputShape(Shape input, MacCounter macs) {
        return window.outputShape(input, input.get(1));
    }

    public ConvSpec window() {
        return window;
    }
}
