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
    private static final ThreadLocal<SettingGuard.State<Boolean>> ENABLED =
            ThreadLocal.withInitial(() -> new SettingGuard.State<>(true));

    private GradMode() {
    }

    public static boolean isEnabled() {
        return ENABLED.get().value();
    }

    /** Turns recording off on this thread until the guard is closed (then restores the previous mode). */
    public static Guard noGrad() {
        return new Guard(false);
    }

    /** Turns recording on on this thread until the guard is closed (for a backward pass inside no-grad code). */
    public static Guard enableGrad() {
        return new Guard(true);
    }

    /**
     * Restores the previous grad mode when closed. Close it on the thread that opened it, inner guards
     * first; anything else is an {@link IllegalStateException}.
     */
    public static final class Guard extends SettingGuard<Boolean> {
        private Guard(boolean enabled) {
            super(ENABLED.get(), enabled);
        }
    }
}
