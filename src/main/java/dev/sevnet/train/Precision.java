package dev.sevnet.train;

import com.google.gson.annotations.SerializedName;
import dev.sevnet.tensor.DType;

import java.util.Locale;

/**
 * The arithmetic of training: {@code fp32}, or mixed precision in {@code bf16} / {@code fp16} (float32 master
 * weights, the convolutions and the activations between them 16-bit under {@link dev.sevnet.autograd.Autocast},
 * batch-norm parameters, the head and the loss float32; {@code fp16} with dynamic loss scaling, {@link LossScaler}).
 *
 * <p>16-bit training is meant for a GPU. On the CPU the 16-bit ops are the numerics reference of the GPU's (widen,
 * the fp32 op, one rounding per stored 16-bit value) and slower than fp32, so the trainer refuses them there
 * unless the system property {@value #CPU_REFERENCE_PROPERTY} is {@code true}.
 */
public enum Precision {
    @SerializedName("fp32")
    FP32(DType.FLOAT32),
    @SerializedName("bf16")
    BF16(DType.BFLOAT16),
    @SerializedName("fp16")
    FP16(DType.FLOAT16);

    /** The system property that lets bf16 / fp16 training run on the CPU (the numerics reference). */
    public static final String CPU_REFERENCE_PROPERTY = "sevnet.cpuHalfReference";

    private final DType dtype;

    Precision(DType dtype) {
        this.dtype = dtype;
    }

    /** The type the convolutions and activations run in (FLOAT32 for fp32). */
    public DType dtype() {
        return dtype;
    }

    /** The autocast type: null for fp32 (autocast off), else the 16-bit type. */
    public DType autocastType() {
        return this == FP32 ? null : dtype;
    }

    /** bf16 or fp16. */
    public boolean isHalf() {
        return this != FP32;
    }

    /** fp16 needs dynamic loss scaling (its exponent range is small); bf16 has float32's and does not. */
    public boolean needsLossScaling() {
        return this == FP16;
    }

    /** The option spelling: fp32, bf16, fp16. */
    public String cliName() {
        return name().toLowerCase(Locale.ROOT);
    }

    @Override
    public String toString() {
        return cliName();
    }

    /** "fp32", "bf16" or "fp16" (any case; also "float32", "bfloat16", "float16"). */
    public static Precision parse(String s) {
        String v = s == null ? "" : s.trim().toLowerCase(Locale.ROOT);
        return switch (v) {
            case "fp32", "float32" -> FP32;
            case "bf16", "bfloat16" -> BF16;
            case "fp16", "float16", "half" -> FP16;
            default -> throw new IllegalArgumentException("precision must be fp32, bf16 or fp16, got '" + s + "'");
        };
    }

    /** Whether {@value #CPU_REFERENCE_PROPERTY} is set to true. */
    public static boolean cpuReferenceAllowed() {
        return Boolean.getBoolean(CPU_REFERENCE_PROPERTY);
    }

    /** The refusal of bf16 / fp16 training on the CPU. */
    public static String cpuRefusal(Precision p) {
        return "--precision " + p.cliName() + " on the CPU: 16-bit training runs on the GPU; on the CPU bf16/fp16 is a "
                + "slower numerics reference: set -D" + CPU_REFERENCE_PROPERTY + "=true to run it anyway (or train "
                + "with --precision fp32)";
    }

    /**
     * Throws the {@linkplain #cpuRefusal refusal} when {@code p} is 16-bit, the device is the CPU and
     * {@value #CPU_REFERENCE_PROPERTY} is not set; {@code why} (may be null) says why the device is the CPU.
     */
    public static void checkTrainingDevice(Precision p, boolean cpu, String why) {
        if (p.isHalf() && cpu && !cpuReferenceAllowed()) {
            throw new IllegalArgumentException(cpuRefusal(p) + (why == null ? "" : " [device: " + why + "]"));
        }
    }
}
