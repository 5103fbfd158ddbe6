package dev.sevnet.autograd;

/**
 * One recorded op: its inputs and the function that maps the gradient of its output to the gradients
 * of its inputs. Tensors the function needs were saved when the op ran and belong to the scope that
 * was open then.
 */
final class Node {
    private final String op;
    private final Var[] inputs;
    private final BackwardFn fn;

    Node(String op, Var[] inputs, BackwardFn fn) {
        this.op = op;
        this.inputs = inputs;
        this.fn = fn;
    }

    String op() {
        return op;
    }

    /** The op's inputs; entries may be null for absent optional inputs (a bias). */
    Var[] inputs() {
        return inputs;
    }

    BackwardFn fn() {
        return fn;
    }

    @Override
    public String toString() {
        return op;
    }
}
