package dev.sevnet.backend.cuda;

import dev.sevnet.tensor.Tensor;
import java.util.HashMap;
import java.util.Map;
import java.util.function.LongFunction;
import org.bytedeco.cuda.cublas.cublasLtContext;
import org.bytedeco.cuda.cublas.cublasLtMatmulDescOpaque_t;
import org.bytedeco.cuda.cublas.cublasLtMatmulHeuristicResult_t;
import org.bytedeco.cuda.cublas.cublasLtMatmulPreferenceOpaque_t;
import org.bytedeco.cuda.cublas.cublasLtMatrixLayoutOpaque_t;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cublas;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.PointerPointer;

/**
 * cuBLASLt for the GEMMs whose epilogue it can take: the channels-last 1x1x1 conv of a folded (inference) model,
 * {@code y = act(W x + bias [+ residual])} in one launch ({@link ConvGemmPlan#channelsLastPointwiseFused}), where
 * cuBLAS or cuDNN need a second pass over y for bias, residual and ReLU. One handle per device; per problem the
 * matmul descriptor, the four layouts and the heuristic's algorithm, made at the problem's first call and kept, with
 * the handle, for the backend's life: like the cuDNN descriptors, for the process, since a {@code CudaBackend} is
 * never torn down. {@link #close()} destroys them all, for an owner that is.
 *
 * <p>Not thread-safe on its own: the backend calls it under its monitor (the bias pointer is set on the shared
 * descriptor per call).
 */
final class CublasLt implements AutoCloseable {
    /** cuBLASLt's workspace ceiling (what NVIDIA recommends for Hopper); the heuristic picks within it. */
    static final long MAX_WORKSPACE_BYTES = 32L << 20;
    /**
     * The alignment the heuristic may assume of every pointer (its default); the backend checks each call's pointers
     * against it and takes another route when one is off (the caching allocator's blocks are 512-byte aligned).
     */
    static final long ALIGNMENT = 256;

    private final cublasLtContext handle = new cublasLtContext();
    private final Map<String, Problem> problems = new HashMap<>();
    private boolean closed;

    CublasLt() {
        Cuda.checkCublas(cublas.cublasLtCreate(handle), "cublasLtCreate");
    }

    /** One matmul: descriptors and algorithm. */
    private static final class Problem implements AutoCloseable {
        final cublasLtMatmulDescOpaque_t desc;
        final cublasLtMatrixLayoutOpaque_t a;
        final cublasLtMatrixLayoutOpaque_t b;
        final cublasLtMatrixLayoutOpaque_t c;
        final cublasLtMatmulHeuristicResult_t algo = new cublasLtMatmulHeuristicResult_t();
        final boolean bias;
        final boolean beta;

        Problem(cublasLtContext h, ConvGemmPlan.Gemm g, ConvGemmPlan.LtEpilogue epilogue, int dataType, int computeType,
                String what) {
            this.bias = epilogue.hasBias();
            this.beta = g.accumulate();
            cublasLtMatmulDescOpaque_t d = null;
            cublasLtMatrixLayoutOpaque_t la = null;
            cublasLtMatrixLayoutOpaque_t lb = null;
            cublasLtMatrixLayoutOpaque_t lc = null;
            cublasLtMatmulPreferenceOpaque_t pref = null;
            try (PointerPointer<?> pp = new PointerPointer<>(1); IntPointer one = new IntPointer(1);
                    LongPointer ws = new LongPointer(1); IntPointer found = new IntPointer(1)) {
                Cuda.checkCublas(cublas.cublasLtMatmulDescCreate(pp, computeType, cudart.CUDA_R_32F),
                        "cublasLtMatmulDescCreate (" + what + ")");
                d = new cublasLtMatmulDescOpaque_t(pp.get(0));
                set(d, cublas.CUBLASLT_MATMUL_DESC_TRANSA, one.put(g.transA() ? cublas.CUBLAS_OP_T : cublas.CUBLAS_OP_N));
                set(d, cublas.CUBLASLT_MATMUL_DESC_TRANSB, one.put(g.transB() ? cublas.CUBLAS_OP_T : cublas.CUBLAS_OP_N));
                set(d, cublas.CUBLASLT_MATMUL_DESC_EPILOGUE, one.put(epilogue.code()));
                // A and B as stored (before op): op(A) is m x k, op(B) k x n
                la = layout(pp, dataType, g.transA() ? g.k() : g.m(), g.transA() ? g.m() : g.k(), g.lda(), what);
                lb = layout(pp, dataType, g.transB() ? g.n() : g.k(), g.transB() ? g.k() : g.n(), g.ldb(), what);
                lc = layout(pp, dataType, g.m(), g.n(), g.ldc(), what);
                Cuda.checkCublas(cublas.cublasLtMatmulPreferenceCreate(pp), "cublasLtMatmulPreferenceCreate");
                pref = new cublasLtMatmulPreferenceOpaque_t(pp.get(0));
                Cuda.checkCublas(cublas.cublasLtMatmulPreferenceSetAttribute(pref,
                        cublas.CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, ws.put(MAX_WORKSPACE_BYTES), 8),
                        "cublasLtMatmulPreferenceSetAttribute");
                Cuda.checkCublas(cublas.cublasLtMatmulAlgoGetHeuristic(h, d, la, lb, lc, lc, pref, 1, algo, found),
                        "cublasLtMatmulAlgoGetHeuristic (" + what + ")");
                if (found.get() < 1) {
                    throw new CudaException("cublasLtMatmulAlgoGetHeuristic (" + what + ") failed: cuBLAS status "
                            + cublas.CUBLAS_STATUS_NOT_SUPPORTED + " (no algorithm for this problem and epilogue)");
                }
            } catch (RuntimeException | Error e) {
                destroy(d, la, lb, lc);
                algo.close();
                throw e;
            } finally {
                if (pref != null) {
                    cublas.cublasLtMatmulPreferenceDestroy(pref);
                }
            }
            desc = d;
            a = la;
            b = lb;
            c = lc;
        }

