package dev.sevnet.backend.cuda;

import java.util.ArrayList;
import java.util.List;

/**
 * The 1x1x1 and temporal 3x1x1 convolutions as GEMM calls (cuBLAS's column-major {@code GemmStridedBatchedEx}), as
 * pure data: the CUDA backend runs a plan with cuBLAS, {@code ConvGemmPlanTest} runs it with a plain host GEMM against
 * the CPU convolution — so the index arithmetic is checked without a GPU.
 *
 * <p>Per clip n the NCDHW tensors are matrices: x_n is Cin x L row-major, which cuBLAS sees as an L x Cin
 * column-major matrix with leading dimension L (L = T*H*W); a weight [Cout, Cin] row-major is a Cin x Cout one with
 * leading dimension Cin. So y_n = W x_n is, column-major, Y_n (L x Cout) = X_n (L x Cin) W (Cin x Cout). The temporal
 * conv y[t] = sum_k W_k x[t + k - 1] (padding 1) is three such products between frame ranges — tap 1 over every
 * frame, tap 0 writing frames 1..T-1 from 0..T-2, tap 2 frames 0..T-2 from 1..T-1 — where a frame range is an
 * offset of HW rows at the same leading dimension; its weight is first repacked tap-major ([3, Cout, Cin],
 * {@link Operand#TAPS}). Weight gradients sum over clips, one GEMM per clip accumulating into an fp32
 * {@link Operand#ACC}.
 */
final class ConvGemmPlan {
    private ConvGemmPlan() {
    }

    /** Which buffer an operand is (offsets and strides are in its elements). */
    enum Operand {
        X, W, Y, DY, DX, TAPS, ACC
    }

    /**
     * C = op(A) op(B) (+ C when {@code accumulate}) for {@code batch} matrices; offsets and strides in elements of
     * their operand.
     */
    record Gemm(boolean transA, boolean transB, int m, int n, int k, Operand a, long aOffset, int lda, long strideA,
            Operand b, long bOffset, int ldb, long strideB, boolean accumulate, Operand c, long cOffset, int ldc,
            long strideC, int batch) {
    }

    static List<Gemm> pointwiseForward(int n, int ci, int co, int l) {
        return List.of(new Gemm(false, false, l, co, ci, Operand.X, 0, l, (long) ci * l, Operand.W, 0, ci, 0, false,
                Operand.Y, 0, l, (long) co * l, n));
    }

    static List<Gemm> pointwiseBackwardData(int n, int ci, int co, int l) {
        return List.of(new Gemm(false, true, l, ci, co, Operand.DY, 0, l, (long) co * l, Operand.W, 0, ci, 0, false,
                Operand.DX, 0, l, (long) ci * l, n));
    }

