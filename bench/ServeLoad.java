import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
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
 * Closed-loop load generator for {@code sevnet serve} (JDK only; run as a single-file program):
 *
 * <pre>java bench/ServeLoad.java URL DIR CLIENTS REQUESTS_PER_CLIENT [WARMUP_PER_CLIENT] [mp4|npy]</pre>
 *
 * Each of CLIENTS threads POSTs the .mp4 videos (video/mp4) or the .npy clips (application/x-npy) of
 * DIR in turn (one request in flight per client, the next sent when the answer arrives) after an
 * untimed warm-up; prints one JSON line: latency p50/p90/p99/max (ms), throughput (requests/s), and
 * the count of non-200 answers.
 */
public final class ServeLoad {
    public static void main(String[] args) throws Exception {
        URI url = URI.create(args[0]);
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
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .executor(Executors.newFixedThreadPool(Math.max(2, clients))).build();
        AtomicInteger failures = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        // warm-up: every client, untimed
        List<Future<long[]>> warm = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            int id = c;
            warm.add(pool.submit(() -> run(http, url, type, bodies, id, warmup, failures)));
        }
        for (Future<long[]> f : warm) {
            f.get();
        }
        failures.set(0);
        long t0 = System.nanoTime();
        List<Future<long[]>> jobs = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            int id = c;
            jobs.add(pool.submit(() -> run(http, url, type, bodies, id, perClient, failures)));
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

    private static long[] run(HttpClient http, URI url, String type, List<byte[]> bodies, int id, int count,
            AtomicInteger failures) throws Exception {
        long[] lat = new long[count];
        for (int i = 0; i < count; i++) {
            byte[] body = bodies.get((id + i) % bodies.size());
            HttpRequest r = HttpRequest.newBuilder(url).timeout(Duration.ofSeconds(120)).header("Content-Type", type)
                    .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build();
            long t = System.nanoTime();
            HttpResponse<String> resp = http.send(r, HttpResponse.BodyHandlers.ofString());
            lat[i] = System.nanoTime() - t;
            if (resp.statusCode() != 200) {
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
