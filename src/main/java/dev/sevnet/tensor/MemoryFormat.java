package dev.sevnet.tensor;

import java.util.Locale;

/**
 * How a 5-D activation {@code [N, C, T, H, W]} is laid out in memory, as PyTorch's {@code memory_format}. The
 * shape a tensor reports is always the logical {@code [N, C, T, H, W]}; only the order of the bytes differs.
 *
 * <ul>
 *   <li>{@link #CONTIGUOUS}: NCDHW, row-major in the shape's order (every tensor but the ones below).</li>
 *   <li>{@link #CHANNELS_LAST}: NDHWC, {@code [N][T][H][W][C]} — the layout cuDNN's tensor-core convolutions
 *       read natively (a conv weight {@code [Cout, Cin/g, kt, kh, kw]} in it is cuDNN's KTRSC filter format).
 *       Only rank-5 tensors are channels-last, made by a backend's {@code toMemoryFormat}; an op that has no
 *       channels-last form refuses such a tensor with an {@link IllegalArgumentException} rather than read it in
 *       the wrong order. The CUDA backend computes on NDHWC directly; the CPU backend runs each op on NCDHW copies
 *       (a reference, slower than contiguous).</li>
 * </ul>
 *
 * A tensor whose {@code T·H·W} or {@code C} is 1 has the same bytes in both layouts.
 */
public enum MemoryFormat {
    CONTIGUOUS,
    CHANNELS_LAST;

    /** {@code contiguous}/{@code ncdhw} or {@code channels-last}/{@code channels_last}/{@code ndhwc}. */
    public static MemoryFormat parse(String s) {
        String v = s == null ? "" : s.trim().toLowerCase(Locale.ROOT).replace('_', '-');
        return switch (v) {
            case "contiguous", "ncdhw" -> CONTIGUOUS;
            case "channels-last", "ndhwc" -> CHANNELS_LAST;
            default -> throw new IllegalArgumentException("unknown memory format '" + s
                    + "': expected contiguous (NCDHW) or channels-last (NDHWC)");
        };
    }

    /** The name {@link #parse} reads back ({@code contiguous}, {@code channels-last}). */
    public String label() {
        return this == CONTIGUOUS ? "contiguous" : "channels-last";
    }

    /** Whether a tensor of {@code shape} has the same bytes in both layouts (rank 5 with C = 1 or T·H·W = 1). */
    public static boolean isLayoutInvariant(Shape shape) {
        return shape.rank() != 5 || shape.get(1) == 1 || shape.sizeFrom(2) == 1;
    }

    /**
     * Reorders the bytes of an {@code [n][c][s]} block of {@code elementBytes}-byte elements into {@code [n][s][c]}
     * ({@code toChannelsLast}) or back. Host memory only; the device backends have kernels for this.
     */
    static void permute(java.nio.ByteBuffer src, java.nio.ByteBuffer dst, long n, long c, long s, int elementBytes,
            boolean toChannelsLast) {
        for (long i = 0; i < n; i++) {
            for (long ch = 0; ch < c; ch++) {
                for (long p = 0; p < s; p++) {
                    long ncs = ((i * c + ch) * s + p) * elementBytes;
                    long nsc = ((i * s + p) * c + ch) * elementBytes;
                    long from = toChannelsLast ? ncs : nsc;
                    long to = toChannelsLast ? nsc : ncs;
                    for (int b = 0; b < elementBytes; b++) {
                        dst.put(Math.toIntExact(to + b), src.get(Math.toIntExact(from + b)));
                    }
                }
            }
        }
    }
}
