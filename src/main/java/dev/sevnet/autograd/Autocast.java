package dev.sevnet.autograd;

import dev.sevnet.tensor.DType;

/**
 * Mixed-precision scope of this thread, PyTorch autocast style: while enabled with a 16-bit type
 * ({@link DType#BFLOAT16} or {@link DType#FLOAT16}), {@link F#conv3d} and {@link F#convBatchNormRelu} cast their
 * float32 input and their (float32 master) weight to that type ({@link F#cast}, whose backward casts the gradient
 * back, so a parameter's gradient stays float32) and run the 16-bit convolution. Everything downstream follows the
 * type of its input: batch norm takes 16-bit activations with float32 parameters and statistics, ReLU, adds, pools,
 * concats and the squeeze-excite scale stay 16-bit, and {@link F#globalAvgPool} returns float32, so the classifier,
 * dropout and the loss run in float32. Backward functions never consult the scope: they use the types recorded in
 * the forward, so backward may run inside or outside it.
 *
 * <pre>{@code
 * try (Autocast.Guard g = Autocast.enable(DType.BFLOAT16)) {
 *     Var logits = model.forward(x);   // 16-bit convs, fp32 logits
 * }
 * }</pre>
 *
 * <p>Off by default ({@link #dtype()} null): every op then runs exactly as without this class.
 */
public final class Autocast {
    private static final ThreadLocal<SettingGuard.State<DType>> DTYPE =
            ThreadLocal.withInitial(() -> new SettingGuard.State<>(null));

    private Autocast() {
    }

    /** The 16-bit type convolutions run in on this thread, or null when autocast is off. */
    public static DType dtype() {
        return DTYPE.get().value();
    }

    public static boolean isEnabled() {
        return dtype() != null;
    }

    /**
     * Turns autocast on with {@code dtype} on this thread until the guard is closed (then restores the previous
     * setting). {@code dtype} must be {@link DType#BFLOAT16} or {@link DType#FLOAT16}; {@link DType#FLOAT32} or
     * null turns it off inside the guard.
     */
    public static Guard enable(DType dtype) {
        if (dtype != null && dtype != DType.FLOAT32 && dtype != DType.BFLOAT16 && dtype != DType.FLOAT16) {
            throw new IllegalArgumentException("autocast runs in " + DType.BFLOAT16 + " or " + DType.FLOAT16 + ", not "
                    + dtype);
        }
        return set(dtype == DType.FLOAT32 ? null : dtype);
    }

    /** Turns autocast off on this thread until the guard is closed. */
    public static Guard disable() {
        return set(null);
    }

    private static Guard set(DType dtype) {
        return new Guard(dtype);
    }

    /** Restores the previous autocast setting when closed. Close it on the thread that opened it. */
    public static final class Guard extends SettingGuard<DType> {
        private Guard(DType dtype) {
            super(DTYPE.get(), dtype);
        }
    }
}
