package dev.sevnet.infer;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sevnet.nn.io.Npy;
import dev.sevnet.tensor.MemoryStats;
import dev.sevnet.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code sevnet serve}'s HTTP endpoint under a bounded loopback load: 8 concurrent clients x 200 requests
 * mixing good and bad payloads; every good one is answered 200 with the top-1 of a direct
 * {@link Predictor} call, every bad one with the expected 4xx, never a 5xx, and native memory is back
 * to its starting level once the server and the predictor are closed.
 */
class PredictServerTest {
    static final long MAX_BODY = 256 * 1024;

    @TempDir
    Path dir;

    /** One kind of request of the load mix and the status it must get. */
    record Payload(String name, String method, String path, String contentType, byte[] body, int status, int video) {
    }

    @Test
    void eightClientsTimesTwoHundredRequestsMixingGoodAndBadPayloads() throws Exception {
        Path checkpoint = InferFixture.checkpoint(dir, 9);
        List<Path> videos = InferFixture.videos(dir, 4);
        Path webm = InferFixture.webm(dir);
        List<Path> goodFiles = new ArrayList<>(videos);
        goodFiles.add(webm);
        Path npy = dir.resolve("clip.npy");
        try (Tensor clip = PredictorTest.clip(4, 3, 8, 32, 32)) {
            Npy.write(npy, clip);
        }
        goodFiles.add(npy);
        Path uploads = dir.resolve("uploads");

        // what a direct Predictor answers for each good file
        List<Prediction> expected = new ArrayList<>();
        try (Predictor direct = Predictor.builder().checkpoint(checkpoint).device("cpu").build()) {
            for (Path f : goodFiles) {
                if (f.toString().endsWith(".npy")) {
                    try (Tensor clip = Npy.read(f)) {
                        expected.add(direct.predict(clip));
                    }
                } else {
                    expected.add(direct.predict(f));
                }
            }
        }

        long before = MemoryStats.liveHostBytes();
        Predictor predictor = Predictor.builder().checkpoint(checkpoint).device("cpu").maxBatch(8)
                .maxQueueDelay(Duration.ofMillis(2)).queueCapacity(64).build();
        PredictServer server = PredictServer.start(predictor, "127.0.0.1", 0, MAX_BODY, 8, uploads);
        try {
            assertEquals("127.0.0.1", server.address().getAddress().getHostAddress(), "loopback only");
            List<Payload> mix = payloads(goodFiles, videos.get(0));
            HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                    .connectTimeout(Duration.ofSeconds(10)).build();
            URI base = URI.create("http://127.0.0.1:" + server.port());
            Map<String, AtomicInteger> seen = new ConcurrentHashMap<>();
            ExecutorService clients = Executors.newFixedThreadPool(8);
            List<Future<Integer>> jobs = new ArrayList<>();
            for (int c = 0; c < 8; c++) {
                int id = c;
                jobs.add(clients.submit(() -> {
                    int good = 0;
                    for (int i = 0; i < 200; i++) {
                        Payload p = mix.get((id * 7 + i * 3) % mix.size());
                        HttpRequest.Builder rb = HttpRequest.newBuilder(base.resolve(p.path()))
                                .timeout(Duration.ofSeconds(60));
                        if (p.contentType() != null) {
                            rb.header("Content-Type", p.contentType());
                        }
                        rb.method(p.method(), p.body() == null ? HttpRequest.BodyPublishers.noBody()
                                : HttpRequest.BodyPublishers.ofByteArray(p.body()));
                        HttpResponse<String> r = client.send(rb.build(), HttpResponse.BodyHandlers.ofString());
                        String what = "client " + id + " request " + i + " (" + p.name() + "): " + r.statusCode() + " "
                                + r.body();
                        assertTrue(r.statusCode() < 500, "no 5xx: " + what);
                        assertEquals(p.status(), r.statusCode(), what);
                        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/json"), what);
                        JsonObject o = JsonParser.parseString(r.body()).getAsJsonObject();
                        if (p.video() == -2) {
                            assertEquals("ok", o.get("status").getAsString(), what);
                        } else if (p.status() == 200) {
                            Prediction e = expected.get(p.video());
                            JsonArray top = o.getAsJsonArray("top");
                            assertEquals(5, top.size(), what);
                            JsonObject first = top.get(0).getAsJsonObject();
                            assertEquals(e.top1().index(), first.get("index").getAsInt(), what);
                            assertEquals(e.top1().label(), first.get("label").getAsString(), what);
                            assertEquals(e.top1().prob(), first.get("prob").getAsFloat(), 1e-4, what);
                            JsonArray logits = o.getAsJsonArray("logits");
                            float[] l = new float[logits.size()];
                            for (int k = 0; k < l.length; k++) {
                                l[k] = logits.get(k).getAsFloat();
                            }
                            assertTrue(FoldedSevNetTest.relErr(l, e.logits()) <= 1e-4, what);
                            good++;
                        } else {
                            String err = o.get("error").getAsString();
                            assertTrue(!err.isBlank(), what);
                        }
                        seen.computeIfAbsent(p.name(), k -> new AtomicInteger()).incrementAndGet();
                    }
                    return good;
                }));
            }
            int good = 0;
            for (Future<Integer> j : jobs) {
                good += j.get();
            }
            clients.shutdown();
            assertEquals(mix.size(), seen.size(), "every payload kind was sent: " + seen.keySet());
            assertTrue(good > 0);

            // the metrics saw all of it: no 5xx, the good answers, the batches and errors
            HttpResponse<String> m = client.send(HttpRequest.newBuilder(base.resolve("/metrics")).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, m.statusCode());
            String text = m.body();
            assertTrue(text.contains("sevnet_http_requests_total{endpoint=\"/v1/predict\",code=\"200\"} " + good), text);
            assertTrue(!text.contains("code=\"5"), text);
            assertTrue(text.contains("sevnet_http_errors_total{reason=\"not_a_video\"}"), text);
            assertTrue(text.contains("sevnet_predict_latency_seconds{quantile=\"0.99\"}"), text);
            assertTrue(text.contains("sevnet_batch_size_count "), text);
            assertTrue(text.contains("sevnet_queue_depth 0"), text);
            assertTrue(text.contains("sevnet_http_errors_total{reason=\"not_an_array\"}"), text);
            assertTrue(text.contains("sevnet_http_errors_total{reason=\"bad_clip\"}"), text);
            assertTrue(text.contains("sevnet_host_pool_allocations_total 0\n"), "steady state allocates nothing: " + text);
            assertTrue(text.contains("# TYPE sevnet_predict_duration_seconds histogram"), text);
            assertEquals(good, predictor.stats().completed(), "every good request went through the predictor");
            assertEquals(good, predictor.stats().clips());

            HttpResponse<String> h = client.send(HttpRequest.newBuilder(base.resolve("/healthz")).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, h.statusCode());
            assertEquals("ok", JsonParser.parseString(h.body()).getAsJsonObject().get("status").getAsString());
        } finally {
            server.close();
            predictor.close();
        }
        assertEquals(before, MemoryStats.liveHostBytes(), "native memory back to its starting level");
        try (Stream<Path> left = Files.list(uploads)) {
            assertEquals(List.of(), left.toList(), "every uploaded body was deleted");
        }
    }

