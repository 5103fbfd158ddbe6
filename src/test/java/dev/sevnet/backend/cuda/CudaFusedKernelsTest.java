package dev.sevnet.backend.cuda;

import static dev.sevnet.backend.cuda.CudaBackendOpsTest.close;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.backend.Backend;
import dev.sevnet.backend.ConvSpec;
import dev.sevnet.backend.cpu.CpuBackend;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The fused conv -> BN -> ReLU kernels (kernels/conv_bn_relu.cu, CudaBackend in KernelMode CUSTOM) on a GPU,
 * each against the CPU backend and against the library path (LIBRARY: cuDNN + the separate kernels) on the
 * same inputs, fp32 with TF32 off; norm-wise relative error within 1e-4. Also: the training form and the
 * grouped backward-weight give bit-identical results run twice (no atomics), and the multi-tensor SGD step
 * matches the CPU's, as do the loss-scaling multi-tensor ops (allFinite, scaleAll). Skipped without a GPU.
 */
@Tag("gpu")
class CudaFusedKernelsTest {
    static final double RTOL = 1e-4;
    static CudaBackend gpu;
    static final CpuBackend cpu = CpuBackend.get();

    @BeforeAll
    static void needGpu() {
        gpu = CudaBackendOpsTest.usableGpu();
    }

    @AfterAll
    static void reset() {
        if (gpu != null) {
            gpu.setKernelMode(CudaBackend.KernelMode.AUTO);
        }
    }

    static Tensor rand(Random r, long... dims) {
        return CudaBackendOpsTest.rand(r, dims);
    }

    /** op on the CPU, on the GPU with the fused kernels (CUSTOM) and with the library path (LIBRARY). */
    static void threeWay(String what, Function<Backend, Tensor[]> op) {
        try (TensorScope scope = TensorScope.open()) {
            Tensor[] c = op.apply(cpu);
            gpu.setKernelMode(CudaBackend.KernelMode.CUSTOM);
            Tensor[] fused = op.apply(gpu);
            gpu.setKernelMode(CudaBackend.KernelMode.LIBRARY);
            Tensor[] lib = op.apply(gpu);
            for (int i = 0; i < c.length; i++) {
                if (c[i] == null) {
                    continue;
                }
                close(c[i], fused[i], RTOL, what + " output " + i + " custom vs CPU");
                close(lib[i], fused[i], RTOL, what + " output " + i + " custom vs library");
            }
        }
    }

    /** Host tensors and their device copies; on(b) picks by backend. */
    record Pair(Tensor h, Tensor d) {
        Tensor on(Backend b) {
            return b instanceof CudaBackend ? d : h;
        }

        /** A fresh copy (for running statistics updated in place). */
        Tensor copyOn(Backend b) {
            return b instanceof CudaBackend ? gpu.toDevice(d) : h.copy();
        }
    }

    static Pair pair(Tensor h) {
        return new Pair(h, gpu.toDevice(h));
    }

    static ConvSpec grouped(int c, int cg, int s) {
        return ConvSpec.builder().kernel(1, 3, 3).stride(1, s, s).padding(0, 1, 1).groups(c / cg).build();
    }

    // n, c, cg, t, h, w, stride: ragged tiles, g = 1, 4, 8, 16, SEVNet-G8's stage shapes at batch 2
    static final int[][] GROUPED = {{2, 8, 1, 3, 5, 7, 1}, {2, 16, 8, 2, 9, 11, 2}, {1, 32, 16, 3, 13, 6, 1},
        {2, 48, 16, 1, 7, 7, 2}, {3, 24, 4, 5, 3, 3, 2}, {2, 64, 8, 4, 56, 56, 1}, {2, 64, 8, 4, 56, 56, 2},
        {2, 128, 8, 4, 28, 28, 1}, {2, 256, 8, 4, 14, 14, 2}, {2, 512, 8, 4, 7, 7, 1}};
    // n, cin, cout, t, h, w
    static final int[][] POINTWISE = {{2, 5, 7, 1, 3, 11}, {2, 70, 130, 2, 5, 10}, {2, 64, 64, 4, 56, 56},
        {2, 512, 512, 4, 7, 7}};

