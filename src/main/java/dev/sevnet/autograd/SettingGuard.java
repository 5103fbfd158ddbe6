package dev.sevnet.autograd;

/**
 * A thread's scoped setting ({@link GradMode}, {@link Autocast}): opening sets the thread's value, closing
 * restores the one before (once; closing again does nothing). Guards nest like try-with-resources blocks:
 * closing one while a guard opened after it is still open, or from another thread, is an
 * {@link IllegalStateException} that leaves the setting as it was (restoring out of order would leave the
 * thread in the wrong mode for every later op, silently).
 */
abstract class SettingGuard<T> implements AutoCloseable {
    /** One thread's value and how many guards are open on it. */
    static final class State<T> {
        private final Thread owner = Thread.currentThread();
        private T value;
        private int depth;

        State(T initial) {
            value = initial;
        }

        T value() {
            return value;
        }
    }

    private final State<T> state;
    private final T previous;
    private final int depth;
    private boolean closed;

    /** {@code state}: the calling thread's holder, set to {@code value} until {@link #close}. */
    SettingGuard(State<T> state, T value) {
        this.state = state;
        this.previous = state.value;
        this.depth = ++state.depth;
        state.value = value;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        if (Thread.currentThread() != state.owner) {
            throw new IllegalStateException(getClass().getEnclosingClass().getSimpleName()
                    + " guard opened on thread '" + state.owner.getName() + "' closed on thread '"
                    + Thread.currentThread().getName() + "': close it where it was opened");
        }
        if (state.depth != depth) {
            throw new IllegalStateException(getClass().getEnclosingClass().getSimpleName()
                    + " guards closed out of order: this one is level " + depth + " of " + state.depth
                    + " open; close the inner one first (try-with-resources does)");
        }
        closed = true;
        state.depth--;
        state.value = previous;
    }
}
