package dev.sevnet.nn.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.autograd.Var;
import dev.sevnet.nn.MacCounter;
import dev.sevnet.nn.Module;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Half;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WeightsLoaderTest {
    @TempDir
    Path dir;

    /** bn.{weight,bias,running_mean,running_var,num_batches_tracked} and fc.weight, like a tiny model. */
    static final class Leaf extends Module {
        Leaf(boolean bn) {
            if (bn) {
                registerParameter("weight", Tensor.full(Shape.of(3), 1f));
                registerParameter("bias", Tensor.zeros(Shape.of(3)));
                registerBuffer("running_mean", Tensor.zeros(Shape.of(3)));
                registerBuffer("running_var", Tensor.full(Shape.of(3), 1f));
                registerBuffer("num_batches_tracked", Tensor.ofLongs(new long[] {0}));
            } else {
                registerParameter("weight", Tensor.zeros(Shape.of(2, 3)));
            }
        }

        @Override
        public Var forward(Var x) {
            return x;
        }

        @Override
        public Shape outputShape(Shape input, MacCounter macs) {
            return input;
        }
    }

    static final class Tiny extends Module {
        Tiny() {
            registerModule("bn", new Leaf(true));
            registerModule("fc", new Leaf(false));
        }

        @Override
        public Var forward(Var x) {
            return x;
        }

        @Override
        public Shape outputShape(Shape input, MacCounter macs) {
            return input;
        }
    }

    private TensorScope scope;

    @BeforeEach
    void open() {
        scope = TensorScope.open();
    }

    @AfterEach
    void close() {
        scope.close();
    }

    private static Map<String, Tensor> good() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("bn.weight", Tensor.of(new float[] {1f, 2f, 3f}, 3));
        m.put("bn.bias", Tensor.of(new float[] {.1f, .2f, .3f}, 3));
        m.put("bn.running_mean", Tensor.of(new float[] {-1f, 0f, 1f}, 3));
        m.put("bn.running_var", Tensor.of(new float[] {2f, 3f, 4f}, 3));
        m.put("bn.num_batches_tracked", Tensor.ofLongs(new long[] {42}));
        m.put("fc.weight", Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3));
        return m;
    }

    private Path write(String name, Map<String, Tensor> m) {
        Path p = dir.resolve(name);
        Safetensors.write(p, m, Map.of("format", "pt"));
        return p;
    }

    @Test
    void loadsEveryTensorAndSavesThemBack() {
        try (Tiny model = new Tiny()) {
            WeightsLoader.Report r = WeightsLoader.load(model, write("ok.safetensors", good()), true);
            assertEquals(6, r.loaded().size());
            assertEquals("pt", r.metadata().get("format"));
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, model.stateDict().get("fc.weight").toFloatArray());
            assertEquals(42L, model.stateDict().get("bn.num_batches_tracked").toLongArray()[0]);
            Path out = dir.resolve("saved.safetensors");
            WeightsLoader.save(model, out);
            Map<String, Tensor> back = Safetensors.read(out);
            assertEquals(model.stateDict().keySet(), back.keySet());
            assertArrayEquals(new float[] {2f, 3f, 4f}, back.get("bn.running_var").toFloatArray());
        }
    }

    private void expectBad(Map<String, Tensor> m, boolean strict, String tensor, String fragment) {
        try (Tiny model = new Tiny()) {
            Path p = write("bad.safetensors", m);
            WeightsFormatException e = assertThrows(WeightsFormatException.class, () -> WeightsLoader.load(model, p, strict));
            assertEquals(tensor, e.tensor(), e.getMessage());
            assertTrue(e.getMessage().contains("'" + tensor + "'"), e.getMessage());
            assertTrue(e.getMessage().contains(fragment), e.getMessage());
            assertTrue(e.getMessage().contains("bad.safetensors"), e.getMessage());
            // nothing was copied
            assertArrayEquals(new float[6], model.stateDict().get("fc.weight").toFloatArray());
        }
    }

    @Test
    void missingUnexpectedShapeAndDtypeErrorsNameTheTensor() {
        Map<String, Tensor> m = good();
        m.remove("bn.running_var");
        expectBad(m, true, "bn.running_var", "missing");

        m = good();
        m.put("bn.extra", Tensor.zeros(Shape.of(1)));
        expectBad(m, true, "bn.extra", "unexpected");

        m = good();
        m.put("fc.weight", Tensor.zeros(Shape.of(3, 2)));
        expectBad(m, true, "fc.weight", "shape [3, 2]");
        expectBad(m, false, "fc.weight", "shape [3, 2]");

        m = good();
        m.put("bn.num_batches_tracked", Tensor.of(new float[] {1f}));
        expectBad(m, true, "bn.num_batches_tracked", "dtype F32");

        m = good();
        m.put("fc.weight", Tensor.ofLongs(new long[6], 2, 3));
        expectBad(m, true, "fc.weight", "dtype I64");
    }

    @Test
    void nonStrictSkipsMissingAndUnexpected() {
        Map<String, Tensor> m = good();
        m.remove("bn.bias");
        m.put("other", Tensor.zeros(Shape.of(1)));
        try (Tiny model = new Tiny()) {
            WeightsLoader.Report r = WeightsLoader.load(model, write("partial.safetensors", m), false);
            assertEquals(List.of("bn.bias"), r.missing());
            assertEquals(List.of("other"), r.unexpected());
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, model.stateDict().get("fc.weight").toFloatArray());
        }
    }

    @Test
    void halfPrecisionIsWidenedWithANote() {
        Map<String, Tensor> m = good();
        Tensor h = Tensor.empty(Shape.of(2, 3), DType.FLOAT16);
        Tensor b = Tensor.empty(Shape.of(3), DType.BFLOAT16);
        ByteBuffer hb = h.hostBuffer();
        ByteBuffer bb = b.hostBuffer();
        for (int i = 0; i < 6; i++) {
            hb.putShort(2 * i, Half.fromFloat(i + 0.5f));
        }
        for (int i = 0; i < 3; i++) {
            bb.putShort(2 * i, (short) (Float.floatToIntBits(-i - 0.25f) >>> 16));
        }
        m.put("fc.weight", h);
        m.put("bn.bias", b);
        try (Tiny model = new Tiny()) {
            WeightsLoader.Report r = WeightsLoader.load(model, write("half.safetensors", m), true);
            assertEquals(2, r.notes().size(), r.notes().toString());
            assertTrue(r.notes().get(0).contains("F16") || r.notes().get(1).contains("F16"));
            assertArrayEquals(new float[] {.5f, 1.5f, 2.5f, 3.5f, 4.5f, 5.5f},
                    model.stateDict().get("fc.weight").toFloatArray());
            assertArrayEquals(new float[] {-.25f, -1.25f, -2.25f}, model.stateDict().get("bn.bias").toFloatArray());
            assertEquals(DType.FLOAT32, model.stateDict().get("bn.bias").dtype());
        }
    }

    @Test
    void corruptFileIsAFormatError() {
        Path p = dir.resolve("missing.safetensors");
        try (Tiny model = new Tiny()) {
            assertThrows(WeightsFormatException.class, () -> WeightsLoader.load(model, p, true));
        }
    }
}