    record Conv(String name, Pair x, Pair w, ConvSpec spec, long cout) {
    }

    static List<Conv> convs(Random r) {
        List<Conv> out = new ArrayList<>();
        for (int[] g : GROUPED) {
            out.add(new Conv("grouped " + java.util.Arrays.toString(g), pair(rand(r, g[0], g[1], g[3], g[4], g[5])),
                    pair(rand(r, g[1], g[2], 1, 3, 3)), grouped(g[1], g[2], g[6]), g[1]));
        }
        for (int[] p : POINTWISE) {
            out.add(new Conv("pointwise " + java.util.Arrays.toString(p), pair(rand(r, p[0], p[1], p[3], p[4], p[5])),
                    pair(rand(r, p[2], p[1], 1, 1, 1)), ConvSpec.of(1), p[2]));
        }
        return out;
    }

    @Test
    void convForwardWithBiasAndReluIsTheFoldedInferenceForm() {
        Random r = new Random(1);
        try (TensorScope scope = TensorScope.open()) {
            for (Conv cv : convs(r)) {
                Pair bias = pair(rand(r, cv.cout()));
                for (boolean relu : new boolean[] {false, true}) {
                    threeWay("conv+bias " + cv.name() + " relu=" + relu,
                            b -> new Tensor[] {b.conv3d(cv.x().on(b), cv.w().on(b), bias.on(b), cv.spec(), relu)});
                }
                threeWay("conv " + cv.name(), b -> new Tensor[] {b.conv3d(cv.x().on(b), cv.w().on(b), cv.spec())});
            }
        }
    }

    @Test
    void convBatchNormEvalAndTrain() {
        Random r = new Random(2);
        try (TensorScope scope = TensorScope.open()) {
            for (Conv cv : convs(r)) {
                long c = cv.cout();
                Pair g = pair(rand(r, c));
                Pair beta = pair(rand(r, c));
                Pair rm = pair(rand(r, c));
                Pair rv = pair(Tensor.full(Shape.of(c), 1.7f));
                threeWay("conv+bn eval " + cv.name(), b -> new Tensor[] {b.convBatchNormEval(cv.x().on(b), cv.w().on(b),
                        cv.spec(), g.on(b), beta.on(b), rm.on(b), rv.on(b), 1e-5, true)});
                threeWay("conv+bn train " + cv.name(), b -> {
                    Tensor m = rm.copyOn(b);
                    Tensor v = rv.copyOn(b);
                    var res = b.convBatchNormTrain(cv.x().on(b), cv.w().on(b), cv.spec(), g.on(b), beta.on(b), m, v,
                            1e-5, 0.1, true);
                    return new Tensor[] {res.z(), res.y(), res.saveMean(), res.saveInvstd(), m, v};
                });
            }
        }
    }

    @Test
    void groupedConvBackward() {
        Random r = new Random(3);
        try (TensorScope scope = TensorScope.open()) {
            for (Conv cv : convs(r)) {
                if (cv.spec().groups() == 1) {
                    continue;
                }
                Shape ys = cv.spec().outputShape(cv.x().h().shape(), cv.cout());
                Pair dy = pair(rand(r, ys.dims()));
                threeWay("bwd data " + cv.name(), b -> new Tensor[] {b.conv3dBackwardData(dy.on(b), cv.w().on(b),
                        cv.spec(), cv.x().h().shape())});
                threeWay("bwd weight " + cv.name(), b -> new Tensor[] {b.conv3dBackwardWeight(cv.x().on(b), dy.on(b),
                        cv.spec(), cv.w().h().shape())});
            }
        }
    }

