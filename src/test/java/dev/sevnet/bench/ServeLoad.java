package dev.sevnet.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.Proxy;
import java.net.URI;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * Closed-loop load generator for {@code sevnet serve} and its PyTorch peer (bench/serve_load.sh), not a
 * unit test. JDK only, through {@link HttpURLConnection} (java.base: the devpack's jlink runtime has no
 * java.net.http). Run with
 *
 * <pre>java -cp target/test-classes:target/sevnet.jar dev.sevnet.bench.ServeLoad URL DIR CLIENTS REQUESTS_PER_CLIENT [WARMUP_PER_CLIENT] [mp4|npy]</pre>
 *
 * (or {@code java -cp "$CP" ...} inside the devpack). Each of CLIENTS threads POSTs the .mp4 videos
 * (video/mp4) or the .npy clips (application/x-npy) of DIR in turn (one request in flight per client, the
 * next sent when the answer arrives, over a kept-alive connection) after an untimed warm-up; prints one
 * JSON line: latency p50/p90/p99/max (ms), throughput (requests/s), and the count of non-200 answers.
 */
public final class ServeLoad {
    private ServeLoad() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 4) {
            System.err.println("usage: ServeLoad URL DIR CLIENTS REQUESTS_PER_CLIENT [WARMUP_PER_CLIENT] [mp4|npy]");
            System.exit(2);
        }
        URL url = URI.create(args[0]).toURL();
        String kind = args.length > 5 ? args[5] : "mp4";
        String type = kind.equals("npy") ? "application/x-npy" : "video/mp4";
        List<byte[]> bodies = new ArrayList<>();
        try (Stream<Path> s = Files.list(Path.of(args[1]))) {
            for (Path p : s.filter(f -> f.toString().endsWith("." + kind)).sorted().toList()) {
                bodies.add(Files.readAllBytes(p));
            }
        }
        if (bodies.isEmpty()) {
            throw new IllegalArgumentException("no ." + kind + " files in " + args[1]);
        }
        int clients = Integer.parseInt(args[2]);
        int perClient = Integer.parseInt(args[3]);
        int warmup = args.length > 4 ? Integer.parseInt(args[4]) : 5;
        // HttpURLConnection keeps at most http.maxConnections idle connections per destination (default 5):
        // raise it to one per client, or clients beyond the fifth would reconnect for every request. Read
        // once, when the first connection is cached, so set it before any request.
        if (System.getProperty("http.maxConnections") == null) {
            System.setProperty("http.maxConnections", Integer.toString(Math.max(5, clients)));
        }
        AtomicInteger failures = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        // warm-up: every client, untimed
        List<Future<long[]>> warm = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            int id = c;
            warm.add(pool.submit(() -> run(url, type, bodies, id, warmup, failures)));
        }
        for (Future<long[]> f : warm) {
            f.get();
        }
        failures.set(0);
        long t0 = System.nanoTime();
        List<Future<long[]>> jobs = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            int id = c;
            jobs.add(pool.submit(() -> run(url, type, bodies, id, perClient, failures)));
        }
        long[] all = new long[clients * perClient];
        int n = 0;
        for (Future<long[]> f : jobs) {
            long[] l = f.get();
            System.arraycopy(l, 0, all, n, l.length);
            n += l.length;
        }
        double wall = (System.nanoTime() - t0) / 1e9;
        pool.shutdown();
        Arrays.sort(all);
        System.out.printf(Locale.ROOT, "{\"payload\": \"%s\", \"clients\": %d, \"requests\": %d, \"non_200\": %d, \"p50_ms\": %.2f, "
                + "\"p90_ms\": %.2f, \"p99_ms\": %.2f, \"max_ms\": %.2f, \"throughput_rps\": %.1f, \"wall_s\": %.2f}%n",
                kind, clients, all.length, failures.get(), q(all, 0.50), q(all, 0.90), q(all, 0.99), all[all.length - 1] / 1e6,
                all.length / wall, wall);
        System.exit(0);
    }

    private static long[] run(URL url, String type, List<byte[]> bodies, int id, int count, AtomicInteger failures)
            throws IOException {
        long[] lat = new long[count];
        byte[] sink = new byte[8192];
        for (int i = 0; i < count; i++) {
            byte[] body = bodies.get((id + i) % bodies.size());
            long t = System.nanoTime();
            HttpURLConnection c = (HttpURLConnection) url.openConnection(Proxy.NO_PROXY);
            c.setRequestMethod("POST");
            c.setDoOutput(true);
            c.setConnectTimeout(120_000);
            c.setReadTimeout(120_000);
            c.setRequestProperty("Content-Type", type);
            c.setFixedLengthStreamingMode(body.length);
            try (OutputStream out = c.getOutputStream()) {
                out.write(body);
            }
            int status = c.getResponseCode();
            // read the answer to its end (and close the stream, not the connection): the connection then
            // goes back to the keep-alive cache for this client's next request
            try (InputStream in = status >= 400 ? c.getErrorStream() : c.getInputStream()) {
                if (in != null) {
                    while (in.read(sink) >= 0) {
                        // drain
                    }
                }
            }
            lat[i] = System.nanoTime() - t;
            if (status != 200) {
                failures.incrementAndGet();
            }
        }
        return lat;
    }

    private static double q(long[] sorted, double q) {
        int i = (int) Math.ceil(q * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))] / 1e6;
    }
}
