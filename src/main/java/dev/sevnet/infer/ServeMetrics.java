package dev.sevnet.infer;

import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;

/**
 * Counters of {@link PredictServer}, rendered in the Prometheus text exposition format (version
 * 0.0.4): requests by endpoint and status, the prediction latency as a histogram and as percentiles of
 * the recent requests, errors by reason, and the predictor's queue depth, batch sizes and outcomes.
 * Thread-safe.
 */
final class ServeMetrics {
    /** Upper bounds (seconds) of the latency histogram buckets. */
    static final double[] LATENCY_BUCKETS = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
    private static final int WINDOW = 4096;

    private final Map<String, LongAdder> requests = new ConcurrentHashMap<>();
    private final Map<String, LongAdder> errors = new ConcurrentHashMap<>();
    private final AtomicLongArray latencyBuckets = new AtomicLongArray(LATENCY_BUCKETS.length + 1);
    private final LongAdder latencyCount = new LongAdder();
    private final AtomicLong latencySumNanos = new AtomicLong();
    private final LongAdder successCount = new LongAdder();
    private final AtomicLong successSumNanos = new AtomicLong();
    private final long[] window = new long[WINDOW];
    private int windowNext;
    private int windowSize;
    private final AtomicLong inProgress = new AtomicLong();

    void begin() {
        inProgress.incrementAndGet();
    }

    /** One finished request: its endpoint, status and time; predictions also feed the latency figures. */
    void end(String endpoint, int status, long nanos, boolean prediction) {
        inProgress.decrementAndGet();
        requests.computeIfAbsent(endpoint + "\u0000" + status, k -> new LongAdder()).increment();
        if (prediction) {
            double s = nanos / 1e9;
            int b = 0;
            while (b < LATENCY_BUCKETS.length && s > LATENCY_BUCKETS[b]) {
                b++;
            }
            latencyBuckets.incrementAndGet(b);
            latencyCount.increment();
            latencySumNanos.addAndGet(nanos);
            if (status == 200) {
                successCount.increment();
                successSumNanos.addAndGet(nanos);
                synchronized (window) {
                    window[windowNext] = nanos;
                    windowNext = (windowNext + 1) % WINDOW;
                    windowSize = Math.min(windowSize + 1, WINDOW);
                }
            }
        }
    }

    void error(String reason) {
        errors.computeIfAbsent(reason, k -> new LongAdder()).increment();
    }

    /** Requests so far with this endpoint and status. */
    long requests(String endpoint, int status) {
        LongAdder a = requests.get(endpoint + "\u0000" + status);
        return a == null ? 0 : a.sum();
    }

    /** Latency percentile (0..1) in seconds over the most recent successful predictions; NaN when none. */
    double percentile(double q) {
        long[] copy;
        synchronized (window) {
            copy = Arrays.copyOf(window, windowSize);
        }
        if (copy.length == 0) {
            return Double.NaN;
        }
        Arrays.sort(copy);
        int i = (int) Math.ceil(q * copy.length) - 1;
        return copy[Math.max(0, Math.min(copy.length - 1, i))] / 1e9;
    }

