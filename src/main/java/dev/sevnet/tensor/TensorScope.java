package dev.sevnet.tensor;

import java.util.ArrayDeque;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;

/**
 * An ownership scope for tensors, like a try-with-resources arena: every tensor created on this
 * thread while the scope is the innermost open one is closed when the scope closes, unless it was
 * {@linkplain #keep(Tensor) kept}. A training step or a request runs in one scope.
 *
 * <pre>{@code
 * try (TensorScope scope = TensorScope.open()) {
 *     Tensor y = backend.relu(x);       // owned by the scope
 *     return scope.keep(result);        // survives the scope; the caller owns it now
 * }
 * }</pre>
 */
public final class TensorScope implements AutoCloseable {
    private static final ThreadLocal<ArrayDeque<TensorScope>> STACK = ThreadLocal.withInitial(ArrayDeque::new);

    private final Set<Tensor> owned = Collections.newSetFromMap(new IdentityHashMap<>());
    private final Thread thread = Thread.currentThread();
    private boolean closed;

    private TensorScope() {
    }

    public static TensorScope open() {
        TensorScope s = new TensorScope();
        STACK.get().push(s);
        return s;
    }

    static void register(Tensor t) {
        TensorScope s = STACK.get().peek();
        if (s != null) {
            s.owned.add(t);
        }
    }

    static void unregister(Tensor t) {
        for (TensorScope s : STACK.get()) {
            if (s.owned.remove(t)) {
                return;
            }
        }
    }

    /** Takes {@code t} out of this scope (and moves it to the enclosing scope, if any). */
    public <T extends Tensor> T keep(T t) {
        if (t == null) {
            return null;
        }
        if (!owned.remove(t)) {
            // not ours: handing it to the enclosing scope would close a tensor its owner still holds
            throw new IllegalArgumentException("keep of a tensor this scope does not own");
        }
        ArrayDeque<TensorScope> stack = STACK.get();
        boolean seenThis = false;
        for (TensorScope s : stack) {
            if (seenThis) {
                s.owned.add(t);
                break;
            }
            seenThis = s == this;
        }
        return t;
    }

    /** Takes {@code t} out of every scope: the caller owns it and must close it. */
    public static <T extends Tensor> T detach(T t) {
        for (TensorScope s : STACK.get()) {
            s.owned.remove(t);
        }
        return t;
    }

    public int ownedCount() {
        return owned.size();
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        if (Thread.currentThread() != thread) {
            throw new IllegalStateException("a TensorScope must be closed on the thread that opened it");
        }
        ArrayDeque<TensorScope> stack = STACK.get();
        if (stack.peek() != this) {
            // checked before marking it closed: the caller can still close the inner scopes, then this one
            throw new IllegalStateException("TensorScopes must be closed in reverse order of opening");
        }
        closed = true;
        stack.pop();
        RuntimeException first = null;
        for (Tensor t : owned.toArray(new Tensor[0])) {
            try {
                t.close();
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        owned.clear();
        if (first != null) {
            throw first;
        }
    }
}
