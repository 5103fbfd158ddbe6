package dev.sevnet.bench;

import dev.sevnet.autograd.F;
import dev.sevnet.autograd.Var;
import dev.sevnet.backend.CachingAllocator;
import dev.sevnet.backend.RawDeviceMemory;
import dev.sevnet.nn.SevNet;
import dev.sevnet.nn.SevNetConfig;
import dev.sevnet.tensor.HostAllocator;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import dev.sevnet.train.SgdOptimizer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.bytedeco.javacpp.Pointer;

/**
 * How much memory the caching allocator needs for a SEVNet training step, without a GPU: the step runs on the CPU
 * with a recording host allocator bound (every tensor's allocation and free, in order — the same tensors the CUDA
 * backend allocates, less cuDNN's workspaces), then the recorded sequence is replayed three times through a
 * {@link CachingAllocator} over a fake device, once per policy. Prints the peak of live bytes (the floor), and per
 * policy the peak bytes in blocks (PyTorch's max_memory_allocated) and in segments (max_memory_reserved).
 *
 * <pre>java -cp ... dev.sevnet.bench.AllocatorTraceBench [model batch frames size]   (default sevnet-g8 8 16 112)</pre>
 */
public final class AllocatorTraceBench {
    private AllocatorTraceBench() {
    }

    public static void main(String[] args) {
        String model = args.length > 0 ? args[0] : "sevnet-g8";
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        int frames = args.length > 2 ? Integer.parseInt(args[2]) : 16;
        int size = args.length > 3 ? Integer.parseInt(args[3]) : 112;
        List<long[]> trace = record(model, batch, frames, size);
        long floor = livePeak(trace);
        System.out.printf(Locale.ROOT, "%s training step, batch %d, %dx%dx%d: %d allocations; peak live %.1f MiB%n",
                model, batch, frames, size, size, trace.stream().filter(e -> e[0] >= 0).count(), floor / 1048576.0);
        System.out.println("| policy | peak allocated MiB | / live | peak reserved MiB | / live | segments |");
        System.out.println("|---|---|---|---|---|---|");
        for (boolean wholeBlocks : new boolean[] {false, true}) {
            long[] r = replay(trace, wholeBlocks);
            System.out.printf(Locale.ROOT, "| %s | %.1f | %.3f | %.1f | %.3f | %d |%n",
                    wholeBlocks ? "whole blocks, any larger (host pools)" : "split + merge (device)", r[0] / 1048576.0,
                    r[0] / (double) floor, r[1] / 1048576.0, r[1] / (double) floor, r[2]);
        }
    }

    /** {bytes, address} per allocation, {-1, address} per free, of the second of two steps (the first warms up). */
    static List<long[]> record(String model, int batch, int frames, int size) {
        List<long[]> events = new ArrayList<>();
        HostAllocator recording = new HostAllocator() {
            @Override
            public synchronized long allocate(long bytes) {
                long p = Pointer.malloc(Math.max(bytes, 1)).address();
                events.add(new long[] {bytes, p});
                return p;
            }

            @Override
            public synchronized void free(long address) {
                events.add(new long[] {-1, address});
                Pointer.free(new Pointer() {
                    {
                        this.address = address;
                    }
                });
            }
        };
        Random r = new Random(1);
        float[] xs = new float[batch * 3 * frames * size * size];
        for (int i = 0; i < xs.length; i++) {
            xs[i] = (float) r.nextGaussian();
        }
        long[] labels = new long[batch];
        try (SevNet net = SevNet.create(SevNetConfig.parse(model, 174), 1);
                SgdOptimizer opt = new SgdOptimizer(net.namedParameters(), 0.9, 1e-4)) {
            net.train(true);
            for (int step = 0; step < 2; step++) {
                synchronized (recording) {
                    events.clear();
                }
                try (HostAllocator.Binding b = HostAllocator.bind(recording); TensorScope s = TensorScope.open()) {
                    Var x = Var.of(Tensor.of(xs, Shape.of(batch, 3, frames, size, size)));
                    Var loss = F.softmaxCrossEntropy(net.forward(x), Tensor.ofLongs(labels, batch));
                    loss.backward(Tensor.full(loss.shape(), 1f));
                    opt.step(0.01);
                    opt.zeroGrad();
                }
            }
        }
        return events;
    }

    static long livePeak(List<long[]> trace) {
        Map<Long, Long> live = new HashMap<>();
        long cur = 0;
        long peak = 0;
        for (long[] e : trace) {
            if (e[0] >= 0) {
                live.put(e[1], e[0]);
                cur += e[0];
                peak = Math.max(peak, cur);
            } else {
                Long s = live.remove(e[1]);
                cur -= s == null ? 0 : s;
            }
        }
        return peak;
    }

    /** {peak allocated, peak reserved, device segments} over three replays of the step. */
    static long[] replay(List<long[]> trace, boolean wholeBlocks) {
        long[] next = {1L << 40};
        RawDeviceMemory fake = new RawDeviceMemory() {
            @Override
            public long malloc(long bytes) {
                long p = next[0];
                next[0] += bytes;
                return p;
            }

            @Override
            public void free(long address) {
            }

            @Override
            public long freeBytes() {
                return 1L << 40;
            }

            @Override
            public long totalBytes() {
                return 1L << 40;
            }

            @Override
            public String deviceName() {
                return "trace";
            }
        };
        CachingAllocator a = new CachingAllocator(fake, wholeBlocks);
        Map<Long, Long> blocks = new HashMap<>();
        for (int round = 0; round < 3; round++) {
            for (long[] e : trace) {
                if (e[0] >= 0) {
                    blocks.put(e[1], a.allocate(e[0]));
                } else {
                    Long b = blocks.remove(e[1]);
                    if (b != null) {
                        a.free(b);
                    }
                }
            }
        }
        CachingAllocator.Stats s = a.stats();
        return new long[] {s.peakInUseBytes(), s.peakReservedBytes(), s.deviceAllocs()};
    }
}
