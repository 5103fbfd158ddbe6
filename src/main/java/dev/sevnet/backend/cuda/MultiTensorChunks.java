package dev.sevnet.backend.cuda;

/**
 * How a multi-tensor launch ({@code sevc_sgd_momentum_step_multi}) spreads its tensors over blocks: every tensor cut
 * into chunks of {@link #CHUNK} elements, a block per chunk (PyTorch's multi_tensor_apply). A fixed number of blocks per
 * tensor, the first form, left the largest weights on 49 blocks and lost to one launch per tensor on an H100. Host
 * side only: the kernel finds its chunk's tensor in the prefix (kernels/sgd.cuh {@code multi_chunk_tensor}).
 */
public final class MultiTensorChunks {
    /** Elements per block: 64 per thread of a 256-thread block (PyTorch uses 65536 per chunk). */
    public static final long CHUNK = 16384;

    private MultiTensorChunks() {
    }

    /**
     * The chunks before each tensor ({@code sizes.length + 1} entries, the last one the total): tensor t has
     * ceil(sizes[t] / chunk) chunks, an empty one none.
     */
    public static long[] prefix(long[] sizes, long chunk) {
        if (chunk < 1) {
            throw new IllegalArgumentException("chunk must be >= 1, got " + chunk);
        }
        long[] prefix = new long[sizes.length + 1];
        for (int t = 0; t < sizes.length; t++) {
            if (sizes[t] < 0) {
                throw new IllegalArgumentException("size " + t + " is negative: " + sizes[t]);
            }
            prefix[t + 1] = Math.addExact(prefix[t], (sizes[t] + chunk - 1) / chunk);
        }
        return prefix;
    }
}
