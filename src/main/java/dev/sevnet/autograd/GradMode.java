package dev.sevnet.autograd;

/**
 * Whether ops on this thread record a backward graph. Recording is on by default; inside
 * {@link #noGrad()} ops record nothing and keep no tensors for backward (inference mode).
 *
 * <pre>{@code
 * try (GradMode.Guard g = GradMode.noGrad()) {
 *     Var logits = model.forward(x);   // no graph, nothing saved
 * }
 * }</pre>
 */
public final class GradMode {
    private static final ThreadLocal<boolean[]> ENABLED = ThreadLocal.withInitial(() -> new boolean[] {true});

    private GradMode() {
    }

    public static boolean isEnabled() {
        return ENABLED.get()[0];
    }

    /** Turns recording off on this thread until the guard is closed (then restores the previous mode). */
    public static Guard noGrad() {
        return set(false);
    }

    /** Turns recording on on this thread until the guard is closed (for a backward pass inside no-grad code). */
    public static Guard enableGrad() {
        return set(true);
    }

    private static Guard set(boolean enabled) {
        boolean[] state = ENABLED.get();
        boolean previous = state[0];
        state[0] = enabled;
        return new Guard(state, previous);
    }

    /** Restores the previous grad mode when closed. Close it on the thread that opened it. */
    public static final class Guard implements AutoCloseable {
        private final boolean[] state;
        private final boolean previous;
        private boolean closed;

        private Guard(boolean[] state, boolean previous) {
            this.state = state;
            this.previous = previous;
        }

        @Override
        public void close() {
            if (!closed) {
                closed = true;
                state[0] = previous;
            }
        }
    }
}
