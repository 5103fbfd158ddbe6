package dev.sevnet.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.backend.cpu.CpuBackend;
import dev.sevnet.infer.Predictor;
import dev.sevnet.nn.SevNet;
import dev.sevnet.nn.SevNetConfig;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Channels-last tensors without a GPU: a channels-last tensor's logical values survive every host read and write
 * (toHostCopy, toFloatArray, copyFrom), reshape keeps or refuses its layout, mixed layouts are refused, and a run
 * config keeps its format. The ops and the model on channels-last tensors: {@code ChannelsLastCpuTest}; the CUDA
 * backend's: {@code CudaChannelsLastTest} (on a GPU).
 */
class MemoryFormatTest {
    /** [N, C, T, H, W] values 0, 1, 2, ... in the logical (NCDHW) order. */
    static float[] iota(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = i;
        }
        return a;
    }

    /** A host tensor holding {@code logical}'s values in NDHWC bytes, labelled channels-last (as a device backend makes). */
    static Tensor channelsLastHost(float[] logical, Shape s) {
        long n = s.get(0), c = s.get(1), sp = s.sizeFrom(2);
        HostStorage st = HostStorage.allocate(Tensor.bytesOf(s, DType.FLOAT32));
        Tensor t = Tensor.wrap(s, DType.FLOAT32, st, MemoryFormat.CHANNELS_LAST);
        java.nio.ByteBuffer b = ((HostStorage) t.storage()).byteBuffer().order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (long i = 0; i < n; i++) {
            for (long ch = 0; ch < c; ch++) {
                for (long p = 0; p < sp; p++) {
                    b.putFloat((int) (((i * sp + p) * c + ch) * 4), logical[(int) ((i * c + ch) * sp + p)]);
                }
            }
        }
        return t;
    }

    @Test
    void hostReadsAndWritesUseTheLogicalOrder() {
        Shape s = Shape.of(2, 3, 2, 2, 5);
        float[] v = iota((int) s.size());
        try (Tensor cl = channelsLastHost(v, s); Tensor back = cl.toHostCopy()) {
            assertTrue(cl.isChannelsLast());
            assertEquals(MemoryFormat.CONTIGUOUS, back.memoryFormat());
            assertArrayEquals(v, back.toFloatArray());
            assertArrayEquals(v, cl.toFloatArray());
            // the raw bytes are NDHWC: element (n0, c1, s0) sits at index 1
            assertEquals(1 * 20f, ((HostStorage) cl.storage()).byteBuffer().order(java.nio.ByteOrder.LITTLE_ENDIAN)
                    .getFloat(4));
            try (Tensor f = cl.toFloat32()) {
                assertArrayEquals(v, f.toFloatArray());
            }
            // copyFrom into a channels-last tensor reorders; a copy keeps the format
            try (Tensor src = Tensor.of(v, s); Tensor dst = channelsLastHost(new float[v.length], s)) {
                dst.copyFrom(src);
                assertArrayEquals(v, dst.toFloatArray());
                try (Tensor contiguous = Tensor.zeros(s)) {
                    contiguous.copyFrom(dst);
                    assertArrayEquals(v, contiguous.toFloatArray());
                }
                try (Tensor c = dst.copy()) {
                    assertTrue(c.isChannelsLast());
                    assertArrayEquals(v, c.toFloatArray());
                }
            }
            assertTrue(cl.toString().contains("channels-last"));
            // element access is logical too: index 53 is (n0, c2, s13) = 2*20 + 13, kept at NDHWC (0*20 + 13)*3 + 2
            assertEquals(v[53], cl.getFloat(53));
            cl.setFloat(53, -7f);
            assertEquals(-7f, cl.toFloatArray()[53]);
            assertEquals(-7f, ((HostStorage) cl.storage()).byteBuffer().order(java.nio.ByteOrder.LITTLE_ENDIAN)
                    .getFloat(4 * ((0 * 20 + 13) * 3 + 2)));
            assertThrows(IndexOutOfBoundsException.class, () -> cl.getFloat(s.size()));
        }
    }

    @Test
    void reshapeKeepsTheFormatOrRefusesToMoveElements() {
        Shape s = Shape.of(1, 4, 2, 3, 3);
        try (Tensor cl = channelsLastHost(iota((int) s.size()), s); Tensor same = cl.reshape(s)) {
            assertTrue(same.isChannelsLast());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> cl.reshape(4, 18));
            assertTrue(e.getMessage().contains("channels-last"), e.getMessage());
        }
        // C = 1 or T*H*W = 1: the same bytes in both orders, so any shape goes (and is contiguous)
        Shape pooled = Shape.of(2, 8, 1, 1, 1);
        try (Tensor cl = channelsLastHost(iota(16), pooled); Tensor flat = cl.reshape(2, 8)) {
            assertEquals(MemoryFormat.CONTIGUOUS, flat.memoryFormat());
            assertArrayEquals(iota(16), flat.toFloatArray());
        }
        assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(Shape.of(2, 3), DType.FLOAT32,
                HostStorage.allocate(24), MemoryFormat.CHANNELS_LAST));
    }

    @Test
    void mixedFormatsAreRefusedAndOtherBackendsSayTheyHaveNone() {
        CpuBackend cpu = CpuBackend.get();
        Shape s = Shape.of(1, 4, 2, 3, 3);
        try (Tensor cl = channelsLastHost(iota((int) s.size()), s); Tensor x = Tensor.of(iota((int) s.size()), s)) {
            for (Runnable call : List.<Runnable>of(() -> cpu.add(x, cl), () -> cpu.add(cl, x),
                    () -> cpu.concatChannels(cl, x), () -> cpu.axpby(1f, x, 1f, cl))) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call::run);
                assertTrue(e.getMessage().contains("channels-last") || e.getMessage().contains("contiguous"),
                        e.getMessage());
            }
            try (Tensor view = cpu.toMemoryFormat(x, MemoryFormat.CONTIGUOUS)) {
                assertArrayEquals(x.toFloatArray(), view.toFloatArray());
            }
            // the interface's default: a backend without channels-last tensors names itself
            dev.sevnet.backend.Backend plain = (dev.sevnet.backend.Backend) java.lang.reflect.Proxy.newProxyInstance(
                    getClass().getClassLoader(), new Class<?>[] {dev.sevnet.backend.Backend.class}, (proxy, m, args) -> {
                        if (m.isDefault()) {
                            return java.lang.reflect.InvocationHandler.invokeDefault(proxy, m, args);
                        }
                        return m.getName().equals("name") ? "plain" : null;
                    });
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> plain.toMemoryFormat(x, MemoryFormat.CHANNELS_LAST));
            assertTrue(e.getMessage().contains("plain"), e.getMessage());
        }
    }

    @Test
    void aRunConfigKeepsItsMemoryFormat() {
        dev.sevnet.train.TrainConfig c = dev.sevnet.train.TrainConfig.builder().memoryFormat("channels-last").build();
        assertEquals(MemoryFormat.CHANNELS_LAST, dev.sevnet.train.TrainConfig.fromJson(c.toJson()).memoryFormat());
        // a config written before the option existed trained contiguous
        com.google.gson.JsonObject old = com.google.gson.JsonParser.parseString(
                dev.sevnet.train.TrainConfig.builder().build().toJson()).getAsJsonObject();
        old.remove("memoryFormat");
        assertEquals(MemoryFormat.CONTIGUOUS, dev.sevnet.train.TrainConfig.fromJson(old.toString()).memoryFormat());
        assertThrows(IllegalArgumentException.class, () -> dev.sevnet.train.TrainConfig.builder().memoryFormat("nhwc"));
    }

    @Test
    void parsingAndThePredictorsLimits() {
        assertEquals(MemoryFormat.CHANNELS_LAST, MemoryFormat.parse("channels_last"));
        assertEquals(MemoryFormat.CHANNELS_LAST, MemoryFormat.parse(" NDHWC "));
        assertEquals(MemoryFormat.CONTIGUOUS, MemoryFormat.parse("ncdhw"));
        assertThrows(IllegalArgumentException.class, () -> MemoryFormat.parse("nhwc4"));
        try (SevNet net = SevNet.create(SevNetConfig.parse("sevnet-g2", 5), 1)) {
            net.eval();
            List<String> labels = List.of("a", "b", "c", "d", "e");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Predictor.builder()
                    .model(net, labels).device("cpu").foldBatchNorm(false).memoryFormat(MemoryFormat.CHANNELS_LAST)
                    .build());
            assertTrue(e.getMessage().contains("folded"), e.getMessage());
        }
    }
}
