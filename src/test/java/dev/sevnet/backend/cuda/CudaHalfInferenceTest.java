package dev.sevnet.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.autograd.GradMode;
import dev.sevnet.autograd.Var;
import dev.sevnet.backend.ConvSpec;
import dev.sevnet.backend.cpu.CpuBackend;
import dev.sevnet.infer.FoldedSevNet;
import dev.sevnet.infer.FoldedSevNetTest;
import dev.sevnet.nn.SevNet;
import dev.sevnet.nn.SevNetConfig;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.nio.ByteBuffer;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The CUDA backend's bf16 / fp16 inference ops against the CPU backend's 16-bit reference ops (which round at the
 * same points), and a 16-bit FoldedSevNet on the GPU against fp32 on the CPU within the tolerance that
 * {@code HalfPrecisionInferenceTest} states and measures without a GPU. Skipped, with the reason, without a GPU.
 *
 * <p>Element-wise ops (cast, relu, add+relu, channel scale, average pool, concat) must agree bit for bit: same
 * fp32 arithmetic, same order, one rounding. Convolutions go through cuDNN (another accumulation order, tensor
 * cores), so they are compared norm-wise: a few 16-bit ulps.
 */
@Tag("gpu")
class CudaHalfInferenceTest {
    static CudaBackend gpu;
    static final CpuBackend cpu = CpuBackend.get();

    @BeforeAll
    static void needGpu() {
        gpu = CudaBackendOpsTest.usableGpu();
    }

    static Tensor rand16(Random r, DType dt, double scale, long... dims) {
        try (Tensor f = CudaBackendOpsTest.rand(r, dims); Tensor s = cpu.scale(f, (float) scale)) {
            return cpu.cast(s, dt);
        }
    }

    static short[] bits(Tensor t) {
        try (Tensor h = t.device().isCpu() ? t.copy() : t.toHostCopy()) {
            ByteBuffer b = h.hostBuffer();
            short[] s = new short[Math.toIntExact(h.size())];
            for (int i = 0; i < s.length; i++) {
                s[i] = b.getShort(2 * i);
            }
            return s;
        }
    }

