package dev.sevnet.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.backend.Backends;
import dev.sevnet.backend.OpProfiler;
import dev.sevnet.nn.SevNet;
import dev.sevnet.nn.SevNetConfig;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.train.SgdOptimizer;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The op profiler on a GPU: its marks are CUDA events on the stream, so a training step's ops get device time; the
 * sum of the rows is the device timeline from start to stop, and it is no shorter than the ops' kernels (a step's
 * timeline can only be longer than its parts). Skipped without a GPU.
 */
@Tag("gpu")
class CudaOpProfilerTest {

    @BeforeAll
    static void needGpu() {
        GpuTestSupport.assumeUsableGpu();
    }

    @Test
    void aTrainingStepOnTheGpuIsProfiledWithDeviceTime() {
        CudaBackend gpu = CudaBackend.get(0);
        float[] a = new float[2 * 3 * 4 * 32 * 32];
        java.util.Random r = new java.util.Random(5);
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) r.nextGaussian();
        }
        try (SevNet net = SevNet.create(SevNetConfig.parse("sevnet-g1", 3), 1);
                Tensor hx = Tensor.of(a, 2, 3, 4, 32, 32); Tensor x = gpu.toDevice(hx);
                Tensor labels = Tensor.ofLongs(new long[] {1, 2}, 2)) {
            net.to(gpu);
            net.train(true);
            try (SgdOptimizer opt = new SgdOptimizer(net.namedParameters(), 0.9, 1e-4)) {
                OpProfiler.Profile prof = null;
                for (int step = 0; step < 2; step++) { // the first step searches cuDNN's algorithms
                    prof = dev.sevnet.backend.OpProfilerTest.profiledStep(gpu, net, x, labels, opt);
                }
                Map<String, Double> ms = prof.rows().stream().collect(Collectors.toMap(
                        row -> row.phase() + "/" + row.op(), OpProfiler.Row::millis));
                assertTrue(ms.keySet().stream().anyMatch(k -> k.startsWith("backward/conv3dBackward")), ms.toString());
                assertTrue(ms.values().stream().allMatch(v -> v >= 0), ms.toString());
                double sum = prof.rows().stream().mapToDouble(OpProfiler.Row::millis).sum();
                assertEquals(prof.totalMillis(), sum, 1e-6 * Math.max(1, sum));
                assertTrue(prof.totalMillis() > 0, prof.table(10));
                System.out.print(prof.table(15));
            }
        }
        try (Tensor h = Tensor.zeros(dev.sevnet.tensor.Shape.of(1)); Tensor t = gpu.toDevice(h)) {
            assertTrue(Backends.of(t) == gpu, "the backend is itself again after the profiler");
        }
    }
}
