package dev.sevnet.backend.cuda;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.function.Predicate;

/**
 * Picks the fastest of several ways to compute one op by timing each on the real problem, once — what
 * {@code cudnnFind*} does for cuDNN's algorithms (and PyTorch's {@code cudnn.benchmark}), one level up: between
 * cuDNN in two layouts, fp32 on widened copies and sevnet's own kernel, whose order differs between GPUs, cuDNN
 * versions and layer shapes. Each candidate writes the same output and nothing else, so running it several times
 * is harmless; the chosen one runs last, so the output holds its result.
 *
 * <p>A candidate that fails in a way {@code skippable} accepts (cuDNN refusing the problem) is left out; any other
 * failure is thrown. So is one whose output disagrees with the first candidate's (the backend compares them norm-wise).
 * No GPU code here: the backend passes CUDA-event timing and the comparison, the tests fakes.
 */
final class RouteTuner {
    private RouteTuner() {
    }

    /** One way to compute the op. */
    record Candidate(String name, Runnable run) {
        Candidate {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(run, "run");
        }
    }

    /** Device milliseconds of one run of {@code body} (after a warm-up run, which may search algorithms). */
    interface Timer {
        double millis(Runnable body);
    }

    /**
     * The choice, every candidate's time, the ones that failed (with why) and the ones whose result disagreed with
     * the first route's.
     */
    record Result(String chosen, Map<String, Double> millis, Map<String, String> skipped,
            java.util.Set<String> disagreed) {
        /** One line for the log: each candidate's time, the choice. */
        String describe() {
            StringBuilder b = new StringBuilder();
            millis.forEach((k, v) -> b.append(b.length() == 0 ? "" : ", ").append(k)
                    .append(String.format(Locale.ROOT, " %.3f ms", v)));
            skipped.forEach((k, v) -> b.append(b.length() == 0 ? "" : ", ").append(k).append(" refused"));
            disagreed.forEach(k -> b.append(b.length() == 0 ? "" : ", ").append(k).append(" disagreed"));
            return b.append(" -> ").append(chosen).toString();
        }
    }

    /**
     * Times every candidate and leaves the fastest one's output in place.
     *
     * @throws RuntimeException the last skippable failure when every candidate failed
     */
    static Result measure(List<Candidate> candidates, Timer timer, Predicate<RuntimeException> skippable) {
        return measure(candidates, timer, skippable, name -> true);
    }

    /**
     * As {@link #measure(List, Timer, Predicate)}, and each route's output is checked after it ran: {@code agrees}
     * (given the route's name) compares it with the first route that ran — a route whose result disagrees is left out
     * whatever its speed, so a fast route that computes garbage (a bug, a library fault) is never chosen.
     */
    static Result measure(List<Candidate> candidates, Timer timer, Predicate<RuntimeException> skippable,
            Predicate<String> agrees) {
        return measure(candidates, timer, skippable, agrees, 1);
    }

    /**
     * As {@link #measure(List, Timer, Predicate, Predicate)}, timing the routes that ran and agreed {@code rounds}
     * times in turn (round robin) and keeping each one's fastest round. Why: one timing of a route of tens of
     * microseconds is at the mercy of the host — the first calls of a route's Java code run interpreted, a GC pause or
     * an allocator miss lands in one span — and then a slower route wins (the H100's {@code auto} kept routes up to
     * 1.6x the best forced one). The minimum of rounds is what cuDNN's own search and JMH's steady state report; taking
     * turns spreads a clock change over every route alike. Checks (refusal, agreement) run in the first round only.
     */
    static Result measure(List<Candidate> candidates, Timer timer, Predicate<RuntimeException> skippable,
            Predicate<String> agrees, int rounds) {
        if (candidates.isEmpty()) {
            throw new IllegalArgumentException("no candidate to measure");
        }
        if (rounds < 1) {
            throw new IllegalArgumentException("rounds must be at least 1, got " + rounds);
        }
        Map<String, Double> millis = new LinkedHashMap<>();
        Map<String, String> skipped = new LinkedHashMap<>();
        java.util.Set<String> disagreed = new java.util.LinkedHashSet<>();
        java.util.List<Candidate> timed = new java.util.ArrayList<>();
        RuntimeException lastRefusal = null;
        Candidate lastRun = null;
        for (Candidate c : candidates) {
            double t;
            try {
                t = timer.millis(c.run());
            } catch (RuntimeException e) {
                if (!skippable.test(e)) {
                    throw e;
                }
                skipped.put(c.name(), String.valueOf(e.getMessage()));
                lastRefusal = e;
                lastRun = null; // it may have written part of the output
                continue;
            }
            if (!agrees.test(c.name())) {
                disagreed.add(c.name());
                lastRun = null;
                continue;
            }
            lastRun = c;
            millis.put(c.name(), t);
            timed.add(c);
        }
        if (timed.isEmpty()) {
            throw lastRefusal != null ? lastRefusal
                    : new IllegalStateException("no route of the op gave a result the others agree with: " + disagreed);
        }
        for (int round = 1; round < rounds && timed.size() > 1; round++) {
            for (java.util.Iterator<Candidate> it = timed.iterator(); it.hasNext();) {
                Candidate c = it.next();
                try {
                    millis.merge(c.name(), timer.millis(c.run()), Math::min);
                    lastRun = c;
                } catch (RuntimeException e) { // as in the first round (a workspace that no longer fits)
                    if (!skippable.test(e) || timed.size() == 1) {
                        throw e;
                    }
                    skipped.put(c.name(), String.valueOf(e.getMessage()));
                    millis.remove(c.name());
                    it.remove();
                    lastRun = null;
                }
            }
        }
        Candidate best = null;
        for (Candidate c : timed) { // in the candidates' order: a tie keeps the first
            if (best == null || millis.get(c.name()) < millis.get(best.name())) {
                best = c;
            }
        }
        if (lastRun != best) {
            best.run().run();
        }
        return new Result(best.name(), millis, skipped, disagreed);
    }
}
