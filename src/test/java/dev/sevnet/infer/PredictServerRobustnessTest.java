package dev.sevnet.infer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.nn.io.Npy;
import dev.sevnet.tensor.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The HTTP server against clients that misbehave (found by an audit): slow or broken uploads must not stall
 * other clients, refusals are answered at once, admission bounds the wait, shutdown answers what it accepted.
 */
class PredictServerRobustnessTest {
    @TempDir
    Path dir;
    private Path checkpoint;
    private byte[] clipNpy;

    @BeforeEach
    void fixture() throws IOException {
        checkpoint = InferFixture.checkpoint(dir, 5);
        Path npy = dir.resolve("clip.npy");
        try (Tensor clip = PredictorTest.clip(4, 3, 8, 32, 32)) {
            Npy.write(npy, clip);
        }
        clipNpy = Files.readAllBytes(npy);
    }

    private final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
    }

    private PredictServer serve(Predictor.Builder b, int threads) {
        Predictor p = b.build();
        open.add(p);
        PredictServer s = PredictServer.start(p, "127.0.0.1", 0, 1 << 20, threads, dir.resolve("uploads"));
        open.add(s);
        return s;
    }

    private Predictor.Builder base() {
        return Predictor.builder().checkpoint(checkpoint).device("cpu").timeout(Duration.ofSeconds(20));
    }

    /** Sends raw bytes and returns the status line of the answer, or why there was none. */
    private static String exchange(int port, byte[] request, int timeoutMs) throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(timeoutMs);
            s.getOutputStream().write(request);
            s.getOutputStream().flush();
            return statusLine(s.getInputStream());
        }
    }

    private static String statusLine(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        try {
            for (int c; (c = in.read()) >= 0 && c != '\n';) {
                line.write(c);
            }
        } catch (SocketTimeoutException e) {
            return "no answer";
        }
        return line.toString(StandardCharsets.US_ASCII).strip();
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    private static byte[] post(String path, String contentType, byte[] body) {
        byte[] head = ascii("POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: " + contentType + "\r\nContent-Length: "
                + body.length + "\r\nConnection: close\r\n\r\n");
        byte[] all = java.util.Arrays.copyOf(head, head.length + body.length);
        System.arraycopy(body, 0, all, head.length, body.length);
        return all;
    }

    @Test
    void slowClientsDoNotStallOthersAndAreCutOffAfterTheReadTimeout() throws Exception {
        PredictServer server = serve(base(), 1);
        List<Socket> slow = new ArrayList<>();
        try {
            for (int i = 0; i < 6; i++) { // more slow clients than --threads: a fixed pool stalled every endpoint
                Socket s = new Socket("127.0.0.1", server.port());
                s.getOutputStream().write(ascii(i % 2 == 0 ? "GET /healthz HTTP/1.1\r\nHost: x\r\n"
                        : "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-npy\r\n"
                                + "Content-Length: 100000\r\n\r\nab"));
                slow.add(s);
            }
            assertTrue(exchange(server.port(), ascii("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
                    5000).contains(" 200"), "healthz answers beside slow clients");
            assertTrue(exchange(server.port(), post("/v1/predict", PredictServer.NPY, clipNpy), 20000).contains(" 200"),
                    "a prediction is served beside slow clients");
            long limit = Long.getLong("sun.net.httpserver.maxReqTime", 60);
            if (limit <= 10) { // the build sets a short one for this test (the JDK reads it once per JVM)
                Socket s = slow.get(0);
                s.setSoTimeout((int) (limit + 5) * 1000);
                long t0 = System.nanoTime();
                int r;
                try {
                    r = s.getInputStream().read();
                } catch (IOException e) {
                    r = -1;
                }
                assertEquals(-1, r, "the server closed the slow connection");
                assertTrue((System.nanoTime() - t0) / 1e9 <= limit + 4, "within the read timeout");
            }
        } finally {
            for (Socket s : slow) {
                s.close();
            }
        }
    }

    @Test
    void refusalsAreAnsweredAtOnceWithoutWaitingForTheBody() throws Exception {
        PredictServer server = serve(base(), 2);
        int port = server.port();
        // a body far over the limit, declared but not sent: the 413 used to wait for 16 MiB of it
        assertTrue(exchange(port, ascii("POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: video/mp4\r\n"
                + "Content-Length: 209715200\r\n\r\n"), 5000).contains(" 413"));
        assertTrue(exchange(port, ascii("POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                + "Content-Length: 209715200\r\nExpect: 100-continue\r\n\r\n"), 5000).matches(".* (100|415).*"));
        // a malformed chunked body: the 400 used to wait until the client hung up
        assertTrue(exchange(port, ascii("POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: video/mp4\r\n"
                + "Transfer-Encoding: chunked\r\n\r\nZZZ\r\nabc\r\n0\r\n\r\n"), 5000).contains(" 400"));
        assertTrue(exchange(port, ascii("POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                + "Content-Type: video/mp4\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"), 5000).contains(" 400"),
                "two Content-Types are a bad request, whichever comes first");
        String r404 = exchange(port, ascii("POST //v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                + "Connection: close\r\n\r\n"), 5000);
        assertTrue(r404.contains(" 404"), r404);
        // too many views in one clip: each is a forward pass
        Path views = dir.resolve("views.npy");
        try (Tensor t = Tensor.zeros(dev.sevnet.tensor.Shape.of(Predictor.MAX_VIEWS + 1, 3, 1, 2, 2))) {
            Npy.write(views, t);
        }
        assertTrue(exchange(port, post("/v1/predict", PredictServer.NPY, Files.readAllBytes(views)), 5000).contains(" 422"));
        assertTrue(exchange(port, ascii("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), 5000)
                .contains(" 200"), "still serving");
        String metrics = server.metricsText();
        assertTrue(metrics.contains("sevnet_predict_latency_seconds_count ")
                && metrics.contains("sevnet_predict_latency_seconds_sum "), metrics);
    }

    @Test
    void admissionRefusesAtOnceBeyondTheQueueAndShutdownAnswersWhatItAccepted() throws Exception {
        // batches wait 1.5 s to fill: every request is still running when the server is closed
        PredictServer server = serve(base().maxBatch(8).maxQueueDelay(Duration.ofMillis(1500)).queueCapacity(2), 1);
        int port = server.port();
        ExecutorService clients = Executors.newFixedThreadPool(8);
        try {
            List<Future<String>> answers = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                answers.add(clients.submit(() -> exchange(port, post("/v1/predict", PredictServer.NPY, clipNpy), 30000)));
            }
            Thread.sleep(400);
            long t0 = System.nanoTime();
            server.close(); // stop(1) used to cut the connections of predictions still running after a second
            double closeSeconds = (System.nanoTime() - t0) / 1e9;
            int ok = 0;
            int busy = 0;
            for (Future<String> f : answers) {
                String a = f.get();
                if (a.contains(" 200")) {
                    ok++;
                } else if (a.contains(" 503")) {
                    busy++;
                } else {
                    throw new AssertionError("every accepted request is answered, got '" + a + "'");
                }
            }
            // 1 predicting + 2 waiting (threads + queue) are admitted; the rest are refused at once
            assertEquals(3, ok, ok + " answered, " + busy + " refused");
            assertEquals(5, busy);
            assertTrue(closeSeconds < 15, "close waited " + closeSeconds + " s");
        } finally {
            clients.shutdownNow();
        }
    }
}
