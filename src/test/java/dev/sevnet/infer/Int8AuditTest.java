package dev.sevnet.infer;

import dev.sevnet.autograd.GradMode;
import dev.sevnet.autograd.Var;
import dev.sevnet.backend.Backends;
import dev.sevnet.backend.cpu.Int8Ops;
import dev.sevnet.backend.cpu.QTensor;
import dev.sevnet.nn.SevNet;
import dev.sevnet.nn.SevNetConfig;
import dev.sevnet.tensor.MemoryFormat;
import dev.sevnet.tensor.MemoryStats;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Defects an audit of the int8 path found, each pinned here. */
class Int8AuditTest {

    private static float[] logits(dev.sevnet.nn.Module m, Tensor x) {
        try (GradMode.Guard g = GradMode.noGrad(); TensorScope s = TensorScope.open()) {
            return m.forward(Var.of(x)).value().toFloatArray();
        }
    }

    /**
     * A NaN in a calibration clip used to be taken: the range recorder skips it for min/max but its sum
     * (the bias correction's input mean) became NaN, so the stem's int8 bias was NaN and every stem output
     * 0 — a silently broken model. An empty clip ({@code N = 0}) calibrated nothing (every scale fell back
     * to 1). Both are now refused, as the Predictor refuses a non-finite clip to predict.
     */
    @Test
    void nonFiniteOrEmptyCalibrationClipsAreRefused() {
        long before = MemoryStats.liveHostBytes();
        try (SevNet net = SevNet.create(SevNetConfig.parse("sevnet-g2", 4), 1);
                Tensor good = FoldedSevNetTest.randomClips(Shape.of(1, 3, 4, 16, 16), 2)) {
            net.eval();
            try (FoldedSevNet f = FoldedSevNet.fold(net)) {
                for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
                    float[] v = good.toFloatArray();
                    v[17] = bad;
                    try (Tensor clip = Tensor.of(v, good.shape())) {
                        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                                () -> QuantizedSevNet.quantize(f, List.of(good, clip)).close(), "value " + bad);
                        assertTrue(e.getMessage().contains("non-finite"), e.getMessage());
                    }
                }
                try (Tensor empty = Tensor.empty(Shape.of(0, 3, 4, 16, 16))) {
                    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                            () -> QuantizedSevNet.quantize(f, List.of(empty)).close());
                    assertTrue(e.getMessage().contains("at least one clip"), e.getMessage());
                }
                java.util.ArrayList<Tensor> withNull = new java.util.ArrayList<>();
                withNull.add(null);
                assertThrows(IllegalArgumentException.class, () -> QuantizedSevNet.quantize(f, withNull).close());
            }
        }
        assertEquals(before, MemoryStats.liveHostBytes(), "nothing leaked by the refusals");
    }

    /**
     * The folded fp32 model takes channels-last (NDHWC) clips; the int8 model quantised their bytes as if
     * they were NCDHW (channels and positions mixed up, wrong logits, no error), and calibrating on one
     * threw an IllegalStateException from a buffer view. Both now read the clip in its logical order.
     */
    @Test
    void channelsLastClipsGiveTheSameInt8Logits() {
        long before = MemoryStats.liveHostBytes();
        try (SevNet net = SevNet.create(SevNetConfig.parse("sevnet-g2", 10), 7);
                Tensor calib = FoldedSevNetTest.randomClips(Shape.of(2, 3, 4, 32, 32), 31);
                Tensor x = FoldedSevNetTest.randomClips(Shape.of(2, 3, 4, 32, 32), 34);
                Tensor xcl = Backends.of(x).toMemoryFormat(x, MemoryFormat.CHANNELS_LAST);
                Tensor calibCl = Backends.of(calib).toMemoryFormat(calib, MemoryFormat.CHANNELS_LAST)) {
            assertTrue(xcl.isChannelsLast() && calibCl.isChannelsLast());
            FoldedSevNetTest.randomizeBatchNorms(net, 5);
            net.eval();
            try (FoldedSevNet f = FoldedSevNet.fold(net);
                    QuantizedSevNet q = QuantizedSevNet.quantize(f, List.of(calib))) {
                float[] expected = logits(q, x);
                assertArrayEquals(expected, logits(q, xcl), "int8 logits of the NDHWC copy of the clip");
                try (QuantizedSevNet qCl = QuantizedSevNet.quantize(f, List.of(calibCl))) {
                    assertArrayEquals(expected, logits(qCl, x), "calibrated on the NDHWC copy of the clips");
                }
            }
        }
        assertEquals(before, MemoryStats.liveHostBytes(), "the NCDHW copies are freed");
    }

    /**
     * Squeeze-excite's fused tail {@code relu(x * g + r * rs)} is defined (and documented) with two
     * roundings, the multiply then the add, like channel scale -> dequantise -> add + ReLU. The AVX-512 form
     * wrote {@code _mm512_add_ps(v, _mm512_mul_ps(r, rs))} right after {@code v = _mm512_mul_ps(x, g)};
     * GCC's intrinsics are plain vector operators, and with -ffp-contract=fast (the gnu++17 default) in an
     * fma-enabled function it fused {@code x * g} and the add into one vfmadd: one rounding fewer, a
     * different byte about once in 4 million values, and VNNI machines disagreeing with the scalar path.
     * These twelve cases were searched for exactly that disagreement (two roundings vs fused differ by one
     * code on each). On a CPU without AVX-512 VNNI the scalar path runs and this passes either way; on a
     * VNNI CPU it failed before the add was made the explicit-rounding {@code _mm512_add_round_ps}.
     */
    @Test
    void gatedQuantiseRoundsTheGateProductBeforeTheResidualAdd() {
        // x, gate, residual code, residual scale, output scale
        float[][] cases = {
            {0x1.043822p+2f, 0x1.961584p-1f, 77, 0x1.3ac308p-5f, 0x1.8e11dep-6f},
            {0x1.8548ccp+1f, 0x1.091848p-3f, 110, 0x1.b58e7cp-6f, 0x1.0a3fcp-5f},
            {0x1.578438p+2f, 0x1.d6503ep-1f, 201, 0x1.266fa4p-5f, 0x1.06b8ecp-4f},
            {0x1.409098p+1f, 0x1.bde84ep-2f, 6, 0x1.1ab744p-5f, 0x1.471524p-5f},
            {0x1.3b736cp+1f, 0x1.c8e674p-1f, 104, 0x1.b36452p-6f, 0x1.6ca208p-5f},
            {0x1.0b8a6cp+1f, 0x1.b4960cp-1f, 113, 0x1.7e31c2p-6f, 0x1.2ee22p-5f},
            {0x1.200e04p+2f, 0x1.0e12f4p-2f, 168, 0x1.ca8726p-6f, 0x1.a90794p-5f},
            {0x1.05e064p+2f, 0x1.dbe888p-1f, 72, 0x1.80786cp-5f, 0x1.0a3d98p-4f},
            {0x1.f414ccp+1f, 0x1.9c801ap-1f, 151, 0x1.dabfe4p-6f, 0x1.e35d7ap-5f},
            {0x1.18411cp+1f, 0x1.d1940ap-1f, 166, 0x1.de9a1ep-6f, 0x1.1c6fc4p-4f},
            {-0x1.12534ep+1f, 0x1.3bd944p-1f, 184, 0x1.b25324p-6f, 0x1.df75d8p-6f},
            {0x1.2b6b32p+2f, 0x1.cfc84ep-1f, 228, 0x1.2f0af4p-6f, 0x1.017bep-4f},
        };
        int c = cases.length;
        int s = 37;   // positions: two full 16-lane vectors and a ragged one
        Shape shape = Shape.of(1, c, 1, 1, s);
        float[] x = new float[c * s];
        float[] gate = new float[c];
        float[] resReal = new float[c * s];
        float[] resScale = new float[c];
        float[] outScale = new float[c];
        for (int ch = 0; ch < c; ch++) {
            gate[ch] = cases[ch][1];
            resScale[ch] = cases[ch][3];
            outScale[ch] = cases[ch][4];
            for (int i = 0; i < s; i++) {
                x[ch * s + i] = cases[ch][0];
                resReal[ch * s + i] = cases[ch][2] * cases[ch][3];
            }
        }
        long before = MemoryStats.liveHostBytes();
        try (Tensor xt = Tensor.of(x, shape); Tensor g = Tensor.of(gate, Shape.of(1, c));
                Tensor rt = Tensor.of(resReal, shape); QTensor res = Int8Ops.quantize(rt, resScale, 0);
                QTensor out = QTensor.empty(shape, outScale, 0)) {
            Int8Ops.quantizeGatedInto(xt, g, res, out, 0);
            for (int ch = 0; ch < c; ch++) {
                int r = res.get(0, ch, 0, 0, 0);
                float xg = cases[ch][0] * gate[ch];          // rounded to float: Java never fuses
                float v = xg + r * resScale[ch];
                v = v > 0 ? v : 0;
                float t = v * (1f / outScale[ch]);
                int expected = (int) Math.max(0, Math.min(255, Math.rint(t)));
                for (int i = 0; i < s; i++) {
                    assertEquals(expected, out.get(0, ch, 0, 0, i), "case " + ch + " position " + i);
                }
            }
        }
        assertEquals(before, MemoryStats.liveHostBytes());
    }
}
