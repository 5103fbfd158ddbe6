package dev.sevnet.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.backend.Backend;
import dev.sevnet.backend.ConvSpec;
import dev.sevnet.backend.cpu.CpuBackend;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

/**
 * Every CudaBackend op, forward and backward, against the CPU backend on the same random inputs:
 * fp32 (TF32 off) within 1e-4 relative (norm-wise). Skipped, with the reason, where there is no GPU.
 */
@Tag("gpu")
class CudaBackendOpsTest {
    static final double RTOL = 1e-4;
    static CudaBackend gpu;
    static final CpuBackend cpu = CpuBackend.get();
    final List<Tensor> open = new ArrayList<>();

    @BeforeAll
    static void needGpu() {
        gpu = usableGpu();
    }

    /** cuda:0 with TF32 off, or the test class is skipped with the reason there is none. */
    static CudaBackend usableGpu() {
        GpuTestSupport.assumeUsableGpu();
        CudaBackend b = CudaBackend.get(0);
        b.setAllowTf32(false);
        return b;
    }

    @AfterAll
    static void reset() {
        if (gpu != null) {
            gpu.setKernelMode(CudaBackend.KernelMode.AUTO);
        }
    }

    static Tensor rand(Random r, long... dims) {
        Shape s = Shape.of(dims);
        float[] a = new float[Math.toIntExact(s.size())];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return Tensor.of(a, s);
    }

    static Tensor up(Tensor h) {
        return gpu.toDevice(h);
    }

    static double relError(Tensor expected, Tensor actual) {
        float[] e = expected.toFloatArray();
        float[] a = actual.toFloatArray();
        double num = 0, den = 0;
        for (int i = 0; i < e.length; i++) {
            num += (e[i] - a[i]) * (double) (e[i] - a[i]);
            den += e[i] * (double) e[i];
        }
        return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
    }

    /** Norm-wise relative error of a GPU result against the CPU one. */
    static void close(Tensor expected, Tensor actual, double rtol, String what) {
        assertEquals(expected.shape(), actual.shape(), what + " shape");
        assertTrue(actual.device().type() == dev.sevnet.tensor.Device.Type.CUDA || actual.device().isCpu());
        float[] e = expected.toFloatArray();
        float[] a = actual.toFloatArray();
        double num = 0, den = 0;
        for (int i = 0; i < e.length; i++) {
            assertTrue(Float.isFinite(a[i]), what + ": non-finite at " + i);
            num += (e[i] - a[i]) * (double) (e[i] - a[i]);
            den += e[i] * (double) e[i];
        }
        double rel = Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
        assertTrue(rel <= rtol, what + ": relative error " + rel + " > " + rtol);
    }

    /** Runs op on CPU and on the GPU (inputs uploaded) and compares every output. */
    static void same(String what, Function<Backend, Tensor[]> op, Tensor... hostInputs) {
        same(what, RTOL, op);
    }

    static void same(String what, double rtol, Function<Backend, Tensor[]> op) {
        Tensor[] c = op.apply(cpu);
        Tensor[] g = op.apply(gpu);
        for (int i = 0; i < c.length; i++) {
            if (c[i] == null) {
                continue;
            }
            close(c[i], g[i], rtol, what + " output " + i);
            c[i].close();
            g[i].close();
        }
    }

    /** A pair of the same data on the host and on the GPU; picks the one of the backend asked. */
    record Pair(Tensor h, Tensor d) {
        Tensor on(Backend b) {
            return b instanceof CudaBackend ? d : h;
        }
    }

    Pair pair(Random r, long... dims) {
        Tensor h = rand(r, dims);
        Pair p = new Pair(h, up(h));
        open.add(p.h);
        open.add(p.d);
        return p;
    }

    @org.junit.jupiter.api.AfterEach
    void closeAll() {
        open.forEach(Tensor::close);
        open.clear();
    }

    static final ConvSpec[] SPECS = {
        ConvSpec.builder().kernel(1, 1, 1).build(),
        ConvSpec.builder().kernel(1, 3, 3).padding(0, 1, 1).groups(4).build(),
        ConvSpec.builder().kernel(1, 3, 3).stride(1, 2, 2).padding(0, 1, 1).groups(8).build(),
        ConvSpec.builder().kernel(3, 1, 1).padding(1, 0, 0).build(),
        ConvSpec.builder().kernel(3, 7, 7).stride(1, 2, 2).padding(1, 3, 3).build(),
        ConvSpec.builder().kernel(1, 1, 1).stride(1, 2, 2).build(),
    };

