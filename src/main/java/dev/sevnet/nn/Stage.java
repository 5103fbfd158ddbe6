package dev.sevnet.nn;

import dev.sevnet.autograd.Var;
import dev.sevnet.tensor.Shape;
import java.util.ArrayList;
import java.util.List;

/** A stage: {@code blocks.0} downsamples from width C/2 to C, {@code blocks.1..} keep C. */
public final class Stage extends Module {
    private final ModuleList<SevBlock> blocks;

    public Stage(int width, int depth, SevNetConfig config) {
        List<SevBlock> list = new ArrayList<>();
        list.add(new SevBlock(width / 2, true, config));
        for (int i = 1; i < depth; i++) {
            list.add(new SevBlock(width, false, config));
        }
        blocks = registerModule("blocks", new ModuleList<>(list));
    }

    @Override
    public Var forward(Var x) {
        return blocks.forward(x);
    }

    @Override
    public Shape outputShape(Shape input, MacCounter macs) {
        return blocks.outputShape(input, macs);
    }

    public ModuleList<SevBlock> blocks() {
        return blocks;
    }
}
