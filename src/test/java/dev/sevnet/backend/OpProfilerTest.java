package dev.sevnet.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.autograd.F;
import dev.sevnet.autograd.Var;
import dev.sevnet.nn.SevNet;
import dev.sevnet.nn.SevNetConfig;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import dev.sevnet.train.SgdOptimizer;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The op profiler on the CPU (its timeline is the host clock there; on a GPU CUDA events, same bookkeeping): a SEVNet
 * training step's ops land in the phase they ran in, every segment is counted once, nested calls count as their
 * caller, the backend is itself again once the profiler stops, other threads are not profiled, and misuse is an error.
 */
public class OpProfilerTest {

    /** One SEVNet training step on {@code backend} under a profiler: forward (+ loss), backward, optimizer phases. */
    public static OpProfiler.Profile profiledStep(Backend backend, SevNet net, Tensor x, Tensor labels,
            SgdOptimizer opt) {
        return profiledStep(backend, net, x, labels, opt, OpProfiler.Grouping.OP);
    }

    /** As {@link #profiledStep(Backend, SevNet, Tensor, Tensor, SgdOptimizer)}, the rows keyed as {@code grouping} says. */
    public static OpProfiler.Profile profiledStep(Backend backend, SevNet net, Tensor x, Tensor labels,
            SgdOptimizer opt, OpProfiler.Grouping grouping) {
        try (TensorScope scope = TensorScope.open(); OpProfiler p = OpProfiler.start(backend, grouping)) {
            p.phase("forward");
            Var loss = F.softmaxCrossEntropy(net.forward(Var.of(x)), labels);
            p.phase("backward");
            loss.backward();
            p.phase("optimizer");
            opt.step(0.01);
            opt.zeroGrad();
            return p.stop();
        }
    }

    private static Tensor input(int n) {
        Random r = new Random(3);
        float[] a = new float[n * 3 * 4 * 16 * 16];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return Tensor.of(a, n, 3, 4, 16, 16);
    }

    @Test
    void aTrainingStepIsSummedPerPhaseAndOp() {
        Backend cpu = Backends.cpu();
        try (SevNet net = SevNet.create(SevNetConfig.parse("sevnet-g1", 3), 1);
                SgdOptimizer opt = new SgdOptimizer(net.namedParameters(), 0.9, 1e-4);
                Tensor x = input(2); Tensor labels = Tensor.ofLongs(new long[] {0, 2}, 2)) {
            net.train(true);
            OpProfiler.Profile prof = profiledStep(cpu, net, x, labels, opt);
            Map<String, Long> calls = prof.rows().stream().collect(Collectors.toMap(r -> r.phase() + "/" + r.op(),
                    OpProfiler.Row::calls));
            assertTrue(calls.keySet().stream().anyMatch(k -> k.startsWith("forward/conv")), calls.toString());
            assertTrue(calls.containsKey("backward/conv3dBackwardWeight"), calls.toString());
            assertTrue(calls.containsKey("forward/softmaxCrossEntropy"), calls.toString());
            // the optimizer groups parameters by backend: the profiler's view of one backend is one object, so the
            // step stays one multi-tensor launch
            assertEquals(1L, calls.get("optimizer/sgdMomentumStepAll"), calls.toString());
            double sum = prof.rows().stream().mapToDouble(OpProfiler.Row::millis).sum();
            assertEquals(prof.totalMillis(), sum, 1e-9 * Math.max(1, sum));
            assertTrue(prof.totalMillis() > 0);
            // the host clock over the same segments, the marks' own cost left out: on the CPU (whose timeline is
            // the host clock, marks included) no more than the timeline's, and most of it
            double host = prof.rows().stream().mapToDouble(OpProfiler.Row::hostMillis).sum();
            assertEquals(prof.hostMillis(), host, 1e-9 * Math.max(1, host));
            assertTrue(host > 0.5 * prof.totalMillis() && host <= prof.totalMillis() * (1 + 1e-9), host + " vs "
                    + prof.totalMillis());
            for (OpProfiler.Row r : prof.rows()) {
                assertTrue(r.hostMillis() >= 0 && r.hostMillis() <= r.millis() + 1e-9, r.toString());
            }
            String table = prof.table(5);
            assertTrue(table.startsWith("| phase | op | calls | ms | % | ms/call | host ms/call |")
                    && table.contains("| (total) |")
                    && table.contains("| forward | (all) |"), table);
            assertEquals(5 + 2 + 4 + 1, table.lines().count(), table); // header, rule, 5 rows, 4 phases, total
        }
        assertSame(cpu, Backends.cpu());
        try (Tensor t = Tensor.zeros(Shape.of(2))) {
            assertSame(cpu, Backends.of(t), "the backend is itself again after the profiler");
        }
    }

