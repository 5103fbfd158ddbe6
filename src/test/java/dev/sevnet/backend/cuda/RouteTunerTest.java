package dev.sevnet.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@link RouteTuner} with a fake clock: which route wins, what a refusal does, that the winner writes last. */
class RouteTunerTest {

    /** Each route writes its name into "the output"; the fake timer reads a route's cost from a table. */
    static final class Bench {
        final List<String> runs = new ArrayList<>();
        String output;
        final Map<String, Double> cost;

        Bench(Map<String, Double> cost) {
            this.cost = cost;
        }

        RouteTuner.Candidate route(String name) {
            return new RouteTuner.Candidate(name, () -> {
                runs.add(name);
                output = name;
            });
        }

        RouteTuner.Candidate refused(String name) {
            return new RouteTuner.Candidate(name, () -> {
                runs.add(name);
                output = "garbage from " + name;
                throw new CudaException("cudnnConvolutionForward failed: CUDNN_STATUS_NOT_SUPPORTED (3000)", 3000);
            });
        }

        /** Runs the body twice (warm-up + one timed run), as the device timer does, and charges the table's cost. */
        double time(Runnable body) {
            body.run();
            body.run();
            return cost.get(runs.get(runs.size() - 1));
        }
    }

    static boolean refusal(RuntimeException e) {
        return e instanceof CudaException ce && ce.refusedByCudnn();
    }

    @Test
    void theFastestRouteWinsAndItsResultIsTheOutput() {
        Bench b = new Bench(Map.of("cudnn", 2.9, "channels-last", 0.35, "sevnet", 0.5, "widen", 0.41));
        RouteTuner.Result r = RouteTuner.measure(List.of(b.route("cudnn"), b.route("channels-last"), b.route("sevnet"),
                b.route("widen")), b::time, RouteTunerTest::refusal);
        assertEquals("channels-last", r.chosen());
        assertEquals("channels-last", b.output, "the winner ran after the others");
        assertEquals(4, r.millis().size());
        assertEquals(0.35, r.millis().get("channels-last"));
        assertTrue(r.describe().endsWith("-> channels-last"), r.describe());
        assertTrue(r.describe().contains("cudnn 2.900 ms"), r.describe());
    }

    @Test
    void whenTheLastRouteWinsItIsNotRunAgain() {
        Bench b = new Bench(Map.of("cudnn", 2.0, "widen", 1.0));
        RouteTuner.Result r = RouteTuner.measure(List.of(b.route("cudnn"), b.route("widen")), b::time,
                RouteTunerTest::refusal);
        assertEquals("widen", r.chosen());
        assertEquals(List.of("cudnn", "cudnn", "widen", "widen"), b.runs);
    }

    @Test
    void aRefusedRouteIsLeftOutAndItsPartialOutputOverwritten() {
        Bench b = new Bench(Map.of("cudnn", 0.1, "widen", 1.0));
        RouteTuner.Result r = RouteTuner.measure(List.of(b.route("widen"), b.refused("cudnn")), b::time,
                RouteTunerTest::refusal);
        assertEquals("widen", r.chosen());
        assertEquals("widen", b.output, "the refused route wrote last: the winner runs again");
        assertTrue(r.skipped().containsKey("cudnn"));
        assertTrue(r.describe().contains("cudnn refused"), r.describe());
    }

    @Test
    void otherFailuresAreThrownAndAllRefusedThrowsTheRefusal() {
        Bench b = new Bench(Map.of("widen", 1.0));
        RouteTuner.Candidate broken = new RouteTuner.Candidate("sevnet", () -> {
            throw new CudaException("grouped conv: CUDA error 700 (an illegal memory access)");
        });
        assertThrows(CudaException.class, () -> RouteTuner.measure(List.of(b.route("widen"), broken), b::time,
                RouteTunerTest::refusal));
        CudaException e = assertThrows(CudaException.class, () -> RouteTuner.measure(List.of(b.refused("cudnn")),
                b::time, RouteTunerTest::refusal));
        assertTrue(e.refusedByCudnn());
        assertThrows(IllegalArgumentException.class, () -> RouteTuner.measure(List.of(), b::time,
                RouteTunerTest::refusal));
    }

    @Test
    void aFastRouteWhoseResultDisagreesIsNeverChosen() {
        Bench b = new Bench(Map.of("cudnn", 2.0, "cublas", 0.1, "widen", 1.0));
        List<String> checked = new ArrayList<>();
        RouteTuner.Result r = RouteTuner.measure(List.of(b.route("cudnn"), b.route("cublas"), b.route("widen")), b::time,
                RouteTunerTest::refusal, name -> {
                    checked.add(name + " saw " + b.output);
                    return !name.equals("cublas"); // say its output came out wrong
                });
        assertEquals("widen", r.chosen(), "the fastest agreeing route");
        assertEquals(List.of("cudnn saw cudnn", "cublas saw cublas", "widen saw widen"), checked,
                "each route's own output is checked right after it ran");
        assertTrue(r.disagreed().contains("cublas"), r.toString());
        assertTrue(r.skipped().isEmpty(), "a disagreement is not a failure (nothing is marked refused)");
        assertTrue(r.describe().contains("cublas disagreed"), r.describe());
        assertEquals("widen", b.output);
    }