    @Test
    void batchNormActForwardAndBackward() {
        Random r = new Random(4);
        long[][] shapes = {{2, 3, 1, 1, 2}, {3, 5, 2, 7, 11}, {8, 64, 2, 28, 28}, {2, 2100, 1, 1, 3}, {2, 512, 4, 7, 7}};
        try (TensorScope scope = TensorScope.open()) {
            for (long[] s : shapes) {
                long c = s[1];
                Pair x = pair(rand(r, s));
                Pair res = pair(rand(r, s));
                Pair dy = pair(rand(r, s));
                Pair g = pair(rand(r, c));
                Pair beta = pair(rand(r, c));
                Pair rm = pair(rand(r, c));
                Pair rv = pair(Tensor.full(Shape.of(c), 0.9f));
                for (int variant = 0; variant < 4; variant++) {
                    boolean relu = (variant & 1) != 0;
                    boolean withRes = (variant & 2) != 0;
                    String what = java.util.Arrays.toString(s) + " relu=" + relu + " residual=" + withRes;
                    threeWay("bn act fwd " + what, b -> {
                        Tensor m = rm.copyOn(b);
                        Tensor v = rv.copyOn(b);
                        var o = b.batchNormTrainAct(x.on(b), withRes ? res.on(b) : null, g.on(b), beta.on(b), m, v, 1e-5,
                                0.1, relu);
                        return new Tensor[] {o.y(), o.saveMean(), o.saveInvstd(), m, v};
                    });
                    threeWay("bn act bwd " + what, b -> {
                        var o = b.batchNormTrainAct(x.on(b), withRes ? res.on(b) : null, g.on(b), beta.on(b), null, null,
                                1e-5, 0.1, relu);
                        return b.batchNormActBackward(x.on(b), o.y(), dy.on(b), g.on(b), o.saveMean(), o.saveInvstd(),
                                relu, withRes);
                    });
                }
            }
        }
    }

    @Test
    void fusedTrainingFormAndBackwardWeightAreDeterministic() {
        Random r = new Random(5);
        gpu.setKernelMode(CudaBackend.KernelMode.CUSTOM);
        try (TensorScope scope = TensorScope.open()) {
            ConvSpec spec = grouped(64, 8, 1);
            Tensor x = gpu.toDevice(rand(r, 2, 64, 4, 56, 56));
            Tensor w = gpu.toDevice(rand(r, 64, 8, 1, 3, 3));
            Tensor dy = gpu.toDevice(rand(r, 2, 64, 4, 56, 56));
            Tensor g = gpu.toDevice(rand(r, 64));
            Tensor b = gpu.toDevice(rand(r, 64));
            float[][] first = null;
            for (int run = 0; run < 2; run++) {
                var res = gpu.convBatchNormTrain(x, w, spec, g, b, null, null, 1e-5, 0.1, true);
                Tensor dw = gpu.conv3dBackwardWeight(x, dy, spec, w.shape());
                Tensor[] bw = gpu.batchNormActBackward(res.z(), res.y(), dy, g, res.saveMean(), res.saveInvstd(), true,
                        false);
                float[][] now = {res.saveMean().toFloatArray(), res.saveInvstd().toFloatArray(), dw.toFloatArray(),
                    bw[0].toFloatArray(), bw[1].toFloatArray()};
                if (first == null) {
                    first = now;
                } else {
                    for (int i = 0; i < now.length; i++) {
                        assertArrayEquals(first[i], now[i], 0f, "output " + i + " differs between two runs");
                    }
                }
            }
        } finally {
            gpu.setKernelMode(CudaBackend.KernelMode.AUTO);
        }
    }

