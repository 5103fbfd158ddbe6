package dev.sevnet.nn.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NpyTest {
    @TempDir
    Path dir;

    private static float[] f32Fixture() {
        float[] v = new float[24];
        for (int i = 0; i < 24; i++) {
            v[i] = (i - 5) / 4f;
        }
        return v;
    }

    @Test
    void readsWhatNumpyWrote() {
        try (TensorScope s = TensorScope.open()) {
            Tensor f = Npy.read(Fixtures.path("io/f32.npy"));
            assertEquals(Shape.of(2, 3, 4), f.shape());
            assertArrayEquals(f32Fixture(), f.toFloatArray());
            Tensor i = Npy.read(Fixtures.path("io/i64.npy"));
            assertEquals(DType.INT64, i.dtype());
            assertArrayEquals(new long[] {3, -1, 1L << 40, 0, 7}, i.toLongArray());
            Tensor sc = Npy.read(Fixtures.path("io/scalar.npy"));
            assertEquals(0, sc.rank());
            assertEquals(2.5f, sc.toFloatArray()[0]);
            Tensor v2 = Npy.read(Fixtures.path("io/v2.npy"));
            assertEquals(Shape.of(3, 2), v2.shape());
            assertArrayEquals(new float[] {0, 1, 2, 3, 4, 5}, v2.toFloatArray());
        }
    }

    @Test
    void writesBytesIdenticalToNumpy() throws IOException {
        try (TensorScope s = TensorScope.open()) {
            check("f32.npy", Tensor.of(f32Fixture(), 2, 3, 4));
            check("i64.npy", Tensor.ofLongs(new long[] {3, -1, 1L << 40, 0, 7}, 5));
            check("scalar.npy", Tensor.of(new float[] {2.5f}, Shape.of(new long[0])));
        }
    }

    private void check(String fixture, Tensor t) throws IOException {
        Path out = dir.resolve(fixture);
        Npy.write(out, t);
        assertArrayEquals(Files.readAllBytes(Fixtures.path("io/" + fixture)), Files.readAllBytes(out), fixture);
    }

    @Test
    void largeHeaderUsesVersion2AndRoundTrips() throws IOException {
        try (TensorScope s = TensorScope.open()) {
            long[] dims = new long[] {1, 2, 3, 0};
            Tensor t = Tensor.empty(Shape.of(dims));
            Path out = dir.resolve("e.npy");
            Npy.write(out, t);
            assertEquals(Shape.of(dims), Npy.read(out).shape());
            assertEquals(0, Files.size(out) % 64);
        }
    }

    private void expectBad(Path p, String fragment) {
        WeightsFormatException e = assertThrows(WeightsFormatException.class, () -> Npy.read(p));
        assertTrue(e.getMessage().contains(fragment), e.getMessage());
        assertTrue(e.getMessage().contains(p.getFileName().toString()), e.getMessage());
    }

    @Test
    void rejectsUnsupportedAndCorruptFiles() throws IOException {
        expectBad(Fixtures.path("io/fortran.npy"), "Fortran");
        expectBad(Fixtures.path("io/f64.npy"), "'<f8'");
        byte[] good = Files.readAllBytes(Fixtures.path("io/f32.npy"));
        Path cut = dir.resolve("cut.npy");
        Files.write(cut, Arrays.copyOf(good, good.length - 4));
        expectBad(cut, "truncated");
        Path hdr = dir.resolve("hdr.npy");
        Files.write(hdr, Arrays.copyOf(good, 40));
        expectBad(hdr, "runs past the end");
        Path tiny = dir.resolve("tiny.npy");
        Files.write(tiny, new byte[] {1, 2, 3});
        expectBad(tiny, "too short");
        Path magic = dir.resolve("magic.npy");
        byte[] m = good.clone();
        m[1] = 'X';
        Files.write(magic, m);
        expectBad(magic, "magic");
        Path junk = dir.resolve("junk.npy");
        byte[] j = good.clone();
        j[10] = '@';
        Files.write(junk, j);
        expectBad(junk, "malformed header");
        byte[] k = good.clone();
        k[12] = '@'; // 'descr' -> '@escr'
        Files.write(junk, k);
        expectBad(junk, "lacks 'descr'");
        expectBad(dir.resolve("missing.npy"), "no such file");
    }

    @Test
    void writeRejectsOtherDtypes() {
        try (TensorScope s = TensorScope.open()) {
            Tensor h = Tensor.empty(Shape.of(2), DType.FLOAT16);
            assertThrows(IllegalArgumentException.class, () -> Npy.write(dir.resolve("h.npy"), h));
        }
    }
}
