package dev.sevnet.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The driver-API harness without a GPU: its command line (key lists -> the product of runs), the launch shapes it
 * builds and refuses, the argument bytes of the structs the fused grouped conv takes by value, the CPU references
 * it checks against, and its {@code list} mode over the bundled cubins.
 */
class CubinKernelBenchTest {
    private static final CubinKernelBench.DeviceInfo DEV = CubinKernelBench.DeviceInfo.H100;

    @Test
    void keyListsExpandToEveryCombination() {
        List<CubinKernelBench.Run> runs = CubinKernelBench.expand("ew", List.of("n=1000", "block=128,256", "grid=auto,7,9"));
        assertEquals(6, runs.size());
        assertEquals(Map.of("n", "1000", "block", "256", "grid", "9"), runs.get(5).cfg());
        assertEquals(Map.of("block", "256", "grid", "9"), runs.get(5).shape());
        assertEquals(Map.of("n", "1000"), runs.get(5).problemCfg());
        assertThrows(IllegalArgumentException.class, () -> CubinKernelBench.expand("ew", List.of("block")));
        assertThrows(IllegalArgumentException.class,
                () -> CubinKernelBench.dryRun(new CubinKernelBench.Run("nope", Map.of()), DEV, null, 90));
    }

    @Test
    void checkModeCoversEveryKernelBench() {
        Set<String> benches = CubinKernelBench.checkRuns().stream().map(CubinKernelBench.Run::bench)
                .collect(Collectors.toSet());
        assertEquals(Set.of("ew", "tconv", "tconv-dw", "gconv", "gconv-cl"), benches);
        for (CubinKernelBench.Run r : CubinKernelBench.checkRuns()) {
            List<CubinKernelBench.Launch> ls = CubinKernelBench.dryRun(r, DEV, null, 90);  // every check shape is valid
            assertTrue(!ls.isEmpty(), r.toString());
        }
    }

    @Test
    void elementwiseLaunchShapes() {
        CubinKernelBench.Launch auto = one("ew", Map.of("n", "100003", "block", "96"));
        assertArrayEquals(new int[] {1042, 1, 1}, auto.grid());  // ceil(100003 / 96)
        assertArrayEquals(new int[] {96, 1, 1}, auto.block());
        CubinKernelBench.Launch capped = one("ew", Map.of("n", "100000000", "block", "256"));
        assertEquals(8192, capped.grid()[0]);  // the library's cap: a grid-stride loop
        assertEquals(7, one("ew", Map.of("n", "100", "grid", "7")).grid()[0]);
        assertEquals(100003L, ByteBuffer.wrap(auto.args().values.get(3)).order(ByteOrder.LITTLE_ENDIAN).getLong());  // n
        assertThrows(IllegalArgumentException.class, () -> one("ew", Map.of("n", "10", "block", "2048")));
    }

    @Test
    void temporalConvLaunchShapes() {
        Map<String, String> p = Map.of("N", "2", "C", "70", "T", "5", "H", "9", "W", "11");
        CubinKernelBench.Launch fwd = one("tconv", with(p, "trans", "0"));
        assertEquals("temporal_conv3_gemm_kernel<false>", fwd.kernel());
        assertArrayEquals(new int[] {8, 2, 2}, fwd.grid());  // ceil(495/64), ceil(70/64), N
        assertEquals("temporal_conv3_gemm_kernel<true>", one("tconv", with(p, "trans", "1")).kernel());
        assertEquals(65536, one("tconv", with(p, "smem", "65536")).smem());
        assertThrows(IllegalArgumentException.class, () -> one("tconv", with(p, "smem", "300000")));
        List<CubinKernelBench.Launch> dw = CubinKernelBench.dryRun(new CubinKernelBench.Run("tconv-dw", with(p, "splits", "7")),
                DEV, null, 90);
        assertEquals(List.of("temporal_conv3_dw_kernel", "temporal_conv3_dw_reduce_kernel"),
                dw.stream().map(CubinKernelBench.Launch::kernel).toList());
        assertArrayEquals(new int[] {4, 2, 7}, dw.get(0).grid());
        // the library's split count (tconv_dw_splits): 512 blocks over 8 tiles -> 64, within the 2 * 31 slices
        assertEquals(62, new CubinKernelBench.TemporalDw(p).librarySplits());
    }