    @Test
    void sgdStepOverAllParametersInOneLaunchMatchesTheCpu() {
        Random r = new Random(6);
        long[][] shapes = {{1}, {37}, {64, 8, 1, 3, 3}, {1000}, {4097}, {3}};
        try (TensorScope scope = TensorScope.open()) {
            List<Tensor> wc = new ArrayList<>();
            List<Tensor> gc = new ArrayList<>();
            List<Tensor> vc = new ArrayList<>();
            List<Tensor> wg = new ArrayList<>();
            List<Tensor> gg = new ArrayList<>();
            List<Tensor> vg = new ArrayList<>();
            for (long[] s : shapes) {
                Tensor w = rand(r, s);
                Tensor g = rand(r, s);
                Tensor v = rand(r, s);
                wc.add(w.copy());
                gc.add(g);
                vc.add(v.copy());
                wg.add(gpu.toDevice(w));
                gg.add(gpu.toDevice(g));
                vg.add(gpu.toDevice(v));
            }
            for (int step = 0; step < 3; step++) {
                cpu.sgdMomentumStepAll(wc, gc, vc, 0.05f, 0.9f, 1e-4f);
                gpu.sgdMomentumStepAll(wg, gg, vg, 0.05f, 0.9f, 1e-4f);
            }
            // a different set (the table is staged again): every other tensor
            List<Tensor> wc2 = List.of(wc.get(0), wc.get(2), wc.get(4));
            List<Tensor> gc2 = List.of(gc.get(0), gc.get(2), gc.get(4));
            List<Tensor> vc2 = List.of(vc.get(0), vc.get(2), vc.get(4));
            cpu.sgdMomentumStepAll(wc2, gc2, vc2, 0.01f, 0.8f, 5e-4f);
            gpu.sgdMomentumStepAll(List.of(wg.get(0), wg.get(2), wg.get(4)), List.of(gg.get(0), gg.get(2), gg.get(4)),
                    List.of(vg.get(0), vg.get(2), vg.get(4)), 0.01f, 0.8f, 5e-4f);
            for (int i = 0; i < shapes.length; i++) {
                close(wc.get(i), wg.get(i), 1e-6, "w " + i);
                close(vc.get(i), vg.get(i), 1e-6, "v " + i);
            }
        }
    }

