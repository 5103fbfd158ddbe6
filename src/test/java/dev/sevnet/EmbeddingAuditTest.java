package dev.sevnet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.autograd.F;
import dev.sevnet.autograd.Var;
import dev.sevnet.data.ClipSource;
import dev.sevnet.infer.PredictServer;
import dev.sevnet.infer.Prediction;
import dev.sevnet.infer.Predictor;
import dev.sevnet.nn.SevNet;
import dev.sevnet.nn.SevNetConfig;
import dev.sevnet.tensor.MemoryStats;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import dev.sevnet.train.EpochRecord;
import dev.sevnet.train.Progress;
import dev.sevnet.train.TrainConfig;
import dev.sevnet.train.Trainer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a long-running JVM service embedding the library relies on (CPU path): native memory and threads are given
 * back by {@code close()} / the end of a training run, misuse fails with a clear exception, interrupts are kept.
 * Long soak loops (thousands of predictions, RSS over many cycles) live outside the suite.
 */
class EmbeddingAuditTest {
    private static final List<String> LABELS = List.of("falling", "rising");

    private static SevNet tinyNet(long seed) {
        return SevNet.create(SevNetConfig.parse("sevnet-g1", 2), seed);
    }

    private static Predictor.Builder tiny(SevNet net) {
        return Predictor.builder().model(net, LABELS).frames(4).size(16).device("cpu").maxBatch(4);
    }

    private static Tensor clip(long seed) {
        Random r = new Random(seed);
        float[] x = new float[3 * 4 * 16 * 16];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return Tensor.of(x, 3, 4, 16, 16);
    }

