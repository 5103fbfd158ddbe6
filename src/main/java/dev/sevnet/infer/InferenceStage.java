package dev.sevnet.infer;

import dev.sevnet.autograd.Var;
import dev.sevnet.nn.MacCounter;
import dev.sevnet.nn.Module;
import dev.sevnet.nn.ModuleList;
import dev.sevnet.tensor.Shape;
import java.util.List;

/** A stage's {@code blocks} in an inference form of SEVNet ({@link FoldedSevNet}, {@link QuantizedSevNet}). */
final class InferenceStage<B extends Module> extends Module {
    final ModuleList<B> blocks;

    InferenceStage(List<B> blocks) {
        this.blocks = registerModule("blocks", new ModuleList<>(blocks));
    }

    @Override
    public Var forward(Var x) {
        return blocks.forward(x);
    }

    @Override
    public Shape outputShape(Shape input, MacCounter macs) {
        return blocks.outputShape(input, macs);
    }
}