    @ParameterizedTest
    @EnumSource(CudaBackend.KernelMode.class)
    void convolutionsForwardAndBackward(CudaBackend.KernelMode mode) {
        gpu.setKernelMode(mode);
        Random r = new Random(1);
        for (ConvSpec s : SPECS) {
            int cin = s.kH() == 7 ? 3 : 16;
            int cout = s.kT() == 3 && s.kH() == 1 ? cin : 16;
            Pair x = pair(r, 2, cin, 5, 9, 11);
            Pair w = pair(r, cout, cin / s.groups(), s.kT(), s.kH(), s.kW());
            Pair bias = pair(r, cout);
            Shape ys = s.outputShape(x.h.shape(), cout);
            Pair dy = pair(r, ys.dims());
            same("conv " + s, b -> new Tensor[] {b.conv3d(x.on(b), w.on(b), null, s, false)});
            same("conv+bias+relu " + s, b -> new Tensor[] {b.conv3d(x.on(b), w.on(b), bias.on(b), s, true)});
            same("conv bwd data " + s, b -> new Tensor[] {b.conv3dBackwardData(dy.on(b), w.on(b), s, x.h.shape())});
            same("conv bwd weight " + s, b -> new Tensor[] {b.conv3dBackwardWeight(x.on(b), dy.on(b), s, w.h.shape())});
        }
    }

    @ParameterizedTest
    @EnumSource(CudaBackend.KernelMode.class)
    void batchNorm(CudaBackend.KernelMode mode) {
        gpu.setKernelMode(mode);
        Random r = new Random(2);
        Pair x = pair(r, 3, 7, 4, 5, 6);
        Pair g = pair(r, 7);
        Pair beta = pair(r, 7);
        Pair rmC = pair(r, 7);
        Tensor rvH = Tensor.full(Shape.of(7), 1.5f);
        Pair rv = new Pair(rvH, up(rvH));
        open.add(rvH);
        open.add(rv.d);
        same("bn train", b -> {
            var res = b.batchNormTrain(x.on(b), g.on(b), beta.on(b), rmC.on(b), rv.on(b), 1e-5, 0.1);
            return new Tensor[] {res.y(), res.saveMean(), res.saveInvstd()};
        });
        close(rmC.h, rmC.d, RTOL, "running mean");
        close(rv.h, rv.d, RTOL, "running var");
        same("bn eval relu", b -> new Tensor[] {b.batchNormEval(x.on(b), g.on(b), beta.on(b), rmC.on(b), rv.on(b), 1e-5,
                true)});
        Pair dy = pair(r, 3, 7, 4, 5, 6);
        same("bn backward", b -> {
            var res = b.batchNormTrain(x.on(b), g.on(b), beta.on(b), null, null, 1e-5, 0.1);
            try (Tensor y = res.y(); Tensor m = res.saveMean(); Tensor is = res.saveInvstd()) {
                return b.batchNormBackward(x.on(b), dy.on(b), g.on(b), m, is);
            }
        });
    }

    @Test
    void elementwiseAndShapes() {
        Random r = new Random(3);
        Pair a = pair(r, 2, 6, 3, 5, 7);
        Pair c = pair(r, 2, 6, 3, 5, 7);
        Pair bb = pair(r, 2, 4, 3, 5, 7);
        Pair gs = pair(r, 2, 6);
        same("relu", b -> new Tensor[] {b.relu(a.on(b))});
        same("relu bwd", b -> new Tensor[] {b.reluBackward(a.on(b), c.on(b))});
        same("add", b -> new Tensor[] {b.add(a.on(b), c.on(b))});
        same("add relu", b -> new Tensor[] {b.addRelu(a.on(b), c.on(b))});
        same("mul", b -> new Tensor[] {b.mul(a.on(b), c.on(b))});
        same("scale", b -> new Tensor[] {b.scale(a.on(b), -0.7f)});
        same("sigmoid", b -> new Tensor[] {b.sigmoid(a.on(b))});
        same("sigmoid bwd", b -> new Tensor[] {b.sigmoidBackward(a.on(b), c.on(b))});
        same("dropout", b -> b.dropout(a.on(b), 0.3f, 42));
        same("concat", b -> new Tensor[] {b.concatChannels(a.on(b), bb.on(b))});
        same("split", b -> {
            try (Tensor y = b.concatChannels(a.on(b), bb.on(b))) {
                return b.splitChannels(y, 6);
            }
        });
        same("channel scale", b -> new Tensor[] {b.channelScale(a.on(b), gs.on(b))});
        same("channel scale bwd", b -> b.channelScaleBackward(a.on(b), gs.on(b), c.on(b)));
        ConvSpec pool = ConvSpec.builder().kernel(3, 3, 3).stride(2, 2, 2).padding(1, 1, 1).build();
        same("avg pool", b -> new Tensor[] {b.avgPool3d(a.on(b), pool)});
        Shape ps = OpChecksAccess.depthwise(pool, 6).outputShape(a.h.shape(), 6);
        Pair dp = pair(r, ps.dims());
        same("avg pool bwd", b -> new Tensor[] {b.avgPool3dBackward(dp.on(b), pool, a.h.shape())});
        same("global pool", b -> new Tensor[] {b.globalAvgPool(a.on(b))});
        same("global pool bwd", b -> new Tensor[] {b.globalAvgPoolBackward(gs.on(b), a.h.shape())});
        // in-place ops
        same("axpby + fill", b -> {
            Tensor y = b.toDevice(c.on(b));
            b.axpby(0.5f, a.on(b), -2f, y);
            Tensor f = b.toDevice(c.on(b));
            b.fill(f, 3.25f);
            return new Tensor[] {y, f};
        });
        assertEquals(cpu.sum(a.h), gpu.sum(a.d), 1e-4 * Math.abs(cpu.sum(a.h)) + 1e-3, "sum");
    }