    /** A bench whose routes cost a different time each round: route -> its times in turn (the last one repeats). */
    static RouteTuner.Timer sequenced(Bench b, Map<String, double[]> times) {
        Map<String, Integer> calls = new java.util.HashMap<>();
        return body -> {
            body.run(); // warm-up + the timed run, as the device timer
            body.run();
            String name = b.runs.get(b.runs.size() - 1);
            double[] t = times.get(name);
            int i = calls.merge(name, 1, Integer::sum) - 1;
            return t[Math.min(i, t.length - 1)];
        };
    }

    @Test
    void theFastestRoundOfEachRouteDecides() {
        // "sevnet"'s first timing caught the host (interpreted Java, a GC pause): 3x its real time
        Map<String, double[]> times = Map.of("cudnn", new double[] {1.5, 1.6, 1.5}, "sevnet", new double[] {3.0, 1.0,
                1.1});
        Bench once = new Bench(Map.of());
        assertEquals("cudnn", RouteTuner.measure(List.of(once.route("cudnn"), once.route("sevnet")),
                sequenced(once, times), RouteTunerTest::refusal, n -> true, 1).chosen(), "one round: the hiccup wins");
        Bench b = new Bench(Map.of());
        RouteTuner.Result r = RouteTuner.measure(List.of(b.route("cudnn"), b.route("sevnet")), sequenced(b, times),
                RouteTunerTest::refusal, n -> true, 3);
        assertEquals("sevnet", r.chosen());
        assertEquals(1.0, r.millis().get("sevnet"), "its fastest round");
        assertEquals(1.5, r.millis().get("cudnn"));
        assertEquals(List.of("cudnn", "sevnet", "cudnn", "sevnet", "cudnn", "sevnet"), everyOther(b.runs),
                "routes take turns");
        assertEquals("sevnet", b.output, "the winner ran last (it did: not run again)");
        assertEquals(12, b.runs.size(), "3 rounds x 2 routes x (warm-up + timed run), nothing more");
    }

    /** the timer runs a body twice: every second entry */
    static List<String> everyOther(List<String> runs) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < runs.size(); i += 2) {
            out.add(runs.get(i));
        }
        return out;
    }

    @Test
    void laterRoundsTimeOnlyTheRoutesThatRanAndAgreed() {
        Bench b = new Bench(Map.of("cudnn", 2.0, "cublas", 0.1, "widen", 1.0, "refused", 0.05));
        RouteTuner.Result r = RouteTuner.measure(List.of(b.route("cudnn"), b.route("cublas"), b.refused("refused"),
                b.route("widen")), b::time, RouteTunerTest::refusal, name -> !name.equals("cublas"), 3);
        assertEquals("widen", r.chosen());
        assertEquals(1, b.runs.stream().filter("refused"::equals).count(), "refused once, not timed again");
        assertEquals(2, b.runs.stream().filter("cublas"::equals).count(), "disagreed in round one, not timed again");
        assertEquals(6, b.runs.stream().filter("widen"::equals).count());
        assertEquals(6, b.runs.stream().filter("cudnn"::equals).count());
        assertEquals("widen", b.output);
        assertEquals(java.util.Set.of("cudnn", "widen"), r.millis().keySet());
    }

    @Test
    void aRouteRefusedInALaterRoundIsLeftOutAndTheWinnerWritesLast() {
        Bench b = new Bench(Map.of("cudnn", 1.0, "widen", 2.0));
        int[] cudnnCalls = {0};
        RouteTuner.Candidate flaky = new RouteTuner.Candidate("cudnn", () -> {
            b.runs.add("cudnn");
            b.output = "cudnn";
            if (++cudnnCalls[0] > 2) { // round two: the workspace no longer fits
                b.output = "garbage";
                throw new CudaException("cudnnConvolutionForward failed: CUDNN_STATUS_NOT_SUPPORTED (3000)", 3000);
            }
        });
        RouteTuner.Result r = RouteTuner.measure(List.of(flaky, b.route("widen")), b::time, RouteTunerTest::refusal,
                n -> true, 3);
        assertEquals("widen", r.chosen());
        assertTrue(r.skipped().containsKey("cudnn"));
        assertEquals("widen", b.output);
        assertThrows(IllegalArgumentException.class, () -> RouteTuner.measure(List.of(b.route("widen")), b::time,
                RouteTunerTest::refusal, n -> true, 0));
    }

    @Test
    void aTieKeepsTheFirstRoute() {
        Bench b = new Bench(Map.of("cudnn", 1.0, "widen", 1.0));
        RouteTuner.Result r = RouteTuner.measure(List.of(b.route("cudnn"), b.route("widen")), b::time,
                RouteTunerTest::refusal);
        assertSame("cudnn", r.chosen());
        assertEquals("cudnn", b.output);
    }
}