    static void assertSameBits(Tensor expected, Tensor actual, String what) {
        assertEquals(expected.dtype(), actual.dtype(), what);
        assertEquals(expected.shape(), actual.shape(), what);
        short[] e = bits(expected);
        short[] a = bits(actual);
        for (int i = 0; i < e.length; i++) {
            assertEquals(e[i], a[i], what + ": element " + i);
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void elementwiseOpsMatchTheCpuBitForBit(DType dt) {
        Random r = new Random(1);
        try (TensorScope scope = TensorScope.open()) {
            Tensor xf = CudaBackendOpsTest.rand(r, 2, 6, 3, 9, 10);
            Tensor x16 = cpu.cast(xf, dt);
            Tensor gx16 = gpu.cast(gpu.toDevice(xf), dt);
            assertSameBits(x16, gx16, "cast fp32 -> " + dt);
            float[] back = gpu.cast(gx16, DType.FLOAT32).toFloatArray();
            assertTrue(java.util.Arrays.equals(cpu.cast(x16, DType.FLOAT32).toFloatArray(), back), "cast back");

            Tensor b16 = rand16(r, dt, 1, 2, 6, 3, 9, 10);
            Tensor gb16 = gpu.toDevice(b16);
            assertSameBits(cpu.relu(x16), gpu.relu(gx16), "relu");
            assertSameBits(cpu.addRelu(x16, b16), gpu.addRelu(gx16, gb16), "add+relu");

            Tensor g = CudaBackendOpsTest.rand(r, 2, 6);
            assertSameBits(cpu.channelScale(x16, g), gpu.channelScale(gx16, gpu.toDevice(g)), "channel scale");

            ConvSpec window = new ConvSpec(1, 3, 3, 1, 2, 2, 0, 1, 1, 1);
            assertSameBits(cpu.avgPool3d(x16, window), gpu.avgPool3d(gx16, window), "avg-pool");

            assertSameBits(cpu.concatChannels(x16, b16), gpu.concatChannels(gx16, gb16), "concat");

            Tensor gp = gpu.globalAvgPool(gx16);
            assertEquals(DType.FLOAT32, gp.dtype());
            assertTrue(CudaBackendOpsTest.relError(cpu.globalAvgPool(x16), gp) <= 1e-6, "global avg-pool");
        }
    }

    /**
     * The device converts fp16 with the hardware's cvt instructions, the host with integer code (sev_half.cuh):
     * every one of the 65536 fp16 patterns widened, and every fp32 value at and beside the midpoints of adjacent
     * fp16 values (ties to even, subnormals, the overflow edge) narrowed, must give the same bits; a NaN only has
     * to stay a NaN (the hardware's canonical NaN has another payload).
     */
    @Test
    void fp16ConversionsOnTheDeviceMatchTheHostForEveryPattern() {
        try (TensorScope scope = TensorScope.open()) {
            Tensor all = Tensor.empty(Shape.of(65536), DType.FLOAT16);
            ByteBuffer b = all.hostBuffer();
            for (int i = 0; i < 65536; i++) {
                b.putShort(2 * i, (short) i);
            }
            float[] host = cpu.cast(all, DType.FLOAT32).toFloatArray();
            float[] dev = gpu.cast(gpu.toDevice(all), DType.FLOAT32).toFloatArray();
            for (int i = 0; i < 65536; i++) {
                if (Float.isNaN(host[i])) {
                    assertTrue(Float.isNaN(dev[i]), "fp16 pattern " + i + " widened");
                } else {
                    assertEquals(Float.floatToRawIntBits(host[i]), Float.floatToRawIntBits(dev[i]),
                            "fp16 pattern " + i + " widened");
                }
            }
            // narrowing: each non-NaN fp16 value v and the next one up w give v, w, their midpoint and its
            // neighbours one fp32 ulp away (the three rounding cases), both signs
            float[] probes = new float[65536 * 4];
            int n = 0;
            for (int i = 0; i < 0x7c00; i++) {
                float v = dev[i];
                float w = i + 1 < 0x7c00 ? dev[i + 1] : 65536f; // 65520 = the midpoint to "65536" rounds up to inf
                float mid = (float) (((double) v + w) / 2);
                probes[n++] = mid;
                probes[n++] = Math.nextDown(mid);
                probes[n++] = Math.nextUp(mid);
                probes[n++] = -v;
            }
            Tensor p = Tensor.of(java.util.Arrays.copyOf(probes, n), n);
            short[] h16 = bits(cpu.cast(p, DType.FLOAT16));
            short[] d16 = bits(gpu.cast(gpu.toDevice(p), DType.FLOAT16));
            for (int i = 0; i < n; i++) {
                assertEquals(h16[i], d16[i], "fp32 " + probes[i] + " narrowed to fp16");
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"BFLOAT16, 1, 1e-2", "BFLOAT16, 3, 1e-2", "BFLOAT16, 0, 1e-2", "FLOAT16, 1, 2e-3",
        "FLOAT16, 3, 2e-3", "FLOAT16, 0, 2e-3"})
    void convolutionsMatchTheCpuReference(DType dt, int which, double rtol) {
        // 0: the stem's 1x7x7 stride 2, 1: the block's 1x1x1, 3: grouped 1x3x3 stride 2 and the 3x1x1
        Random r = new Random(2 + which);
        ConvSpec[] specs = which == 0 ? new ConvSpec[] {new ConvSpec(1, 7, 7, 1, 2, 2, 0, 3, 3, 1)}
                : which == 1 ? new ConvSpec[] {ConvSpec.of(1)}
                : new ConvSpec[] {new ConvSpec(1, 3, 3, 1, 2, 2, 0, 1, 1, 4), new ConvSpec(3, 1, 1, 1, 1, 1, 1, 0, 0, 1)};
        for (ConvSpec spec : specs) {
            try (TensorScope scope = TensorScope.open()) {
                long cin = which == 0 ? 3 : 16;
                long cout = 16;
                Tensor x = rand16(r, dt, 1, 2, cin, 4, 14, 14);
                Tensor w = rand16(r, dt, 1.0 / Math.sqrt(cin * spec.kernelVolume() / spec.groups()), cout,
                        cin / spec.groups(), spec.kT(), spec.kH(), spec.kW());
                Tensor b = CudaBackendOpsTest.rand(r, cout);
                Shape out = spec.outputShape(x.shape(), cout);
                Tensor res = rand16(r, dt, 1, out.get(0), out.get(1), out.get(2), out.get(3), out.get(4));
                Tensor gx = gpu.toDevice(x);
                Tensor gw = gpu.toDevice(w);
                Tensor gb = gpu.toDevice(b);
                Tensor gres = gpu.toDevice(res);
                double e1 = CudaBackendOpsTest.relError(cpu.conv3d(x, w, b, spec, true), gpu.conv3d(gx, gw, gb, spec, true));
                double e2 = CudaBackendOpsTest.relError(cpu.conv3d(x, w, null, spec, false),
                        gpu.conv3d(gx, gw, null, spec, false));
                double e3 = CudaBackendOpsTest.relError(cpu.conv3dResidual(x, w, b, spec, res, true),
                        gpu.conv3dResidual(gx, gw, gb, spec, gres, true));
                System.out.printf("%s conv %s: rel. error bias+relu %.2e, raw %.2e, residual %.2e%n", dt, spec, e1, e2, e3);
                assertTrue(e1 <= rtol && e2 <= rtol && e3 <= rtol, dt + " " + spec + ": " + e1 + " " + e2 + " " + e3);
                assertEquals(dt, gpu.conv3d(gx, gw, gb, spec, true).dtype());
            }
        }
    }

    @Test
    void unsupportedSixteenBitCallsFailBeforeAnyNativeCall() {
        try (TensorScope scope = TensorScope.open()) {
            Tensor b16 = gpu.allocate(Shape.of(1, 2, 1, 3, 3), DType.BFLOAT16);
            Tensor h16 = gpu.allocate(Shape.of(1, 2, 1, 3, 3), DType.FLOAT16);
            Tensor w32 = gpu.allocate(Shape.of(2, 2, 1, 1, 1), DType.FLOAT32);
            assertThrows(IllegalArgumentException.class, () -> gpu.conv3d(b16, w32, null, ConvSpec.of(1), false));
            assertThrows(IllegalArgumentException.class, () -> gpu.addRelu(b16, h16));
            assertThrows(IllegalArgumentException.class, () -> gpu.add(b16, h16));  // 16-bit add exists, mixed does not
            assertThrows(IllegalArgumentException.class, () -> gpu.sigmoid(b16));
            assertThrows(IllegalArgumentException.class, () -> gpu.cast(b16, DType.FLOAT16));
            // 16-bit backward passes exist (mixed-precision training), but not over mixed dtypes
            assertThrows(IllegalArgumentException.class, () -> gpu.conv3dBackwardData(b16, w32, ConvSpec.of(1),
                    b16.shape()));
            assertThrows(IllegalArgumentException.class, () -> gpu.conv3dBackwardData(b16,
                    gpu.allocate(Shape.of(2, 2, 1, 1, 1), DType.FLOAT16), ConvSpec.of(1), b16.shape()));
        }
    }

    /**
     * The 16-bit folded model on the GPU against (a) the CPU emulation of the same rounding points and (b) fp32 on
     * the CPU, with the tolerance HalfPrecisionInferenceTest states (bf16 1e-2, fp16 2e-3 of the logits' range).
     */
    @ParameterizedTest
    @CsvSource({"sevnet-g2, BFLOAT16, 1e-2", "sevnet-g2, FLOAT16, 2e-3", "sevnet-se-g2, BFLOAT16, 1e-2",
        "sevnet-se-g2, FLOAT16, 2e-3"})
    void sixteenBitModelOnTheGpuMatchesFp32WithinTheStatedTolerance(String model, DType dt, double tol) {
        int n = 4;
        int k = 10;
        Random r = new Random(3);
        try (SevNet net = SevNet.create(SevNetConfig.parse(model, k), 7);
                Tensor x = CudaBackendOpsTest.rand(r, n, 3, 8, 32, 32)) {
            FoldedSevNetTest.randomizeBatchNorms(net, 5);
            net.eval();
            try (FoldedSevNet f32 = FoldedSevNet.fold(net); FoldedSevNet emu = FoldedSevNet.fold(net, dt);
                    FoldedSevNet onGpu = FoldedSevNet.fold(net, dt); GradMode.Guard g = GradMode.noGrad();
                    TensorScope scope = TensorScope.open()) {
                onGpu.to(gpu);
                float[] y32 = f32.forward(Var.of(x)).value().toFloatArray();
                float[] yEmu = emu.forward(Var.of(x)).value().toFloatArray();
                Tensor yg = onGpu.forward(Var.of(gpu.toDevice(x))).value();
                assertEquals(DType.FLOAT32, yg.dtype());
                float[] yGpu = yg.toFloatArray();
                double lo = Double.POSITIVE_INFINITY;
                double hi = Double.NEGATIVE_INFINITY;
                double d32 = 0;
                double dEmu = 0;
                for (int i = 0; i < y32.length; i++) {
                    assertTrue(Float.isFinite(yGpu[i]), "non-finite GPU logit");
                    lo = Math.min(lo, y32[i]);
                    hi = Math.max(hi, y32[i]);
                    d32 = Math.max(d32, Math.abs((double) yGpu[i] - y32[i]));
                    dEmu = Math.max(dEmu, Math.abs((double) yGpu[i] - yEmu[i]));
                }
                double range = Math.max(hi - lo, 1e-12);
                System.out.printf("%s %s on %s: vs fp32 %.2e, vs CPU emulation %.2e of the logit range%n", model, dt,
                        gpu.name(), d32 / range, dEmu / range);
                assertTrue(d32 / range <= tol, "vs fp32: " + d32 / range);
                assertTrue(dEmu / range <= tol, "vs the CPU emulation: " + dEmu / range);
                for (int j = 0; j < n; j++) {
                    int a = 0;
                    int b = 0;
                    double lead = Double.POSITIVE_INFINITY;
                    for (int c = 1; c < k; c++) {
                        a = y32[j * k + c] > y32[j * k + a] ? c : a;
                        b = yGpu[j * k + c] > yGpu[j * k + b] ? c : b;
                    }
                    for (int c = 0; c < k; c++) {
                        if (c != a) {
                            lead = Math.min(lead, y32[j * k + a] - y32[j * k + c]);
                        }
                    }
                    if (lead > 2 * tol * range) {
                        assertEquals(a, b, "top-1 of clip " + j);
                    }
                }
            }
        }
    }
}