    @Test
    void groupedConvArgumentsAndTiles() {
        Map<String, String> p = Map.of("N", "2", "C", "48", "cg", "8", "T", "3", "H", "13", "W", "10", "stride", "2");
        CubinKernelBench.Launch l = one("gconv", p);
        // the library's tile for a 7 x 5 output plane: 8 columns, 8 rows, 3 frames (<= 256 positions)
        assertEquals("gc_fwd_kernel<8>", l.kernel());
        assertArrayEquals(new int[] {1, 6, 2}, l.grid());
        assertEquals(256, l.block()[0]);
        List<byte[]> v = l.args().values;
        assertEquals(List.of(8, 8, 8, 8, 48, 36, 24, 8), v.stream().map(b -> b.length).toList());
        ByteBuffer dims = ByteBuffer.wrap(v.get(5)).order(ByteOrder.LITTLE_ENDIAN);
        int[] d = new int[9];
        for (int i = 0; i < 9; i++) {
            d[i] = dims.getInt();
        }
        assertArrayEquals(new int[] {2, 48, 8, 3, 13, 10, 2, 7, 5}, d);  // N C cg T H W s Ho Wo
        ByteBuffer tile = ByteBuffer.wrap(v.get(6)).order(ByteOrder.LITTLE_ENDIAN);
        assertArrayEquals(new int[] {3, 8, 8, 1, 1, 1}, new int[] {tile.getInt(), tile.getInt(), tile.getInt(),
            tile.getInt(), tile.getInt(), tile.getInt()});
        ByteBuffer e = ByteBuffer.wrap(v.get(4)).order(ByteOrder.LITTLE_ENDIAN);
        assertTrue(e.getLong(0) != 0 && e.getLong(8) == 0 && e.getLong(32) == 0, "bias form: bias set, no BN");
        assertEquals(1, e.getInt(44));  // relu
        assertEquals(0, ByteBuffer.wrap(v.get(3)).getLong());  // no statistics partials: the inference form
        // smem: cg*cg*9 weights + tf * ((th-1)*s+3) * ((tw-1)*s+3) staged inputs
        assertEquals(4 * (8 * 8 * 9 + 3 * 17 * 17), l.smem());

        CubinKernelBench.Launch chosen = one("gconv", with(with(p, "tile", "1x4x16"), "cgmax", "16"));
        assertEquals("gc_fwd_kernel<16>", chosen.kernel());
        assertArrayEquals(new int[] {3 * 2 * 1, 6, 2}, chosen.grid());
        ByteBuffer bn = ByteBuffer.wrap(one("gconv", with(p, "epi", "bn")).args().values.get(4))
                .order(ByteOrder.LITTLE_ENDIAN);
        assertTrue(bn.getLong(0) == 0 && bn.getLong(8) != 0 && bn.getLong(24) != 0 && bn.getFloat(40) == 1e-5f);
        assertThrows(IllegalArgumentException.class, () -> one("gconv", with(p, "tile", "2x16x16")));  // 512 > 256
        assertThrows(IllegalArgumentException.class, () -> one("gconv", with(p, "cgmax", "4")));  // < cg
        assertThrows(IllegalArgumentException.class, () -> one("gconv", with(p, "cgmax", "12")));
        assertThrows(IllegalArgumentException.class, () -> one("gconv", with(p, "cg", "5")));  // 48 % 5
        // the tile rule of gc_tile for G8's 56 x 56 plane: 32 columns, 8 rows, 1 frame
        assertArrayEquals(new int[] {1, 8, 32, 16, 7, 2}, CubinKernelBench.GroupedConv.libraryTile(16, 56, 56, 256));
        assertArrayEquals(new int[] {4, 8, 8, 4, 1, 1}, CubinKernelBench.GroupedConv.libraryTile(16, 7, 7, 256));
    }

    @Test
    void cpuReferencesAgreeWithDirectSums() {
        // the temporal conv's reference at one output: y[n,m,t,s] = sum_c sum_k w[m,c,k] x[n,c,t+k-1,s]
        Map<String, String> p = Map.of("N", "1", "C", "3", "T", "4", "H", "2", "W", "1", "trans", "0");
        CubinKernelBench.TemporalGemm g = new CubinKernelBench.TemporalGemm(p);
        java.util.Random r = new java.util.Random(3);
        float[][] in = {g.init(0, r), g.init(1, r)};
        float[] y = g.reference(in);
        int m = 2;
        int t = 0;
        int s = 1;
        double sum = 0;
        for (int c = 0; c < 3; c++) {
            for (int k = 0; k < 3; k++) {
                int tt = t + k - 1;
                if (tt >= 0 && tt < 4) {
                    sum += in[0][(m * 3 + c) * 3 + k] * in[1][(c * 4 + tt) * 2 + s];
                }
            }
        }
        assertEquals(sum, y[(m * 4 + t) * 2 + s], 1e-5);
        assertEquals(0.0, CubinKernelBench.relError(y, y.clone()));
        float[] bad = y.clone();
        bad[0] = Float.NaN;
        assertEquals(Double.POSITIVE_INFINITY, CubinKernelBench.relError(y, bad));
    }

    @Test
    void listModeNeedsNoGpu() {
        CubinElfTest.bundled();  // skips without nvcc
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        int rc = CubinKernelBench.run(new String[] {"list"}, new PrintStream(buf, true, StandardCharsets.UTF_8));
        String out = buf.toString(StandardCharsets.UTF_8);
        assertEquals(0, rc, out);
        assertTrue(out.contains("sm_80/conv_bn_relu.cubin: sm_80") && out.contains("sm_90/elementwise.cubin: sm_90"), out);
        assertTrue(out.contains("gc_fwd_kernel<16>") && out.contains("add_kernel"), out);
    }