    @Test
    void denseLossesAndOptimizer() {
        Random r = new Random(4);
        Pair x = pair(r, 5, 33);
        Pair w = pair(r, 11, 33);
        Pair bias = pair(r, 11);
        Pair dy = pair(r, 5, 11);
        same("linear", b -> new Tensor[] {b.linear(x.on(b), w.on(b), bias.on(b))});
        same("linear bwd", b -> b.linearBackward(x.on(b), w.on(b), dy.on(b), true));
        Pair cmat = pair(r, 33, 5);
        same("gemm tt", b -> {
            // op(A) = w^T [33, 11], op(B) = dy^T [11, 5]
            Tensor out = b.toDevice(cmat.on(b));
            b.gemm(true, true, 0.5f, w.on(b), dy.on(b), 0.25f, out);
            return new Tensor[] {out};
        });
        Tensor labels = Tensor.ofLongs(new long[] {0, 10, 3, 3, 7}, 5);
        open.add(labels);
        same("softmax xent", b -> b.softmaxCrossEntropy(dy.on(b), labels));
        same("softmax xent bwd", b -> {
            Tensor[] f = b.softmaxCrossEntropy(dy.on(b), labels);
            try (Tensor l = f[0]; Tensor p = f[1]) {
                return new Tensor[] {b.softmaxCrossEntropyBackward(p, labels, 2f)};
            }
        });
        Tensor targets = Tensor.of(new float[55], 5, 11);
        for (int i = 0; i < 55; i += 3) {
            targets.setFloat(i, 1f);
        }
        open.add(targets);
        same("bce", b -> new Tensor[] {b.bceWithLogits(dy.on(b), targets)});
        same("bce bwd", b -> new Tensor[] {b.bceWithLogitsBackward(dy.on(b), targets, 0.5f)});
        same("softmax", b -> new Tensor[] {b.softmax(dy.on(b))});
        same("sgd", b -> {
            Tensor wt = b.toDevice(w.on(b));
            Tensor v = b.toDevice(w.on(b));
            b.fill(v, 0.1f);
            try (Tensor g = b.scale(w.on(b), 0.3f)) {
                b.sgdMomentumStep(wt, g, v, 0.05f, 0.9f, 1e-4f);
                b.sgdMomentumStep(wt, g, v, 0.05f, 0.9f, 1e-4f);
            }
            return new Tensor[] {wt, v};
        });
    }

    @Test
    void badArgumentsFailInJavaBeforeAnyNativeCall() {
        Random r = new Random(5);
        Pair a = pair(r, 2, 3, 4);
        Pair c = pair(r, 2, 3, 5);
        assertThrows(IllegalArgumentException.class, () -> gpu.add(a.d, c.d));
        assertThrows(IllegalArgumentException.class, () -> gpu.add(a.d, a.h), "host tensor to the GPU backend");
        Tensor labels = Tensor.ofLongs(new long[] {0, 99}, 2);
        open.add(labels);
        try (Tensor logits = gpu.toDevice(Tensor.of(new float[6], 2, 3))) {
            assertThrows(IllegalArgumentException.class, () -> gpu.softmaxCrossEntropy(logits, labels));
        }
    }

    @Test
    void outOfMemoryIsAClearExceptionAndTheDeviceStaysUsable() {
        long huge = gpu.cudaDevice().allocator().raw().totalBytes() * 2;
        var e = assertThrows(dev.sevnet.backend.DeviceOutOfMemoryException.class,
                () -> gpu.allocate(Shape.of(huge / 4), dev.sevnet.tensor.DType.FLOAT32));
        assertTrue(e.getMessage().contains("out of memory on cuda:0"), e.getMessage());
        Random r = new Random(6);
        Pair a = pair(r, 100);
        same("after OOM", b -> new Tensor[] {b.relu(a.on(b))});
    }

    /** Access to the package-independent depthwise helper. */
    static final class OpChecksAccess {
        static ConvSpec depthwise(ConvSpec w, long c) {
            return dev.sevnet.backend.OpChecks.depthwise(w, c);
        }
    }
}
