package dev.sevnet.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.autograd.F;
import dev.sevnet.autograd.Var;
import dev.sevnet.backend.Backend;
import dev.sevnet.backend.cpu.CpuBackend;
import dev.sevnet.nn.SevNet;
import dev.sevnet.nn.SevNetConfig;
import dev.sevnet.tensor.MemoryFormat;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import dev.sevnet.train.SgdOptimizer;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A whole SEVNet-G8 training step (forward, cross-entropy, backward, SGD) on the GPU against the
 * same step on the CPU: logits, loss, every gradient, the updated weights and the BN running
 * statistics, fp32 with TF32 off.
 */
@Tag("gpu")
class CudaTrainingStepTest {
    @BeforeAll
    static void needGpu() {
        GpuTestSupport.assumeUsableGpu();
    }

    @ParameterizedTest
    @EnumSource(CudaBackend.KernelMode.class)
    void sevnetStepMatchesTheCpu(CudaBackend.KernelMode mode) {
        step("sevnet-g8", mode, MemoryFormat.CONTIGUOUS);
    }

    /**
     * The same step with channels-last activations, gradients and conv weights on the GPU (SevNet.toMemoryFormat):
     * cuDNN's NDHWC convolutions and sevnet's NDHWC batch norm, squeeze-excite, pooling and concat kernels.
     */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"sevnet-g8", "sevnet-se-g8"})
    void aChannelsLastStepMatchesTheCpu(String model) {
        step(model, CudaBackend.KernelMode.AUTO, MemoryFormat.CHANNELS_LAST);
    }

    private static void step(String model, CudaBackend.KernelMode mode, MemoryFormat format) {
        CudaBackend gpu = CudaBackend.get(0);
        gpu.setAllowTf32(false);
        gpu.setKernelMode(mode);
        SevNetConfig cfg = SevNetConfig.parse(model, 10);
        Random r = new Random(7);
        float[] xs = new float[2 * 3 * 8 * 64 * 64];
        for (int i = 0; i < xs.length; i++) {
            xs[i] = (float) r.nextGaussian();
        }
        try (SevNet onCpu = SevNet.create(cfg, 3); SevNet onGpu = SevNet.create(cfg, 3);
                Tensor x = Tensor.of(xs, Shape.of(2, 3, 8, 64, 64));
                Tensor labels = Tensor.ofLongs(new long[] {1, 7}, 2);
                SgdOptimizer oc = new SgdOptimizer(onCpu.namedParameters(), 0.9, 1e-4);
                SgdOptimizer og = new SgdOptimizer(onGpu.namedParameters(), 0.9, 1e-4)) {
            onGpu.to(gpu);
            onGpu.toMemoryFormat(format);
            onCpu.train(true);
            onGpu.train(true);
            // the problem's own sensitivity: CPU gradients for the input perturbed by 1e-6 relative
            Map<String, Double> sensitivity;
            float[] xp = xs.clone();
            Random q = new Random(9);
            for (int i = 0; i < xp.length; i++) {
                xp[i] *= (float) (1 + 1e-6 * q.nextGaussian());
            }
            try (SevNet ref = SevNet.create(cfg, 3); SevNet probe = SevNet.create(cfg, 3);
                    Tensor xpt = Tensor.of(xp, x.shape()); TensorScope scope = TensorScope.open()) {
                ref.train(true);
                probe.train(true);
                forwardBackward(ref, CpuBackend.get(), x, labels);
                forwardBackward(probe, CpuBackend.get(), xpt, labels);
                sensitivity = gradErrors(ref, probe);
            }
            try (TensorScope scope = TensorScope.open()) {
                float[][] lc = forwardBackward(onCpu, CpuBackend.get(), x, labels);
                float[][] lg = forwardBackward(onGpu, gpu, x, labels);
                CudaBackendOpsTest.close(Tensor.of(lc[0], 2, 10), Tensor.of(lg[0], 2, 10), 1e-4, "logits");
                assertEquals(lc[1][0], lg[1][0], 1e-4 * Math.abs(lc[1][0]), "loss");
                compareGrads(onCpu, onGpu, sensitivity);
            }
            oc.step(0.1);
            og.step(0.1);
            Map<String, Tensor> sc = onCpu.stateDict();
            Map<String, Tensor> sg = onGpu.stateDict();
            // parameters moved by lr * (gradient): their error is bounded by the gradients' (zero-initialised
            // BN biases are all update); buffers (BN running statistics) depend on the forward only
            double gradBound = sensitivity.values().stream().mapToDouble(Double::doubleValue).max().orElse(0);
            var params = onCpu.namedParameters().keySet();
            for (var e : sc.entrySet()) {
                if (e.getValue().dtype() == dev.sevnet.tensor.DType.FLOAT32) {
                    double err = CudaBackendOpsTest.relError(e.getValue(), sg.get(e.getKey()));
                    double bound = params.contains(e.getKey()) ? Math.max(1e-4, gradBound) : 1e-4;
                    assertTrue(err <= bound, "after one step: " + e.getKey() + " relative error " + err + " > " + bound);
                }
            }
        }
    }

    /** Forward + backward in the caller's scope; returns {logits, loss}. */
    private static float[][] forwardBackward(SevNet net, Backend b, Tensor hostX, Tensor labels) {
        Tensor x = b.device().isCpu() ? hostX : b.toDevice(hostX);
        Var logits = net.forward(Var.of(x));
        Var loss = F.softmaxCrossEntropy(logits, labels);
        loss.backward();
        return new float[][] {logits.value().toFloatArray(), loss.value().toFloatArray()};
    }

    static Map<String, Double> gradErrors(SevNet ref, SevNet other) {
        Map<String, Double> out = new java.util.LinkedHashMap<>();
        var po = other.namedParameters();
        ref.namedParameters().forEach((k, p) -> out.put(k, CudaBackendOpsTest.relError(p.grad(), po.get(k).grad())));
        return out;
    }

    /**
     * Gradients of a training-mode SEVNet at batch 2 are ill-conditioned (each BN removes its
     * channel's mean and scale, so weight gradients are small differences of large terms): on the
     * CPU alone, a 1e-6 relative change of the input moves them by about 4% (median). Float32
     * rounding differences of the GPU's reduction order are magnified the same way, so the bound is
     * the problem's own sensitivity: the median and the worst GPU-vs-CPU gradient error must stay
     * below the median and the worst change caused by that 1e-6 input perturbation.
     */
    static void compareGrads(SevNet cpu, SevNet gpu, Map<String, Double> sensitivity) {
        Map<String, Double> errs = gradErrors(cpu, gpu);
        double[] e = errs.values().stream().mapToDouble(Double::doubleValue).sorted().toArray();
        double[] sv = sensitivity.values().stream().mapToDouble(Double::doubleValue).sorted().toArray();
        System.out.printf("gradient error GPU vs CPU: median %.3g worst %.3g; CPU change for a 1e-6 input "
                + "perturbation: median %.3g worst %.3g%n", e[e.length / 2], e[e.length - 1], sv[sv.length / 2],
                sv[sv.length - 1]);
        assertTrue(e[e.length / 2] <= sv[sv.length / 2], "median gradient error " + e[e.length / 2]);
        assertTrue(e[e.length - 1] <= sv[sv.length - 1], "worst gradient error " + e[e.length - 1]);
    }



    /** Many training steps leave the device allocator where it started: nothing leaks. */
    @org.junit.jupiter.api.Test
    void longRunsDoNotLeakDeviceMemory() {
        CudaBackend gpu = CudaBackend.get(0);
        SevNetConfig cfg = SevNetConfig.parse("sevnet-g2", 10);
        float[] xs = new float[4 * 3 * 8 * 32 * 32];
        Random r = new Random(3);
        for (int i = 0; i < xs.length; i++) {
            xs[i] = (float) r.nextGaussian();
        }
        long before = gpu.cudaDevice().allocator().stats().inUseBytes();
        try (SevNet net = SevNet.create(cfg, 1); Tensor x = Tensor.of(xs, Shape.of(4, 3, 8, 32, 32));
                Tensor labels = Tensor.ofLongs(new long[] {1, 2, 3, 4}, 4);
                SgdOptimizer opt = new SgdOptimizer(net.namedParameters(), 0.9, 1e-4)) {
            net.to(gpu);
            net.train(true);
            long afterFirst = 0;
            for (int step = 0; step < 30; step++) {
                try (TensorScope scope = TensorScope.open()) {
                    forwardBackward(net, gpu, x, labels);
                    opt.step(0.01);
                    opt.zeroGrad();
                }
                if (step == 1) {
                    afterFirst = gpu.cudaDevice().allocator().stats().inUseBytes();
                }
            }
            assertEquals(afterFirst, gpu.cudaDevice().allocator().stats().inUseBytes(),
                    "device memory in use after step 2 and after step 30");
        }
        assertEquals(before, gpu.cudaDevice().allocator().stats().inUseBytes(), "everything freed after close");
    }
}