    String render(Predictor p) {
        StringBuilder sb = new StringBuilder(4096);
        help(sb, "sevnet_up", "gauge", "1 while the server runs.");
        sb.append("sevnet_up 1\n");
        help(sb, "sevnet_model_info", "gauge", "The model served (labels carry the facts; value 1).");
        sb.append("sevnet_model_info{model=\"").append(esc(p.modelName())).append("\",device=\"")
                .append(esc(p.device().toString())).append("\",folded=\"").append(p.isFolded()).append("\",classes=\"")
                .append(p.numClasses()).append("\",views=\"").append(p.views()).append("\"} 1\n");

        help(sb, "sevnet_http_requests_total", "counter", "HTTP requests by endpoint and status code.");
        Map<String, Long> sorted = new TreeMap<>();
        requests.forEach((k, v) -> sorted.put(k, v.sum()));
        sorted.forEach((k, v) -> {
            String[] parts = k.split("\u0000");
            sb.append("sevnet_http_requests_total{endpoint=\"").append(esc(parts[0])).append("\",code=\"")
                    .append(parts[1]).append("\"} ").append(v).append('\n');
        });
        help(sb, "sevnet_http_requests_in_progress", "gauge", "HTTP requests being handled now.");
        sb.append("sevnet_http_requests_in_progress ").append(inProgress.get()).append('\n');

        help(sb, "sevnet_http_errors_total", "counter", "Requests answered with an error, by reason.");
        Map<String, Long> errs = new TreeMap<>();
        errors.forEach((k, v) -> errs.put(k, v.sum()));
        errs.forEach((k, v) -> sb.append("sevnet_http_errors_total{reason=\"").append(esc(k)).append("\"} ")
                .append(v).append('\n'));

        help(sb, "sevnet_predict_duration_seconds", "histogram",
                "Time from request to response of POST /v1/predict (every status).");
        long cum = 0;
        for (int b = 0; b <= LATENCY_BUCKETS.length; b++) {
            cum += latencyBuckets.get(b);
            String le = b < LATENCY_BUCKETS.length ? num(LATENCY_BUCKETS[b]) : "+Inf";
            sb.append("sevnet_predict_duration_seconds_bucket{le=\"").append(le).append("\"} ").append(cum).append('\n');
        }
        sb.append("sevnet_predict_duration_seconds_sum ").append(num(latencySumNanos.get() / 1e9)).append('\n');
        sb.append("sevnet_predict_duration_seconds_count ").append(latencyCount.sum()).append('\n');

        help(sb, "sevnet_predict_latency_seconds", "summary",
                "Latency of successful predictions: percentiles of the last " + WINDOW + ", sum and count of all.");
        for (double q : new double[] {0.5, 0.9, 0.99}) {
            double v = percentile(q);
            sb.append("sevnet_predict_latency_seconds{quantile=\"").append(num(q)).append("\"} ")
                    .append(Double.isNaN(v) ? "NaN" : num(v)).append('\n');
        }
        // a summary's _sum and _count cover every observation (the quantiles only the recent window)
        sb.append("sevnet_predict_latency_seconds_sum ").append(num(successSumNanos.get() / 1e9)).append('\n');
        sb.append("sevnet_predict_latency_seconds_count ").append(successCount.sum()).append('\n');

        Predictor.Stats s = p.stats();
        help(sb, "sevnet_queue_depth", "gauge", "Requests waiting in the predictor's queue.");
        sb.append("sevnet_queue_depth ").append(s.queueDepth()).append('\n');
        help(sb, "sevnet_queue_capacity", "gauge", "Requests the queue holds before refusing calls.");
        sb.append("sevnet_queue_capacity ").append(p.queueCapacity()).append('\n');
        help(sb, "sevnet_batches_running", "gauge", "Batches in a forward pass now.");
        sb.append("sevnet_batches_running ").append(s.running()).append('\n');
        help(sb, "sevnet_predictor_requests_total", "counter", "Predictor requests by outcome.");
        sb.append("sevnet_predictor_requests_total{outcome=\"accepted\"} ").append(s.accepted()).append('\n');
        sb.append("sevnet_predictor_requests_total{outcome=\"completed\"} ").append(s.completed()).append('\n');
        sb.append("sevnet_predictor_requests_total{outcome=\"failed\"} ").append(s.failed()).append('\n');
        sb.append("sevnet_predictor_requests_total{outcome=\"rejected\"} ").append(s.rejected()).append('\n');
        sb.append("sevnet_predictor_requests_total{outcome=\"timed_out\"} ").append(s.timedOut()).append('\n');
        help(sb, "sevnet_batch_size", "histogram", "Clips per forward pass.");
        long[] sizes = s.batchSizes();
        long c = 0;
        long sum = 0;
        for (int n = 1; n < sizes.length; n++) {
            c += sizes[n];
            sum += n * sizes[n];
            sb.append("sevnet_batch_size_bucket{le=\"").append(n).append("\"} ").append(c).append('\n');
        }
        sb.append("sevnet_batch_size_bucket{le=\"+Inf\"} ").append(c).append('\n');
        sb.append("sevnet_batch_size_sum ").append(sum).append('\n');
        sb.append("sevnet_batch_size_count ").append(c).append('\n');
        help(sb, "sevnet_clips_total", "counter", "Clips (views) run through the model.");
        sb.append("sevnet_clips_total ").append(s.clips()).append('\n');
        help(sb, "sevnet_host_pool_bytes", "gauge", "Host memory held by the batching threads' buffer pools.");
        sb.append("sevnet_host_pool_bytes ").append(s.poolBytes()).append('\n');
        help(sb, "sevnet_host_pool_allocations_total", "counter",
                "Native allocations the buffer pools made after the warm-up pass (0 in steady state).");
        sb.append("sevnet_host_pool_allocations_total ").append(s.poolMallocs()).append('\n');
        return sb.toString();
    }

    private static void help(StringBuilder sb, String name, String type, String text) {
        sb.append("# HELP ").append(name).append(' ').append(text).append('\n');
        sb.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    }

    private static String num(double v) {
        if (Double.isNaN(v) || Double.isInfinite(v)) {
            return Double.isNaN(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf";
        }
        return new java.math.BigDecimal(String.format(Locale.ROOT, "%.6g", v)).stripTrailingZeros().toPlainString();
    }

    private static String esc(String s) {
        return s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }
}