    /**
     * Loss scaling's multi-tensor ops (kernels/amp.cu) in CUSTOM (one launch each, the pinned table) and AUTO
     * (the per-tensor defaults) against the CPU: an infinity or NaN in the last element of the last tensor, in
     * the middle of a large one, in a one-element one (each time one tensor swapped: the table is staged again);
     * the same list again (the staged table reused); the scale bit for bit.
     */
    @Test
    void allFiniteAndScaleAllOverAllTensorsMatchTheCpu() {
        Random r = new Random(7);
        long[][] shapes = {{1}, {37}, {64, 8, 1, 3, 3}, {0}, {1000}, {4097}, {300_001}, {3}};
        try {
            for (CudaBackend.KernelMode mode : new CudaBackend.KernelMode[] {CudaBackend.KernelMode.CUSTOM,
                CudaBackend.KernelMode.AUTO}) {
                gpu.setKernelMode(mode);
                try (TensorScope scope = TensorScope.open()) {
                    List<Tensor> hc = new ArrayList<>();
                    List<Tensor> dg = new ArrayList<>();
                    for (long[] s : shapes) {
                        Tensor h = rand(r, s);
                        hc.add(h);
                        dg.add(gpu.toDevice(h));
                    }
                    assertTrue(cpu.allFinite(hc), mode + " cpu finite");
                    assertTrue(gpu.allFinite(dg), mode + " gpu finite");
                    assertTrue(gpu.allFinite(dg), mode + " gpu finite again");
                    int[][] places = {{7, 2}, {6, 150_000}, {6, 300_000}, {0, 0}, {2, 0}};
                    for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
                        for (int[] p : places) {
                            Tensor h = hc.get(p[0]);
                            float keep = h.getFloat(p[1]);
                            h.setFloat(p[1], bad);
                            Tensor d = gpu.toDevice(h);
                            Tensor old = dg.set(p[0], d);
                            String what = mode + " " + bad + " in tensor " + p[0] + " at " + p[1];
                            assertFalse(cpu.allFinite(hc), what + " (cpu)");
                            assertFalse(gpu.allFinite(dg), what + " (gpu)");
                            h.setFloat(p[1], keep);
                            dg.set(p[0], old);
                            assertTrue(gpu.allFinite(dg), what + " restored (gpu)");
                        }
                    }
                    for (float alpha : new float[] {1f / 65536, 0.3f}) {
                        cpu.scaleAll(hc, alpha);
                        gpu.scaleAll(dg, alpha);
                        for (int i = 0; i < shapes.length; i++) {
                            assertArrayEquals(hc.get(i).toFloatArray(), dg.get(i).toHostCopy().toFloatArray(),
                                    mode + " scale " + alpha + " tensor " + i);
                        }
                    }
                }
            }
        } finally {
            gpu.setKernelMode(CudaBackend.KernelMode.AUTO);
        }
    }

    /**
     * axpbyAll (a backward's leaf gradients: a launch per 64 tensors, the list in the kernel's parameters) over 200
     * tensors (a batch ending in empty ones, one entirely empty) in CUSTOM and AUTO, bit for bit the per-tensor axpby on the GPU and within 1e-6 of the CPU's; beta 0 does
     * not read y (NaN there); LIBRARY (the per-tensor default) the same bits.
     */
    @Test
    void axpbyAllOverManyTensorsIsThePerTensorAxpby() {
        Random r = new Random(11);
        try {
            for (CudaBackend.KernelMode mode : CudaBackend.KernelMode.values()) {
                gpu.setKernelMode(mode);
                for (float[] ab : new float[][] {{1f, 0f}, {1f, 1f}, {0.75f, -0.5f}}) {
                    try (TensorScope scope = TensorScope.open()) {
                        List<Tensor> xs = new ArrayList<>();
                        List<Tensor> ys = new ArrayList<>();
                        List<Tensor> each = new ArrayList<>();
                        List<Tensor> hostY = new ArrayList<>();
                        List<Tensor> hostX = new ArrayList<>();
                        for (int i = 0; i < 200; i++) {
                            // empty ones: scattered, a batch's last two (62, 63), a whole batch (128..191), the last
                            boolean empty = i % 13 == 0 || i == 62 || i == 63 || (i >= 128 && i < 192) || i == 199;
                            long n = empty ? 0 : i % 37 == 5 ? 40_000 : 1 + r.nextInt(5000);
                            Tensor hx = rand(r, n);
                            Tensor hy = rand(r, n);
                            if (ab[1] == 0f && n > 0) {
                                hy.setFloat(0, Float.NaN);
                            }
                            hostX.add(hx);
                            hostY.add(hy);
                            xs.add(gpu.toDevice(hx));
                            ys.add(gpu.toDevice(hy));
                            each.add(gpu.toDevice(hy));
                        }
                        gpu.axpbyAll(ab[0], xs, ab[1], ys);
                        for (int i = 0; i < xs.size(); i++) {
                            gpu.axpby(ab[0], xs.get(i), ab[1], each.get(i));
                            cpu.axpby(ab[0], hostX.get(i), ab[1], hostY.get(i));
                        }
                        for (int i = 0; i < xs.size(); i++) {
                            String what = mode + " alpha " + ab[0] + " beta " + ab[1] + " tensor " + i;
                            float[] got = ys.get(i).toHostCopy().toFloatArray();
                            assertArrayEquals(each.get(i).toHostCopy().toFloatArray(), got, 0f, what);
                            assertArrayEquals(hostY.get(i).toFloatArray(), got, 1e-5f, what + " vs the CPU");
                        }
                    }
                }
            }
        } finally {
            gpu.setKernelMode(CudaBackend.KernelMode.AUTO);
        }
    }
}