        private static void set(cublasLtMatmulDescOpaque_t d, int attribute, IntPointer value) {
            Cuda.checkCublas(cublas.cublasLtMatmulDescSetAttribute(d, attribute, value, 4),
                    "cublasLtMatmulDescSetAttribute(" + attribute + ")");
        }

        private static cublasLtMatrixLayoutOpaque_t layout(PointerPointer<?> pp, int type, long rows, long cols, long ld,
                String what) {
            Cuda.checkCublas(cublas.cublasLtMatrixLayoutCreate(pp, type, rows, cols, ld),
                    "cublasLtMatrixLayoutCreate (" + what + ")");
            return new cublasLtMatrixLayoutOpaque_t(pp.get(0));
        }

        private static void destroy(cublasLtMatmulDescOpaque_t d, cublasLtMatrixLayoutOpaque_t... layouts) {
            for (cublasLtMatrixLayoutOpaque_t l : layouts) {
                if (l != null) {
                    cublas.cublasLtMatrixLayoutDestroy(l);
                }
            }
            if (d != null) {
                cublas.cublasLtMatmulDescDestroy(d);
            }
        }

        @Override
        public void close() {
            destroy(desc, a, b, c);
            algo.close();
        }
    }

    /** Whether {@code key}'s descriptors and algorithm exist (a first call makes them, which a CUDA graph capture must not). */
    synchronized boolean prepared(String key) {
        return problems.containsKey(key);
    }

    /**
     * D = epilogue(op(A) op(B) + beta C) for one {@link ConvGemmPlan.Gemm} (batch 1, offsets 0): addresses of A, B,
     * C (the residual when {@code g.accumulate()}, else unused), D and the bias (a vector of D's type, one value per
     * row, when the epilogue has one). {@code workspace} gives a device buffer of at least the bytes asked for (null
     * for 0), closed after the call (the caching allocator reuses it in stream order).
     */
    synchronized void matmul(String key, ConvGemmPlan.Gemm g, ConvGemmPlan.LtEpilogue epilogue, int dataType,
            int computeType, long a, long b, long c, long d, long bias, LongFunction<Tensor> workspace,
            CUstream_st stream, String what) {
        if (closed) {
            throw new IllegalStateException("cuBLASLt is closed");
        }
        if (g.batch() != 1 || g.aOffset() != 0 || g.bOffset() != 0 || g.cOffset() != 0) {
            throw new IllegalArgumentException("cuBLASLt runs one unbatched GEMM at offset 0: " + g);
        }
        if (epilogue.hasBias() != (bias != 0)) {
            throw new IllegalArgumentException("epilogue " + epilogue + " with bias pointer " + bias);
        }
        for (long p : new long[] {a, b, d, g.accumulate() ? c : d, epilogue.hasBias() ? bias : d}) {
            if (p == 0 || p % ALIGNMENT != 0) {
                throw new IllegalArgumentException("cuBLASLt operand at 0x" + Long.toHexString(p) + " is not "
                        + ALIGNMENT + "-byte aligned");
            }
        }
        Problem pr = problems.get(key);
        if (pr == null) {
            pr = new Problem(handle, g, epilogue, dataType, computeType, what);
            problems.put(key, pr);
        }
        if (pr.bias) {
            try (LongPointer bp = new LongPointer(1)) {
                Cuda.checkCublas(cublas.cublasLtMatmulDescSetAttribute(pr.desc,
                        cublas.CUBLASLT_MATMUL_DESC_BIAS_POINTER, bp.put(bias), 8), "cublasLtMatmulDescSetAttribute(bias)");
            }
        }
        long wsBytes = pr.algo.workspaceSize();
        // alpha and beta are read on the host at the call (CUBLASLT_POINTER_MODE_HOST, the default)
        try (Tensor ws = workspace.apply(wsBytes); FloatPointer one = new FloatPointer(1f);
                FloatPointer beta = new FloatPointer(pr.beta ? 1f : 0f)) {
            Cuda.checkCublas(cublas.cublasLtMatmul(handle, pr.desc, one, Cuda.ptr(a), pr.a, Cuda.ptr(b), pr.b, beta,
                    Cuda.ptr(pr.beta ? c : d), pr.c, Cuda.ptr(d), pr.c, pr.algo.algo(), ws == null ? null
                            : Cuda.ptr(ws.address()), wsBytes, stream), "cublasLtMatmul (" + what + ")");
        }
    }

    /** Destroys every problem's descriptors and the handle (after the streams that used them are done). */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        problems.values().forEach(Problem::close);
        problems.clear();
        cublas.cublasLtDestroy(handle);
    }
}
