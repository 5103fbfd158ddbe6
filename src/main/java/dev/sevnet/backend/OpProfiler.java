package dev.sevnet.backend;

import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.MemoryFormat;
import dev.sevnet.tensor.Tensor;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Where a step's time goes, op by op — PyTorch's {@code torch.profiler} table for sevnet: while it runs, every backend
 * op the calling thread reaches through {@link Backends} (what the autograd ops, the optimizer and the loss scaler
 * use) is bracketed by marks on the backend's {@link Timeline}, and the time is summed per phase (set by the caller:
 * forward, backward, optimizer ...) and op (the {@link Backend} method). On a GPU the marks are CUDA events, so an op's
 * time is device time, and the time between ops ({@link #BETWEEN_OPS}) is where the device waited for the host; on
 * the CPU it is the host clock. An op called from inside another op counts as part of it.
 *
 * <pre>{@code
 * try (OpProfiler p = OpProfiler.start(backend)) {
 *     p.phase("forward");  ... forward ...
 *     p.phase("backward"); ... loss.backward() ...
 *     System.out.print(p.stop().table(25));
 * }
 * }</pre>
 * One profiler per thread at a time; its ops must run on that thread (a loader thread's ops are not counted).
 *
 * <p>{@link #start(Backend, Grouping)} with {@link Grouping#INPUT_SHAPES} splits each op's row by its arguments'
 * shapes (torch.profiler's {@code group_by_input_shape}): which layer of the model the time went to. The
 * signature lists each tensor argument's shape (its dtype when not float32, {@code cl} when channels-last) and each
 * conv/pool window; it is built on the host before the op starts, so its cost lands in {@link #BETWEEN_OPS}.
 */
public final class OpProfiler implements AutoCloseable {
    /** The row of the time between two ops: host work, and on a GPU the device's wait for it. */
    public static final String BETWEEN_OPS = "(between ops)";

    /** How a profile's rows are keyed, besides the phase. */
    public enum Grouping {
        /** One row per backend op. */
        OP,
        /** One row per backend op and signature of its arguments' shapes ({@link Row#shapes()}). */
        INPUT_SHAPES
    }

    private final Timeline timeline;
    private final Map<Backend, Backend> proxies = new IdentityHashMap<>();
    private final List<String> labels = new ArrayList<>(); // labels.get(i): the segment from mark i to mark i + 1
    private long[] hostNanos = new long[256]; // hostNanos[i]: segment i on the host clock, the marks' own cost left out
    private long lastMarkEnd;
    private final Thread owner = Thread.currentThread();
    private final AutoCloseable unbind;
    private final Grouping grouping;
    private String phase = "";
    private String current;
    private int depth;
    private boolean stopped;
    private boolean closed;

    private OpProfiler(Backend backend, Grouping grouping) {
        this.grouping = grouping;
        this.timeline = backend.newTimeline();
        this.current = key(BETWEEN_OPS);
        timeline.mark();
        this.lastMarkEnd = System.nanoTime();
        this.unbind = Backends.interpose(this::profiled);
    }

    /** Starts profiling the calling thread's ops on {@code backend}'s timeline. */
    public static OpProfiler start(Backend backend) {
        return start(backend, Grouping.OP);
    }

    /** Starts profiling the calling thread's ops on {@code backend}'s timeline, rows keyed as {@code grouping} says. */
    public static OpProfiler start(Backend backend, Grouping grouping) {
        if (backend == null) {
            throw new IllegalArgumentException("backend is null");
        }
        if (grouping == null) {
            throw new IllegalArgumentException("grouping is null");
        }
        return new OpProfiler(backend, grouping);
    }

    /** Names what runs from now on (e.g. forward, backward, optimizer): a column of the table. */
    public void phase(String name) {
        requireRunning();
        phase = name == null ? "" : name;
        mark(key(BETWEEN_OPS));
    }

    /** Stops and sums the segments per phase and op (waiting for the device's work). */
    public Profile stop() {
        requireRunning();
        mark(key(BETWEEN_OPS));
        stopped = true;
        closeUnbind();
        double[] ms = timeline.intervalsMillis();
        if (ms.length != labels.size()) {
            throw new IllegalStateException("the timeline has " + ms.length + " intervals for " + labels.size()
                    + " segments");
        }
        Map<String, double[]> byKey = new LinkedHashMap<>(); // {calls, ms, host ms}
        double total = 0;
        double hostTotal = 0;
        for (int i = 0; i < ms.length; i++) {
            double[] a = byKey.computeIfAbsent(labels.get(i), k -> new double[3]);
            a[0]++;
            a[1] += ms[i];
            a[2] += hostNanos[i] / 1e6;
            total += ms[i];
            hostTotal += hostNanos[i] / 1e6;
        }
        List<Row> rows = new ArrayList<>();
        byKey.forEach((k, a) -> {
            int bar = k.indexOf('\u0000');
            int sig = k.indexOf('\u0001', bar + 1);
            String op = sig < 0 ? k.substring(bar + 1) : k.substring(bar + 1, sig);
            String shapes = sig < 0 ? "" : k.substring(sig + 1);
            rows.add(new Row(k.substring(0, bar), op, shapes, (long) a[0], a[1], a[2]));
        });
        rows.sort(Comparator.comparingDouble(Row::millis).reversed());
        return new Profile(List.copyOf(rows), total, hostTotal);
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            closeUnbind();
            timeline.close();
        }
    }

    private void closeUnbind() {
        try {
            unbind.close();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private void requireRunning() {
        if (stopped || closed) {
            throw new IllegalStateException("this profiler has stopped");
        }
        if (Thread.currentThread() != owner) {
            throw new IllegalStateException("a profiler is used on the thread that started it");
        }
    }

    private String key(String op) {
        return phase + '\u0000' + op;
    }

    /** Ends the current segment here; the next one is {@code next}'s. */
    private void mark(String next) {
        long start = System.nanoTime();
        int i = labels.size();
        if (i == hostNanos.length) {
            hostNanos = java.util.Arrays.copyOf(hostNanos, 2 * i);
        }
        hostNanos[i] = start - lastMarkEnd;
        labels.add(current);
        timeline.mark();
        current = next;
        lastMarkEnd = System.nanoTime();
    }

    /** The backend as this thread sees it while profiling: each op between two marks. */
    private Backend profiled(Backend real) {
        return proxies.computeIfAbsent(real, r -> (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(),
                new Class<?>[] {Backend.class}, new Handler(r)));
    }

    private final class Handler implements InvocationHandler {
        private final Backend real;

        Handler(Backend real) {
            this.real = real;
        }

        @Override
        public Object invoke(Object proxy, Method m, Object[] args) throws Throwable {
            if (m.getDeclaringClass() == Object.class) {
                return switch (m.getName()) {
                    case "equals" -> proxy == args[0];
                    case "hashCode" -> System.identityHashCode(proxy);
                    default -> "profiled " + real;
                };
            }
            boolean timed = depth == 0 && !stopped && Thread.currentThread() == owner
                    && !m.getName().equals("device") && !m.getName().equals("name")
                    && !m.getName().equals("batchesLeafGradients");
            if (timed) {
                mark(key(grouping == Grouping.INPUT_SHAPES ? m.getName() + '\u0001' + signature(m.getParameterTypes(), args) : m.getName()));
            }
            depth++;
            try {
                return m.invoke(real, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            } finally {
                depth--;
                if (timed) {
                    mark(key(BETWEEN_OPS));
                }
            }
        }
    }

    /**
     * The shapes of an op's arguments, e.g. {@code [8, 64, 16, 56, 56] cl, [64, 8, 1, 3, 3] cl, k1x3x3 p0x1x1 g8}:
     * tensors (dtype if not float32, {@code cl} if channels-last; {@code -} for an absent optional tensor), windows,
     * lists of tensors by their count; other arguments (scalars, flags, target shapes) are left out.
     */
    static String signature(Class<?>[] types, Object[] args) {
        if (args == null) {
            return "";
        }
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < args.length; i++) {
            Object a = args[i];
            String s = a == null && types[i] == Tensor.class ? "-" : describe(a);
            if (s != null) {
                b.append(b.length() == 0 ? "" : ", ").append(s);
            }
        }
        return b.toString();
    }

    private static String describe(Object a) {
        if (a instanceof Tensor t) {
            return t.shape() + (t.dtype() == DType.FLOAT32 ? "" : " " + t.dtype().name().toLowerCase(
                    Locale.ROOT)) + (t.memoryFormat() == MemoryFormat.CHANNELS_LAST ? " cl" : "");
        }
        if (a instanceof ConvSpec c) {
            return c.toString();
        }
        if (a instanceof Collection<?> c) {
            return c.size() + " tensors";
        }
        return null;
    }

    /**
     * One phase's op: how often it ran and its milliseconds in all — on the timeline ({@code millis}: device time on a
     * GPU) and on the host's clock ({@code hostMillis}: what the calling thread spent inside the op, the JNI calls and
     * the launches; for {@link #BETWEEN_OPS}, the host's work between ops). On a GPU an op whose host time exceeds its
     * device time keeps the device waiting unless enough work is queued ahead of it. {@code shapes} is its
     * arguments' signature under {@link Grouping#INPUT_SHAPES}, empty otherwise.
     */
    public record Row(String phase, String op, String shapes, long calls, double millis, double hostMillis) {
    }

    /**
     * The sums of one profiled run, rows by time, largest first; {@code hostMillis} the host's clock over the same
     * segments (the profiler's own marks left out).
     */
    public record Profile(List<Row> rows, double totalMillis, double hostMillis) {

        /**
         * Several profiles of the same step (same ops, same order) as one: each row's calls, milliseconds and host
         * milliseconds the median over the profiles (a row missing from a profile counts as zero there), the totals
         * the sums of those rows. One step's times on a small machine swing with whatever else got the cores — a JIT
         * compiler thread, the hypervisor — and a single preempted op can read twice its time; the median of a few
         * steps is what a step of the run looks like. (torch.profiler sums its active steps; a median per row keeps
         * the table one step's worth.)
         *
         * @throws IllegalArgumentException when {@code profiles} is empty or holds null
         */
        public static Profile median(List<Profile> profiles) {
            if (profiles == null || profiles.isEmpty() || profiles.stream().anyMatch(java.util.Objects::isNull)) {
                throw new IllegalArgumentException("median of profiles needs at least one profile and no nulls");
            }
            if (profiles.size() == 1) {
                return profiles.get(0);
            }
            int n = profiles.size();
            Map<List<String>, double[][]> byKey = new LinkedHashMap<>(); // {calls[], ms[], host ms[]} per profile
            for (int i = 0; i < n; i++) {
                for (Row r : profiles.get(i).rows()) {
                    double[][] a = byKey.computeIfAbsent(List.of(r.phase(), r.op(), r.shapes()),
                            k -> new double[3][n]);
                    a[0][i] += r.calls();
                    a[1][i] += r.millis();
                    a[2][i] += r.hostMillis();
                }
            }
            List<Row> rows = new ArrayList<>();
            double total = 0;
            double hostTotal = 0;
            for (Map.Entry<List<String>, double[][]> e : byKey.entrySet()) {
                double[][] a = e.getValue();
                Row r = new Row(e.getKey().get(0), e.getKey().get(1), e.getKey().get(2), Math.round(middle(a[0])),
                        middle(a[1]), middle(a[2]));
                rows.add(r);
                total += r.millis();
                hostTotal += r.hostMillis();
            }
            rows.sort(Comparator.comparingDouble(Row::millis).reversed());
            return new Profile(List.copyOf(rows), total, hostTotal);
        }

        // the median; of an even count, the mean of the two middle values
        private static double middle(double[] v) {
            double[] s = v.clone();
            java.util.Arrays.sort(s);
            int m = s.length / 2;
            return s.length % 2 == 1 ? s[m] : (s[m - 1] + s[m]) / 2;
        }

        /** The {@code top} largest rows as a Markdown table, with each phase's total and the whole. */
        public String table(int top) {
            boolean shapes = rows.stream().anyMatch(r -> !r.shapes().isEmpty());
            String shapeHead = shapes ? " shapes |" : "";
            String shapeRule = shapes ? "---|" : "";
            StringBuilder b = new StringBuilder("| phase | op |" + shapeHead
                    + " calls | ms | % | ms/call | host ms/call |\n|---|---|" + shapeRule + "---|---|---|---|---|\n");
            rows.stream().limit(Math.max(0, top)).forEach(r -> b.append(String.format(Locale.ROOT,
                    "| %s | %s |%s %d | %.3f | %.1f | %.4f | %.4f |%n", r.phase(), r.op(),
                    shapes ? " " + r.shapes() + " |" : "", r.calls(), r.millis(),
                    totalMillis > 0 ? 100 * r.millis() / totalMillis : 0, r.millis() / Math.max(1, r.calls()),
                    r.hostMillis() / Math.max(1, r.calls()))));
            Map<String, double[]> phases = new LinkedHashMap<>();
            rows.forEach(r -> {
                double[] a = phases.computeIfAbsent(r.phase(), k -> new double[2]);
                a[0] += r.millis();
                a[1] += r.hostMillis();
            });
            String shapeCell = shapes ? " |" : "";
            phases.forEach((p, a) -> b.append(String.format(Locale.ROOT,
                    "| %s | (all) |%s | %.3f | %.1f | | host %.3f |%n", p, shapeCell, a[0],
                    totalMillis > 0 ? 100 * a[0] / totalMillis : 0, a[1])));
            b.append(String.format(Locale.ROOT, "| (total) | |%s | %.3f | 100 | | host %.3f |%n", shapeCell,
                    totalMillis, hostMillis));
            return b.toString();
        }
    }
}
