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

    @Test
    void aTieKeepsTheFirstRoute() {
        Bench b = new Bench(Map.of("cudnn", 1.0, "widen", 1.0));
        RouteTuner.Result r = RouteTuner.measure(List.of(b.route("cudnn"), b.route("widen")), b::time,
                RouteTunerTest::refusal);
        assertSame("cudnn", r.chosen());
        assertEquals("cudnn", b.output);
    }
}