    /** The names of the live threads (daemon marked), for before/after comparisons. */
    private static Set<String> threads(boolean nonDaemonOnly) {
        Set<String> s = new TreeSet<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.isAlive() && (!nonDaemonOnly || !t.isDaemon())) {
                s.add(t.getName());
            }
        }
        return s;
    }

    /** Live threads named with a prefix, other than {@code before} (another test's predictor may still be open). */
    private static List<String> sevnetThreadsBut(Set<Thread> before, String... prefixes) {
        List<String> out = new ArrayList<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            for (String p : prefixes) {
                if (t.isAlive() && t.getName().startsWith(p) && !before.contains(t)) {
                    out.add(t.getName());
                }
            }
        }
        return out;
    }

    /** Clips made in memory: brightness rising (class 1) or falling (class 0), TrainerApiTest's source. */
    private static ClipSource ramps(int size) {
        return new dev.sevnet.train.TrainerApiTest.Ramps(size, 0);
    }

    private static TrainConfig tinyTraining(int epochs) {
        return TrainConfig.builder().model("sevnet-g1").numClasses(2).frames(4).size(16).epochs(epochs).warmupEpochs(0)
                .batch(4).workers(2).seed(3).device("cpu").build();
    }

    // ---- 1. native memory and threads ----

    @Test
    void predictorCyclesGiveBackNativeMemoryAndThreads() throws Exception {
        Set<String> nonDaemonBefore = threads(true);
        long start = MemoryStats.liveHostBytes();
        for (int cycle = 0; cycle < 3; cycle++) {
            try (SevNet net = tinyNet(cycle)) {
                Set<Thread> existing = Collections.newSetFromMap(new java.util.IdentityHashMap<>());
                existing.addAll(Thread.getAllStackTraces().keySet());
                Predictor p = tiny(net).inFlight(2).decodeThreads(2).build();
                AtomicInteger done = new AtomicInteger();
                List<Throwable> errors = Collections.synchronizedList(new ArrayList<>());
                List<Thread> callers = new ArrayList<>();
                for (int t = 0; t < 4; t++) {
                    int seed = t;
                    Thread c = new Thread(() -> {
                        for (int i = 0; i < 50; i++) {
                            try (Tensor x = clip(seed * 1000L + i)) {
                                assertEquals(2, p.predict(x).probabilities().length);
                                done.incrementAndGet();
                            } catch (Throwable e) {
                                errors.add(e);
                                return;
                            }
                        }
                    });
                    c.start();
                    callers.add(c);
                }
                for (Thread c : callers) {
                    c.join(30_000);
                }
                p.close();
                assertTrue(errors.isEmpty(), errors.toString());
                assertEquals(200, done.get());
                assertEquals(List.of(), sevnetThreadsBut(existing, "sevnet-batcher-", "sevnet-decode-"),
                        "close() joins the batching and decode threads");
            }
            assertEquals(start, MemoryStats.liveHostBytes(), "cycle " + cycle + ": native memory back to the start");
        }
        Set<String> nonDaemonAfter = threads(true);
        nonDaemonAfter.removeAll(nonDaemonBefore);
        assertEquals(Set.of(), nonDaemonAfter, "no non-daemon thread left behind");
    }

    @Test
    void trainingRunsGiveBackNativeMemoryAndThreadsEvenWhenAListenerThrows(@TempDir Path dir) {
        Set<String> nonDaemonBefore = threads(true);
        long start = MemoryStats.liveHostBytes();
        Trainer.Result r = new Trainer(tinyTraining(1), dir.resolve("ok"), Progress.Mode.QUIET).writeCurves(false)
                .data(ramps(16), ramps(8)).run();
        assertEquals(1, r.epochsDone());
        assertEquals(start, MemoryStats.liveHostBytes());

        IllegalStateException boom = new IllegalStateException("listener failed");
        Trainer failing = new Trainer(tinyTraining(2), dir.resolve("listener"), Progress.Mode.QUIET).writeCurves(false)
                .data(ramps(16), ramps(8)).addListener(new Trainer.Listener() {
                    @Override
                    public boolean afterEpoch(EpochRecord e, boolean best) {
                        throw boom;
                    }
                });
        assertTrue(assertThrows(IllegalStateException.class, failing::run) == boom, "the listener's own exception");
        assertEquals(start, MemoryStats.liveHostBytes(), "a throwing listener leaks nothing");
        Set<String> nonDaemonAfter = threads(true);
        nonDaemonAfter.removeAll(nonDaemonBefore);
        assertEquals(Set.of(), nonDaemonAfter);
    }

    @Test
    void predictServerCloseStopsItsNonDaemonDispatcher() throws Exception {
        Set<String> nonDaemonBefore = threads(true);
        Set<Thread> existing = Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        existing.addAll(Thread.getAllStackTraces().keySet());
        try (SevNet net = tinyNet(1); Predictor p = tiny(net).build()) {
            PredictServer s = PredictServer.start(p, "127.0.0.1", 0, 1 << 20, 2, null);
            HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + s.port() + "/healthz")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode());
            assertTrue(Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.isAlive() && !t.isDaemon()
                    && !existing.contains(t)), "the JDK's HTTP dispatcher is a non-daemon thread");
            s.close();
            s.close(); // idempotent
            assertFalse(p.isClosed(), "the server leaves its predictor to its owner");
        }
        Set<String> nonDaemonAfter = threads(true);
        nonDaemonAfter.removeAll(nonDaemonBefore);
        assertEquals(Set.of(), nonDaemonAfter);
        assertEquals(List.of(), sevnetThreadsBut(existing, "sevnet-http-"));
    }

    /** A service's main that returns without System.exit (it even forgets to close its predictor). */
    public static final class ExitsOnItsOwn {
        public static void main(String[] args) {
            SevNet net = tinyNet(1);
            Predictor p = tiny(net).build();
            net.close();
            try (Tensor x = clip(1)) {
                p.predict(x);
            }
            PredictServer.start(p, "127.0.0.1", 0, 1 << 20, 1, null).close();
            System.out.println("main returns");
        }
    }

    @Test
    void theJvmExitsWithoutSystemExit() throws Exception {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process proc = new ProcessBuilder(java.toString(), "-Xmx256m", "-cp", System.getProperty("java.class.path"),
                ExitsOnItsOwn.class.getName()).redirectErrorStream(true).start();
        CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> {
            try {
                return new String(proc.getInputStream().readAllBytes());
            } catch (java.io.IOException e) {
                return e.toString();
            }
        });
        boolean exited = proc.waitFor(60, TimeUnit.SECONDS);
        if (!exited) {
            proc.destroyForcibly();
        }
        assertTrue(exited, "the JVM did not exit after main returned");
        String text = out.get(10, TimeUnit.SECONDS);
        assertEquals(0, proc.exitValue(), text);
        assertTrue(text.contains("main returns"), text);
    }

    // ---- 3. misuse ----

    @Test
    void misuseOfClosedObjectsFailsClearly() {
        long start = MemoryStats.liveHostBytes();
        SevNet net = tinyNet(2);
        Predictor p = tiny(net).build();
        net.close();
        net.close(); // idempotent
        try (Tensor x = clip(1)) {
            assertNotNull(p.predict(x).top1(), "the predictor serves a copy: the source model may be closed");
        }
        try (TensorScope scope = TensorScope.open()) {
            Tensor x = Tensor.zeros(Shape.of(1, 3, 4, 16, 16));
            assertThrows(IllegalArgumentException.class, () -> net.forward(Var.of(x)));
        }
        assertThrows(IllegalStateException.class, () -> tiny(net).build());
        p.close();
        p.close(); // idempotent
        try (Tensor x = clip(2)) {
            assertThrows(RejectedExecutionException.class, () -> p.predict(x));
            assertThrows(RejectedExecutionException.class, () -> p.predictAsync(x));
        }
        assertThrows(RejectedExecutionException.class, () -> p.predict(Path.of("missing.mp4")));

        Tensor t = Tensor.zeros(Shape.of(2, 3));
        t.close();
        t.close(); // idempotent
        assertThrows(IllegalStateException.class, t::toFloatArray);
        assertThrows(IllegalStateException.class, t::hostBuffer);
        assertThrows(IllegalStateException.class, () -> t.reshape(3, 2));
        try (TensorScope scope = TensorScope.open(); Tensor u = Tensor.zeros(Shape.of(2, 3))) {
            assertThrows(IllegalArgumentException.class, () -> F.add(Var.of(u), Var.of(t)));
            assertThrows(IllegalStateException.class, () -> u.copyFrom(t));
        }
        Tensor escaped;
        try (TensorScope scope = TensorScope.open()) {
            escaped = Tensor.zeros(Shape.of(4));
        }
        assertTrue(escaped.isClosed());
        assertThrows(IllegalStateException.class, escaped::toFloatArray);
        try (Tensor outside = Tensor.zeros(Shape.of(4)); TensorScope scope = TensorScope.open()) {
            assertThrows(IllegalArgumentException.class, () -> scope.keep(outside));
        }
        assertEquals(start, MemoryStats.liveHostBytes());
    }

    @Test
    void predictRacingCloseEitherAnswersOrIsRejected() throws Exception {
        long start = MemoryStats.liveHostBytes();
        try (SevNet net = tinyNet(3)) {
            Predictor p = tiny(net).maxQueueDelay(Duration.ofMillis(1)).build();
            AtomicInteger answered = new AtomicInteger();
            AtomicInteger rejected = new AtomicInteger();
            List<Throwable> other = Collections.synchronizedList(new ArrayList<>());
            List<Thread> callers = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                Thread c = new Thread(() -> {
                    for (int i = 0; ; i++) {
                        try (Tensor x = clip(i)) {
                            p.predict(x);
                            answered.incrementAndGet();
                        } catch (RejectedExecutionException e) {
                            rejected.incrementAndGet();
                            return;
                        } catch (Throwable e) {
                            other.add(e);
                            return;
                        }
                    }
                });
                c.start();
                callers.add(c);
            }
            Thread.sleep(150);
            p.close();
            for (Thread c : callers) {
                c.join(10_000);
                assertFalse(c.isAlive(), "a caller hangs after close()");
            }
            assertTrue(other.isEmpty(), other.toString());
            assertEquals(4, rejected.get());
            assertEquals(answered.get(), p.stats().completed());
        }
        assertEquals(start, MemoryStats.liveHostBytes());
    }

    @Test
    void anInterruptedCallerGetsCancellationAndKeepsItsInterruptStatus() throws Exception {
        try (SevNet net = tinyNet(4); Predictor p = tiny(net).maxQueueDelay(Duration.ofSeconds(2)).build()) {
            AtomicReference<Throwable> thrown = new AtomicReference<>();
            AtomicBoolean stillInterrupted = new AtomicBoolean();
            Thread caller = new Thread(() -> {
                try (Tensor x = clip(1)) {
                    p.predict(x);
                } catch (Throwable e) {
                    thrown.set(e);
                }
                stillInterrupted.set(Thread.currentThread().isInterrupted());
            });
            caller.start();
            Thread.sleep(200); // queued, waiting for the batch to fill
            caller.interrupt();
            caller.join(10_000);
            assertInstanceOf(CancellationException.class, thrown.get());
            assertTrue(stillInterrupted.get(), "the interrupt status is kept");
            try (Tensor x = clip(2)) {
                assertNotNull(p.predict(x, Duration.ofSeconds(10)).top1(), "the predictor goes on serving");
            }
        }
    }

    // ---- defect: a per-call timeout's TimeoutException named the builder's timeout ----

    @Test
    void aPerCallTimeoutNamesItsOwnLimit() throws Exception {
        try (SevNet net = tinyNet(5);
                Predictor p = tiny(net).maxQueueDelay(Duration.ofSeconds(3)).timeout(Duration.ofSeconds(30)).build();
                Tensor x = clip(1)) {
            CompletableFuture<Prediction> f = p.predictAsync(x, Duration.ofMillis(50));
            ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(10, TimeUnit.SECONDS));
            assertInstanceOf(TimeoutException.class, e.getCause());
            assertTrue(e.getCause().getMessage().contains("within 50 ms"), e.getCause().getMessage());
        }
    }
}
