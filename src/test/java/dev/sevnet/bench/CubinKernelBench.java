package dev.sevnet.bench;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuCtxSynchronize;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuDeviceGetCount;
import static jcuda.driver.JCudaDriver.cuDeviceGetName;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuDriverGetVersion;
import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventElapsedTime;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;
import static jcuda.driver.JCudaDriver.cuFuncGetAttribute;
import static jcuda.driver.JCudaDriver.cuFuncSetAttribute;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;
import static jcuda.driver.JCudaDriver.cuMemsetD32;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuModuleUnload;
import static jcuda.driver.JCudaDriver.cuOccupancyMaxActiveBlocksPerMultiprocessor;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;

import dev.sevnet.backend.ConvSpec;
import dev.sevnet.backend.CudaStatus;
import dev.sevnet.backend.cpu.CpuBackend;
import dev.sevnet.backend.cpu.NativeCore;
import dev.sevnet.backend.cuda.CudaBackend;
import dev.sevnet.backend.cuda.CudaRuntime;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import jcuda.CudaException;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUfunction;
import jcuda.driver.CUfunction_attribute;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/**
 * One kernel at a time, with the launch shape chosen on the command line: the harness loads the kernels'
 * standalone cubins (CMake target {@code sevnet_cubins}, see {@link Cubins}) through the CUDA driver API
 * (JCuda) in the device's primary context — the one the CUDA runtime, and so the JavaCPP presets and
 * CudaBackend, use, so their buffers are valid here too — finds each kernel by its C++ name in the cubin's
 * symbol table ({@link CubinElf}), checks its argument bytes against the cubin's parameter table, launches
 * it with cuLaunchKernel, times it with CUDA events (warm-up, then the median of N) and checks its output
 * against the CPU backend. Prints a Markdown table: grid, block, dynamic shared memory, registers, resident
 * blocks per SM, µs, GB/s, GFLOP/s, check.
 *
 * <pre>
 * java -cp CP dev.sevnet.bench.CubinKernelBench [options] MODE [key=v1,v2,... ...]
 *   list                 the kernels of every cubin (no GPU needed)
 *   check                one small problem per kernel, a few launch shapes each, checked; exit 1 on a mismatch
 *   sweep                the default sweeps at SEVNet-G8's shapes (batch 8)
 *   ew | tconv | tconv-dw | gconv | gconv-cl   one kernel; every key takes a comma list, the table is their product:
 *     ew        add_kernel (grid-stride):  n, grid (auto = the library's min(ceil(n/block), 8192)), block
 *     tconv     temporal_conv3_gemm_kernel (3x1x1 conv fwd, trans=1 backward-data; 64x64 tiles, 256 threads):
 *               N, C, T, H, W, trans, smem (extra dynamic shared bytes: an occupancy limiter)
 *     tconv-dw  temporal_conv3_dw_kernel + _dw_reduce_kernel (backward-weight): N, C, T, H, W,
 *               splits (grid z; auto = the library's choice)
 *     gconv     gc_fwd_kernel&lt;CGMAX&gt; (grouped 1x3x3 conv + epilogue, inference form; 256 threads): N, C, cg,
 *               T, H, W, stride, epi (bias|bn), relu, tile (auto | FxHxW frames x rows x columns, at most 256
 *               positions), cgmax (auto | 4 | 8 | 16, at least cg)
 *     gconv-cl  gcl_kernel&lt;SevF32, CGMAX, TRANS&gt; (the grouped 1x3x3 conv channels-last, fp32): N, C, cg, T, H, W,
 *               stride, pass (fwd|bwd-data), tile (auto | FxHxQ frames x rows x threads per row, 4 columns a
 *               thread, at most 128 threads), cgmax
 * options: --reps=N (50) --warmup=N (5) --device=N (0) --no-check --arch=XX (cubin arch) --cubins=DIR
 * </pre>
 *
 * Example: {@code CubinKernelBench gconv N=8 C=64 cg=8 T=16 H=56 W=56 stride=1,2 tile=auto,1x8x32,2x8x16 cgmax=8,16}.
 *
 * <p>Each repetition is one event pair around the shape's launches on one stream, nothing else on the host in
 * between; a kernel shorter than the host's launch cost (a few µs) measures that cost. Inputs small enough
 * for L2 stay there between repetitions.
 */
public final class CubinKernelBench {
    static final int LIB_THREADS = 256;        // sevc::kThreads
    static final long LIB_MAX_BLOCKS = 8192;   // sevc::kMaxBlocks
    static final int TC_TILE = 64;             // TC_BM = TC_BN
    static final int TC_BK = 16;
    static final int GC_THREADS = 256;
    static final int DEFAULT_SMEM_LIMIT = 48 * 1024;

