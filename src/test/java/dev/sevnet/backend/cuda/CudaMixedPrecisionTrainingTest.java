package dev.sevnet.backend.cuda;

import static dev.sevnet.autograd.AutocastTest.relErr;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.autograd.Autocast;
import dev.sevnet.autograd.F;
import dev.sevnet.autograd.Var;
import dev.sevnet.backend.Backend;
import dev.sevnet.backend.cpu.CpuBackend;
import dev.sevnet.nn.SevBlock;
import dev.sevnet.nn.SevNet;
import dev.sevnet.nn.SevNetConfig;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * One bf16 mixed-precision training step on the GPU against the same step on the CPU reference (whose 16-bit ops
 * round where the GPU stores 16 bits; the two differ by fp32 accumulation order only, amplified by the network):
 * (a) one block of each variant, standard and downsample: the output within {@link #BLOCK_OUT_TOL} and every
 * parameter gradient within {@link #BLOCK_GRAD_TOL} (norm-wise relative; the CPU reference's own bf16-vs-fp32
 * figures are 3e-3..5e-3 and 8e-2..1.5e-1, AutocastTest), and (b) a whole sevnet-g2 / sevnet-se-g2 step: every
 * parameter gradient float32 and finite, logits within {@link #MODEL_LOGIT_TOL}. Skipped without a GPU.
 *
 * <p>Written before the CUDA backend has the 16-bit training ops: it fails on a GPU until they exist (the first
 * 16-bit batch norm is rejected with an IllegalArgumentException).
 */
@Tag("gpu")
class CudaMixedPrecisionTrainingTest {
    static final double BLOCK_OUT_TOL = 1e-2;
    static final double BLOCK_GRAD_TOL = 0.25;
    static final double MODEL_LOGIT_TOL = 0.5;
    static CudaBackend gpu;
    static final CpuBackend cpu = CpuBackend.get();

    @BeforeAll
    static void needGpu() {
        gpu = CudaBackendOpsTest.usableGpu();
    }

    static Tensor bf16Values(long seed, long... dims) {
        Random r = new Random(seed);
        Shape s = Shape.of(dims);
        float[] a = new float[Math.toIntExact(s.size())];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) r.nextGaussian();
        }
        try (Tensor f = Tensor.of(a, s); Tensor h = cpu.cast(f, DType.BFLOAT16)) {
            return cpu.cast(h, DType.FLOAT32);
        }
    }

    static Tensor on(Backend b, Tensor host) {
        return b == cpu ? host.copy() : b.toDevice(host);
    }

    static Map<String, float[]> blockStep(Backend b, String model, boolean downsample) {
        try (SevBlock block = new SevBlock(16, downsample, SevNetConfig.parse(model, 10)); TensorScope scope = TensorScope.open();
                Tensor hx = bf16Values(21, 4, 16, 4, 8, 8)) {
            block.initialize(21);
            block.to(b);
            block.train(true);
            Var leaf = Var.leaf(on(b, hx));
            Var out;
            try (Autocast.Guard g = Autocast.enable(DType.BFLOAT16)) {
                out = F.cast(block.forward(F.cast(leaf, DType.BFLOAT16)), DType.FLOAT32);
            }
            try (Tensor seed = bf16Values(22, out.shape().dims()); Tensor ds = on(b, seed)) {
                out.backward(ds);
            }
            Map<String, float[]> m = new LinkedHashMap<>();
            m.put("output", out.value().toHostCopy().toFloatArray());
            m.put("input.grad", leaf.grad().toHostCopy().toFloatArray());
            block.namedParameters().forEach((name, p) -> {
                assertEquals(DType.FLOAT32, p.grad().dtype(), name);
                m.put(name + ".grad", p.grad().toHostCopy().toFloatArray());
            });
            return m;
        }
    }

    @ParameterizedTest
    @CsvSource({"sevnet-g2, false", "sevnet-g2, true", "sevnet-se-g2, false", "sevnet-se-g2, true",
        "r2plus1d-g2, true", "r3d-g2, true"})
    void bf16BlockStepMatchesTheCpuReference(String model, boolean downsample) {
        Map<String, float[]> ref = blockStep(cpu, model, downsample);
        Map<String, float[]> got = blockStep(gpu, model, downsample);
        double worst = 0;
        String worstName = "";
        for (String k : ref.keySet()) {
            double e = relErr(got.get(k), ref.get(k));
            if (e > worst && !k.equals("output")) {
                worst = e;
                worstName = k;
            }
        }
        double out = relErr(got.get("output"), ref.get("output"));
        System.out.printf(Locale.ROOT, "GPU bf16 block of %s (downsample %s) vs CPU reference: output %.2e, worst "
                + "gradient %.2e (%s)%n", model, downsample, out, worst, worstName);
        assertTrue(out <= BLOCK_OUT_TOL, "output " + out);
        assertTrue(worst <= BLOCK_GRAD_TOL, worstName + " " + worst);
    }

    @ParameterizedTest
    @CsvSource({"sevnet-g2", "sevnet-se-g2"})
    void bf16ModelStepRunsOnTheGpuWithFloat32MasterGradients(String model) {
        float[][] logits = new float[2][];
        Backend[] backends = {cpu, gpu};
        for (int i = 0; i < 2; i++) {
            Backend b = backends[i];
            try (SevNet net = SevNet.create(SevNetConfig.parse(model, 10), 11); TensorScope scope = TensorScope.open();
                    Tensor hx = bf16Values(5, 4, 3, 8, 32, 32);
                    Tensor labels = Tensor.ofLongs(new long[] {1, 3, 5, 7}, 4)) {
                net.to(b);
                net.train(true);
                Var lg;
                try (Autocast.Guard g = Autocast.enable(DType.BFLOAT16)) {
                    lg = net.forward(Var.of(on(b, hx)));
                }
                assertEquals(DType.FLOAT32, lg.value().dtype());
                Tensor dl = on(b, labels);
                F.softmaxCrossEntropy(lg, dl).backward();
                net.namedParameters().forEach((name, p) -> {
                    assertEquals(DType.FLOAT32, p.grad().dtype(), name);
                    for (float v : p.grad().toHostCopy().toFloatArray()) {
                        assertTrue(Float.isFinite(v), name);
                    }
                });
                logits[i] = lg.value().toHostCopy().toFloatArray();
            }
        }
        double e = relErr(logits[1], logits[0]);
        System.out.printf(Locale.ROOT, "GPU bf16 %s step vs CPU reference: logits %.2e%n", model, e);
        assertTrue(e <= MODEL_LOGIT_TOL, "logits " + e);
    }
}
