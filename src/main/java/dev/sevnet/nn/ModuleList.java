package dev.sevnet.nn;

import dev.sevnet.autograd.Var;
import dev.sevnet.tensor.Shape;
import java.util.ArrayList;
import java.util.List;

/** Children named "0", "1", ... (PyTorch's ModuleList / Sequential naming); forward runs them in order. */
public final class ModuleList<M extends Module> extends Module {
    private final List<M> items = new ArrayList<>();

    public ModuleList(List<? extends M> modules) {
        for (M m : modules) {
            registerModule(Integer.toString(items.size()), m);
            items.add(m);
        }
    }

    public M get(int i) {
        return items.get(i);
    }

    public int size() {
        return items.size();
    }

    public List<M> items() {
        return List.copyOf(items);
    }

    @Override
    public Var forward(Var x) {
        Var h = x;
        for (M m : items) {
            Var next = m.forward(h);
            if (h != x && next != h) {
                release(h);
            }
            h = next;
        }
        return h;
    }

    @Override
    public Shape outputShape(Shape input, MacCounter macs) {
        Shape s = input;
        for (M m : items) {
            s = m.outputShape(s, macs);
        }
        return s;
    }
}
