package dev.sevnet.infer;

import java.util.concurrent.RejectedExecutionException;

/**
 * A {@link Predictor} call refused at once because the request queue is full: the service is busy and
 * the caller should retry later (an HTTP server answers 503). Nothing was queued.
 */
public final class QueueFullException extends RejectedExecutionException {
    private static final long serialVersionUID = 1L;
    private final int capacity;

    public QueueFullException(int capacity) {
        super("predictor queue is full (capacity " + capacity + " requests); retry later or raise queueCapacity");
        this.capacity = capacity;
    }

    /** The queue's capacity in requests. */
    public int capacity() {
        return capacity;
    }
}
