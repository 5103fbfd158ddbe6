package dev.sevnet.infer;

import java.time.Duration;
import java.util.concurrent.TimeoutException;

/**
 * A synchronous {@link Predictor#predict} call that did not finish within the predictor's per-call
 * timeout. Its cause is the {@link TimeoutException} that the request's future failed with (the
 * asynchronous methods fail their future with that exception directly). A timed-out request still
 * waiting in the queue is dropped, never run.
 */
public final class PredictionTimeoutException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final transient Duration timeout;

    public PredictionTimeoutException(Duration timeout, TimeoutException cause) {
        super("prediction did not finish within the " + timeout.toMillis() + " ms timeout", cause);
        this.timeout = timeout;
    }

    public Duration timeout() {
        return timeout;
    }
}