    @Test
    void nestedCallsCountAsTheirCallerAndErrorsPassThrough() throws Exception {
        Backend cpu = Backends.cpu();
        try (OpProfiler p = OpProfiler.start(cpu); Tensor a = Tensor.zeros(Shape.of(4)); Tensor b = Tensor.zeros(Shape.of(5))) {
            Backend seen = Backends.of(a);
            assertNotSame(cpu, seen);
            assertSame(seen, Backends.of(b), "one view per backend");
            assertEquals(seen, seen);
            seen.add(a, a).close();
            // an op's own argument errors reach the caller unwrapped
            assertThrows(IllegalArgumentException.class, () -> seen.add(a, b));
            // another thread's lookups are not profiled
            assertSame(cpu, CompletableFuture.supplyAsync(() -> Backends.of(a)).get());
            OpProfiler.Profile prof = p.stop();
            Map<String, Long> calls = prof.rows().stream().collect(Collectors.toMap(OpProfiler.Row::op,
                    OpProfiler.Row::calls));
            assertEquals(2L, calls.get("add"), calls.toString());
            assertEquals(3L, calls.get(OpProfiler.BETWEEN_OPS), calls.toString());
            assertThrows(IllegalStateException.class, () -> p.phase("late"));
            assertThrows(IllegalStateException.class, p::stop);
        }
        assertThrows(IllegalArgumentException.class, () -> OpProfiler.start(null));
        assertThrows(IllegalArgumentException.class, () -> OpProfiler.start(cpu, null));
    }

    @Test
    void groupedByInputShapesEachLayerIsItsOwnRow() {
        Backend cpu = Backends.cpu();
        try (SevNet net = SevNet.create(SevNetConfig.parse("sevnet-g1", 3), 1);
                SgdOptimizer opt = new SgdOptimizer(net.namedParameters(), 0.9, 1e-4);
                Tensor x = input(2); Tensor labels = Tensor.ofLongs(new long[] {0, 2}, 2)) {
            net.train(true);
            profiledStep(cpu, net, x, labels, opt); // the first step after creation writes gradients its own way
            OpProfiler.Profile byOp = profiledStep(cpu, net, x, labels, opt);
            OpProfiler.Profile byShape = profiledStep(cpu, net, x, labels, opt, OpProfiler.Grouping.INPUT_SHAPES);
            assertTrue(byOp.rows().stream().allMatch(r -> r.shapes().isEmpty()), byOp.rows().toString());
            // the same calls per op, spread over more rows: one per distinct signature
            Map<String, Long> opCalls = byOp.rows().stream().collect(Collectors.toMap(r -> r.phase() + "/" + r.op(),
                    OpProfiler.Row::calls));
            Map<String, Long> summed = byShape.rows().stream().collect(Collectors.groupingBy(
                    r -> r.phase() + "/" + r.op(), Collectors.summingLong(OpProfiler.Row::calls)));
            assertEquals(opCalls, summed);
            long backwardWeightRows = byShape.rows().stream().filter(r -> r.op().equals("conv3dBackwardWeight")).count();
            assertTrue(backwardWeightRows > 3, "one row per conv layer shape: " + backwardWeightRows);
            // the stem's 1x7x7 conv on the clip: input [2, 3, 4, 16, 16], weight [4, 3, 1, 7, 7], its window
            assertTrue(byShape.rows().stream().anyMatch(r -> r.op().equals("conv3dBackwardWeight")
                    && r.shapes().startsWith("[2, 3, 4, 16, 16], ") && r.shapes().contains("k1x7x7/s1x2x2 p0x3x3")),
                    byShape.rows().toString());
            assertTrue(byShape.rows().stream().anyMatch(r -> r.op().equals("sgdMomentumStepAll")
                    && r.shapes().matches(".*\\d+ tensors.*")), byShape.rows().toString());
            String table = byShape.table(3);
            assertTrue(table.startsWith("| phase | op | shapes | calls | ms |"), table);
            assertTrue(table.lines().skip(2).allMatch(l -> l.chars().filter(ch -> ch == '|').count() == 9), table);
        }
    }