    /** dW (Cin x Cout column-major = [Cout, Cin]) in ACC = sum over clips of X_n^T DY_n. */
    static List<Gemm> pointwiseBackwardWeight(int n, int ci, int co, int l) {
        List<Gemm> g = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            g.add(new Gemm(true, false, ci, co, l, Operand.X, (long) i * ci * l, l, 0, Operand.DY, (long) i * co * l, l, 0,
                    i > 0, Operand.ACC, 0, ci, 0, 1));
        }
        return g;
    }

    /** Tap k's frames: {output frame offset, input frame offset, frames}; null when empty (T = 1, taps 0 and 2). */
    static int[] tapRange(int k, int frames) {
        return switch (k) {
            case 0 -> frames > 1 ? new int[] {1, 0, frames - 1} : null;
            case 1 -> new int[] {0, 0, frames};
            case 2 -> frames > 1 ? new int[] {0, 1, frames - 1} : null;
            default -> throw new IllegalArgumentException("tap " + k);
        };
    }

    /** Tap 1 first: it covers every frame and writes (no accumulate); taps 0 and 2 add. */
    static List<Gemm> temporalForward(int n, int ci, int co, int t, int hw) {
        int l = t * hw;
        List<Gemm> g = new ArrayList<>();
        for (int k : new int[] {1, 0, 2}) {
            int[] r = tapRange(k, t);
            if (r != null) {
                g.add(new Gemm(false, false, r[2] * hw, co, ci, Operand.X, (long) r[1] * hw, l, (long) ci * l,
                        Operand.TAPS, (long) k * co * ci, ci, 0, k != 1, Operand.Y, (long) r[0] * hw, l, (long) co * l, n));
            }
        }
        return g;
    }

    /** dx[s] = sum_k W_k^T dy[s - k + 1]: each tap's frame ranges with input and output swapped. */
    static List<Gemm> temporalBackwardData(int n, int ci, int co, int t, int hw) {
        int l = t * hw;
        List<Gemm> g = new ArrayList<>();
        for (int k : new int[] {1, 0, 2}) {
            int[] r = tapRange(k, t);
            if (r != null) {
                g.add(new Gemm(false, true, r[2] * hw, ci, co, Operand.DY, (long) r[0] * hw, l, (long) co * l,
                        Operand.TAPS, (long) k * co * ci, ci, 0, k != 1, Operand.DX, (long) r[1] * hw, l, (long) ci * l,
                        n));
            }
        }
        return g;
    }

    /**
     * dW_k = sum_n sum_t dy[t] x[t + k - 1]^T into ACC [3, Cout, Cin] (tap k at k * Cout * Cin); an empty tap gets no
     * GEMM and stays as the caller zeroed it.
     */
    static List<Gemm> temporalBackwardWeight(int n, int ci, int co, int t, int hw) {
        int l = t * hw;
        List<Gemm> g = new ArrayList<>();
        for (int k = 0; k < 3; k++) {
            int[] r = tapRange(k, t);
            if (r == null) {
                continue;
            }
            for (int i = 0; i < n; i++) {
                g.add(new Gemm(true, false, ci, co, r[2] * hw, Operand.X, (long) i * ci * l + (long) r[1] * hw, l, 0,
                        Operand.DY, (long) i * co * l + (long) r[0] * hw, l, 0, i > 0, Operand.ACC, (long) k * co * ci, ci, 0,
                        1));
            }
        }
        return g;
    }

    // ---- channels-last (NDHWC) ----
    // Per clip n the activations are L rows of C channels ([L][C] row-major, L = T*H*W): cuBLAS sees a C x L
    // column-major matrix with leading dimension C. The weight in KTRSC ([Cout][kT][Cin] for these convs) is, per tap
    // k, a Cin x Cout column-major matrix at offset k*Cin with leading dimension kT*Cin: no repacking. So the 1x1x1 conv
    // is one GEMM per clip, Y^T (Cout x L) = W (Cout x Cin) X^T, and the 3x1x1 conv three, each between frame ranges
    // that are row offsets of HW rows (what the issue calls "three accumulated GEMMs"). Weight gradients go to an
    // fp32 ACC in KTRSC order.

    static List<Gemm> channelsLastPointwiseForward(int n, int ci, int co, int l) {
        return List.of(new Gemm(true, false, co, l, ci, Operand.W, 0, ci, 0, Operand.X, 0, ci, (long) l * ci, false,
                Operand.Y, 0, co, (long) l * co, n));
    }

    /**
     * The channels-last 1x1x1 conv as the one GEMM cuBLASLt runs with its epilogue: every clip's rows are consecutive
     * in NDHWC, so the N per-clip products of {@link #channelsLastPointwiseForward} are one product over N*L columns,
     * Y^T (Cout x NL) = W X^T. Y's rows are the output channels, which is what cuBLASLt's bias vector runs along (one
     * value per row of D, broadcast over the columns): the per-channel bias of a folded conv. With a residual, cuBLASLt
     * reads it as C (beta 1) and writes D = act(W X^T + C + bias); {@code accumulate} says so here, the host run
     * copying the residual into Y first. Null when N*L is past an int (the plan's column count).
     */
    static Gemm channelsLastPointwiseFused(int n, int ci, int co, int l, boolean residual) {
        long cols = (long) n * l;
        if (cols > Integer.MAX_VALUE) {
            return null;
        }
        return new Gemm(true, false, co, (int) cols, ci, Operand.W, 0, ci, 0, Operand.X, 0, ci, 0, residual, Operand.Y,
                0, co, 0, 1);
    }

    /**
     * cuBLASLt's epilogue of the fused 1x1x1 conv ({@code cublasLtEpilogue_t}, the values of cublasLt.h): applied to
     * {@code W X^T + beta C} in fp32, before D is rounded to its type.
     */
    enum LtEpilogue {
        NONE(1), RELU(2), BIAS(4), RELU_BIAS(6);

        private final int code;

        LtEpilogue(int code) {
            this.code = code;
        }

        /** The {@code CUBLASLT_EPILOGUE_*} value. */
        int code() {
            return code;
        }

        boolean hasBias() {
            return this == BIAS || this == RELU_BIAS;
        }

        static LtEpilogue of(boolean bias, boolean relu) {
            return bias ? (relu ? RELU_BIAS : BIAS) : (relu ? RELU : NONE);
        }

        /** One output element: {@code acc} is {@code W X^T + beta C} at a row whose bias is {@code bias}. */
        double apply(double acc, double bias) {
            double v = hasBias() ? acc + bias : acc;
            return this == RELU || this == RELU_BIAS ? Math.max(v, 0) : v;
        }
    }

    static List<Gemm> channelsLastPointwiseBackwardData(int n, int ci, int co, int l) {
        return List.of(new Gemm(false, false, ci, l, co, Operand.W, 0, ci, 0, Operand.DY, 0, co, (long) l * co, false,
                Operand.DX, 0, ci, (long) l * ci, n));
    }

    /** dW^T (Cin x Cout column-major = [Cout][Cin]) in ACC = sum over clips of X_n^T DY_n. */
    static List<Gemm> channelsLastPointwiseBackwardWeight(int n, int ci, int co, int l) {
        List<Gemm> g = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            g.add(new Gemm(false, true, ci, co, l, Operand.X, (long) i * l * ci, ci, 0, Operand.DY, (long) i * l * co, co, 0,
                    i > 0, Operand.ACC, 0, ci, 0, 1));
        }
        return g;
    }

    /** y[t] = sum_k W_k x[t + k - 1]; W in KTRSC ([Cout][3][Cin]); tap 1 first (it writes every frame). */
    static List<Gemm> channelsLastTemporalForward(int n, int ci, int co, int t, int hw) {
        long l = (long) t * hw;
        List<Gemm> g = new ArrayList<>();
        for (int k : new int[] {1, 0, 2}) {
            int[] r = tapRange(k, t);
            if (r != null) {
                g.add(new Gemm(true, false, co, r[2] * hw, ci, Operand.W, (long) k * ci, 3 * ci, 0, Operand.X,
                        (long) r[1] * hw * ci, ci, l * ci, k != 1, Operand.Y, (long) r[0] * hw * co, co, l * co, n));
            }
        }
        return g;
    }

    static List<Gemm> channelsLastTemporalBackwardData(int n, int ci, int co, int t, int hw) {
        long l = (long) t * hw;
        List<Gemm> g = new ArrayList<>();
        for (int k : new int[] {1, 0, 2}) {
            int[] r = tapRange(k, t);
            if (r != null) {
                g.add(new Gemm(false, false, ci, r[2] * hw, co, Operand.W, (long) k * ci, 3 * ci, 0, Operand.DY,
                        (long) r[0] * hw * co, co, l * co, k != 1, Operand.DX, (long) r[1] * hw * ci, ci, l * ci, n));
            }
        }
        return g;
    }

    /** dW_k into ACC in KTRSC ([Cout][3][Cin], tap k at offset k*Cin, ld 3*Cin); an empty tap stays as zeroed. */
    static List<Gemm> channelsLastTemporalBackwardWeight(int n, int ci, int co, int t, int hw) {
        long l = (long) t * hw;
        List<Gemm> g = new ArrayList<>();
        for (int k = 0; k < 3; k++) {
            int[] r = tapRange(k, t);
            if (r == null) {
                continue;
            }
            for (int i = 0; i < n; i++) {
                g.add(new Gemm(false, true, ci, co, r[2] * hw, Operand.X, i * l * ci + (long) r[1] * hw * ci, ci, 0,
                        Operand.DY, i * l * co + (long) r[0] * hw * co, co, 0, i > 0, Operand.ACC, (long) k * ci, 3 * ci,
                        0, 1));
            }
        }
        return g;
    }
}
