package dev.sevnet.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.sevnet.backend.Backend;
import dev.sevnet.backend.Checks;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Device;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * {@link Backend#allFinite} and {@link Backend#scaleAll} on the CPU ({@code sev_all_finite}, {@code sev_scale_all})
 * against plain Java loops, and against {@link Backend}'s per-tensor defaults (sum, axpby): infinities and NaNs
 * (quiet, signalling, negative, with payloads) anywhere — the last element of the last tensor, chunk and vector
 * boundaries —, subnormals and extremes that are finite, empty tensors, many tensors; the argument checks.
 */
class AllFiniteScaleAllTest {
    static final CpuBackend CPU = CpuBackend.get();
    /** The same backend with allFinite / scaleAll left to the interface's defaults. */
    static final Backend DEFAULTS = defaultsOf(CPU);

    static final float[] NON_FINITE = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY,
        Float.intBitsToFloat(0x7f800001), // signalling NaN
        Float.intBitsToFloat(0xffc00000), // negative quiet NaN
        Float.intBitsToFloat(0x7fffffff), Float.intBitsToFloat(0xff800001)};
    static final float[] FINITE_EXTREMES = {Float.MIN_VALUE, -Float.MIN_VALUE, Float.intBitsToFloat(0x007fffff),
        -Float.MIN_NORMAL, Float.MAX_VALUE, -Float.MAX_VALUE, Float.intBitsToFloat(0x7f7fffff), -0f, 0f};

    /** Sizes crossing the vector widths (4, 8, 16), the native chunk (65536) and the parallel threshold. */
    static final long[] SIZES = {0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 100, 1000, 4097, 65535, 65536, 65537,
        200_003, 0};

    static Backend defaultsOf(Backend target) {
        InvocationHandler h = (proxy, m, args) -> {
            try {
                if (m.getName().equals("allFinite") || m.getName().equals("scaleAll")) {
                    return InvocationHandler.invokeDefault(proxy, m, args);
                }
                return m.invoke(target, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        };
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class}, h);
    }

    static boolean javaAllFinite(List<Tensor> ts) {
        for (Tensor t : ts) {
            for (float v : t.toFloatArray()) {
                if (!Float.isFinite(v)) {
                    return false;
                }
            }
        }
        return true;
    }

    static List<Tensor> tensors(Random r, long... sizes) {
        List<Tensor> out = new ArrayList<>();
        for (long n : sizes) {
            float[] d = new float[Math.toIntExact(n)];
            for (int i = 0; i < d.length; i++) {
                d[i] = (float) (1e3 * r.nextGaussian());
            }
            out.add(Tensor.of(d, Shape.of(n)));
        }
        return out;
    }

    /** allFinite on the CPU, on the defaults and by the Java loop: all {@code expected}. */
    static void agree(boolean expected, List<Tensor> ts, String what) {
        assertEquals(expected, javaAllFinite(ts), what + " (java loop)");
        assertEquals(expected, CPU.allFinite(ts), what + " (cpu)");
        assertEquals(expected, DEFAULTS.allFinite(ts), what + " (default)");
    }

    @Test
    void finiteTensorsAreFiniteEmptyListsAndEmptyTensorsToo() {
        try (TensorScope scope = TensorScope.open()) {
            agree(true, List.of(), "empty list");
            agree(true, List.of(Tensor.zeros(Shape.of(0)), Tensor.zeros(Shape.of(0, 3))), "empty tensors");
            agree(true, tensors(new Random(1), SIZES), "random sizes");
            float[] ext = new float[FINITE_EXTREMES.length * 7];
            for (int i = 0; i < ext.length; i++) {
                ext[i] = FINITE_EXTREMES[i % FINITE_EXTREMES.length];
            }
            agree(true, List.of(Tensor.of(ext, ext.length)), "subnormals, extremes, signed zeros");
        }
    }

    @Test
    void oneNonFiniteValueAnywhereIsFound() {
        Random r = new Random(2);
        try (TensorScope scope = TensorScope.open()) {
            List<Tensor> ts = tensors(r, SIZES);
            int big = 19; // 200_003 elements: chunks of 65536
            for (float bad : NON_FINITE) {
                String b = "0x" + Integer.toHexString(Float.floatToRawIntBits(bad));
                // the last element of the last non-empty tensor, then of the last tensor of a list that ends with it
                place(ts, big, ts.get(big).size() - 1, bad, "last element of the last tensor " + b);
                List<Tensor> endsWithIt = new ArrayList<>(ts.subList(0, big + 1));
                setAndCheck(endsWithIt, big, ts.get(big).size() - 1, bad, "last tensor, last element " + b);
                place(ts, 1, 0, bad, "the only element of a one-element tensor " + b);
                for (long at : new long[] {0, 15, 16, 65535, 65536, 131071, 131072, 200_002}) {
                    place(ts, big, at, bad, "large tensor at " + at + " " + b);
                }
                for (int t = 1; t < SIZES.length - 1; t++) {
                    place(ts, t, r.nextInt(Math.toIntExact(ts.get(t).size())), bad, "tensor " + t + " " + b);
                    place(ts, t, ts.get(t).size() - 1, bad, "tensor " + t + " last " + b);
                }
            }
        }
    }

    @Test
    void manySmallTensorsWithTheNonFiniteValueInTheLastElementOfTheLast() {
        Random r = new Random(3);
        try (TensorScope scope = TensorScope.open()) {
            long[] sizes = new long[2000];
            for (int i = 0; i < sizes.length; i++) {
                sizes[i] = 1 + r.nextInt(300);
            }
            List<Tensor> ts = tensors(r, sizes);
            agree(true, ts, "2000 tensors");
            int last = ts.size() - 1;
            for (float bad : NON_FINITE) {
                setAndCheck(ts, last, ts.get(last).size() - 1, bad, "2000 tensors, last element");
            }
        }
    }

    private static void place(List<Tensor> ts, int t, long at, float bad, String what) {
        setAndCheck(ts, t, at, bad, what);
    }

    /** ts finite; sets ts[t][at] = bad, checks every path finds it, restores the value and checks again. */
    private static void setAndCheck(List<Tensor> ts, int t, long at, float bad, String what) {
        Tensor x = ts.get(t);
        float keep = x.getFloat(at);
        x.setFloat(at, bad);
        try {
            agree(false, ts, what);
        } finally {
            x.setFloat(at, keep);
        }
        agree(true, ts, what + " (restored)");
    }

    /** v as the native kernels store it: a denormal result flushed to zero of its sign while they flush. */
    static float asStored(float v, boolean flush) {
        return flush && v != 0 && Math.abs(v) < Float.MIN_NORMAL ? Math.copySign(0f, v) : v;
    }

    /** The Java product, with the native kernels' denormal mode (flushed, and IEEE gradual underflow). */
    @Test
    void scaleAllIsTheJavaProductAndAxpbyBitForBit() {
        boolean before = CpuBackend.flushDenormals();
        try {
            for (boolean flush : new boolean[] {true, false}) {
                CpuBackend.setFlushDenormals(flush);
                scaleAllIsTheJavaProduct(CpuBackend.flushDenormals()); // false where the CPU has no such mode
            }
        } finally {
            CpuBackend.setFlushDenormals(before);
        }
    }

    static void scaleAllIsTheJavaProduct(boolean flush) {
        Random r = new Random(4);
        for (float alpha : new float[] {1f / 65536, 0.3f, 1f / 3, -2.5f, 1f, 0f, 1e30f}) {
            try (TensorScope scope = TensorScope.open()) {
                List<Tensor> ts = tensors(r, SIZES);
                float[] ext = new float[FINITE_EXTREMES.length + NON_FINITE.length];
                System.arraycopy(FINITE_EXTREMES, 0, ext, 0, FINITE_EXTREMES.length);
                System.arraycopy(NON_FINITE, 0, ext, FINITE_EXTREMES.length, NON_FINITE.length);
                ts.add(Tensor.of(ext, ext.length));
                List<Tensor> viaDefault = new ArrayList<>();
                List<float[]> expected = new ArrayList<>();
                for (Tensor t : ts) {
                    viaDefault.add(t.copy());
                    float[] e = t.toFloatArray();
                    for (int i = 0; i < e.length; i++) {
                        e[i] = asStored(alpha * e[i], flush);
                    }
                    expected.add(e);
                }
                CPU.scaleAll(ts, alpha);
                DEFAULTS.scaleAll(viaDefault, alpha);
                for (int i = 0; i < ts.size(); i++) {
                    String what = "alpha " + alpha + " tensor " + i + " flush " + flush;
                    assertBits(expected.get(i), ts.get(i).toFloatArray(), what + " (cpu)");
                    assertBits(expected.get(i), viaDefault.get(i).toFloatArray(), what + " (default: axpby)");
                }
            }
        }
    }

    @Test
    void scaleAllOverManyTensors() {
        Random r = new Random(5);
        try (TensorScope scope = TensorScope.open()) {
            long[] sizes = new long[1500];
            for (int i = 0; i < sizes.length; i++) {
                sizes[i] = r.nextInt(5000);
            }
            List<Tensor> ts = tensors(r, sizes);
            List<float[]> expected = new ArrayList<>();
            for (Tensor t : ts) {
                float[] e = t.toFloatArray();
                for (int i = 0; i < e.length; i++) {
                    e[i] = asStored(e[i] * (1f / 1024), CpuBackend.flushDenormals());
                }
                expected.add(e);
            }
            CPU.scaleAll(ts, 1f / 1024);
            for (int i = 0; i < ts.size(); i++) {
                assertBits(expected.get(i), ts.get(i).toFloatArray(), "tensor " + i);
            }
            CPU.scaleAll(List.of(), 2f);
        }
    }

    static void assertBits(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            if (Float.isNaN(expected[i]) ? !Float.isNaN(actual[i])
                    : Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(actual[i])) {
                fail(what + "[" + i + "]: expected " + expected[i] + ", got " + actual[i]);
            }
        }
    }

    private static void bad(String what, Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call, what);
        assertTrue(e.getMessage() != null && !e.getMessage().isBlank(), what + ": exception without a message");
    }

    @Test
    void badArgumentsAreRefusedBeforeAnyTensorIsReadOrWritten() {
        try (TensorScope scope = TensorScope.open()) {
            Tensor good = Tensor.of(new float[] {1f, 2f, 3f}, 3);
            Tensor closed = Tensor.zeros(Shape.of(2));
            closed.close();
            Tensor longs = Tensor.zeros(Shape.of(2), DType.INT64);
            Tensor half = Tensor.zeros(Shape.of(2), DType.FLOAT16);
            Tensor bf16 = Tensor.zeros(Shape.of(2), DType.BFLOAT16);
            for (Backend b : new Backend[] {CPU, DEFAULTS}) {
                String n = b == CPU ? "cpu " : "default ";
                bad(n + "null list", () -> b.allFinite(null));
                bad(n + "null list (scale)", () -> b.scaleAll(null, 2f));
                bad(n + "null entry", () -> b.allFinite(Arrays.asList(good, null)));
                bad(n + "null entry (scale)", () -> b.scaleAll(Arrays.asList(good, null), 2f));
                bad(n + "closed", () -> b.allFinite(List.of(good, closed)));
                bad(n + "closed (scale)", () -> b.scaleAll(List.of(good, closed), 2f));
                for (Tensor t : new Tensor[] {longs, half, bf16}) {
                    bad(n + t.dtype(), () -> b.allFinite(List.of(good, t)));
                    bad(n + t.dtype() + " (scale)", () -> b.scaleAll(List.of(good, t), 2f));
                }
                // an in-place scale of one element twice (or by two threads at once): refused
                bad(n + "the same tensor twice", () -> b.scaleAll(List.of(good, good), 2f));
                bad(n + "a view of another", () -> b.scaleAll(List.of(good, good.reshape(1, 3)), 2f));
                assertArrayEquals(new float[] {1f, 2f, 3f}, good.toFloatArray(), n + "nothing written");
                assertTrue(b.allFinite(List.of(good, good)), n + "reading a tensor twice is fine");
            }
            // another device: the check both backends run (no GPU needed)
            bad("cpu tensor for a cuda backend", () -> Checks.floatList(List.of(good), "allFinite", Device.cuda(0)));
            // disjoint neighbours and empty tensors are not overlaps
            Tensor a = Tensor.zeros(Shape.of(4));
            Tensor e = Tensor.zeros(Shape.of(0));
            Checks.disjoint(List.of(a, e, e, good), "scaleAll");
        }
    }

    @Test
    void nativeArgumentErrorsAreCodesNotCrashes() {
        try (TensorScope scope = TensorScope.open()) {
            Tensor t = Tensor.of(new float[] {1f, Float.NaN}, 2);
            assertTrue(NativeCore.sev_all_finite(new long[] {t.address()}, new long[] {-1}, 1) < 0, "negative size");
            assertTrue(NativeCore.sev_all_finite(new long[] {0}, new long[] {2}, 1) < 0, "null data");
            assertTrue(NativeCore.sev_all_finite(new long[0], new long[0], -1) < 0, "negative count");
            assertTrue(NativeCore.sev_scale_all(new long[] {0}, new long[] {2}, 1, 2f) < 0, "null data (scale)");
            assertEquals(1, NativeCore.sev_all_finite(new long[] {0}, new long[] {0}, 1), "empty, no data");
            assertEquals(0, NativeCore.sev_all_finite(new long[] {t.address()}, new long[] {2}, 1));
            assertEquals(1, NativeCore.sev_all_finite(new long[] {t.address()}, new long[] {1}, 1), "NaN not counted");
            assertFalse(CPU.allFinite(List.of(t)));
        }
    }
}
