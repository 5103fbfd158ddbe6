package dev.sevnet.infer;

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.sevnet.data.VideoDecodeException;
import dev.sevnet.nn.io.Npy;
import dev.sevnet.nn.io.WeightsFormatException;
import dev.sevnet.tensor.Tensor;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An HTTP front end of a {@link Predictor} on the JDK's built-in server ({@code com.sun.net.httpserver}),
 * no framework:
 * <ul>
 * <li>{@code POST /v1/predict} with the video file as the body ({@code Content-Type: video/mp4},
 *     {@code video/webm} or {@code application/octet-stream}), or an already decoded and normalised clip
 *     as a float32 {@code .npy} array ({@code application/x-npy}: {@code [3, T, H, W]}, or the views of one
 *     video {@code [V, 3, T, H, W]}) &rarr; {@code 200}
 *     {@code {"top":[{"label","index","prob"},...],"logits":[...]}};</li>
 * <li>{@code GET /healthz} &rarr; {@code 200 {"status":"ok",...}};</li>
 * <li>{@code GET /metrics} &rarr; Prometheus text format ({@link ServeMetrics}).</li>
 * </ul>
 * A bad request gets a 4xx JSON {@code {"error": "..."}} naming the problem (400 empty body, 404 unknown
 * path, 405 wrong method, 413 body over the limit, 415 wrong content type, 422 not a decodable video);
 * a full queue or a timeout 503 with {@code Retry-After}; the server keeps serving either way. Each body
 * is written to a temporary file for FFmpeg and deleted once answered.
 *
 * <p><b>Threads and admission.</b> Connections are read on threads of their own, so a slow client never
 * holds up another, and {@code GET /healthz} and {@code /metrics} answer whatever the load. A request must
 * arrive whole (headers and body) within the read timeout, else its connection is closed (slowloris). At
 * most {@code threads} predictions decode and wait on the predictor at once; up to the predictor's queue
 * capacity more wait for one of them, and the wait counts against the request's timeout; beyond that a
 * request is refused at once with 503. A refused request is answered at once; what is left of its body
 * is read and discarded afterwards (up to 16 MiB, within the read timeout), then the connection closes.
 *
 * <p>Closing the server stops accepting connections, answers the requests already accepted (up to the
 * predictor's timeout), then stops its threads; the predictor stays open (its owner closes it).
 */
public final class PredictServer implements AutoCloseable {
    /** A decoded clip as a NumPy array instead of a video file. */
    public static final String NPY = "application/x-npy";
    /** The media types accepted by {@code POST /v1/predict}, with the temp-file suffix of each. */
    public static final Map<String, String> CONTENT_TYPES = Map.of("video/mp4", ".mp4", "video/webm", ".webm",
            "application/octet-stream", ".bin", NPY, ".npy");
    private static final String ACCEPTED = "video/mp4, video/webm, application/octet-stream (a video file) or "
            + NPY + " (a float32 clip)";
    /** How long a request may take to arrive whole, when nothing else is set (see {@link #start}). */
    public static final Duration DEFAULT_READ_TIMEOUT = Duration.ofSeconds(60);
    /** What is left of a refused body is read and discarded up to this size after answering. */
    private static final long DRAIN_LIMIT = 16L << 20;
    private static final Gson GSON = new Gson();

    private final Predictor predictor;
    private final HttpServer server;
    private final ExecutorService handlers;
    private final long maxBodyBytes;
    private final Path tempDir;
    private final ServeMetrics metrics = new ServeMetrics();
    private final Semaphore predicting;
    private final AtomicInteger admitted = new AtomicInteger();
    private final AtomicInteger inProgress = new AtomicInteger();
    private final int admitLimit;
    private volatile boolean closed;

    private PredictServer(Predictor predictor, HttpServer server, ExecutorService handlers, long maxBodyBytes,
            Path tempDir, int threads) {
        this.predictor = predictor;
        this.server = server;
        this.handlers = handlers;
        this.maxBodyBytes = maxBodyBytes;
        this.tempDir = tempDir;
        this.predicting = new Semaphore(threads, true);
        this.admitLimit = threads + predictor.queueCapacity();
    }

    /**
     * Binds {@code host:port} (port 0: any free port) and starts serving {@code predictor}.
     *
     * @param maxBodyBytes largest accepted video (413 above it)
     * @param threads      predictions decoded and run at once (the HTTP reading has threads of its own)
     * @param tempDir      where bodies are written for decoding (null: the system temp folder)
     * @throws UncheckedIOException when the address cannot be bound
     */
    public static PredictServer start(Predictor predictor, String host, int port, long maxBodyBytes, int threads,
            Path tempDir) {
        return start(predictor, host, port, maxBodyBytes, threads, tempDir, DEFAULT_READ_TIMEOUT);
    }

    /**
     * {@link #start(Predictor, String, int, long, int, Path)} with the time a request may take to arrive whole.
     * The JDK reads its server settings once per JVM, when its first server starts: the first server's read
     * timeout (or {@code -Dsun.net.httpserver.maxReqTime=SECONDS}, which wins) holds for every later one.
     */
    public static PredictServer start(Predictor predictor, String host, int port, long maxBodyBytes, int threads,
            Path tempDir, Duration readTimeout) {
        Objects.requireNonNull(readTimeout, "readTimeout");
        if (readTimeout.toSeconds() < 1) {
            throw new IllegalArgumentException("read timeout must be >= 1 s, got " + readTimeout);
        }
        Objects.requireNonNull(predictor, "predictor");
        if (maxBodyBytes < 1) {
            throw new IllegalArgumentException("max body size must be >= 1 byte, got " + maxBodyBytes);
        }
        if (threads < 1) {
            throw new IllegalArgumentException("handler threads must be >= 1, got " + threads);
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port must be in 0..65535, got " + port);
        }
        Path tmp = tempDir != null ? tempDir : Path.of(System.getProperty("java.io.tmpdir"));
        // the JDK server writes the status line + headers and the body as separate segments: with Nagle's
        // algorithm on, each answer then waits for the client's delayed ACK (~40 ms). The property is read
        // once, when the JDK's server configuration is first loaded; an explicit user setting wins.
        if (System.getProperty("sun.net.httpserver.nodelay") == null) {
            System.setProperty("sun.net.httpserver.nodelay", "true");
        }
        // without it a client that sends its headers or body slowly holds a connection (and a thread) forever
        if (System.getProperty("sun.net.httpserver.maxReqTime") == null) {
            System.setProperty("sun.net.httpserver.maxReqTime", Long.toString(readTimeout.toSeconds()));
        }
        HttpServer server;
        try {
            Files.createDirectories(tmp);
            server = HttpServer.create(new InetSocketAddress(host, port), 128);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot listen on " + host + ":" + port + ": " + e.getMessage(), e);
        }
        AtomicInteger ids = new AtomicInteger();
        // a thread per connection being read: the JDK parses headers on the executor, so a fixed pool let a few
        // slow clients stall every endpoint; the read timeout bounds how long each can hold one
        ExecutorService pool = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "sevnet-http-" + ids.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        PredictServer s = new PredictServer(predictor, server, pool, maxBodyBytes, tmp, threads);
        server.createContext("/", s::handle);
        server.setExecutor(pool);
        server.start();
        return s;
    }

    /** The bound address (with the actual port when 0 was asked for). */
    public InetSocketAddress address() {
        return server.getAddress();
    }

    public int port() {
        return server.getAddress().getPort();
    }

    public Predictor predictor() {
        return predictor;
    }

    /** The Prometheus text that {@code GET /metrics} returns now. */
    public String metricsText() {
        return metrics.render(predictor);
    }

    /**
     * Stops accepting connections, waits for the requests in progress to be answered (at most the predictor's
     * timeout and a second), stops the threads.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true; // from now on every new request is answered 503 "closing"
        // stop(1) closed the connections of predictions still running after a second, unanswered; and stop(n)
        // always waits the full n seconds on JDK 17, so the wait for the requests in progress is ours
        long deadline = System.nanoTime() + predictor.timeout().plusSeconds(1).toNanos();
        while (inProgress.get() > 0 && System.nanoTime() < deadline) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        server.stop(0);
        handlers.shutdown();
        try {
            if (!handlers.awaitTermination(30, TimeUnit.SECONDS)) {
                handlers.shutdownNow();
            }
        } catch (InterruptedException e) {
            handlers.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }

    // ---- dispatch ----

    /** An answer: status, JSON (or text) body, the error reason for the metrics (null on success). */
    private record Reply(int status, String contentType, byte[] body, String reason, Map<String, String> headers) {
        static Reply json(int status, JsonObject o) {
            return new Reply(status, "application/json; charset=utf-8", GSON.toJson(o).getBytes(StandardCharsets.UTF_8),
                    null, Map.of());
        }

        static Reply error(int status, String reason, String message) {
            JsonObject o = new JsonObject();
            o.addProperty("error", message);
            o.addProperty("status", status);
            return new Reply(status, "application/json; charset=utf-8", GSON.toJson(o).getBytes(StandardCharsets.UTF_8),
                    reason, Map.of());
        }

        Reply with(String header, String value) {
            return new Reply(status, contentType, body, reason, Map.of(header, value));
        }
    }

    private void handle(HttpExchange ex) {
        inProgress.incrementAndGet();
        try {
            handleCounted(ex);
        } finally {
            inProgress.decrementAndGet();
        }
    }

    private void handleCounted(HttpExchange ex) {
        long t0 = System.nanoTime();
        metrics.begin();
        String path = requestPath(ex);
        String endpoint = switch (path) {
            case "/v1/predict", "/healthz", "/metrics" -> path;
            default -> "other";
        };
        Reply reply;
        try {
            reply = closed && !endpoint.equals("/healthz")
                    ? Reply.error(503, "closing", "server is shutting down").with("Connection", "close")
                    : switch (endpoint) {
                case "/v1/predict" -> predict(ex);
                case "/healthz" -> onlyGet(ex, this::health);
                case "/metrics" -> onlyGet(ex, () -> new Reply(200, "text/plain; version=0.0.4; charset=utf-8",
                        metrics.render(predictor).getBytes(StandardCharsets.UTF_8), null, Map.of()));
                default -> Reply.error(404, "not_found", "no endpoint " + path
                        + "; the endpoints are POST /v1/predict, GET /healthz and GET /metrics");
            };
        } catch (RuntimeException | Error e) {
            String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            reply = Reply.error(500, "internal", "internal error: " + m.lines().findFirst().orElse(m));
        }
        if (reply.reason() != null) {
            metrics.error(reply.reason());
        }
        try {
            ex.getResponseHeaders().set("Content-Type", reply.contentType());
            reply.headers().forEach((k, v) -> ex.getResponseHeaders().set(k, v));
            boolean head = ex.getRequestMethod().equalsIgnoreCase("HEAD");
            ex.sendResponseHeaders(reply.status(), head ? -1 : reply.body().length);
            OutputStream os = ex.getResponseBody();
            if (!head) {
                os.write(reply.body());
            }
            os.flush();
            // the answer is out; now read what is left of a refused body, so closing with unread bytes does not
            // reset the connection under the client before it has read the answer (reading it first delayed
            // every refusal by up to 16 MiB of upload)
            drain(ex.getRequestBody());
        } catch (IOException e) {
            // the client went away; nothing to answer
        } finally {
            ex.close();
            metrics.end(endpoint, reply.status(), System.nanoTime() - t0, endpoint.equals("/v1/predict"));
        }
    }

    private static Reply onlyGet(HttpExchange ex, java.util.function.Supplier<Reply> get) {
        String m = ex.getRequestMethod().toUpperCase(Locale.ROOT);
        if (!m.equals("GET") && !m.equals("HEAD")) {
            return Reply.error(405, "method_not_allowed", "method " + m + " is not allowed on "
                    + ex.getRequestURI().getPath() + "; use GET").with("Allow", "GET, HEAD");
        }
        return get.get();
    }

    private Reply health() {
        JsonObject o = new JsonObject();
        boolean up = !predictor.isClosed() && !closed;
        o.addProperty("status", up ? "ok" : "closing");
        o.addProperty("model", predictor.modelName());
        o.addProperty("device", predictor.device().toString());
        o.addProperty("classes", predictor.numClasses());
        o.addProperty("views", predictor.views());
        o.addProperty("queue_depth", predictor.queueDepth());
        return Reply.json(up ? 200 : 503, o);
    }

    private Reply predict(HttpExchange ex) {
        String method = ex.getRequestMethod().toUpperCase(Locale.ROOT);
        if (!method.equals("POST")) {
            return Reply.error(405, "method_not_allowed", "method " + method
                    + " is not allowed on /v1/predict; POST the video file as the request body").with("Allow", "POST");
        }
        java.util.List<String> cts = ex.getRequestHeaders().get("Content-Type");
        if (cts != null && cts.size() > 1) {
            return Reply.error(400, "bad_request", "Content-Type given " + cts.size() + " times; send it once");
        }
        String ct = cts == null ? null : cts.get(0);
        if (ct == null || ct.isBlank()) {
            return Reply.error(415, "unsupported_media_type", "missing Content-Type; send " + ACCEPTED);
        }
        String type = ct.split(";", 2)[0].trim().toLowerCase(Locale.ROOT);
        String suffix = CONTENT_TYPES.get(type);
        if (suffix == null) {
            return Reply.error(415, "unsupported_media_type", "unsupported Content-Type '" + type + "'; send "
                    + ACCEPTED);
        }
        long declared = contentLength(ex);
        if (declared > maxBodyBytes) {
            return tooLarge(declared);
        }
        if (admitted.incrementAndGet() > admitLimit) {
            admitted.decrementAndGet();
            return Reply.error(503, "queue_full", "server busy: " + admitLimit + " requests are being served or "
                    + "waiting").with("Retry-After", "1");
        }
        try {
            return admittedPredict(ex, type, suffix);
        } finally {
            admitted.decrementAndGet();
        }
    }

    private Reply admittedPredict(HttpExchange ex, String type, String suffix) {
        Path file;
        try {
            file = Files.createTempFile(tempDir, "sevnet-upload-", suffix);
        } catch (IOException e) {
            return Reply.error(500, "internal", "cannot store the upload in " + tempDir + ": " + firstLine(e));
        }
        try {
            long n = copyLimited(ex.getRequestBody(), file, maxBodyBytes + 1);
            if (n > maxBodyBytes) {
                return tooLarge(-1);
            }
            if (n == 0) {
                return Reply.error(400, "empty_body", "empty body: POST the video file as the request body");
            }
            // the time limit runs from here: waiting for a turn to decode counts, uploading does not
            long deadline = System.nanoTime() + predictor.timeout().toNanos();
            if (!predicting.tryAcquire(predictor.timeout().toNanos(), TimeUnit.NANOSECONDS)) {
                return Reply.error(503, "timeout", "no turn to decode within " + predictor.timeout().toMillis()
                        + " ms").with("Retry-After", "1");
            }
            try {
                Duration left = Duration.ofNanos(Math.max(1, deadline - System.nanoTime()));
                if (type.equals(NPY)) {
                    return predictArray(file, left);
                }
                Prediction p = predictor.predict(file, left);
                return Reply.json(200, toJson(p));
            } finally {
                predicting.release();
            }
        } catch (VideoDecodeException e) {
            return Reply.error(422, "not_a_video", "the body is not a decodable video: "
                    + reason(e).replace(file.toString(), "body"));
        } catch (QueueFullException e) {
            return Reply.error(503, "queue_full", "server busy: " + e.getMessage()).with("Retry-After", "1");
        } catch (PredictionTimeoutException e) {
            return Reply.error(503, "timeout", e.getMessage()).with("Retry-After", "1");
        } catch (RejectedExecutionException e) {
            return Reply.error(503, "closing", "server is shutting down: " + e.getMessage());
        } catch (IllegalArgumentException e) {
            return Reply.error(422, "not_a_video", "the body cannot be used as a video: "
                    + firstLine(e).replace(file.toString(), "body"));
        } catch (IOException e) {
            return Reply.error(400, "bad_body", "cannot read the request body: " + firstLine(e));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Reply.error(503, "closing", "server is shutting down");
        } finally {
            try {
                Files.deleteIfExists(file);
            } catch (IOException e) {
                // best effort: a temp file left behind is not an answer to the client
            }
        }
    }

    private Reply predictArray(Path file, Duration limit) {
        Tensor clip;
        try {
            clip = Npy.read(file);
        } catch (WeightsFormatException e) {
            return Reply.error(422, "not_an_array", "the body is not a readable .npy array: "
                    + firstLine(e).replace(file.toString(), "body")); // the upload's temporary path is ours
        }
        try (clip) {
            return Reply.json(200, toJson(predictor.predict(clip, limit)));
        } catch (IllegalArgumentException e) {
            return Reply.error(422, "bad_clip", "the array cannot be used as a clip: "
                    + firstLine(e).replace(file.toString(), "body"));
        }
    }

    private Reply tooLarge(long declared) {
        String size = declared >= 0 ? "body of " + declared + " bytes" : "body";
        return Reply.error(413, "body_too_large", size + " is over the limit of " + maxBodyBytes + " bytes ("
                + String.format(Locale.ROOT, "%.1f", maxBodyBytes / 1048576.0) + " MiB)");
    }

    static JsonObject toJson(Prediction p) {
        JsonObject o = new JsonObject();
        JsonArray top = new JsonArray();
        for (Prediction.ClassScore c : p.top()) {
            JsonObject t = new JsonObject();
            t.addProperty("label", c.label());
            t.addProperty("index", c.index());
            t.addProperty("prob", c.prob());
            top.add(t);
        }
        o.add("top", top);
        JsonArray logits = new JsonArray();
        for (float v : p.logits()) {
            logits.add(v);
        }
        o.add("logits", logits);
        o.addProperty("views", p.views());
        return o;
    }

    private static long contentLength(HttpExchange ex) {
        String v = ex.getRequestHeaders().getFirst("Content-Length");
        if (v == null) {
            return -1;
        }
        try {
            return Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** Copies at most {@code limit} bytes of {@code in} into {@code file}; returns how many it copied. */
    private static long copyLimited(InputStream in, Path file, long limit) throws IOException {
        long n = 0;
        byte[] buf = new byte[64 * 1024];
        try (OutputStream out = Files.newOutputStream(file, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            while (n < limit) {
                int r = in.read(buf, 0, (int) Math.min(buf.length, limit - n));
                if (r < 0) {
                    break;
                }
                out.write(buf, 0, r);
                n += r;
            }
        }
        return n;
    }

    /** Reads and discards what is left of a request body, up to {@link #DRAIN_LIMIT} (the read timeout bounds the time). */
    private static void drain(InputStream in) {
        byte[] buf = new byte[64 * 1024];
        long n = 0;
        try {
            int r;
            while (n < DRAIN_LIMIT && (r = in.read(buf)) >= 0) {
                n += r;
            }
        } catch (IOException e) {
            // a broken or closed body: nothing more to read
        }
    }

    /**
     * The request's path as sent. For "//v1/predict" {@code URI} takes "v1" for a host and gives "/predict", so a
     * 404 named a path the client never sent.
     */
    private static String requestPath(HttpExchange ex) {
        java.net.URI u = ex.getRequestURI();
        String path = u.getPath() == null ? "" : u.getPath();
        return u.getRawAuthority() != null && u.getScheme() == null ? "//" + u.getRawAuthority() + path : path;
    }

    private static String reason(VideoDecodeException e) {
        String m = firstLine(e);
        String prefix = "cannot decode " + e.file() + ": ";
        return m.startsWith(prefix) ? m.substring(prefix.length()) : m;
    }

    private static String firstLine(Throwable e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return m.lines().findFirst().orElse(m);
    }
}
