package dev.sevnet.nn;

import dev.sevnet.tensor.Shape;
import java.util.ArrayList;
import java.util.List;

/**
 * Parameters and multiply-accumulates (the paper's "FLOPs") of a SEVNet for one clip of
 * {@code frames × size × size}, per part: {@code stem}, {@code stages.0} .. {@code stages.3},
 * {@code head}. Counts convolutions and linear layers (batch norm, pooling and activations are not
 * counted); computed from the module tree's shapes without running it.
 */
public record ModelStats(String model, int frames, int size, long params, long macs, List<Part> parts) {

    /** One row: the part's full module name, its parameters and MACs, and its output shape without N. */
    public record Part(String name, long params, long macs, Shape output) {
        public double gflops() {
            return macs / 1e9;
        }
    }

    public ModelStats {
        parts = List.copyOf(parts);
    }

    /** Stats of a model as built by {@code config}, for an input of {@code frames × size × size}. */
    public static ModelStats of(SevNetConfig config, int frames, int size) {
        try (SevNet net = SevNet.uninitialized(config)) {
            return of(net, frames, size);
        }
    }

    public static ModelStats of(SevNet net, int frames, int size) {
        if (frames < 1 || size < 1) {
            throw new IllegalArgumentException("frames and size must be >= 1, got " + frames + " and " + size);
        }
        List<Part> parts = new ArrayList<>();
        Shape shape = Shape.of(1, 3, frames, size, size);
        shape = add(parts, "stem", net.stem(), shape);
        for (int s = 0; s < net.stages().size(); s++) {
            shape = add(parts, "stages." + s, net.stages().get(s), shape);
        }
        add(parts, "head", net.head(), shape);
        long params = 0;
        long macs = 0;
        for (Part p : parts) {
            params += p.params();
            macs += p.macs();
        }
        return new ModelStats(net.config().modelName(), frames, size, params, macs, parts);
    }

    private static Shape add(List<Part> parts, String name, Module m, Shape input) {
        MacCounter counter = new MacCounter();
        Shape out = m.outputShape(input, counter);
        long[] d = out.dims();
        long[] perClip = new long[d.length - 1];
        System.arraycopy(d, 1, perClip, 0, perClip.length);
        parts.add(new Part(name, m.parameterCount(), counter.total(), Shape.of(perClip)));
        return out;
    }

    public double gflops() {
        return macs / 1e9;
    }

    public double millionParams() {
        return params / 1e6;
    }
}
