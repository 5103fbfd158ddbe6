package dev.sevnet.tensor;

/** Element types. Compute is float32; int64 holds labels; f16/bf16 are storage formats that convert to float32. */
public enum DType {
    FLOAT32(4, "F32"),
    INT64(8, "I64"),
    FLOAT16(2, "F16"),
    BFLOAT16(2, "BF16");

    private final int byteSize;
    private final String safetensorsName;

    DType(int byteSize, String safetensorsName) {
        this.byteSize = byteSize;
        this.safetensorsName = safetensorsName;
    }

    public int byteSize() {
        return byteSize;
    }

    /** Every type but INT64. */
    public boolean isFloatingPoint() {
        return this != INT64;
    }

    /** The dtype string safetensors uses ("F32", "I64", "F16", "BF16"). */
    public String safetensorsName() {
        return safetensorsName;
    }

    public static DType fromSafetensors(String name) {
        for (DType d : values()) {
            if (d.safetensorsName.equals(name)) {
                return d;
            }
        }
        throw new IllegalArgumentException("unsupported safetensors dtype '" + name + "' (supported: F32, I64, F16, BF16)");
    }
}
