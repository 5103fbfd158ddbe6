package dev.sevnet.train;

import dev.sevnet.backend.DeviceOutOfMemoryException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a micro-batch as one or more equal chunks, and when the device runs out of memory, doubles
 * the number of chunks (halving what is resident at once) for this batch and every later one, the
 * way a user would lower the batch size and raise gradient accumulation. Gradients are the same
 * batch mean (each chunk's loss is weighted by its share of the batch); batch-norm statistics are
 * then per chunk, as with any smaller batch.
 *
 * <p>A chunk that failed may have left gradients of the earlier chunks of the same batch behind;
 * {@code discard} is called before the retry so the caller can drop them (the trainer zeroes the
 * accumulated gradients and so loses, at most, this optimizer step's earlier micro-batches; the step's
 * gradient is then the mean over the micro-batches that remain, not a sum still divided by {@code accum}).
 */
final class OutOfMemorySplitter {
    private static final Logger LOG = LoggerFactory.getLogger(OutOfMemorySplitter.class);

    /** One chunk {@code [from, to)} of the batch; {@code weight} is its share of the batch. */
    interface Chunk {
        void run(int from, int to, double weight);
    }

    private int chunks = 1;

    int chunks() {
        return chunks;
    }

    /** Runs {@code n} samples in chunks; throws the last out-of-memory error when single samples do not fit. */
    void run(int n, Chunk body, Runnable discard) {
        while (true) {
            int parts = Math.min(chunks, n);
            try {
                for (int p = 0; p < parts; p++) {
                    int from = (int) ((long) n * p / parts);
                    int to = (int) ((long) n * (p + 1) / parts);
                    body.run(from, to, (to - from) / (double) n);
                }
                return;
            } catch (DeviceOutOfMemoryException e) {
                discard.run();
                if (parts >= n) {
                    throw new DeviceOutOfMemoryException.Unrecoverable(
                            "even one clip per chunk does not fit: " + e.getMessage(), e);
                }
                chunks = parts * 2;
                LOG.warn("out of memory with {} clips at once ({}); continuing with chunks of about {} clips "
                        + "(gradients accumulated, this step's earlier gradients dropped)", (n + parts - 1) / parts,
                        e.getMessage(), (n + chunks - 1) / chunks);
            }
        }
    }
}
