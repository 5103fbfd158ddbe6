package dev.sevnet.nn;

import dev.sevnet.autograd.F;
import dev.sevnet.autograd.Var;
import dev.sevnet.tensor.Shape;

/**
 * Squeeze-and-excitation: mean over T,H,W, {@code fc1} Linear(C, C/r), ReLU, {@code fc2} Linear(C/r, C),
 * sigmoid, then each channel of the input scaled by its gate.
 */
public final class SqueezeExcite extends Module {
    public static final int REDUCTION = 4;

    private final int channels;
    private final Linear fc1;
    private final Linear fc2;

    public SqueezeExcite(int channels) {
        int hidden = Math.max(1, channels / REDUCTION);
        this.channels = channels;
        fc1 = registerModule("fc1", new Linear(channels, hidden));
        fc2 = registerModule("fc2", new Linear(hidden, channels));
    }

    @Override
    public Var forward(Var x) {
        return F.channelScale(x, gate(x));
    }

    /** The per-channel gate {@code [N, C]} (sigmoid outputs) that {@link #forward} scales x by. */
    public Var gate(Var x) {
        return F.sigmoid(fc2.forward(F.relu(fc1.forward(F.globalAvgPool(x)))));
    }

    @Override
    public Shape outputShape(Shape input, MacCounter macs) {
        if (input.get(1) != channels) {
            throw new IllegalArgumentException("squeeze-excite expects " + channels + " channels, got " + input);
        }
        fc2.outputShape(fc1.outputShape(Shape.of(input.get(0), channels), macs), macs);
        return input;
    }
}
