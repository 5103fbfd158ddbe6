package dev.sevnet.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.autograd.GradMode;
import dev.sevnet.autograd.Var;
import dev.sevnet.backend.CachingAllocator;
import dev.sevnet.infer.FoldedSevNet;
import dev.sevnet.infer.FoldedSevNetTest;
import dev.sevnet.infer.GraphedInference;
import dev.sevnet.nn.SevNet;
import dev.sevnet.nn.SevNetConfig;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/**
 * CUDA graphs ({@link CudaGraph}, {@link GraphedInference}) on a GPU: a replayed forward pass gives the eager pass's
 * logits for every new input, replays allocate nothing, a second input shape gets its own graph, close() gives the
 * memory back, and a capture that cannot be recorded fails with a message and leaves the device usable. Skipped
 * without a GPU.
 */
@Tag("gpu")
class CudaGraphTest {
    static CudaBackend gpu;

    @BeforeAll
    static void needGpu() {
        gpu = CudaBackendOpsTest.usableGpu();
    }

    static float[] eager(FoldedSevNet f, Tensor x) {
        try (TensorScope s = TensorScope.open(); GradMode.Guard g = GradMode.noGrad()) {
            return f.forward(Var.of(gpu.toDevice(x))).value().toFloatArray();
        }
    }

    @ParameterizedTest
    @CsvSource({"sevnet-g2, FLOAT32", "sevnet-se-g2, FLOAT32", "sevnet-g2, BFLOAT16", "sevnet-g2, FLOAT16"})
    void replaysGiveTheEagerLogitsAndAllocateNothing(String model, DType dt) {
        Random r = new Random(11);
        for (CudaBackend.KernelMode mode : CudaBackend.KernelMode.values()) {
            gpu.setKernelMode(mode);
            try (SevNet net = SevNet.create(SevNetConfig.parse(model, 10), 3)) {
                FoldedSevNetTest.randomizeBatchNorms(net, 4);
                net.eval();
                try (FoldedSevNet f = FoldedSevNet.fold(net, dt)) {
                    f.to(gpu);
                    CachingAllocator alloc = gpu.cudaDevice().allocator();
                    long liveBefore = alloc.stats().liveBlocks();
                    try (GraphedInference graphed = new GraphedInference(f, gpu)) {
                        long deviceAllocs = -1;
                        for (int i = 0; i < 4; i++) {
                            try (TensorScope s = TensorScope.open()) {
                                Tensor x = CudaBackendOpsTest.rand(r, 2, 3, 8, 32, 32);
                                float[] want = eager(f, x);
                                Tensor y = graphed.forward(x);
                                assertArrayEquals(want, y.toFloatArray(), 1e-5f * maxAbs(want),
                                        model + " " + dt + " " + mode + " replay " + i);
                                if (i == 1) {
                                    deviceAllocs = alloc.stats().deviceAllocs();
                                } else if (i > 1) {
                                    assertEquals(deviceAllocs, alloc.stats().deviceAllocs(), "a replay allocated");
                                }
                            }
                        }
                        assertEquals(1, graphed.graphCount());
                        // another batch size: its own graph, the first one still right
                        try (TensorScope s = TensorScope.open()) {
                            Tensor x1 = CudaBackendOpsTest.rand(r, 1, 3, 8, 32, 32);
                            assertArrayEquals(eager(f, x1), graphed.forward(x1).toFloatArray(), 1e-4f);
                            Tensor x2 = CudaBackendOpsTest.rand(r, 2, 3, 8, 32, 32);
                            float[] want = eager(f, x2);
                            assertArrayEquals(want, graphed.forward(x2).toFloatArray(), 1e-5f * maxAbs(want));
                        }
                        assertEquals(2, graphed.graphCount());
                        assertTrue(alloc.stats().pooledBytes() > 0, "the graphs hold their memory in the pool");
                    }
                    assertEquals(0, alloc.stats().pooledBytes(), "close() gave the pool back");
                    assertEquals(liveBefore, alloc.stats().liveBlocks(), "tensors left behind by the graphs");
                }
            }
        }
        gpu.setKernelMode(CudaBackend.KernelMode.AUTO);
    }

    static float maxAbs(float[] v) {
        float m = 0;
        for (float f : v) {
            m = Math.max(m, Math.abs(f));
        }
        return Math.max(m, 1e-6f);
    }

    @Test
    void aCaptureThatCannotBeRecordedFailsClearlyAndTheDeviceGoesOn() {
        try (TensorScope s = TensorScope.open(); CachingAllocator.Pool pool = gpu.cudaDevice().allocator().newPool()) {
            Tensor a = gpu.toDevice(Tensor.full(Shape.of(64), 2f));
            // a device-to-host copy (with its synchronisation) cannot be part of a graph
            CudaException e = assertThrows(CudaException.class, () -> CudaGraph.capture(gpu, pool,
                    () -> gpu.add(a, a).toFloatArray()));
            System.out.println("capture refused: " + e.getMessage());
            // the backend still works, and the allocator is out of capture mode
            float[] sum = gpu.add(a, a).toFloatArray();
            assertEquals(4f, sum[0]);
            assertEquals(4f, sum[63]);
            assertThrows(IllegalStateException.class, () -> gpu.cudaDevice().allocator().endCapture());
        }
    }

    @Test
    void aGraphReplaysWhatItCapturedOnTheSameBuffers() {
        try (TensorScope s = TensorScope.open(); CachingAllocator.Pool pool = gpu.cudaDevice().allocator().newPool()) {
            Tensor in = gpu.toDevice(Tensor.full(Shape.of(1000), 1f));
            Tensor[] out = new Tensor[1];
            gpu.add(in, in).close(); // warm-up (module loading)
            try (CudaGraph g = CudaGraph.capture(gpu, pool, () -> out[0] = TensorScope.detach(gpu.add(in, in)))) {
                gpu.copyInto(Tensor.full(Shape.of(1000), 3f), in);
                g.replay();
                assertEquals(6f, out[0].toFloatArray()[999]);
                gpu.copyInto(Tensor.full(Shape.of(1000), -1f), in);
                g.replay();
                assertEquals(-2f, out[0].toFloatArray()[0]);
                g.close();
                assertThrows(IllegalStateException.class, g::replay);
            } finally {
                if (out[0] != null) {
                    out[0].close();
                }
            }
            assertSame(gpu, CudaBackend.get(0));
        }
    }
}