    private static List<Payload> payloads(List<Path> good, Path mp4) throws Exception {
        List<Payload> mix = new ArrayList<>();
        String predict = "/v1/predict";
        for (int i = 0; i < good.size(); i++) {
            Path f = good.get(i);
            String type = f.toString().endsWith(".webm") ? "video/webm"
                    : f.toString().endsWith(".npy") ? PredictServer.NPY
                    : i % 2 == 0 ? "video/mp4" : "application/octet-stream";
            mix.add(new Payload("good " + f.getFileName() + " as " + type, "POST", predict, type,
                    Files.readAllBytes(f), 200, i));
        }
        mix.add(new Payload("good mp4 with charset parameter", "POST", predict, "video/mp4; charset=binary",
                Files.readAllBytes(good.get(0)), 200, 0));
        byte[] text = "this is not a video, just some text".getBytes(StandardCharsets.UTF_8);
        byte[] mp4Bytes = Files.readAllBytes(mp4);
        byte[] noise = new byte[4096];
        new Random(1).nextBytes(noise);
        byte[] huge = new byte[(int) MAX_BODY + 4096];
        new Random(2).nextBytes(huge);
        mix.add(new Payload("empty body", "POST", predict, "video/mp4", new byte[0], 400, -1));
        mix.add(new Payload("text body", "POST", predict, "video/mp4", text, 422, -1));
        mix.add(new Payload("random bytes", "POST", predict, "application/octet-stream", noise, 422, -1));
        mix.add(new Payload("truncated mp4", "POST", predict, "video/mp4", Arrays.copyOf(mp4Bytes, mp4Bytes.length / 3),
                422, -1));
        Path wrongShape = mp4.resolveSibling("wrong-shape.npy");
        try (Tensor t = PredictorTest.clip(5, 2, 8, 32, 32)) {
            Npy.write(wrongShape, t);
        }
        mix.add(new Payload("npy of the wrong shape", "POST", predict, PredictServer.NPY, Files.readAllBytes(wrongShape),
                422, -1));
        mix.add(new Payload("text as npy", "POST", predict, PredictServer.NPY, text, 422, -1));
        mix.add(new Payload("body over the limit", "POST", predict, "video/mp4", huge, 413, -1));
        mix.add(new Payload("wrong content type", "POST", predict, "text/plain", mp4Bytes, 415, -1));
        mix.add(new Payload("no content type", "POST", predict, null, mp4Bytes, 415, -1));
        mix.add(new Payload("GET on predict", "GET", predict, null, null, 405, -1));
        mix.add(new Payload("PUT on predict", "PUT", predict, "video/mp4", mp4Bytes, 405, -1));
        mix.add(new Payload("unknown path", "POST", "/v2/predict", "video/mp4", mp4Bytes, 404, -1));
        mix.add(new Payload("POST on healthz", "POST", "/healthz", "video/mp4", mp4Bytes, 405, -1));
        mix.add(new Payload("healthz", "GET", "/healthz", null, null, 200, -2));
        return mix;
    }
}
