package dev.sevnet.kernels;

import static dev.sevnet.kernels.KernelTestSupport.ok;
import static dev.sevnet.kernels.KernelTestSupport.params;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.sevnet.backend.cpu.NativeCore;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Half;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The channels-last glue's kernel bodies (kernels/channels_ndhwc.cuh) run on the host by their drivers
 * ({@code sev_hostrun_*}: the transposes tile by tile, the element-wise kernels along their grid-stride walks, the
 * column reductions block by block in the device's tree order) against the CPU references {@code sev_*_ndhwc*}
 * (transpose to NCDHW, the NCDHW op, transpose back; 16-bit: widen, the fp32 op, round once), for fp32, bf16 and
 * fp16 storage (dtype 0, 1, 2) and 4- and 2-byte bit copies.
 *
 * <p>Tolerances. Bit for bit wherever the body does the reference's arithmetic in the reference's order: the
 * transposes, concat/split (bit copies; arbitrary bit patterns, NaNs included, survive a round trip), the conv
 * epilogue ((y + bias) + residual, ReLU, one rounding), the SE scale and dx of its backward (one product), the
 * global pool's backward (one division) and the 3-d average pool forward and backward (the same window walk and the
 * CPU scatter's order, in fp32). The column reductions (global pool forward, dg of the SE backward) sum in double
 * in another order than the CPU (S cut into the device's splits, 32 strided shares of each then a tree, the splits'
 * partials added in order, against one running sum): the double sums differ by ~1e-16 relative, so after the
 * rounding to float the results differ at most by one float ulp — checked as |got - ref| <= 1e-6 |ref| + 1e-9.
 */
class ChannelsNdhwcHostRunTest {
    static final int F32 = 0, BF16 = 1, F16 = 2;
    static final int[] DTYPES = {F32, BF16, F16};

    // {N, C, S}: C = 1, 3, 33, 70 (below, across and past a 32-channel tile, ragged tiles), S = 1, 7, 49, N 1..3
    static final long[][] RAGGED = {{1, 1, 1}, {2, 3, 7}, {3, 33, 49}, {1, 70, 7}, {2, 1, 49}, {1, 3, 1},
        {3, 70, 1}, {2, 33, 7}, {1, 70, 49}};
    // SEVNet-G8's widths (stem 32, stages 64/128/256/512) at a small T*H*W
    static final long[][] G8 = {{2, 32, 16}, {2, 64, 9}, {1, 128, 6}, {2, 256, 4}, {1, 512, 3}};

    static long[][] allShapes() {
        long[][] all = Arrays.copyOf(RAGGED, RAGGED.length + G8.length);
        System.arraycopy(G8, 0, all, RAGGED.length, G8.length);
        return all;
    }

    static DType dtypeOf(int code) {
        return code == F32 ? DType.FLOAT32 : code == BF16 ? DType.BFLOAT16 : DType.FLOAT16;
    }

    static String dtName(int code) {
        return code == F32 ? "fp32" : code == BF16 ? "bf16" : "fp16";
    }

    /** Gaussian values stored in the dtype (16-bit: rounded to nearest even). */
    static Tensor randn(Random r, int code, long n) {
        Tensor t = Tensor.empty(Shape.of(Math.max(n, 1)), dtypeOf(code));  // an empty operand: one unread element
        ByteBuffer b = t.hostBuffer();
        for (int i = 0; i < n; i++) {
            float v = (float) r.nextGaussian();
            if (code == F32) {
                b.putFloat(4 * i, v);
            } else {
                b.putShort(2 * i, code == BF16 ? Half.floatToBf16(v) : Half.fromFloat(v));
            }
        }
        return t;
    }

    static Tensor randnF32(Random r, long n) {
        return randn(r, F32, n);
    }

    /** Arbitrary bit patterns (NaNs and infinities included) of 4- or 2-byte elements. */
    static Tensor randomBits(Random r, int elemBytes, long n) {
        Tensor t = Tensor.empty(Shape.of(Math.max(n, 1)), elemBytes == 4 ? DType.FLOAT32 : DType.BFLOAT16);
        ByteBuffer b = t.hostBuffer();
        for (int i = 0; i < b.capacity(); i++) {
            b.put(i, (byte) r.nextInt());
        }
        return t;
    }

    /** All bytes 0xff (NaN in fp32, bf16 and fp16): an element the code under test leaves unwritten shows up. */
    static Tensor poison(int code, long n) {
        Tensor t = Tensor.empty(Shape.of(Math.max(n, 1)), dtypeOf(code));
        ByteBuffer b = t.hostBuffer();
        for (int i = 0; i < b.capacity(); i++) {
            b.put(i, (byte) 0xff);
        }
        return t;
    }

    static Tensor poisonBytes(int elemBytes, long n) {
        return poison(elemBytes == 4 ? F32 : BF16, n);
    }

    static Tensor copy(Tensor t) {
        Tensor c = Tensor.empty(t.shape(), t.dtype());
        c.hostBuffer().put(t.hostBuffer());
        return c;
    }

    static void assertSameBits(Tensor expected, Tensor actual, String what) {
        ByteBuffer e = expected.hostBuffer(), a = actual.hostBuffer();
        assertEquals(e.capacity(), a.capacity(), what + ": size");
        int w = expected.dtype() == DType.FLOAT32 ? 4 : 2;
        for (int i = 0; i < e.capacity(); i += w) {
            int ev = w == 4 ? e.getInt(i) : e.getShort(i), av = w == 4 ? a.getInt(i) : a.getShort(i);
            if (ev != av) {
                fail(what + "[" + i / w + "]: expected bits " + Integer.toHexString(ev) + ", got "
                        + Integer.toHexString(av));
            }
        }
    }

    /** A double-summed float result: within one float ulp of the reference (see the class comment). */
    static void assertReduced(Tensor expected, Tensor actual, String what) {
        KernelTestSupport.assertClose(expected, actual, 1e-6, 1e-9, what);
    }

    static String name(long[] s) {
        return Arrays.toString(s);
    }

    // ---------------------------------------------------------------- 1. layout transforms

    @Test
    void transposesMatchTheReferencesBitForBit() {
        Random r = new Random(101);
        for (long[] s : allShapes()) {
            long n = s[0], c = s[1], sp = s[2], count = n * c * sp;
            for (int eb : new int[] {4, 2}) {
                String what = eb + "-byte " + name(s);
                try (TensorScope scope = TensorScope.open()) {
                    Tensor x = eb == 4 ? randnF32(r, count) : randomBits(r, 2, count);
                    Tensor ref = poisonBytes(eb, count), got = poisonBytes(eb, count);
                    if (eb == 4) {
                        ok(NativeCore.sev_ncdhw_to_ndhwc(x.address(), ref.address(), n, c, sp), "reference");
                    } else {
                        ok(NativeCore.sev_ncdhw_to_ndhwc_u16(x.address(), ref.address(), n, c, sp), "reference");
                    }
                    ok(NativeCore.sev_hostrun_ncdhw_to_ndhwc(x.address(), got.address(), n, c, sp, eb), "hostrun");
                    assertSameBits(ref, got, "ncdhw_to_ndhwc " + what);

                    Tensor ref2 = poisonBytes(eb, count), back = poisonBytes(eb, count);
                    if (eb == 4) {
                        ok(NativeCore.sev_ndhwc_to_ncdhw(got.address(), ref2.address(), n, c, sp), "reference");
                    } else {
                        ok(NativeCore.sev_ndhwc_to_ncdhw_u16(got.address(), ref2.address(), n, c, sp), "reference");
                    }
                    ok(NativeCore.sev_hostrun_ndhwc_to_ncdhw(got.address(), back.address(), n, c, sp, eb), "hostrun");
                    assertSameBits(ref2, back, "ndhwc_to_ncdhw " + what);
                    assertSameBits(x, back, "round trip " + what);
                }
            }
        }
    }

    @Test
    void transposesMoveEveryBitPatternAndSpanManyTiles() {
        Random r = new Random(102);
        // several 32 x 32 tiles each way with ragged last tiles; every bit pattern, NaN payloads included; and the
        // narrow form (a side of at most 4: a clip's 3 colour channels over a long S, and the mirror) beside the
        // first width that takes tiles again
        long[][] shapes = {{2, 95, 70}, {1, 33, 1025}, {3, 129, 31}, {2, 3, 5003}, {3, 4, 1031}, {2, 5, 3000},
            {2, 2001, 3}, {1, 1, 777}};
        for (long[] s : shapes) {
            long count = s[0] * s[1] * s[2];
            for (int eb : new int[] {4, 2}) {
                try (TensorScope scope = TensorScope.open()) {
                    Tensor x = randomBits(r, eb, count);
                    Tensor l = poisonBytes(eb, count), back = poisonBytes(eb, count);
                    ok(NativeCore.sev_hostrun_ncdhw_to_ndhwc(x.address(), l.address(), s[0], s[1], s[2], eb), "to");
                    ok(NativeCore.sev_hostrun_ndhwc_to_ncdhw(l.address(), back.address(), s[0], s[1], s[2], eb), "back");
                    assertSameBits(x, back, "bit round trip " + eb + "-byte " + name(s));
                    // element (n, c, s) of [N][C][S] sits at (n, s, c) of [N][S][C]
                    ByteBuffer xb = x.hostBuffer(), lb = l.hostBuffer();
                    long n = s[0] - 1, c = s[1] / 2, p = s[2] - 1;
                    int xi = (int) (((n * s[1] + c) * s[2] + p) * eb), li = (int) (((n * s[2] + p) * s[1] + c) * eb);
                    assertEquals(eb == 4 ? xb.getInt(xi) : xb.getShort(xi), eb == 4 ? lb.getInt(li) : lb.getShort(li),
                            "placement " + name(s));
                }
            }
        }
    }

    /** A conv weight [Cout][Cin/g][kt][kh][kw] becomes cuDNN's NHWC filter [Cout][kt][kh][kw][Cin/g]. */
    @Test
    void weightsBecomeTheNhwcFilterLayout() {
        Random r = new Random(103);
        // the grouped 1x3x3 (8 channels a group), the temporal 3x1x1, the 1x1x1, the stem 3x7x7 on 3 channels
        int[][] ws = {{64, 8, 1, 3, 3}, {70, 70, 3, 1, 1}, {128, 64, 1, 1, 1}, {32, 3, 3, 7, 7}};
        for (int[] w : ws) {
            int cout = w[0], cin = w[1], k = w[2] * w[3] * w[4];
            long count = (long) cout * cin * k;
            for (int eb : new int[] {4, 2}) {
                try (TensorScope scope = TensorScope.open()) {
                    Tensor x = randomBits(r, eb, count);
                    Tensor y = poisonBytes(eb, count);
                    ok(NativeCore.sev_hostrun_ncdhw_to_ndhwc(x.address(), y.address(), cout, cin, k, eb), "weight");
                    ByteBuffer xb = x.hostBuffer(), yb = y.hostBuffer();
                    for (int co = 0; co < cout; co++) {
                        for (int ci = 0; ci < cin; ci++) {
                            for (int kk = 0; kk < k; kk++) {
                                int xi = ((co * cin + ci) * k + kk) * eb, yi = ((co * k + kk) * cin + ci) * eb;
                                int xv = eb == 4 ? xb.getInt(xi) : xb.getShort(xi);
                                int yv = eb == 4 ? yb.getInt(yi) : yb.getShort(yi);
                                if (xv != yv) {
                                    fail("weight " + Arrays.toString(w) + " w[" + co + "][" + ci + "][" + kk + "]");
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------- 2. conv epilogue

    @Test
    void biasActMatchesTheReferenceBitForBit() {
        Random r = new Random(201);
        for (long[] s : allShapes()) {
            long m = s[0] * s[2], c = s[1];
            for (int dt : DTYPES) {
                for (int variant = 0; variant < 8; variant++) {
                    boolean bias = (variant & 1) != 0, res = (variant & 2) != 0;
                    int relu = (variant >> 2) & 1;
                    String what = dtName(dt) + " " + name(s) + " bias " + bias + " residual " + res + " relu " + relu;
                    try (TensorScope scope = TensorScope.open()) {
                        Tensor y = randn(r, dt, m * c);
                        Tensor b = randnF32(r, c);
                        Tensor rs = randn(r, dt, m * c);
                        Tensor yRef = copy(y);
                        long pb = bias ? b.address() : 0, pr = res ? rs.address() : 0;
                        ok(NativeCore.sev_bias_act_ndhwc(yRef.address(), pb, pr, m, c, relu, dt), "reference");
                        ok(NativeCore.sev_hostrun_bias_act_ndhwc(y.address(), pb, pr, m, c, relu, dt), "hostrun");
                        assertSameBits(yRef, y, "bias_act_ndhwc " + what);
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------- 3. squeeze-excite scale

    @Test
    void channelScaleForwardMatchesTheReferenceBitForBit() {
        Random r = new Random(301);
        for (long[] s : allShapes()) {
            long n = s[0], c = s[1], sp = s[2], count = n * c * sp;
            for (int dt : DTYPES) {
                try (TensorScope scope = TensorScope.open()) {
                    Tensor x = randn(r, dt, count);
                    Tensor g = randnF32(r, n * c);
                    Tensor ref = poison(dt, count), got = poison(dt, count);
                    ok(NativeCore.sev_channel_scale_ndhwc_forward(x.address(), g.address(), ref.address(), n, c, sp,
                            dt), "reference");
                    ok(NativeCore.sev_hostrun_channel_scale_ndhwc_forward(x.address(), g.address(), got.address(), n,
                            c, sp, dt), "hostrun");
                    assertSameBits(ref, got, "channel_scale_ndhwc_forward " + dtName(dt) + " " + name(s));
                }
            }
        }
    }

    @Test
    void channelScaleBackwardMatchesTheReference() {
        Random r = new Random(302);
        // long columns: many rows per thread, and the tree; S split over blocks (P > 1, ragged splits: S % P != 0);
        // one position per item (P = 1, most row lanes empty)
        long[][] extra = {{2, 64, 3001}, {1, 33, 1000}, {2, 70, 50000}, {8, 64, 1}};
        long[][] shapes = Arrays.copyOf(allShapes(), allShapes().length + extra.length);
        System.arraycopy(extra, 0, shapes, allShapes().length, extra.length);
        for (long[] s : shapes) {
            long n = s[0], c = s[1], sp = s[2], count = n * c * sp;
            try (TensorScope scope = TensorScope.open()) {
                Tensor x = randnF32(r, count), dy = randnF32(r, count), g = randnF32(r, n * c);
                Tensor dxRef = poison(F32, count), dx = poison(F32, count);
                Tensor dgRef = poison(F32, n * c), dg = poison(F32, n * c);
                ok(NativeCore.sev_channel_scale_ndhwc_backward(x.address(), g.address(), dy.address(),
                        dxRef.address(), dgRef.address(), n, c, sp), "reference");
                ok(NativeCore.sev_hostrun_channel_scale_ndhwc_backward(x.address(), g.address(), dy.address(),
                        dx.address(), dg.address(), n, c, sp), "hostrun");
                assertSameBits(dxRef, dx, "channel_scale_ndhwc_backward dx " + name(s));
                assertReduced(dgRef, dg, "channel_scale_ndhwc_backward dg " + name(s));
            }
        }
    }

    // ---------------------------------------------------------------- 4. global average pool

    @Test
    void globalAvgPoolMatchesTheReference() {
        Random r = new Random(401);
        // S split over blocks (P = 98 splits of 510 or 511 rows at {2, 70, 50000}; 6 at {2, 70, 3001}); S = 1
        long[][] extra = {{2, 70, 3001}, {1, 512, 392}, {2, 70, 50000}, {8, 64, 1}};
        long[][] shapes = Arrays.copyOf(allShapes(), allShapes().length + extra.length);
        System.arraycopy(extra, 0, shapes, allShapes().length, extra.length);
        for (long[] s : shapes) {
            long n = s[0], c = s[1], sp = s[2], count = n * c * sp;
            for (int dt : DTYPES) {
                String what = dtName(dt) + " " + name(s);
                try (TensorScope scope = TensorScope.open()) {
                    Tensor x = randn(r, dt, count);
                    Tensor ref = poison(F32, n * c), got = poison(F32, n * c);
                    ok(NativeCore.sev_global_avgpool_ndhwc_forward(x.address(), ref.address(), n, c, sp, dt),
                            "reference");
                    ok(NativeCore.sev_hostrun_global_avgpool_ndhwc_forward(x.address(), got.address(), n, c, sp, dt),
                            "hostrun");
                    assertReduced(ref, got, "global_avgpool_ndhwc_forward " + what);

                    Tensor dy = randnF32(r, n * c);
                    Tensor dxRef = poison(dt, count), dx = poison(dt, count);
                    ok(NativeCore.sev_global_avgpool_ndhwc_backward(dy.address(), dxRef.address(), n, c, sp, dt),
                            "reference");
                    ok(NativeCore.sev_hostrun_global_avgpool_ndhwc_backward(dy.address(), dx.address(), n, c, sp, dt),
                            "hostrun");
                    assertSameBits(dxRef, dx, "global_avgpool_ndhwc_backward " + what);
                }
            }
        }
    }

    // ---------------------------------------------------------------- 5. concat / split

    @Test
    void concatAndSplitAreBitCopiesAsTheReference() {
        Random r = new Random(501);
        // {M, Ca, Cb}: ragged widths, an empty side, the downsample block's two halves at G8 widths
        long[][] cases = {{7, 1, 3}, {49, 33, 70}, {1, 3, 1}, {98, 64, 64}, {12, 128, 128}, {5, 0, 3}, {6, 3, 0},
            {6, 256, 256}, {147, 1, 1}};
        for (long[] cs : cases) {
            long m = cs[0], ca = cs[1], cb = cs[2];
            for (int eb : new int[] {4, 2}) {
                String what = eb + "-byte " + name(cs);
                try (TensorScope scope = TensorScope.open()) {
                    Tensor a = randomBits(r, eb, m * ca), b = randomBits(r, eb, m * cb);
                    Tensor ref = poisonBytes(eb, m * (ca + cb)), got = poisonBytes(eb, m * (ca + cb));
                    if (eb == 4) {
                        // the reference goes through float copies: give it floats (the bit round trip is below)
                        a = randnF32(r, m * ca);
                        b = randnF32(r, m * cb);
                    }
                    ok(NativeCore.sev_concat_channels_ndhwc(a.address(), b.address(), ref.address(), m, ca, cb, eb),
                            "reference");
                    ok(NativeCore.sev_hostrun_concat_channels_ndhwc(a.address(), b.address(), got.address(), m, ca, cb,
                            eb), "hostrun");
                    assertSameBits(ref, got, "concat_channels_ndhwc " + what);

                    Tensor aRef = poisonBytes(eb, m * ca), bRef = poisonBytes(eb, m * cb);
                    Tensor a2 = poisonBytes(eb, m * ca), b2 = poisonBytes(eb, m * cb);
                    ok(NativeCore.sev_split_channels_ndhwc(got.address(), aRef.address(), bRef.address(), m, ca, cb,
                            eb), "reference");
                    ok(NativeCore.sev_hostrun_split_channels_ndhwc(got.address(), a2.address(), b2.address(), m, ca,
                            cb, eb), "hostrun");
                    if (ca > 0) {
                        assertSameBits(aRef, a2, "split_channels_ndhwc a " + what);
                        assertSameBits(a, a2, "split(concat) a " + what);
                    }
                    if (cb > 0) {
                        assertSameBits(bRef, b2, "split_channels_ndhwc b " + what);
                        assertSameBits(b, b2, "split(concat) b " + what);
                    }

                    // every bit pattern through the host-run pair
                    Tensor ab = randomBits(r, eb, m * ca), bb = randomBits(r, eb, m * cb);
                    Tensor yb = poisonBytes(eb, m * (ca + cb));
                    Tensor a3 = poisonBytes(eb, m * ca), b3 = poisonBytes(eb, m * cb);
                    ok(NativeCore.sev_hostrun_concat_channels_ndhwc(ab.address(), bb.address(), yb.address(), m, ca, cb,
                            eb), "hostrun bits");
                    ok(NativeCore.sev_hostrun_split_channels_ndhwc(yb.address(), a3.address(), b3.address(), m, ca, cb,
                            eb), "hostrun bits");
                    if (ca > 0) {
                        assertSameBits(ab, a3, "bit round trip a " + what);
                    }
                    if (cb > 0) {
                        assertSameBits(bb, b3, "bit round trip b " + what);
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------- 6. average pooling 3-d

    // {n, c, t, h, w}, kernel, stride, padding: the shortcut's (1,3,3)/(1,2,2)/(0,1,1) on odd and even H x W (also at
    // G8 widths), a padded and strided 3-d window, a 3x3x3 window at stride 1, a window larger than the input
    static final int[][][] POOLS = {
        {{2, 5, 3, 11, 13}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}},
        {{1, 3, 2, 8, 6}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}},
        {{2, 64, 2, 8, 8}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}},
        {{1, 256, 2, 7, 7}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}},
        {{2, 33, 7, 9, 10}, {3, 3, 2}, {2, 2, 1}, {1, 1, 0}},
        {{1, 70, 4, 5, 5}, {3, 3, 3}, {1, 1, 1}, {1, 1, 1}},
        {{1, 1, 1, 1, 1}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}},
        {{2, 6, 5, 10, 11}, {2, 3, 4}, {1, 3, 4}, {1, 1, 2}}, // strides of 3 and 4: pool_div's real divisions
    };

    @Test
    void avgPool3dForwardAndBackwardMatchTheReferenceBitForBit() {
        Random r = new Random(601);
        for (int[][] cs : POOLS) {
            int[] d = cs[0];
            int[] p = params(d[0], d[1], d[2], d[3], d[4], cs[1], cs[2], cs[3]);
            long in = (long) d[0] * d[1] * d[2] * d[3] * d[4];
            long out = (long) d[0] * d[1] * p[16] * p[17] * p[18];
            for (int dt : DTYPES) {
                String what = dtName(dt) + " " + Arrays.deepToString(cs);
                try (TensorScope scope = TensorScope.open()) {
                    Tensor x = randn(r, dt, in);
                    Tensor ref = poison(dt, out), got = poison(dt, out);
                    ok(NativeCore.sev_avgpool3d_ndhwc_forward(x.address(), ref.address(), p, dt), "reference");
                    ok(NativeCore.sev_hostrun_avgpool3d_ndhwc_forward(x.address(), got.address(), p, dt), "hostrun");
                    assertSameBits(ref, got, "avgpool3d_ndhwc_forward " + what);

                    Tensor dy = randn(r, dt, out);
                    Tensor dxRef = poison(dt, in), dx = poison(dt, in);
                    ok(NativeCore.sev_avgpool3d_ndhwc_backward(dy.address(), dxRef.address(), p, dt), "reference");
                    ok(NativeCore.sev_hostrun_avgpool3d_ndhwc_backward(dy.address(), dx.address(), p, dt), "hostrun");
                    assertSameBits(dxRef, dx, "avgpool3d_ndhwc_backward " + what);
                }
            }
        }
    }

    /** The fp32 channels-last pool transposed is exactly the NCDHW kernel body's result (sev_hostrun_avgpool3d_*). */
    @Test
    void avgPool3dIsTheNcdhwPoolTransposed() {
        Random r = new Random(602);
        int[][] cs = POOLS[0];
        int[] d = cs[0];
        int[] p = params(d[0], d[1], d[2], d[3], d[4], cs[1], cs[2], cs[3]);
        long si = (long) d[2] * d[3] * d[4], so = (long) p[16] * p[17] * p[18];
        long in = d[0] * d[1] * si, out = d[0] * d[1] * so;
        try (TensorScope scope = TensorScope.open()) {
            Tensor x = randnF32(r, in);
            Tensor y = poison(F32, out);
            ok(NativeCore.sev_hostrun_avgpool3d_forward(x.address(), y.address(), p), "ncdhw");
            Tensor xl = poison(F32, in), yl = poison(F32, out), yb = poison(F32, out);
            ok(NativeCore.sev_hostrun_ncdhw_to_ndhwc(x.address(), xl.address(), d[0], d[1], si, 4), "x");
            ok(NativeCore.sev_hostrun_avgpool3d_ndhwc_forward(xl.address(), yl.address(), p, F32), "ndhwc");
            ok(NativeCore.sev_hostrun_ndhwc_to_ncdhw(yl.address(), yb.address(), d[0], d[1], so, 4), "y");
            assertSameBits(y, yb, "avgpool3d ndhwc vs ncdhw");
        }
    }

    // ---------------------------------------------------------------- arguments

    /** The host drivers and the references refuse what the kernels' launchers refuse: SEV_EINVAL and the reason. */
    @Test
    void badArgumentsAreErrorsWithAMessage() {
        try (TensorScope scope = TensorScope.open()) {
            Tensor t = poison(F32, 4096), u = poison(F32, 4096), v = poison(F32, 4096), w = poison(F32, 4096);
            long a = t.address(), b = u.address(), c = v.address(), d = w.address();
            for (boolean host : new boolean[] {true, false}) {
                String who = host ? "hostrun " : "reference ";
                // negative sizes
                expect(host ? NativeCore.sev_hostrun_ncdhw_to_ndhwc(a, b, -1, 3, 3, 4)
                        : NativeCore.sev_ncdhw_to_ndhwc_u16(a, b, -1, 3, 3), who, host ? "ncdhw_to_ndhwc"
                        : "ncdhw_to_ndhwc_u16", "negative size");
                expect(host ? NativeCore.sev_hostrun_bias_act_ndhwc(a, b, c, 3, -2, 0, F32)
                        : NativeCore.sev_bias_act_ndhwc(a, b, c, 3, -2, 0, F32), who, "bias_act_ndhwc",
                        "negative size");
                expect(host ? NativeCore.sev_hostrun_channel_scale_ndhwc_forward(a, b, c, 1, 2, -3, BF16)
                        : NativeCore.sev_channel_scale_ndhwc_forward(a, b, c, 1, 2, -3, BF16), who,
                        "channel_scale_ndhwc_forward", "negative size");
                expect(host ? NativeCore.sev_hostrun_channel_scale_ndhwc_backward(a, b, c, d, a, -1, 2, 3)
                        : NativeCore.sev_channel_scale_ndhwc_backward(a, b, c, d, a, -1, 2, 3), who,
                        "channel_scale_ndhwc_backward", "negative size");
                expect(host ? NativeCore.sev_hostrun_global_avgpool_ndhwc_forward(a, b, 1, -2, 3, F16)
                        : NativeCore.sev_global_avgpool_ndhwc_forward(a, b, 1, -2, 3, F16), who,
                        "global_avgpool_ndhwc_forward", "negative size");
                expect(host ? NativeCore.sev_hostrun_concat_channels_ndhwc(a, b, c, 4, 2, -1, 4)
                        : NativeCore.sev_concat_channels_ndhwc(a, b, c, 4, 2, -1, 4), who, "concat_channels_ndhwc",
                        "negative size");
                // bad dtype and element size
                expect(host ? NativeCore.sev_hostrun_bias_act_ndhwc(a, 0, 0, 3, 2, 0, 3)
                        : NativeCore.sev_bias_act_ndhwc(a, 0, 0, 3, 2, 0, 3), who, "bias_act_ndhwc", "dtype");
                expect(host ? NativeCore.sev_hostrun_global_avgpool_ndhwc_backward(a, b, 1, 2, 3, -1)
                        : NativeCore.sev_global_avgpool_ndhwc_backward(a, b, 1, 2, 3, -1), who,
                        "global_avgpool_ndhwc_backward", "dtype");
                expect(host ? NativeCore.sev_hostrun_split_channels_ndhwc(a, b, c, 4, 2, 2, 8)
                        : NativeCore.sev_split_channels_ndhwc(a, b, c, 4, 2, 2, 8), who, "split_channels_ndhwc",
                        "element size");
                // a bad pooling parameter block: a zero kernel extent, a zero stride
                int[] p0 = params(1, 2, 3, 4, 5, new int[] {1, 3, 3}, new int[] {1, 2, 2}, new int[] {0, 1, 1});
                p0[7] = 0;
                expect(host ? NativeCore.sev_hostrun_avgpool3d_ndhwc_forward(a, b, p0, F32)
                        : NativeCore.sev_avgpool3d_ndhwc_forward(a, b, p0, F32), who, "avgpool3d_ndhwc_forward",
                        "bad parameter block");
                int[] p1 = params(1, 2, 3, 4, 5, new int[] {1, 3, 3}, new int[] {1, 2, 2}, new int[] {0, 1, 1});
                p1[10] = 0;
                expect(host ? NativeCore.sev_hostrun_avgpool3d_ndhwc_backward(a, b, p1, BF16)
                        : NativeCore.sev_avgpool3d_ndhwc_backward(a, b, p1, BF16), who, "avgpool3d_ndhwc_backward",
                        "bad parameter block");
                expect(host ? NativeCore.sev_hostrun_avgpool3d_ndhwc_forward(a, b, p0, 7)
                        : NativeCore.sev_avgpool3d_ndhwc_forward(a, b, p0, 7), who, "avgpool3d_ndhwc_forward",
                        "dtype");
                // NULL pointers a call would touch
                expect(host ? NativeCore.sev_hostrun_channel_scale_ndhwc_forward(a, 0, c, 1, 2, 3, F32)
                        : NativeCore.sev_channel_scale_ndhwc_forward(a, 0, c, 1, 2, 3, F32), who,
                        "channel_scale_ndhwc_forward", "NULL");
                expect(host ? NativeCore.sev_hostrun_concat_channels_ndhwc(a, 0, c, 4, 2, 1, 2)
                        : NativeCore.sev_concat_channels_ndhwc(a, 0, c, 4, 2, 1, 2), who, "concat_channels_ndhwc",
                        "NULL");
                expect(host ? NativeCore.sev_hostrun_global_avgpool_ndhwc_forward(0, b, 1, 2, 3, F32)
                        : NativeCore.sev_global_avgpool_ndhwc_forward(0, b, 1, 2, 3, F32), who,
                        "global_avgpool_ndhwc_forward", "NULL");
                expect(host ? NativeCore.sev_hostrun_channel_scale_ndhwc_backward(a, b, c, d, 0, 1, 2, 3)
                        : NativeCore.sev_channel_scale_ndhwc_backward(a, b, c, d, 0, 1, 2, 3), who,
                        "channel_scale_ndhwc_backward", "NULL");
            }
            // the transposes: bad element size, NULL, in place
            expect(NativeCore.sev_hostrun_ndhwc_to_ncdhw(a, b, 1, 2, 3, 3), "hostrun ", "ndhwc_to_ncdhw",
                    "element size");
            expect(NativeCore.sev_hostrun_ndhwc_to_ncdhw(0, b, 1, 2, 3, 2), "hostrun ", "ndhwc_to_ncdhw", "NULL");
            expect(NativeCore.sev_hostrun_ncdhw_to_ndhwc(a, a, 1, 2, 3, 4), "hostrun ", "ncdhw_to_ndhwc", "in place");
            // nothing to do is no error, whatever the pointers
            ok(NativeCore.sev_hostrun_ncdhw_to_ndhwc(0, 0, 0, 5, 7, 4), "N = 0");
            ok(NativeCore.sev_hostrun_bias_act_ndhwc(0, 0, 0, 0, 5, 1, BF16), "M = 0");
            ok(NativeCore.sev_hostrun_channel_scale_ndhwc_forward(0, 0, 0, 2, 5, 0, F16), "S = 0");
            ok(NativeCore.sev_hostrun_concat_channels_ndhwc(0, 0, 0, 0, 3, 3, 2), "M = 0");
            ok(NativeCore.sev_hostrun_global_avgpool_ndhwc_backward(0, 0, 2, 0, 3, F32), "C = 0");
            // no positions: the SE gate's dg and the pooled means are the empty sums (0 / 0 is NaN for the mean,
            // as the NCDHW op)
            ok(NativeCore.sev_hostrun_channel_scale_ndhwc_backward(0, 0, 0, 0, d, 2, 3, 0), "dg, S = 0");
            for (int i = 0; i < 6; i++) {
                assertEquals(0f, w.getFloat(i), "dg of no positions at " + i);
            }
        }
    }

    static void expect(int rc, String who, String op, String reason) {
        assertEquals(-1, rc, who + op + " (" + reason + ") returned " + rc);
        String msg = NativeCore.sev_last_error();
        assertTrue(msg.contains(op) && msg.contains(reason), who + op + ": message '" + msg + "', wanted '" + reason
                + "'");
    }
}