    /** The channels-last grouped conv's launch as CudaBackend makes it (gcl_tile), and chosen tiles checked. */
    @Test
    void channelsLastGroupedConvLaunchShapes() {
        Map<String, String> g8 = Map.of("N", "8", "C", "64", "cg", "8", "T", "16", "H", "56", "W", "56");
        CubinKernelBench.Launch auto = one("gconv-cl", g8);
        // 56 columns: 16 threads a row (4 columns each), 8 rows, one frame: 128 threads; tiles 16 x 7 x 1, 8 groups
        assertArrayEquals(new int[] {112 * 8, 1, 8}, auto.grid());
        assertArrayEquals(new int[] {128, 1, 1}, auto.block());
        assertEquals(4 * ((10 * 66 | 1) * 8 + 8 * 9 * 8), auto.smem());  // window 10 x 66 x 8 channels, then w
        // one channel a group: the window's floats (661) rounded up to 4 before the weights (16-byte aligned)
        assertEquals(4 * (664 + 9), one("gconv-cl", with(g8, "cg", "1")).smem());
        assertEquals("gcl_kernel<SevF32, 8, false>", auto.kernel());
        assertEquals("gcl_kernel<SevF32, 8, true>", one("gconv-cl", with(g8, "pass", "bwd-data")).kernel());
        // stride 2, 16 channels a group: the window of the first tile is too big, halved until it fits 36 KB
        CubinKernelBench.Launch s2 = one("gconv-cl", Map.of("N", "1", "C", "32", "cg", "16", "T", "2", "H", "80", "W",
                "80", "stride", "2"));
        assertTrue(s2.smem() <= 4 * (9216 + 16 * 9 * 16), "smem " + s2.smem());
        assertArrayEquals(new int[] {4, 1, 1}, one("gconv-cl", with(g8, "tile", "1x2x2")).block());
        assertThrows(IllegalArgumentException.class, () -> one("gconv-cl", with(g8, "tile", "2x8x16")));  // 256 threads
        assertThrows(IllegalArgumentException.class, () -> one("gconv-cl", with(g8, "pass", "bwd-weight")));
        assertThrows(IllegalArgumentException.class, () -> one("gconv-cl", with(g8, "cgmax", "4")));
    }

    /** The harness's CPU reference for gconv-cl (its layout permutes) agrees with the kernels' own reference. */
    @Test
    void channelsLastGroupedConvReferenceIsTheKernelsReference() {
        int n = 2, c = 8, cg = 4, t = 2, h = 5, w = 6, s = 2, ho = 3, wo = 3;
        java.util.Random r = new java.util.Random(5);
        for (String pass : new String[] {"fwd", "bwd-data"}) {
            CubinKernelBench.Problem p = CubinKernelBench.problem("gconv-cl", Map.of("N", "" + n, "C", "" + c, "cg",
                    "" + cg, "T", "" + t, "H", "" + h, "W", "" + w, "stride", "" + s, "pass", pass));
            long[] sizes = p.buffers();
            float[][] in = {CubinKernelBench.uniform(r, sizes[0], -1, 1), CubinKernelBench.uniform(r, sizes[1], -1, 1)};
            float[] got = p.reference(in);
            try (dev.sevnet.tensor.Tensor src = dev.sevnet.tensor.Tensor.of(in[0], sizes[0]);
                    dev.sevnet.tensor.Tensor wt = dev.sevnet.tensor.Tensor.of(in[1], sizes[1]);
                    dev.sevnet.tensor.Tensor dst = dev.sevnet.tensor.Tensor.zeros(dev.sevnet.tensor.Shape.of(sizes[2]))) {
                int rc = pass.equals("fwd")
                        ? dev.sevnet.backend.cpu.NativeCore.sev_grouped_conv_ndhwc_forward(src.address(), wt.address(),
                                dst.address(), n, c, cg, t, h, w, s, 0)
                        : dev.sevnet.backend.cpu.NativeCore.sev_grouped_conv_ndhwc_backward_data(src.address(),
                                wt.address(), dst.address(), n, c, cg, t, h, w, s, 0);
                assertEquals(0, rc);
                float[] want = dst.toFloatArray();
                assertEquals(want.length, got.length, pass);
                for (int i = 0; i < want.length; i++) {
                    assertEquals(want[i], got[i], 1e-5 * (1 + Math.abs(want[i])), pass + "[" + i + "]");
                }
            }
        }
        assertEquals(n * t * ho * wo * c, CubinKernelBench.problem("gconv-cl", Map.of("N", "" + n, "C", "" + c, "cg",
                "" + cg, "T", "" + t, "H", "" + h, "W", "" + w, "stride", "" + s)).buffers()[2]);
    }

    private static CubinKernelBench.Launch one(String bench, Map<String, String> cfg) {
        List<CubinKernelBench.Launch> ls = CubinKernelBench.dryRun(new CubinKernelBench.Run(bench, cfg), DEV, null, 90);
        assertEquals(1, ls.size());
        return ls.get(0);
    }

    private static Map<String, String> with(Map<String, String> m, String k, String v) {
        Map<String, String> out = new java.util.LinkedHashMap<>(m);
        out.put(k, v);
        return out;
    }
}
