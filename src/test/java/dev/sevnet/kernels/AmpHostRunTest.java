package dev.sevnet.kernels;

import static dev.sevnet.kernels.KernelTestSupport.ok;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.sevnet.backend.cpu.NativeCore;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The loss-scaling kernels' bodies (kernels/amp.cuh: sevc_all_finite_multi, sevc_scale_multi) run on the host,
 * against the CPU ops sev_all_finite / sev_scale_all: the same answer for every placement of an infinity or NaN,
 * the scale bit for bit.
 */
@ExtendWith(IeeeDenormals.class)
class AmpHostRunTest {
    static final long[] SIZES = {0, 1, 7, 16, 33, 256, 257, 4097, 65536, 65537, 100_003, 0};
    static final float[] SPECIAL = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY,
        Float.intBitsToFloat(0x7f800001), Float.intBitsToFloat(0xffc00000), Float.MIN_VALUE, -Float.MIN_VALUE,
        Float.intBitsToFloat(0x007fffff), Float.MAX_VALUE, -Float.MAX_VALUE, -0f};

    static List<Tensor> tensors(Random r, long[] sizes) {
        List<Tensor> out = new ArrayList<>();
        for (long n : sizes) {
            float[] d = new float[Math.toIntExact(n)];
            for (int i = 0; i < d.length; i++) {
                d[i] = (float) (100 * r.nextGaussian());
            }
            out.add(Tensor.of(d, Shape.of(n)));
        }
        return out;
    }

    static long[] ptrs(List<Tensor> ts) {
        long[] p = new long[ts.size()];
        for (int i = 0; i < p.length; i++) {
            p[i] = ts.get(i).address();
        }
        return p;
    }

    /** Small chunks, so a tensor spans several and ends in a partial one (the device launch uses 16384). */
    static final long CHUNK = 5;

    static long[] sizes(List<Tensor> ts) {
        long[] s = new long[ts.size()];
        for (int i = 0; i < s.length; i++) {
            s[i] = ts.get(i).size();
        }
        return s;
    }

    /** hostrun flag and CPU answer agree with the expectation */
    static void check(List<Tensor> ts, boolean finite, String what) {
        int cpu = NativeCore.sev_all_finite(ptrs(ts), sizes(ts), ts.size());
        assertEquals(finite ? 1 : 0, cpu, what + " (cpu)");
        int[] flag = {-7};
        long[] prefix = dev.sevnet.backend.cuda.MultiTensorChunks.prefix(sizes(ts), CHUNK);
        ok(NativeCore.sev_hostrun_all_finite_multi(ptrs(ts), sizes(ts), prefix, ts.size(), prefix[ts.size()], CHUNK,
                flag), "hostrun");
        assertEquals(finite ? 0 : 1, flag[0], what + " (hostrun flag)");
    }

    @Test
    void allFiniteMultiMatchesTheCpu() {
        Random r = new Random(71);
        try (TensorScope scope = TensorScope.open()) {
            check(List.of(), true, "no tensors");
            List<Tensor> ts = tensors(r, SIZES);
            check(ts, true, "random");
            for (float v : SPECIAL) {
                boolean finite = Float.isFinite(v);
                for (int t = 1; t < SIZES.length - 1; t++) {
                    Tensor x = ts.get(t);
                    for (long at : new long[] {0, x.size() / 2, x.size() - 1}) {
                        float keep = x.getFloat(at);
                        x.setFloat(at, v);
                        check(ts, finite, "tensor " + t + " at " + at + " = " + v);
                        x.setFloat(at, keep);
                    }
                }
            }
            // the last element of the last tensor of a list ending with a non-empty tensor
            List<Tensor> upTo = ts.subList(0, SIZES.length - 1);
            Tensor last = upTo.get(upTo.size() - 1);
            last.setFloat(last.size() - 1, Float.NaN);
            check(upTo, false, "last element of the last tensor");
        }
    }

    @Test
    void scaleMultiMatchesTheCpuBitForBit() {
        Random r = new Random(72);
        for (float alpha : new float[] {1f / 65536, 0.7f, -3f}) {
            try (TensorScope scope = TensorScope.open()) {
                List<Tensor> a = tensors(r, SIZES);
                Tensor s = Tensor.of(SPECIAL.clone(), SPECIAL.length);
                a.add(s);
                List<Tensor> b = new ArrayList<>();
                for (Tensor t : a) {
                    b.add(t.copy());
                }
                ok(NativeCore.sev_scale_all(ptrs(a), sizes(a), a.size(), alpha), "cpu");
                long[] prefix = dev.sevnet.backend.cuda.MultiTensorChunks.prefix(sizes(b), CHUNK);
                ok(NativeCore.sev_hostrun_scale_multi(ptrs(b), sizes(b), prefix, b.size(), prefix[b.size()], CHUNK,
                        alpha), "hostrun");
                for (int i = 0; i < a.size(); i++) {
                    KernelTestSupport.assertBitwise(a.get(i), b.get(i), "alpha " + alpha + " tensor " + i);
                }
            }
        }
    }
}