    private CubinKernelBench() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out));
    }

    // ================================================================== kernel arguments, as bytes

    /** A kernel's arguments: each parameter's bytes, little-endian, as the device ABI lays them out. */
    static final class Args {
        final List<String> names = new ArrayList<>();
        final List<byte[]> values = new ArrayList<>();

        Args ptr(String name, long address) {
            return add(name, le(8).putLong(address));
        }

        Args i32(String name, int v) {
            return add(name, le(4).putInt(v));
        }

        Args i64(String name, long v) {
            return add(name, le(8).putLong(v));
        }

        Args f32(String name, float v) {
            return add(name, le(4).putFloat(v));
        }

        Args struct(String name, ByteBuffer b) {
            return add(name, b);
        }

        private Args add(String name, ByteBuffer b) {
            names.add(name);
            values.add(b.array());
            return this;
        }

        private Pointer params;

        /** cuLaunchKernel's kernelParams: an array of pointers, one to each argument's bytes (built once). */
        Pointer kernelParams() {
            if (params == null) {
                Pointer[] p = new Pointer[values.size()];
                for (int i = 0; i < p.length; i++) {
                    p[i] = Pointer.to(values.get(i));
                }
                params = Pointer.to(p);
            }
            return params;
        }
    }

    static ByteBuffer le(int bytes) {
        return ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** struct CbrEpilogue { const float* bias, *gamma, *beta, *mean, *var; float eps; int relu; } — 48 bytes. */
    static ByteBuffer cbrEpilogue(long bias, long gamma, long beta, long mean, long var, float eps, int relu) {
        return le(48).putLong(bias).putLong(gamma).putLong(beta).putLong(mean).putLong(var).putFloat(eps).putInt(relu);
    }

    /** struct GcDims { int N, C, cg, T, H, W, s, Ho, Wo; } — 36 bytes (gc_dims). */
    static ByteBuffer gcDims(int n, int c, int cg, int t, int h, int w, int s) {
        return le(36).putInt(n).putInt(c).putInt(cg).putInt(t).putInt(h).putInt(w).putInt(s).putInt((h - 1) / s + 1)
                .putInt((w - 1) / s + 1);
    }

    /** struct GcTile { int tf, th, tw, nt, nh, nw; } — 24 bytes. */
    static ByteBuffer gcTile(int[] tile) {
        ByteBuffer b = le(24);
        for (int v : tile) {
            b.putInt(v);
        }
        return b;
    }

    /**
     * The argument bytes against the cubin's parameter table (EIATTR_KPARAM_INFO): the same count and each the
     * declared size. A struct laid out wrongly, a missing or extra scalar, shows up here, before any launch.
     */
    static void verify(CubinElf.Kernel k, Args a) {
        List<CubinElf.Param> ps = k.params();
        StringBuilder ours = new StringBuilder();
        for (int i = 0; i < a.values.size(); i++) {
            ours.append(i == 0 ? "" : ", ").append(a.names.get(i)).append(':').append(a.values.get(i).length);
        }
        String msg = k.name() + " takes " + ps.stream().map(p -> String.valueOf(p.size())).toList()
                + " bytes per parameter; the harness passes " + ours;
        if (ps.size() != a.values.size()) {
            throw new IllegalStateException(msg);
        }
        for (int i = 0; i < ps.size(); i++) {
            if (ps.get(i).ordinal() != i || ps.get(i).size() != a.values.get(i).length) {
                throw new IllegalStateException(msg);
            }
        }
    }

    // ================================================================== launches and problems

    /** One cuLaunchKernel: kernel (cubin source, C++ name), grid, block, dynamic shared bytes, arguments. */
    record Launch(String cubin, String kernel, int[] grid, int[] block, int smem, Args args) {
        long blocks() {
            return (long) grid[0] * grid[1] * grid[2];
        }

        int threads() {
            return block[0] * block[1] * block[2];
        }
    }

    /** What the device allows (from the driver on a GPU; a stand-in for dry runs). */
    record DeviceInfo(String name, int ccMajor, int ccMinor, int sms, int smemOptin) {
        static final DeviceInfo H100 = new DeviceInfo("(dry run: H100-like)", 9, 0, 132, 227 * 1024);
    }

    /** One problem: its buffers (inputs first), the launches for a launch shape, the CPU's answer. */
    abstract static class Problem {
        final Map<String, String> cfg;

        Problem(Map<String, String> cfg) {
            this.cfg = cfg;
        }

        abstract String describe();

        /** Floats per buffer; the first {@link #inputs()} are inputs, filled by {@link #init}. */
        abstract long[] buffers();

        abstract int inputs();

        /** The buffer the check compares. */
        abstract int output();

        float[] init(int buffer, Random r) {
            return uniform(r, buffers()[buffer], -1, 1);
        }

        /** Floats of scratch the launch shape needs (allocated by the harness). */
        long scratch(Map<String, String> shape, DeviceInfo dev) {
            return 0;
        }

        /** The launches of one shape; IllegalArgumentException if the shape is not valid for this kernel. */
        abstract List<Launch> launches(long[] addr, long scratch, Map<String, String> shape, DeviceInfo dev);

        /** The CPU backend's result for the inputs. */
        abstract float[] reference(float[][] in);

        /** Norm-wise relative error allowed (0: bit for bit). */
        double tolerance() {
            return 1e-4;
        }

        abstract double bytes();

        abstract double flops();

        int i(String key) {
            return Integer.parseInt(need(key));
        }

        String need(String key) {
            String v = cfg.get(key);
            if (v == null) {
                throw new IllegalArgumentException(describeKeys() + ": missing " + key + "=");
            }
            return v;
        }

        String describeKeys() {
            return getClass().getSimpleName();
        }
    }

    static float[] uniform(Random r, long n, double lo, double hi) {
        float[] d = new float[Math.toIntExact(n)];
        for (int i = 0; i < d.length; i++) {
            d[i] = (float) (lo + (hi - lo) * r.nextDouble());
        }
        return d;
    }

    static int ceilDiv(long a, long b) {
        return Math.toIntExact((a + b - 1) / b);
    }

    static int[] dim3(long x, long y, long z) {
        return new int[] {Math.toIntExact(x), Math.toIntExact(y), Math.toIntExact(z)};
    }

    static String shapeKey(Map<String, String> shape, String key, String dflt) {
        return shape.getOrDefault(key, dflt);
    }

    // ---- ew: add_kernel(const float* a, const float* b, float* y, int64_t n), grid-stride
    static final class Add extends Problem {
        final long n;

        Add(Map<String, String> cfg) {
            super(cfg);
            n = Long.parseLong(cfg.getOrDefault("n", "16777216"));
        }

        @Override
        String describe() {
            return "n=" + n;
        }

        @Override
        long[] buffers() {
            return new long[] {n, n, n};
        }

        @Override
        int inputs() {
            return 2;
        }

        @Override
        int output() {
            return 2;
        }

        @Override
        List<Launch> launches(long[] addr, long scratch, Map<String, String> shape, DeviceInfo dev) {
            int block = Integer.parseInt(shapeKey(shape, "block", "256"));
            if (block < 1 || block > 1024) {
                throw new IllegalArgumentException("block " + block + " outside 1..1024");
            }
            String g = shapeKey(shape, "grid", "auto");
            long grid = g.equals("auto") ? Math.min((n + block - 1) / block, LIB_MAX_BLOCKS) : Long.parseLong(g);
            if (grid < 1 || grid > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("grid " + grid + " outside 1..2^31-1");
            }
            Args a = new Args().ptr("a", addr[0]).ptr("b", addr[1]).ptr("y", addr[2]).i64("n", n);
            return List.of(new Launch("elementwise", "add_kernel", dim3(grid, 1, 1), dim3(block, 1, 1), 0, a));
        }

        @Override
        float[] reference(float[][] in) {
            try (TensorScope s = TensorScope.open()) {
                return CpuBackend.get().add(Tensor.of(in[0], n), Tensor.of(in[1], n)).toFloatArray();
            }
        }

        @Override
        double tolerance() {
            return 0;  // one IEEE add per element: bit for bit
        }

        @Override
        double bytes() {
            return 12.0 * n;
        }

        @Override
        double flops() {
            return n;
        }
    }

    /** The temporal conv's geometry: N, C, T, H, W (S = H*W). */
    abstract static class Temporal extends Problem {
        final int n;
        final int c;
        final int t;
        final int h;
        final int w;
        final long s;
        final long ts;

        Temporal(Map<String, String> cfg) {
            super(cfg);
            n = i("N");
            c = i("C");
            t = i("T");
            h = i("H");
            w = i("W");
            s = (long) h * w;
            ts = t * s;
            if (n < 1 || c < 1 || t < 1 || s < 1 || n > 65535 || ceilDiv(c, TC_TILE) > 65535) {
                throw new IllegalArgumentException("bad size N=" + n + " C=" + c + " T=" + t + " S=" + s);
            }
        }

        Shape xShape() {
            return Shape.of(n, c, t, h, w);
        }

        Shape wShape() {
            return Shape.of(c, c, 3, 1, 1);
        }

        static final ConvSpec SPEC = ConvSpec.builder().kernel(3, 1, 1).padding(1, 0, 0).build();

        long elems() {
            return (long) n * c * ts;
        }

        @Override
        double flops() {
            return 2.0 * elems() * 3 * c;
        }

        @Override
        double bytes() {
            return 4.0 * (2 * elems() + 3L * c * c);
        }

        @Override
        double tolerance() {
            return 1e-5;  // sums of 3C products in another order, norm-wise
        }
    }

    // ---- tconv: temporal_conv3_gemm_kernel<TRANS>(const float* w, const float* src, float* dst, int C, int64 S, int64 TS)
    static final class TemporalGemm extends Temporal {
        final boolean trans;

        TemporalGemm(Map<String, String> cfg) {
            super(cfg);
            trans = cfg.getOrDefault("trans", "0").equals("1");
        }

        @Override
        String describe() {
            return (trans ? "bwd-data " : "fwd ") + "[" + n + "," + c + "," + t + "," + h + "," + w + "]";
        }

        @Override
        long[] buffers() {
            return new long[] {3L * c * c, elems(), elems()};
        }

        @Override
        int inputs() {
            return 2;
        }

        @Override
        int output() {
            return 2;
        }

        @Override
        List<Launch> launches(long[] addr, long scratch, Map<String, String> shape, DeviceInfo dev) {
            int smem = Integer.parseInt(shapeKey(shape, "smem", "0"));
            if (smem < 0 || smem > dev.smemOptin() - 2 * 4 * TC_BK * TC_TILE) {
                throw new IllegalArgumentException("smem " + smem + " beyond the device's " + dev.smemOptin()
                        + " bytes per block less the kernel's static 8 KB");
            }
            Args a = new Args().ptr("w", addr[0]).ptr("src", addr[1]).ptr("dst", addr[2]).i32("C", c).i64("S", s)
                    .i64("TS", ts);
            return List.of(new Launch("temporal_conv", "temporal_conv3_gemm_kernel<" + trans + ">",
                    dim3(ceilDiv(ts, TC_TILE), ceilDiv(c, TC_TILE), n), dim3(256, 1, 1), smem, a));
        }

        @Override
        float[] reference(float[][] in) {
            try (TensorScope sc = TensorScope.open()) {
                Tensor wt = Tensor.of(in[0], wShape());
                Tensor src = Tensor.of(in[1], xShape());
                CpuBackend cpu = CpuBackend.get();
                return (trans ? cpu.conv3dBackwardData(src, wt, SPEC, xShape()) : cpu.conv3d(src, wt, null, SPEC, false))
                        .toFloatArray();
            }
        }
    }

    // ---- tconv-dw: temporal_conv3_dw_kernel(x, dy, parts, int N, int C, int64 S, int64 TS), grid z = splits;
    //      temporal_conv3_dw_reduce_kernel(parts, dw, int P, int C)
    static final class TemporalDw extends Temporal {
        TemporalDw(Map<String, String> cfg) {
            super(cfg);
        }

        @Override
        String describe() {
            return "bwd-weight [" + n + "," + c + "," + t + "," + h + "," + w + "]";
        }

        @Override
        long[] buffers() {
            return new long[] {elems(), elems(), 3L * c * c};
        }

        @Override
        int inputs() {
            return 2;
        }

        @Override
        int output() {
            return 2;
        }

        /** tconv_dw_splits: ~512 blocks, at most one per (item, 16-column) slice, at most 16M floats of scratch. */
        int librarySplits() {
            long tiles = (long) ceilDiv(3L * c, TC_TILE) * ceilDiv(c, TC_TILE);
            long p = (512 + tiles - 1) / tiles;
            long slices = (long) n * ((ts + TC_BK - 1) / TC_BK);
            long cap = (16L << 20) / (3L * c * c + 1);
            p = Math.min(p, Math.min(slices, cap));
            return (int) Math.max(p, 1);
        }

        int splits(Map<String, String> shape) {
            String v = shapeKey(shape, "splits", "auto");
            int p = v.equals("auto") ? librarySplits() : Integer.parseInt(v);
            if (p < 1 || p > 65535) {
                throw new IllegalArgumentException("splits " + p + " outside 1..65535 (grid z)");
            }
            return p;
        }

        @Override
        long scratch(Map<String, String> shape, DeviceInfo dev) {
            return (long) splits(shape) * 3 * c * c;
        }

        @Override
        List<Launch> launches(long[] addr, long scratch, Map<String, String> shape, DeviceInfo dev) {
            int p = splits(shape);
            Args a = new Args().ptr("x", addr[0]).ptr("dy", addr[1]).ptr("parts", scratch).i32("N", n).i32("C", c)
                    .i64("S", s).i64("TS", ts);
            Args r = new Args().ptr("parts", scratch).ptr("dw", addr[2]).i32("P", p).i32("C", c);
            long per = 3L * c * c;
            return List.of(
                    new Launch("temporal_conv", "temporal_conv3_dw_kernel",
                            dim3(ceilDiv(3L * c, TC_TILE), ceilDiv(c, TC_TILE), p), dim3(256, 1, 1), 0, a),
                    new Launch("temporal_conv", "temporal_conv3_dw_reduce_kernel",
                            dim3(Math.min(ceilDiv(per, LIB_THREADS), LIB_MAX_BLOCKS), 1, 1), dim3(LIB_THREADS, 1, 1), 0,
                            r));
        }

        @Override
        float[] reference(float[][] in) {
            try (TensorScope sc = TensorScope.open()) {
                return CpuBackend.get().conv3dBackwardWeight(Tensor.of(in[0], xShape()), Tensor.of(in[1], xShape()), SPEC,
                        wShape()).toFloatArray();
            }
        }
    }

    // ---- gconv: gc_fwd_kernel<CGMAX>(x, w, y, SevDouble2* part, CbrEpilogue e, GcDims d, GcTile t, int64 P)
    /** The block's grouped 1x3x3 conv problem: N, C, cg (8), T, H, W, stride (1), checked as the kernels check them. */
    abstract static class GroupedProblem extends Problem {
        final int n;
        final int c;
        final int cg;
        final int t;
        final int h;
        final int w;
        final int stride;
        final int ho;
        final int wo;

        GroupedProblem(Map<String, String> cfg) {
            super(cfg);
            n = i("N");
            c = i("C");
            cg = Integer.parseInt(cfg.getOrDefault("cg", "8"));
            t = i("T");
            h = i("H");
            w = i("W");
            stride = Integer.parseInt(cfg.getOrDefault("stride", "1"));
            if (n < 1 || c < 1 || t < 1 || h < 1 || w < 1 || cg < 1 || cg > 16 || c % cg != 0 || stride < 1
                    || stride > 2 || n > 65535 || c / cg > 65535) {
                throw new IllegalArgumentException("bad size N=" + n + " C=" + c + " cg=" + cg + " stride=" + stride);
            }
            ho = (h - 1) / stride + 1;
            wo = (w - 1) / stride + 1;
        }

        ConvSpec spec() {
            return ConvSpec.builder().kernel(1, 3, 3).stride(1, stride, stride).padding(0, 1, 1).groups(c / cg).build();
        }

        /** The accumulators the kernel is instantiated with: auto (the launcher's), or 4, 8, 16 (at least cg). */
        int cgmax(Map<String, String> shape) {
            String v = shapeKey(shape, "cgmax", "auto");
            int m = v.equals("auto") ? (cg <= 4 ? 4 : cg <= 8 ? 8 : 16) : Integer.parseInt(v);
            if (m != 4 && m != 8 && m != 16) {
                throw new IllegalArgumentException("cgmax " + m + ": the cubin has the kernel for 4, 8 and 16");
            }
            if (m < cg) {
                throw new IllegalArgumentException("cgmax " + m + " < cg " + cg + ": too few accumulators");
            }
            return m;
        }

        long yElems() {
            return (long) n * c * t * ho * wo;
        }

        long xElems() {
            return (long) n * c * t * h * w;
        }

        @Override
        double bytes() {
            return 4.0 * (xElems() + yElems());
        }

        @Override
        double flops() {
            return 2.0 * yElems() * cg * 9;
        }
    }

    static final class GroupedConv extends GroupedProblem {
        final boolean bn;
        final boolean relu;

        GroupedConv(Map<String, String> cfg) {
            super(cfg);
            bn = cfg.getOrDefault("epi", "bias").equals("bn");
            relu = !cfg.getOrDefault("relu", "1").equals("0");
            if (!cfg.getOrDefault("epi", "bias").matches("bias|bn")) {
                throw new IllegalArgumentException("epi must be bias or bn");
            }
        }

        @Override
        String describe() {
            return (stride == 2 ? "s2 " : "") + (bn ? "BN" : "bias") + (relu ? "+ReLU " : " ") + "[" + n + "," + c + ","
                    + t + "," + h + "," + w + "] cg=" + cg;
        }

        // x, w, bias | gamma, beta, mean, var, y
        @Override
        long[] buffers() {
            return bn ? new long[] {xElems(), (long) c * cg * 9, c, c, c, c, yElems()}
                    : new long[] {xElems(), (long) c * cg * 9, c, yElems()};
        }

        @Override
        int inputs() {
            return bn ? 6 : 3;
        }

        @Override
        int output() {
            return inputs();
        }

        @Override
        float[] init(int buffer, Random r) {
            if (bn && buffer == 5) {
                return uniform(r, c, 0.5, 1.5);  // running variance
            }
            return super.init(buffer, r);
        }

        /** gc_tile(T, R, Q, 256): the library's tile for this plane. */
        static int[] libraryTile(int t, int r, int q, int positions) {
            int tw = q <= 8 ? 8 : q <= 16 ? 16 : 32;
            int th = 1;
            while (th < r && 2 * th * tw <= positions) {
                th *= 2;
            }
            int tf = Math.min(positions / (th * tw), t);
            return new int[] {tf, th, tw, ceilDiv(t, tf), ceilDiv(r, th), ceilDiv(q, tw)};
        }

        int[] tile(Map<String, String> shape) {
            String v = shapeKey(shape, "tile", "auto");
            if (v.equals("auto")) {
                return libraryTile(t, ho, wo, GC_THREADS);
            }
            String[] p = v.split("x");
            if (p.length != 3) {
                throw new IllegalArgumentException("tile " + v + ": want FxHxW (frames x rows x columns)");
            }
            int tf = Integer.parseInt(p[0]);
            int th = Integer.parseInt(p[1]);
            int tw = Integer.parseInt(p[2]);
            if (tf < 1 || th < 1 || tw < 1 || tf * th * tw > GC_THREADS) {
                throw new IllegalArgumentException("tile " + v + ": at most " + GC_THREADS
                        + " positions (one per thread of the block)");
            }
            return new int[] {tf, th, tw, ceilDiv(t, tf), ceilDiv(ho, th), ceilDiv(wo, tw)};
        }

        @Override
        List<Launch> launches(long[] addr, long scratch, Map<String, String> shape, DeviceInfo dev) {
            int[] tl = tile(shape);
            int m = cgmax(shape);
            long tiles = (long) tl[3] * tl[4] * tl[5];
            int inRows = (tl[1] - 1) * stride + 3;
            int inCols = (tl[2] - 1) * stride + 3;
            long smem = 4L * (cg * cg * 9 + (long) tl[0] * inRows * inCols);
            if (smem > dev.smemOptin() - 2048) {
                throw new IllegalArgumentException("tile needs " + smem + " bytes of shared memory");
            }
            if (tiles > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("too many tiles");
            }
            int y = addr.length - 1;
            ByteBuffer e = bn ? cbrEpilogue(0, addr[2], addr[3], addr[4], addr[5], 1e-5f, relu ? 1 : 0)
                    : cbrEpilogue(addr[2], 0, 0, 0, 0, 0f, relu ? 1 : 0);
            Args a = new Args().ptr("x", addr[0]).ptr("w", addr[1]).ptr("y", addr[y]).ptr("part", 0).struct("e", e)
                    .struct("d", gcDims(n, c, cg, t, h, w, stride)).struct("t", gcTile(tl)).i64("P", n * tiles);
            return List.of(new Launch("conv_bn_relu", "gc_fwd_kernel<" + m + ">", dim3(tiles, c / cg, n),
                    dim3(GC_THREADS, 1, 1), (int) smem, a));
        }

        @Override
        float[] reference(float[][] in) {
            ConvSpec spec = spec();
            try (TensorScope sc = TensorScope.open()) {
                CpuBackend cpu = CpuBackend.get();
                Tensor x = Tensor.of(in[0], Shape.of(n, c, t, h, w));
                Tensor wt = Tensor.of(in[1], Shape.of(c, cg, 1, 3, 3));
                if (!bn) {
                    return cpu.conv3d(x, wt, Tensor.of(in[2], c), spec, relu).toFloatArray();
                }
                Tensor z = cpu.conv3d(x, wt, null, spec, false);
                return cpu.batchNormEval(z, Tensor.of(in[2], c), Tensor.of(in[3], c), Tensor.of(in[4], c),
                        Tensor.of(in[5], c), 1e-5, relu).toFloatArray();
            }
        }
    }

    // ---- gconv-cl: gcl_kernel<St, CGMAX, TRANS>(src, w, dst, GclDims d, GclTile t, GclEpilogue e), fp32
    /**
     * The channels-last grouped 1x3x3 conv, forward ({@code pass=fwd}) or backward-data ({@code pass=bwd-data}): x, dy
     * [N][T][H][W][C] and [N][T][Ho][Wo][C], w KTRSC [C][3][3][cg]. tile: auto (gcl_tile's) or FxHxQ (frames x rows x
     * threads per row, each thread GCL_P columns), at most 128 threads; the window it stages must fit 36 KB.
     */
    static final class GroupedConvCl extends GroupedProblem {
        static final int THREADS = 128;  // GCL_THREADS
        static final int P = 4;          // GCL_P
        static final int CHUNK = 8;      // GCL_CHUNK
        static final int XS = 9216;      // GCL_XS
        final boolean trans;

        GroupedConvCl(Map<String, String> cfg) {
            super(cfg);
            String pass = cfg.getOrDefault("pass", "fwd");
            if (!pass.matches("fwd|bwd-data")) {
                throw new IllegalArgumentException("pass must be fwd or bwd-data");
            }
            trans = pass.equals("bwd-data");
        }

        @Override
        String describe() {
            return (trans ? "bwd-data " : "fwd ") + (stride == 2 ? "s2 " : "") + "[" + n + "," + c + "," + t + "," + h
                    + "," + w + "] cg=" + cg;
        }

        // src (x or dy), w, dst (y or dx)
        @Override
        long[] buffers() {
            return trans ? new long[] {yElems(), (long) c * 9 * cg, xElems()}
                    : new long[] {xElems(), (long) c * 9 * cg, yElems()};
        }

        @Override
        int inputs() {
            return 2;
        }

        @Override
        int output() {
            return 2;
        }

        int window(int positions) {
            return trans ? (positions + 1) / stride + 2 : (positions - 1) * stride + 3;
        }

        /** gcl_make_tile: {tf, th, tq, nt, nh, nq, rows, cols, plane, chunk}. */
        int[] makeTile(int tf, int th, int tq) {
            int r = trans ? h : ho;
            int q = trans ? w : wo;
            int rows = window(th);
            int cols = window(tq * P);
            return new int[] {tf, th, tq, ceilDiv(t, tf), ceilDiv(r, th), ceilDiv(q, tq * P), rows, cols,
                (tf * rows * cols) | 1, Math.min(cg, CHUNK)};
        }

        /** gcl_tile: the library's tile (kernels/grouped_conv_ndhwc.cuh), halved until its window fits. */
        int[] libraryTile() {
            int r = trans ? h : ho;
            int strips = ceilDiv(trans ? w : wo, P);
            int tq = 1;
            int th = 1;
            while (tq < strips && tq < 32) {
                tq *= 2;
            }
            while (th < r && 2 * th * tq <= THREADS) {
                th *= 2;
            }
            int tf = Math.max(1, Math.min(THREADS / (th * tq), t));
            int[] tl = makeTile(tf, th, tq);
            while ((long) tl[8] * tl[9] > XS) {
                if (tf > 1) {
                    tf /= 2;
                } else if (th > 1 && (tl[6] >= tl[7] || tq == 1)) {
                    th /= 2;
                } else {
                    tq /= 2;
                }
                tl = makeTile(tf, th, tq);
            }
            return tl;
        }

        int[] tile(Map<String, String> shape) {
            String v = shapeKey(shape, "tile", "auto");
            if (v.equals("auto")) {
                return libraryTile();
            }
            String[] p = v.split("x");
            if (p.length != 3) {
                throw new IllegalArgumentException("tile " + v + ": want FxHxQ (frames x rows x threads per row)");
            }
            int[] tl = makeTile(Integer.parseInt(p[0]), Integer.parseInt(p[1]), Integer.parseInt(p[2]));
            if (tl[0] < 1 || tl[1] < 1 || tl[2] < 1 || tl[0] * tl[1] * tl[2] > THREADS) {
                throw new IllegalArgumentException("tile " + v + ": at most " + THREADS + " threads");
            }
            if ((long) tl[8] * tl[9] > XS) {
                throw new IllegalArgumentException("tile " + v + ": its window needs more than " + XS + " floats");
            }
            return tl;
        }

        @Override
        List<Launch> launches(long[] addr, long scratch, Map<String, String> shape, DeviceInfo dev) {
            int[] tl = tile(shape);
            int m = cgmax(shape);
            long tiles = (long) tl[3] * tl[4] * tl[5];
            if (tiles * (c / cg) > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("too many tiles x groups");
            }
            int smem = 4 * (((tl[8] * tl[9] + 3) & ~3) + cg * 9 * cg);  // gcl_ws_offset: the weights 16-byte aligned
            ByteBuffer tb = le(40);
            for (int v : tl) {
                tb.putInt(v);
            }
            // GclEpilogue {const float* bias; const void* residual; int relu;}: 24 bytes, none here (the plain conv)
            ByteBuffer e = le(24).putLong(0).putLong(0).putInt(0).putInt(0);
            Args a = new Args().ptr("src", addr[0]).ptr("w", addr[1]).ptr("dst", addr[2])
                    .struct("d", gcDims(n, c, cg, t, h, w, stride)).struct("t", tb).struct("e", e);
            return List.of(new Launch("grouped_conv_ndhwc", "gcl_kernel<SevF32, " + m + ", " + trans + ">",
                    dim3(tiles * (c / cg), 1, n), dim3((long) tl[0] * tl[1] * tl[2], 1, 1), smem, a));
        }

        /** [n][ch][s] <-> [n][s][ch] (NCDHW <-> NDHWC) by the CPU transposes the kernels' tests use. */
        static float[] permute(float[] a, int n, int ch, long s, boolean toChannelsLast) {
            try (Tensor from = Tensor.of(a, a.length); Tensor to = Tensor.zeros(Shape.of(a.length))) {
                int rc = toChannelsLast ? NativeCore.sev_ncdhw_to_ndhwc(from.address(), to.address(), n, ch, s)
                        : NativeCore.sev_ndhwc_to_ncdhw(from.address(), to.address(), n, ch, s);
                if (rc != 0) {
                    throw new IllegalStateException("transpose failed: " + NativeCore.sev_last_error());
                }
                return to.toFloatArray();
            }
        }

        @Override
        float[] reference(float[][] in) {
            ConvSpec spec = spec();
            long xs = (long) t * h * w;
            long ys = (long) t * ho * wo;
            try (TensorScope sc = TensorScope.open()) {
                CpuBackend cpu = CpuBackend.get();
                Tensor wt = Tensor.of(permute(in[1], c, cg, 9, false), Shape.of(c, cg, 1, 3, 3));  // KTRSC -> KCTRS
                if (!trans) {
                    Tensor x = Tensor.of(permute(in[0], n, c, xs, false), Shape.of(n, c, t, h, w));
                    return permute(cpu.conv3d(x, wt, null, spec, false).toFloatArray(), n, c, ys, true);
                }
                Tensor dy = Tensor.of(permute(in[0], n, c, ys, false), Shape.of(n, c, t, ho, wo));
                return permute(cpu.conv3dBackwardData(dy, wt, spec, Shape.of(n, c, t, h, w)).toFloatArray(), n, c, xs,
                        true);
            }
        }
    }

    static Problem problem(String bench, Map<String, String> cfg) {
        switch (bench) {
            case "ew":
                return new Add(cfg);
            case "tconv":
                return new TemporalGemm(cfg);
            case "tconv-dw":
                return new TemporalDw(cfg);
            case "gconv":
                return new GroupedConv(cfg);
            case "gconv-cl":
                return new GroupedConvCl(cfg);
            default:
                throw new IllegalArgumentException("unknown kernel bench '" + bench
                        + "': ew, tconv, tconv-dw, gconv, gconv-cl");
        }
    }

    /** Keys that choose the launch shape (everything else is the problem). */
    static final List<String> SHAPE_KEYS = List.of("grid", "block", "smem", "splits", "tile", "cgmax");

    /** One row to run: a bench and one value per key. */
    record Run(String bench, Map<String, String> cfg) {
        Map<String, String> shape() {
            Map<String, String> s = new LinkedHashMap<>();
            cfg.forEach((k, v) -> {
                if (SHAPE_KEYS.contains(k)) {
                    s.put(k, v);
                }
            });
            return s;
        }

        Map<String, String> problemCfg() {
            Map<String, String> s = new LinkedHashMap<>(cfg);
            SHAPE_KEYS.forEach(s::remove);
            return s;
        }
    }

    /** key=v1,v2 ... -> every combination (the last key varies fastest). */
    static List<Run> expand(String bench, List<String> kvs) {
        List<Map<String, String>> out = new ArrayList<>();
        out.add(new LinkedHashMap<>());
        for (String kv : kvs) {
            int eq = kv.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("expected key=value[,value...], got '" + kv + "'");
            }
            String key = kv.substring(0, eq);
            List<Map<String, String>> next = new ArrayList<>();
            for (Map<String, String> m : out) {
                for (String v : kv.substring(eq + 1).split(",")) {
                    Map<String, String> m2 = new LinkedHashMap<>(m);
                    m2.put(key, v.strip());
                    next.add(m2);
                }
            }
            out = next;
        }
        return out.stream().map(m -> new Run(bench, m)).toList();
    }

    /** The check mode's runs: small, ragged problems, a few launch shapes each. */
    static List<Run> checkRuns() {
        List<Run> r = new ArrayList<>();
        r.addAll(expand("ew", List.of("n=100003", "block=256,96,1024", "grid=auto,7")));
        r.addAll(expand("tconv", List.of("N=2", "C=70", "T=5", "H=9", "W=11", "trans=0,1", "smem=0,30000,65536")));
        r.addAll(expand("tconv-dw", List.of("N=2", "C=70", "T=5", "H=9", "W=11", "splits=auto,1,7")));
        r.addAll(expand("gconv", List.of("N=2", "C=48", "cg=8", "T=3", "H=13", "W=10", "stride=1,2", "epi=bias",
                "tile=auto,2x4x8,1x16x16", "cgmax=8,16")));
        r.addAll(expand("gconv", List.of("N=1", "C=32", "cg=16", "T=2", "H=7", "W=9", "stride=1", "epi=bn", "relu=1")));
        r.addAll(expand("gconv", List.of("N=1", "C=12", "cg=3", "T=4", "H=5", "W=6", "stride=2", "epi=bn", "relu=0",
                "tile=auto,4x2x8")));
        r.addAll(expand("gconv-cl", List.of("N=2", "C=48", "cg=8", "T=3", "H=13", "W=10", "stride=1,2",
                "pass=fwd,bwd-data", "tile=auto,2x4x4,1x8x2", "cgmax=8,16")));
        r.addAll(expand("gconv-cl", List.of("N=1", "C=24", "cg=12", "T=2", "H=7", "W=9", "stride=2", "pass=fwd,bwd-data")));
        return r;
    }

    /** The sweep mode's runs at SEVNet-G8's shapes (16 frames, batch 8, group width 8). */
    static List<Run> sweepRuns(DeviceInfo dev) {
        int sms = dev.sms();
        List<Run> r = new ArrayList<>();
        r.addAll(expand("ew", List.of("n=" + 8L * 64 * 16 * 56 * 56, "block=128,256,512,1024",
                "grid=auto," + 2 * sms + "," + 4 * sms + "," + 8 * sms + "," + 16 * sms + "," + 64 * sms)));
        int[][] temporal = {{64, 56}, {128, 28}, {256, 14}, {512, 7}};
        for (int[] cs : temporal) {
            String hw = String.valueOf(cs[1]);
            r.addAll(expand("tconv", List.of("N=8", "C=" + cs[0], "T=16", "H=" + hw, "W=" + hw, "trans=0,1",
                    "smem=0,32768,65536,98304")));
        }
        for (int[] cs : temporal) {
            String hw = String.valueOf(cs[1]);
            TemporalDw p = new TemporalDw(Map.of("N", "8", "C", "" + cs[0], "T", "16", "H", hw, "W", hw));
            int lib = p.librarySplits();
            StringBuilder splits = new StringBuilder("splits=auto");
            for (int f : new int[] {-4, -2, 2, 4}) {
                int s = f < 0 ? Math.max(1, lib / -f) : Math.min(65535, lib * f);
                splits.append(',').append(s);
            }
            r.addAll(expand("tconv-dw", List.of("N=8", "C=" + cs[0], "T=16", "H=" + hw, "W=" + hw, splits.toString())));
        }
        int[][] blocks = {{64, 56, 1}, {64, 56, 2}, {128, 28, 1}, {128, 28, 2}, {256, 14, 1}, {256, 14, 2}, {512, 7, 1}};
        for (int[] b : blocks) {
            String hw = String.valueOf(b[1]);
            r.addAll(expand("gconv", List.of("N=8", "C=" + b[0], "cg=8", "T=16", "H=" + hw, "W=" + hw,
                    "stride=" + b[2], "epi=bias", "tile=auto,1x8x32,2x4x32,1x16x16,2x8x16,4x8x8,1x8x16",
                    "cgmax=8,16")));
        }
        for (int[] b : blocks) {
            String hw = String.valueOf(b[1]);
            r.addAll(expand("gconv-cl", List.of("N=8", "C=" + b[0], "cg=8", "T=16", "H=" + hw, "W=" + hw,
                    "stride=" + b[2], "pass=fwd,bwd-data", "tile=auto,1x8x16,2x8x8,1x16x8,4x4x8,1x4x32,8x4x4")));
        }
        return r;
    }

    /**
     * Builds one run's launches with stand-in addresses (no GPU): the shape is validated and, with
     * {@code cubins}, every launch's arguments are checked against its kernel's parameter table.
     */
    static List<Launch> dryRun(Run run, DeviceInfo dev, Cubins cubins, int arch) {
        Problem p = problem(run.bench(), run.problemCfg());
        long[] fake = new long[p.buffers().length];
        for (int i = 0; i < fake.length; i++) {
            fake[i] = 0x7f0000000000L + ((long) i << 32);
        }
        List<Launch> ls = p.launches(fake, 0x7e0000000000L, run.shape(), dev);
        if (cubins != null) {
            for (Launch l : ls) {
                verify(cubins.elf(arch, l.cubin()).kernel(l.kernel()), l.args());
            }
        }
        return ls;
    }

    // ================================================================== the GPU side

    /** A device pointer whose raw address the harness can put into argument bytes. */
    static final class DevPtr extends CUdeviceptr {
        long address() {
            return getNativePointer();
        }
    }

    /** One measured row. */
    record Result(double medianUs, double minUs, boolean checked, double error, boolean pass) {
    }

    static final class Gpu implements AutoCloseable {
        final CUdevice device = new CUdevice();
        final CUcontext ctx = new CUcontext();
        final CUstream stream = new CUstream();
        final DeviceInfo info;
        final Cubins cubins;
        final int arch;
        final Map<String, CUmodule> modules = new HashMap<>();
        final Map<String, CUfunction> functions = new HashMap<>();
        final Map<String, CubinElf.Kernel> kernels = new HashMap<>();
        final List<DevPtr> allocations = new ArrayList<>();

        Gpu(int ordinal, Cubins cubins, Integer archOverride) {
            JCudaDriver.setExceptionsEnabled(true);
            cuInit(0);
            int[] count = {0};
            cuDeviceGetCount(count);
            if (ordinal >= count[0]) {
                throw new IllegalStateException("device " + ordinal + " of " + count[0]);
            }
            cuDeviceGet(device, ordinal);
            // the primary context: the CUDA runtime's, shared with cudaMalloc'd buffers and the JavaCPP presets
            cuDevicePrimaryCtxRetain(ctx, device);
            cuCtxSetCurrent(ctx);
            cuStreamCreate(stream, 0);
            byte[] name = new byte[256];
            cuDeviceGetName(name, name.length, device);
            String n = new String(name, StandardCharsets.US_ASCII).trim().replace("\0", "");
            info = new DeviceInfo(n, attr(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR),
                    attr(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR),
                    attr(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT),
                    attr(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN));
            this.cubins = cubins;
            int a = cubins.archFor(info.ccMajor(), info.ccMinor());
            this.arch = archOverride != null ? archOverride : a;
        }

        int attr(int a) {
            int[] v = {0};
            cuDeviceGetAttribute(v, a, device);
            return v[0];
        }

        String describe() {
            int[] drv = {0};
            cuDriverGetVersion(drv);
            return String.format(Locale.ROOT, "%s (sm_%d%d, %d SMs), driver API %d.%d, cubins sm_%d from %s", info.name(),
                    info.ccMajor(), info.ccMinor(), info.sms(), drv[0] / 1000, drv[0] % 1000 / 10, arch, cubins.where());
        }

        CUfunction function(String cubin, String kernel) {
            String key = cubin + "/" + kernel;
            CUfunction f = functions.get(key);
            if (f == null) {
                CUmodule m = modules.computeIfAbsent(cubin, c -> {
                    CUmodule mod = new CUmodule();
                    cuModuleLoadData(mod, cubins.bytes(arch, c));
                    return mod;
                });
                CubinElf.Kernel k = cubins.elf(arch, cubin).kernel(kernel);
                f = new CUfunction();
                cuModuleGetFunction(f, m, k.mangled());
                functions.put(key, f);
                kernels.put(key, k);
            }
            return f;
        }

        int funcAttr(CUfunction f, int a) {
            int[] v = {0};
            cuFuncGetAttribute(v, a, f);
            return v[0];
        }

        DevPtr alloc(long floats) {
            DevPtr p = new DevPtr();
            cuMemAlloc(p, Math.max(4, floats * 4));
            allocations.add(p);
            return p;
        }

        void free(DevPtr p) {
            if (p != null && allocations.remove(p)) {
                cuMemFree(p);
            }
        }

        /**
         * Before a launch shape's first launch: its kernel loaded, the argument bytes checked against the cubin's
         * parameter table, and the dynamic shared memory allowed beyond the default 48 KB where it needs more.
         */
        CUfunction prepare(Launch l) {
            CUfunction f = function(l.cubin(), l.kernel());
            verify(kernels.get(l.cubin() + "/" + l.kernel()), l.args());
            int staticBytes = funcAttr(f, CUfunction_attribute.CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES);
            if (l.smem() > 0 && l.smem() + staticBytes > DEFAULT_SMEM_LIMIT) {
                cuFuncSetAttribute(f, CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, l.smem());
            }
            return f;
        }

        /** Only the launch (prepared before): nothing else on the host between a timed launch's events. */
        void launch(Launch l) {
            CUfunction f = functions.get(l.cubin() + "/" + l.kernel());
            cuLaunchKernel(f, l.grid()[0], l.grid()[1], l.grid()[2], l.block()[0], l.block()[1], l.block()[2], l.smem(),
                    stream, l.args().kernelParams(), null);
        }

        /** Warm-up launches, then each rep between two events; the median and the minimum in µs. */
        double[] time(List<Launch> ls, int warmup, int reps) {
            for (int i = 0; i < warmup; i++) {
                ls.forEach(this::launch);
            }
            CUevent[] start = new CUevent[reps];
            CUevent[] stop = new CUevent[reps];
            for (int i = 0; i < reps; i++) {
                start[i] = new CUevent();
                stop[i] = new CUevent();
                cuEventCreate(start[i], 0);
                cuEventCreate(stop[i], 0);
            }
            for (int i = 0; i < reps; i++) {
                cuEventRecord(start[i], stream);
                ls.forEach(this::launch);
                cuEventRecord(stop[i], stream);
            }
            cuEventSynchronize(stop[reps - 1]);
            double[] ms = new double[reps];
            float[] e = {0};
            for (int i = 0; i < reps; i++) {
                cuEventElapsedTime(e, start[i], stop[i]);
                ms[i] = e[0];
                cuEventDestroy(start[i]);
                cuEventDestroy(stop[i]);
            }
            Arrays.sort(ms);
            double median = reps % 2 == 1 ? ms[reps / 2] : 0.5 * (ms[reps / 2 - 1] + ms[reps / 2]);
            return new double[] {median * 1e3, ms[0] * 1e3};
        }

        @Override
        public void close() {
            for (DevPtr p : new ArrayList<>(allocations)) {
                free(p);
            }
            modules.values().forEach(m -> cuModuleUnload(m));
            cuStreamDestroy(stream);
            cuDevicePrimaryCtxRelease(device);
        }
    }

    /** Norm-wise relative error ||got - ref|| / ||ref|| (infinite if got has a NaN where ref has none). */
    static double relError(float[] ref, float[] got) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < ref.length; i++) {
            if (Float.isNaN(got[i]) != Float.isNaN(ref[i])) {
                return Double.POSITIVE_INFINITY;
            }
            double d = (double) got[i] - ref[i];
            num += d * d;
            den += (double) ref[i] * ref[i];
        }
        return num == 0 ? 0 : Math.sqrt(num / Math.max(den, Double.MIN_NORMAL));
    }

    /** The state of one problem on the device: its buffers, inputs, CPU reference. */
    static final class Loaded {
        final String key;
        final Problem problem;
        final DevPtr[] buffers;
        final float[][] inputs;
        float[] reference;
        DevPtr scratch;
        long scratchFloats;

        Loaded(String key, Problem problem, Gpu gpu) {
            this.key = key;
            this.problem = problem;
            long[] sizes = problem.buffers();
            buffers = new DevPtr[sizes.length];
            inputs = new float[problem.inputs()][];
            Random r = new Random(key.hashCode());
            for (int i = 0; i < sizes.length; i++) {
                buffers[i] = gpu.alloc(sizes[i]);
                if (i < inputs.length) {
                    inputs[i] = problem.init(i, r);
                    cuMemcpyHtoD(buffers[i], Pointer.to(inputs[i]), 4L * sizes[i]);
                }
            }
        }

        long[] addresses() {
            return Arrays.stream(buffers).mapToLong(DevPtr::address).toArray();
        }

        void release(Gpu gpu) {
            for (DevPtr p : buffers) {
                gpu.free(p);
            }
            gpu.free(scratch);
        }
    }

    // ================================================================== driver

    public static int run(String[] argv, PrintStream out) {
        int reps = 50;
        int warmup = 5;
        int device = 0;
        boolean check = true;
        Integer arch = null;
        List<String> rest = new ArrayList<>();
        for (String a : argv) {
            if (a.startsWith("--reps=")) {
                reps = Integer.parseInt(a.substring(7));
            } else if (a.startsWith("--warmup=")) {
                warmup = Integer.parseInt(a.substring(9));
            } else if (a.startsWith("--device=")) {
                device = Integer.parseInt(a.substring(9));
            } else if (a.equals("--no-check")) {
                check = false;
            } else if (a.startsWith("--arch=")) {
                arch = Integer.parseInt(a.substring(7).replace("sm_", ""));
            } else if (a.startsWith("--cubins=")) {
                System.setProperty("sevnet.cubins", a.substring(9));
            } else if (a.startsWith("--")) {
                out.println("unknown option " + a);
                return 2;
            } else {
                rest.add(a);
            }
        }
        if (rest.isEmpty()) {
            out.println("usage: CubinKernelBench [--reps=N] [--warmup=N] [--device=N] [--no-check] [--arch=XX]"
                    + " [--cubins=DIR] list|check|sweep|ew|tconv|tconv-dw|gconv|gconv-cl [key=v1,v2 ...]");
            return 2;
        }
        reps = Math.max(1, reps);
        Cubins cubins = Cubins.locate();
        if (!cubins.present()) {
            out.println("no cubins (" + cubins.where() + "): the build had no nvcc, or pass --cubins=DIR");
            return 2;
        }
        String mode = rest.get(0);
        if (mode.equals("list")) {
            list(cubins, out);
            return 0;
        }
        CudaStatus probe = CudaStatus.probe();
        if (!probe.usable()) {
            out.println("no usable GPU: " + probe.reason());
            return 2;
        }
        boolean checkMode = mode.equals("check");
        try (Gpu gpu = new Gpu(device, cubins, arch)) {
            out.println("device: " + gpu.describe());
            List<Run> runs = checkMode ? checkRuns() : mode.equals("sweep") ? sweepRuns(gpu.info)
                    : expand(mode, rest.subList(1, rest.size()));
            int failures = runAll(gpu, runs, checkMode ? Math.min(reps, 5) : reps, checkMode ? 1 : warmup,
                    check || checkMode, checkMode, out);
            if (checkMode) {
                failures += runtimeInterop(gpu, device, out);
                out.println("kernels found by name in the sm_" + gpu.arch + " cubins:");
                new java.util.TreeMap<>(gpu.kernels).forEach((k, v) -> out.println("  " + k + " = " + v.mangled()));
            }
            out.println(failures == 0 ? "all checks passed" : failures + " check(s) FAILED");
            return failures == 0 ? 0 : 1;
        } catch (RuntimeException e) {
            out.println("error: " + e);
            e.printStackTrace(out);
            return 2;
        }
    }

    static void list(Cubins cubins, PrintStream out) {
        for (var e : cubins.index().entrySet()) {
            for (String src : e.getValue()) {
                CubinElf elf = cubins.elf(e.getKey(), src);
                out.println(elf);
                for (CubinElf.Kernel k : elf.kernels()) {
                    out.println(String.format(Locale.ROOT, "  %-40s params %s (%d B), static smem %d B", k.name(),
                            k.params().stream().map(p -> String.valueOf(p.size())).toList(), k.paramBytes(),
                            k.staticShared()));
                }
            }
        }
    }

    /** Launch errors that refuse one launch shape and leave the context usable. */
    static final java.util.regex.Pattern REFUSALS = java.util.regex.Pattern.compile(
            "CUDA_ERROR_(INVALID_VALUE|LAUNCH_OUT_OF_RESOURCES|INVALID_CONFIGURATION)");

    /** The runs as table rows; returns the failed checks (and, {@code strict}, refused or skipped shapes). */
    static int runAll(Gpu gpu, List<Run> runs, int reps, int warmup, boolean check, boolean strict, PrintStream out) {
        out.println("| kernel | problem | grid | block | smem B | regs | blocks/SM | waves | median µs | min µs | GB/s"
                + " | GFLOP/s | check |");
        out.println("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        int failures = 0;
        Loaded loaded = null;
        try {
            for (Run run : runs) {
                Problem p = problem(run.bench(), run.problemCfg());
                String key = run.bench() + " " + p.describe();
                if (loaded == null || !loaded.key.equals(key)) {
                    if (loaded != null) {
                        loaded.release(gpu);
                    }
                    loaded = new Loaded(key, p, gpu);
                    if (check) {
                        loaded.reference = p.reference(loaded.inputs);
                    }
                }
                Map<String, String> shape = run.shape();
                String shapeText = shape.isEmpty() ? "" : " " + shape.toString().replace(" ", "");
                List<Launch> ls;
                try {
                    long need = p.scratch(shape, gpu.info);
                    if (need > loaded.scratchFloats) {
                        gpu.free(loaded.scratch);
                        loaded.scratch = gpu.alloc(need);
                        loaded.scratchFloats = need;
                    }
                    ls = p.launches(loaded.addresses(), loaded.scratch == null ? 0 : loaded.scratch.address(), shape,
                            gpu.info);
                } catch (IllegalArgumentException e) {
                    out.println("| " + run.bench() + " | " + p.describe() + shapeText + " | - | - | - | - | - | - | - | - |"
                            + " - | - | skipped: " + e.getMessage() + " |");
                    failures += strict ? 1 : 0;
                    continue;
                }
                Launch main = ls.get(0);
                CUfunction f;
                int regs;
                int[] occ = {0};
                try {
                    for (Launch l : ls.subList(1, ls.size())) {
                        gpu.prepare(l);
                    }
                    f = gpu.prepare(main);
                    regs = gpu.funcAttr(f, CUfunction_attribute.CU_FUNC_ATTRIBUTE_NUM_REGS);
                    cuOccupancyMaxActiveBlocksPerMultiprocessor(occ, f, main.threads(), main.smem());
                    // the driver refuses a shape it cannot run (too much shared memory, too many threads) at the
                    // launch, without breaking the context: report it and go on
                    ls.forEach(gpu::launch);
                    cuStreamSynchronize(gpu.stream);
                } catch (CudaException e) {
                    if (!REFUSALS.matcher(String.valueOf(e.getMessage())).find()) {
                        throw e;  // anything else (an illegal address) leaves the context unusable
                    }
                    out.println("| " + run.bench() + " | " + p.describe() + shapeText + " | " + dims(main.grid()) + " | "
                            + dims(main.block()) + " | " + main.smem() + " | - | - | - | - | - | - | - | refused: "
                            + e.getMessage() + " |");
                    failures += strict ? 1 : 0;
                    continue;
                }
                String checkText = "-";
                if (check) {
                    DevPtr o = loaded.buffers[p.output()];
                    long n = p.buffers()[p.output()];
                    cuMemsetD32(o, 0xFFFFFFFF, n);  // NaN: an element the kernel does not write shows up
                    ls.forEach(gpu::launch);
                    cuStreamSynchronize(gpu.stream);
                    float[] got = new float[Math.toIntExact(n)];
                    cuMemcpyDtoH(Pointer.to(got), o, 4L * n);
                    double err = relError(loaded.reference, got);
                    boolean pass = p.tolerance() == 0 ? Arrays.equals(loaded.reference, got) : err <= p.tolerance();
                    checkText = (pass ? "ok" : "FAIL") + String.format(Locale.ROOT, " (%.1e)", err);
                    failures += pass ? 0 : 1;
                }
                double[] us = gpu.time(ls, warmup, reps);
                double waves = occ[0] == 0 ? Double.NaN : (double) main.blocks() / ((double) occ[0] * gpu.info.sms());
                out.println(String.format(Locale.ROOT,
                        "| %s | %s%s | %s | %s | %d | %d | %d | %.2f | %.1f | %.1f | %.0f | %.0f | %s |",
                        ls.stream().map(Launch::kernel).reduce((a, b) -> a + " + " + b).orElse(""), p.describe(),
                        shapeText, dims(main.grid()), dims(main.block()), main.smem(), regs, occ[0], waves, us[0], us[1],
                        p.bytes() / (us[0] * 1e-6) / 1e9, p.flops() / (us[0] * 1e-6) / 1e9, checkText));
            }
        } finally {
            if (loaded != null) {
                loaded.release(gpu);
            }
        }
        return failures;
    }

    static String dims(int[] d) {
        return d[0] + "x" + d[1] + "x" + d[2];
    }

    /**
     * The primary context is the runtime's: buffers the CUDA runtime allocated (CudaBackend, JavaCPP cudart)
     * go straight into a launch through the driver API, and the runtime reads the result back.
     */
    static int runtimeInterop(Gpu gpu, int device, PrintStream out) {
        CudaRuntime.Status st = CudaRuntime.status();
        if (!st.usable()) {
            out.println("runtime interop: skipped (" + st.reason() + ")");
            return 0;
        }
        int n = 4099;
        Random r = new Random(5);
        float[] a = uniform(r, n, -1, 1);
        float[] b = uniform(r, n, -1, 1);
        CudaBackend cuda = CudaBackend.get(device);
        try (TensorScope s = TensorScope.open()) {
            Tensor da = cuda.toDevice(Tensor.of(a, n));
            Tensor db = cuda.toDevice(Tensor.of(b, n));
            Tensor dy = cuda.toDevice(Tensor.full(Shape.of(n), Float.NaN));
            cuCtxSynchronize();  // the runtime's copies (on its stream) are done
            Add add = new Add(Map.of("n", String.valueOf(n)));
            for (Launch l : add.launches(new long[] {da.address(), db.address(), dy.address()}, 0, Map.of(), gpu.info)) {
                gpu.prepare(l);
                gpu.launch(l);
            }
            cuStreamSynchronize(gpu.stream);
            float[] got = cuda.toHost(dy).toFloatArray();
            float[] ref = add.reference(new float[][] {a, b});
            boolean pass = Arrays.equals(ref, got);
            out.println("runtime interop (CudaBackend buffers -> driver-API launch -> runtime copy back): "
                    + (pass ? "ok" : "FAIL"));
            return pass ? 0 : 1;
        }
    }
}
