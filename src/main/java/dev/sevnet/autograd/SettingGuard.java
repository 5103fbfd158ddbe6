package dev.sevnet.autograd;

/**
 * A thread's scoped setting ({@link GradMode}, {@link Autocast}): opening sets the thread's value, closing
 * restores the one before (once; closing again does nothing). Close it on the thread that opened it.
 */
abstract class SettingGuard<T> implements AutoCloseable {
    private final T[] state;
    private final T previous;
    private boolean closed;

    /** {@code state}: the thread's one-element holder, set to {@code value} until {@link #close}. */
    SettingGuard(T[] state, T value) {
        this.state = state;
        this.previous = state[0];
        state[0] = value;
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            state[0] = previous;
        }
    }
}