    @Test
    void aSignatureNamesTensorsWindowsAndListsOnly() {
        try (Tensor a = Tensor.zeros(Shape.of(2, 3, 4, 5, 6)); Tensor h = Tensor.zeros(Shape.of(7),
                dev.sevnet.tensor.DType.BFLOAT16)) {
            ConvSpec window = ConvSpec.builder().kernel(1, 3, 3).stride(1, 2, 2).padding(0, 1, 1).build();
            assertEquals("[2, 3, 4, 5, 6], -, k1x3x3/s1x2x2 p0x1x1, [7] bfloat16, 2 tensors",
                    OpProfiler.signature(new Class<?>[] {Tensor.class, Tensor.class, ConvSpec.class, float.class,
                        boolean.class, Tensor.class, java.util.List.class, Shape.class},
                            new Object[] {a, null, window, 1.5f, true, h, java.util.List.of(a, h), Shape.of(9)}));
        }
        assertEquals("", OpProfiler.signature(new Class<?>[0], null));
    }

    @Test
    void theMedianOfProfiledStepsTakesEachRowsMiddleValue() {
        OpProfiler.Row conv = new OpProfiler.Row("backward", "conv3dBackwardWeight", "[8, 256]", 5, 26.0, 25.9);
        OpProfiler.Row bn = new OpProfiler.Row("forward", "batchNormTrain", "", 8, 4.0, 3.9);
        OpProfiler.Profile a = new OpProfiler.Profile(java.util.List.of(conv, bn), 30.0, 29.8);
        // a step in which a compiler thread preempted the conv: its time doubled
        OpProfiler.Profile b = new OpProfiler.Profile(java.util.List.of(
                new OpProfiler.Row("backward", "conv3dBackwardWeight", "[8, 256]", 5, 52.0, 51.8),
                new OpProfiler.Row("forward", "batchNormTrain", "", 8, 5.0, 4.8)), 57.0, 56.6);
        OpProfiler.Profile c = new OpProfiler.Profile(java.util.List.of(
                new OpProfiler.Row("backward", "conv3dBackwardWeight", "[8, 256]", 5, 27.0, 26.8),
                new OpProfiler.Row("forward", "batchNormTrain", "", 8, 3.0, 2.9),
                new OpProfiler.Row("backward", "add", "", 2, 1.0, 1.0)), 31.0, 30.7);
        OpProfiler.Profile m = OpProfiler.Profile.median(java.util.List.of(a, b, c));
        Map<String, OpProfiler.Row> rows = m.rows().stream().collect(Collectors.toMap(r -> r.phase() + "/" + r.op(),
                r -> r));
        assertEquals(27.0, rows.get("backward/conv3dBackwardWeight").millis(), 1e-12);
        assertEquals(26.8, rows.get("backward/conv3dBackwardWeight").hostMillis(), 1e-12);
        assertEquals("[8, 256]", rows.get("backward/conv3dBackwardWeight").shapes());
        assertEquals(5L, rows.get("backward/conv3dBackwardWeight").calls());
        assertEquals(4.0, rows.get("forward/batchNormTrain").millis(), 1e-12);
        // a row missing from a step counts as zero there: the median of {0, 0, 1}
        assertEquals(0.0, rows.get("backward/add").millis(), 1e-12);
        assertEquals(0L, rows.get("backward/add").calls());
        // the totals are the rows' sums (the table's percentages add up), rows largest first
        assertEquals(31.0, m.totalMillis(), 1e-12);
        assertEquals(30.7, m.hostMillis(), 1e-12);
        assertEquals("conv3dBackwardWeight", m.rows().get(0).op());
        // of an even count, the mean of the two middle values; one profile is itself
        assertEquals(26.5, OpProfiler.Profile.median(java.util.List.of(a, c)).rows().get(0).millis(), 1e-12);
        assertSame(a, OpProfiler.Profile.median(java.util.List.of(a)));
        assertThrows(IllegalArgumentException.class, () -> OpProfiler.Profile.median(java.util.List.of()));
        java.util.List<OpProfiler.Profile> withNull = new java.util.ArrayList<>();
        withNull.add(a);
        withNull.add(null);
        assertThrows(IllegalArgumentException.class, () -> OpProfiler.Profile.median(withNull));
    }
}
