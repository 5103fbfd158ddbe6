package dev.sevnet.nn.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Safetensors / .npy / state-dict edge cases from the file-format audit, each against hand-made bytes. */
class WeightsIoAuditTest {
    @TempDir
    Path dir;

    private TensorScope scope;

    @BeforeEach
    void open() {
        scope = TensorScope.open();
    }

    @AfterEach
    void close() {
        scope.close();
    }

    /** A safetensors file from a raw JSON header (padded with spaces to 8 bytes) and data. */
    private Path st(String name, String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        int pad = (8 - h.length % 8) % 8;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length + pad).array());
        out.write(h);
        out.write(" ".repeat(pad).getBytes(StandardCharsets.US_ASCII));
        out.write(data);
        Path p = dir.resolve(name);
        Files.write(p, out.toByteArray());
        return p;
    }

    private static byte[] f32(float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : v) {
            b.putFloat(x);
        }
        return b.array();
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] c = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    private static String entry(String name, String dtype, String shape, long begin, long end) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + begin + ","
                + end + "]}";
    }

    /** A file holding a tensor of a dtype sevnet cannot hold (a BOOL mask) still opens; its other tensors load. */
    @Test
    void unsupportedDtypeTensorDoesNotMakeTheFileUnreadable() throws IOException {
        Path p = st("mask.safetensors", "{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("mask", "BOOL", "[3]", 8, 11)
                + "}", concat(f32(1, 2), new byte[] {1, 0, 1}));
        Map<String, Tensor> m = Safetensors.read(p, n -> !n.equals("mask"));
        assertArrayEquals(new float[] {1, 2}, m.get("a").toFloatArray());
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals("BOOL", f.entry("mask").dtypeName());
            assertFalse(f.entry("mask").supported());
            WeightsFormatException e = assertThrows(WeightsFormatException.class, () -> f.load("mask"));
            assertEquals("mask", e.tensor());
            assertTrue(e.getMessage().contains("BOOL"), e.getMessage());
        }
        // a wrong size is still checked with the format's element size
        Path bad = st("bad.safetensors", "{" + entry("x", "I32", "[3]", 0, 8) + "}", new byte[8]);
        WeightsFormatException e = assertThrows(WeightsFormatException.class, () -> Safetensors.read(bad));
        assertTrue(e.getMessage().contains("needs 12"), e.getMessage());
        Path unknown = st("unknown.safetensors", "{" + entry("x", "F128", "[1]", 0, 16) + "}", new byte[16]);
        e = assertThrows(WeightsFormatException.class, () -> Safetensors.read(unknown));
        assertTrue(e.getMessage().contains("unknown dtype 'F128'"), e.getMessage());
    }

    /** The reference reader accepts {@code "__metadata__": null} (an Option in Rust) as no metadata. */
    @Test
    void nullMetadataIsNoMetadata() throws IOException {
        Path p = st("null.safetensors", "{\"__metadata__\":null," + entry("a", "F32", "[1]", 0, 4) + "}", f32(3));
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertTrue(f.metadata().isEmpty());
            assertEquals(List.of("a"), f.names());
        }
    }

    private static final String BN = "bn.weight bn.bias bn.running_mean bn.running_var";

    /** The Tiny model's tensors except num_batches_tracked, plus what {@code extra} adds. */
    private Path tiny(String name, String extraEntry, byte[] extraData) throws IOException {
        StringBuilder h = new StringBuilder("{");
        long off = 0;
        for (String k : BN.split(" ")) {
            h.append(entry(k, "F32", "[3]", off, off + 12)).append(',');
            off += 12;
        }
        h.append(entry("fc.weight", "F32", "[2,3]", off, off + 24));
        off += 24;
        byte[] data = f32(1, 2, 3, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 3, 4, 5, 6);
        if (extraEntry != null) {
            h.append(',').append(String.format(extraEntry, off, off + extraData.length));
            data = concat(data, extraData);
        }
        return st(name, h.append('}').toString(), data);
    }

    /** PyTorch's BatchNorm fills a missing num_batches_tracked even with strict=True; so does the loader. */
    @Test
    void missingNumBatchesTrackedIsAcceptedWhenStrict() throws IOException {
        Path p = tiny("old.safetensors", null, null);
        try (WeightsLoaderTest.Tiny model = new WeightsLoaderTest.Tiny()) {
            model.stateDict().get("bn.num_batches_tracked").copyFrom(Tensor.ofLongs(new long[] {7}));
            WeightsLoader.Report r = WeightsLoader.load(model, p, true);
            assertEquals(List.of("bn.num_batches_tracked"), r.missing());
            assertEquals(7L, model.stateDict().get("bn.num_batches_tracked").toLongArray()[0]);
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, model.stateDict().get("fc.weight").toFloatArray());
        }
        // any other missing key is still an error
        Path q = st("nofc.safetensors", "{" + entry("bn.num_batches_tracked", "I64", "[]", 0, 8) + "}", new byte[8]);
        try (WeightsLoaderTest.Tiny model = new WeightsLoaderTest.Tiny()) {
            WeightsFormatException e = assertThrows(WeightsFormatException.class, () -> WeightsLoader.load(model, q, true));
            assertTrue(e.getMessage().contains("'bn.weight'"), e.getMessage());
        }
    }

    /** num_batches_tracked saved as F32 stays an error naming the key (no silent conversion), and nothing is copied. */
    @Test
    void floatNumBatchesTrackedIsRefusedByName() throws IOException {
        Path q = tiny("f32nbt.safetensors", entry("bn.num_batches_tracked", "F32", "[]", 0, 0)
                .replace("[0,0]", "[%d,%d]"), f32(12));
        try (WeightsLoaderTest.Tiny model = new WeightsLoaderTest.Tiny()) {
            WeightsFormatException e = assertThrows(WeightsFormatException.class, () -> WeightsLoader.load(model, q, true));
            assertEquals("bn.num_batches_tracked", e.tensor());
            assertTrue(e.getMessage().contains("dtype F32"), e.getMessage());
            assertArrayEquals(new float[6], model.stateDict().get("fc.weight").toFloatArray());
        }
    }

    /** An unsupported unexpected key names its dtype; an F64 weight loads rounded to F32, as in PyTorch. */
    @Test
    void f64WeightsLoadRoundedAndUnsupportedKeysAreNamed() throws IOException {
        Path q = tiny("extra.safetensors", entry("extra", "F64", "[1]", 0, 0).replace("[0,0]", "[%d,%d]"),
                new byte[8]);
        try (WeightsLoaderTest.Tiny model = new WeightsLoaderTest.Tiny()) {
            WeightsFormatException e = assertThrows(WeightsFormatException.class, () -> WeightsLoader.load(model, q, true));
            assertEquals("extra", e.tensor());
            assertTrue(e.getMessage().contains("F64"), e.getMessage());
            WeightsLoader.Report r = WeightsLoader.load(model, q, false);
            assertEquals(List.of("extra"), r.unexpected());
        }
        // an F64 weight (model.double()) loads rounded to F32, as PyTorch's copy_ does, with a note
        java.nio.ByteBuffer d = java.nio.ByteBuffer.allocate(48).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        double[] vals = {0.1, -2.5, 1e-40, 3.0000000001, -0.0, 7.25};
        for (double x : vals) {
            d.putDouble(x);
        }
        Path w = st("w64.safetensors", "{" + entry("fc.weight", "F64", "[2,3]", 0, 48) + "}", d.array());
        try (WeightsLoaderTest.Tiny model = new WeightsLoaderTest.Tiny()) {
            WeightsLoader.Report r = WeightsLoader.load(model, w, false);
            float[] expected = new float[vals.length];
            for (int i = 0; i < vals.length; i++) {
                expected[i] = (float) vals[i];
            }
            assertArrayEquals(expected, model.stateDict().get("fc.weight").toFloatArray());
            assertTrue(r.notes().toString().contains("F64 to F32"), r.notes().toString());
        }
        // an F64 tensor where the model holds an int64 counter stays an error naming the key
        Path c = st("c64.safetensors", "{" + entry("bn.num_batches_tracked", "F64", "[]", 0, 8) + "}", new byte[8]);
        try (WeightsLoaderTest.Tiny model = new WeightsLoaderTest.Tiny()) {
            WeightsFormatException e = assertThrows(WeightsFormatException.class, () -> WeightsLoader.load(model, c, false));
            assertEquals("bn.num_batches_tracked", e.tensor());
            assertTrue(e.getMessage().contains("F64"), e.getMessage());
        }
    }

    /**
     * A tensor of more than 2^31-1 bytes is refused by name before its memory is allocated (a sparse file: no disk
     * is used), not an UnsupportedOperationException from the buffer view.
     */
    @Test
    void tensorOver2GiBIsAClearError() throws IOException {
        long n = (1L << 29) + 1; // F32: 2^31 + 4 bytes
        Path p = st("big.safetensors", "{" + entry("huge", "F32", "[" + n + "]", 0, 4 * n) + "}", new byte[0]);
        try (RandomAccessFile raf = new RandomAccessFile(p.toFile(), "rw")) {
            raf.setLength(raf.length() + 4 * n);
        }
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            WeightsFormatException e = assertThrows(WeightsFormatException.class, () -> f.load("huge"));
            assertEquals("huge", e.tensor());
            assertTrue(e.getMessage().contains("2147483647"), e.getMessage());
        }
        byte[] header = Npy.header("<f4", new long[] {n});
        Path q = dir.resolve("big.npy");
        Files.write(q, header);
        try (RandomAccessFile raf = new RandomAccessFile(q.toFile(), "rw")) {
            raf.setLength(header.length + 4 * n);
        }
        WeightsFormatException e = assertThrows(WeightsFormatException.class, () -> Npy.read(q));
        assertTrue(e.getMessage().contains("2147483647"), e.getMessage());
    }
}
