package dev.sevnet.nn.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Half;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {
    @TempDir
    Path dir;

    private static Tensor halfTensor(DType dt, float[] v, long... dims) {
        Tensor t = Tensor.empty(Shape.of(dims), dt);
        ByteBuffer b = t.hostBuffer();
        for (int i = 0; i < v.length; i++) {
            short s = dt == DType.FLOAT16 ? Half.fromFloat(v[i]) : (short) (Float.floatToIntBits(v[i]) >>> 16);
            b.putShort(2 * i, s);
        }
        return t;
    }

    /** The tensors of fixtures/io/mixed.safetensors, as bench/reference/make_io_fixtures.py makes them. */
    private static Map<String, Tensor> mixedTensors() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("a.weight", Tensor.of(new float[] {-1f, -0.5f, 0f, 0.5f, 1f, 1.5f}, 2, 3));
        m.put("z.bias", Tensor.of(new float[] {1.5f, -2.25f, 3.0e-8f, 1.0e30f}, 4));
        m.put("step", Tensor.ofLongs(new long[] {123456789012L}));
        m.put("bn.num_batches_tracked", Tensor.ofLongs(new long[] {7}));
        m.put("ids", Tensor.ofLongs(new long[] {-1, 0, 1L << 40}, 1, 3));
        m.put("h", halfTensor(DType.FLOAT16, new float[] {0.5f, -2f, 65504f}, 3));
        m.put("b", halfTensor(DType.BFLOAT16, new float[] {1f, -0.5f, 3.140625f, 1e-3f}, 2, 2));
        m.put("empty", Tensor.zeros(Shape.of(0, 3)));
        return m;
    }

    private static Map<String, String> mixedMetadata() {
        Map<String, String> md = new LinkedHashMap<>();
        md.put("note", "caf\u00e9 \"q\"\n");
        md.put("format", "pt");
        return md;
    }

    private static byte[] bytes(Tensor t) {
        byte[] a = new byte[(int) t.byteSize()];
        if (a.length > 0) {
            t.hostBuffer().get(0, a);
        }
        return a;
    }

    @Test
    void readsWhatPythonWrote() {
        try (TensorScope scope = TensorScope.open()) {
            Map<String, Tensor> expected = mixedTensors();
            Path f = Fixtures.path("io/mixed.safetensors");
            Map<String, Tensor> got = Safetensors.read(f);
            // file order: I64 tensors, then F32, BF16, F16, each by name
            assertEquals(List.of("bn.num_batches_tracked", "ids", "step", "a.weight", "empty", "z.bias", "b", "h"),
                    List.copyOf(got.keySet()));
            for (Map.Entry<String, Tensor> e : expected.entrySet()) {
                Tensor g = got.get(e.getKey());
                assertEquals(e.getValue().shape(), g.shape(), e.getKey());
                assertEquals(e.getValue().dtype(), g.dtype(), e.getKey());
                assertArrayEquals(bytes(e.getValue()), bytes(g), e.getKey());
            }
            assertEquals(0, got.get("step").rank());
            assertEquals(123456789012L, got.get("step").toLongArray()[0]);
            assertArrayEquals(new float[] {0.5f, -2f, 65504f}, got.get("h").toFloatArray());
            assertArrayEquals(new float[] {1f, -0.5f, 3.140625f, 9.994507E-4f}, got.get("b").toFloatArray());
            try (SafetensorsFile sf = Safetensors.open(f)) {
                assertEquals(Map.of("format", "pt", "note", "caf\u00e9 \"q\"\n"), sf.metadata());
                assertEquals(DType.BFLOAT16, sf.entry("b").dtype());
            }
        }
    }

    @Test
    void writesBytesIdenticalToPython() throws IOException {
        try (TensorScope scope = TensorScope.open()) {
            Path out = dir.resolve("mixed.safetensors");
            Safetensors.write(out, mixedTensors(), mixedMetadata());
            assertArrayEquals(Files.readAllBytes(Fixtures.path("io/mixed.safetensors")), Files.readAllBytes(out));

            Path out2 = dir.resolve("nometa.safetensors");
            Safetensors.write(out2, Map.of("x", Tensor.of(new float[] {1f, 2f}, 2)), null);
            assertArrayEquals(Files.readAllBytes(Fixtures.path("io/nometa.safetensors")), Files.readAllBytes(out2));
        }
    }

    @Test
    void roundTripAndAtomicReplace() throws IOException {
        try (TensorScope scope = TensorScope.open()) {
            Map<String, Tensor> in = mixedTensors();
            Path out = dir.resolve("sub/rt.safetensors");
            Safetensors.write(out, Map.of("old", Tensor.of(new float[] {9f}, 1)), Map.of());
            Safetensors.write(out, in, Map.of("k", "v"));
            Map<String, Tensor> back = Safetensors.read(out);
            assertEquals(in.keySet(), back.keySet());
            for (String k : in.keySet()) {
                assertEquals(in.get(k).shape(), back.get(k).shape());
                assertArrayEquals(bytes(in.get(k)), bytes(back.get(k)), k);
            }
            // header is 8-byte aligned and space padded
            byte[] all = Files.readAllBytes(out);
            long n = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
            assertEquals(0, n % 8);
            try (Stream<Path> s = Files.list(out.getParent())) {
                assertEquals(List.of(out), s.toList(), "no temp files left behind");
            }
            // filtered read touches only the wanted tensors
            Map<String, Tensor> some = Safetensors.read(out, k -> k.startsWith("a."));
            assertEquals(List.of("a.weight"), List.copyOf(some.keySet()));
        }
    }

    @Test
    void rejectsBadNamesAndClosedTensors() {
        try (TensorScope scope = TensorScope.open()) {
            Path out = dir.resolve("x.safetensors");
            Tensor t = Tensor.of(new float[] {1f}, 1);
            assertThrows(IllegalArgumentException.class, () -> Safetensors.write(out, Map.of("__metadata__", t), null));
            assertThrows(IllegalArgumentException.class, () -> Safetensors.write(out, Map.of("", t), null));
            Tensor c = Tensor.of(new float[] {1f}, 1);
            c.close();
            assertThrows(IllegalArgumentException.class, () -> Safetensors.write(out, Map.of("c", c), null));
            assertFalse(Files.exists(out));
        }
    }

    // ---- corrupt files ---------------------------------------------------------------------------

    private Path file(String name, byte[] content) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, content);
        return p;
    }

    private static byte[] build(String header, int dataBytes) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        return b.array();
    }

    private WeightsFormatException expectBad(Path p, String tensor, String... fragments) {
        WeightsFormatException e = assertThrows(WeightsFormatException.class, () -> Safetensors.read(p));
        String msg = e.getMessage();
        assertTrue(msg.contains(p.getFileName().toString()), "names the file: " + msg);
        if (tensor != null) {
            assertEquals(tensor, e.tensor(), msg);
            assertTrue(msg.contains("'" + tensor + "'"), "names the tensor: " + msg);
        }
        for (String f : fragments) {
            assertTrue(msg.contains(f), "'" + f + "' in: " + msg);
        }
        return e;
    }

    @Test
    void truncatedFileNamesTheTensor() throws IOException {
        byte[] good = Files.readAllBytes(Fixtures.path("io/mixed.safetensors"));
        // cut into the F32 tensor "z.bias" (data bytes 64..80 of the data section)
        long n = ByteBuffer.wrap(good).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        Path p = file("cut.safetensors", Arrays.copyOf(good, (int) (8 + n + 70)));
        expectBad(p, "z.bias", "truncated");
        // cut inside the header
        expectBad(file("cut2.safetensors", Arrays.copyOf(good, 40)), null, "header length", "runs past the end");
        // shorter than the length field
        expectBad(file("cut3.safetensors", Arrays.copyOf(good, 5)), null, "too short");
        expectBad(file("empty.safetensors", new byte[0]), null, "too short");
    }

    @Test
    void hugeHeaderLengthIsAnErrorNotAnAllocation() throws IOException {
        for (long n : new long[] {1L << 40, -1L, Long.MIN_VALUE, 100_000_001L}) {
            ByteBuffer b = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN).putLong(0, n);
            Path p = file("huge.safetensors", b.array());
            expectBad(p, null, "header length");
        }
        ByteBuffer b = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 57);
        expectBad(file("past.safetensors", b.array()), null, "runs past the end");
    }

    @Test
    void malformedHeaders() throws IOException {
        expectBad(file("j1.safetensors", build("{\"a\":{\"dtype\":\"F32\",", 0)), null, "not valid JSON");
        expectBad(file("j2.safetensors", build("[1,2,3]", 0)), null, "not a JSON object");
        expectBad(file("j3.safetensors", build("{\"a\":1}", 0)), "a", "not a JSON object");
        expectBad(file("j4.safetensors", build("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8)), null, "duplicate key");
        byte[] bad = build("{\"a\":{}}  ", 0);
        bad[10] = (byte) 0xff;
        expectBad(file("utf.safetensors", bad), null, "UTF-8");
        expectBad(file("m1.safetensors", build("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4)), "w", "dtype");
        expectBad(file("m2.safetensors", build("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4)),
                "w", "non-negative");
        expectBad(file("m3.safetensors", build("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4)),
                "w", "data_offsets");
        expectBad(file("m4.safetensors", build("{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4)),
                "w", "shape");
        expectBad(file("m5.safetensors", build("{\"__metadata__\":{\"a\":1}}", 0)), null, "__metadata__");
        expectBad(file("m6.safetensors", build("{\"w\":{\"dtype\":\"F32\",\"shape\":[99999999999,99999999999,"
                + "99999999999],\"data_offsets\":[0,4]}}", 4)), "w", "64 bits");
    }

    @Test
    void unknownDtypeNamesTheTensor() throws IOException {
        expectBad(file("dt.safetensors", build("{\"w\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8)),
                "w", "unsupported dtype 'I32'");
        expectBad(file("dt2.safetensors", build("{\"w\":{\"dtype\":\"F128\",\"shape\":[1],\"data_offsets\":[0,16]}}",
                16)), "w", "unknown dtype 'F128'");
    }

    @Test
    void badOffsetsNameTheTensor() throws IOException {
        // out of range
        expectBad(file("o1.safetensors", build("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8)),
                "w", "run past the end");
        // size does not match shape x dtype
        expectBad(file("o2.safetensors", build("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}", 16)),
                "w", "needs 12");
        // end before begin
        expectBad(file("o3.safetensors", build("{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", 8)),
                "w", "end before");
        // overlap
        expectBad(file("o4.safetensors", build("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12)), "b", "overlap tensor 'a'");
        // gap
        expectBad(file("o5.safetensors", build("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12)), "b", "unused bytes");
        // trailing bytes not covered by the header
        expectBad(file("o6.safetensors", build("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 12)),
                null, "8 bytes after");
    }

    @Test
    void missingFile() {
        Path p = dir.resolve("nope.safetensors");
        WeightsFormatException e = assertThrows(WeightsFormatException.class, () -> Safetensors.read(p));
        assertTrue(e.getMessage().contains("nope.safetensors"));
    }
}
