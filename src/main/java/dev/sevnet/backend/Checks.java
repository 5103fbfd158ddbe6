package dev.sevnet.backend;

import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Device;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;

/** Argument checks every backend runs before touching native code: a bad argument is an exception, never a crash. */
public final class Checks {
    private Checks() {
    }

    public static void tensor(Tensor t, String name, Device device, DType dtype) {
        tensor(t, name, device, dtype, false);
    }

    /**
     * {@code t} present, open, on {@code device}, of {@code dtype}; and contiguous unless {@code acceptChannelsLast}
     * (an op written for NDHWC bytes) — an op never reads a channels-last tensor in the NCDHW order.
     */
    public static void tensor(Tensor t, String name, Device device, DType dtype, boolean acceptChannelsLast) {
        if (t == null) {
            throw new IllegalArgumentException(name + " is null");
        }
        if (t.isClosed()) {
            throw new IllegalArgumentException(name + " " + t.shape() + " is closed");
        }
        if (!t.device().equals(device)) {
            throw new IllegalArgumentException(name + " is on " + t.device() + " but this backend runs on " + device);
        }
        if (t.dtype() != dtype) {
            throw new IllegalArgumentException(name + " must be " + dtype + ", got " + t.dtype());
        }
        if (!acceptChannelsLast && t.isChannelsLast() && !dev.sevnet.tensor.MemoryFormat.isLayoutInvariant(t.shape())) {
            throw new IllegalArgumentException(name + " " + t.shape() + " is channels-last, which this op does not take"
                    + " (yet): convert it with Backend.toMemoryFormat(" + name + ", CONTIGUOUS)");
        }
    }

    public static void rank(Tensor t, String name, int rank) {
        if (t.rank() != rank) {
            throw new IllegalArgumentException(name + " must be " + rank + "-d, got " + t.shape());
        }
    }

    public static void minRank(Tensor t, String name, int rank) {
        if (t.rank() < rank) {
            throw new IllegalArgumentException(name + " must have at least " + rank + " dims, got " + t.shape());
        }
    }

    public static void sameShape(Tensor a, String an, Tensor b, String bn) {
        if (!a.shape().equals(b.shape())) {
            throw new IllegalArgumentException(an + " " + a.shape() + " and " + bn + " " + b.shape() + " must have the same shape");
        }
        sameFormat(a, an, b, bn);
    }

    /** a and b in one memory format, unless their bytes are the same in both (element-wise ops pair bytes). */
    public static void sameFormat(Tensor a, String an, Tensor b, String bn) {
        if (a.memoryFormat() != b.memoryFormat() && !(dev.sevnet.tensor.MemoryFormat.isLayoutInvariant(a.shape())
                && dev.sevnet.tensor.MemoryFormat.isLayoutInvariant(b.shape()))) {
            throw new IllegalArgumentException(an + " is " + a.memoryFormat().label() + " but " + bn + " is "
                    + b.memoryFormat().label() + ": convert one with Backend.toMemoryFormat");
        }
    }

    public static void shape(Tensor t, String name, Shape expected) {
        if (!t.shape().equals(expected)) {
            throw new IllegalArgumentException(name + " must have shape " + expected + ", got " + t.shape());
        }
    }

    public static void intRange(long v, String what) {
        if (v > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(what + " " + v + " exceeds the native limit " + Integer.MAX_VALUE);
        }
    }
    /** The three lists of a multi-tensor SGD step: present, of one length, no null entries. */
    public static void sgdLists(java.util.List<Tensor> w, java.util.List<Tensor> grads, java.util.List<Tensor> velocities) {
        if (w == null || grads == null || velocities == null) {
            throw new IllegalArgumentException("sgd: the weight, grad and velocity lists must not be null");
        }
        if (grads.size() != w.size() || velocities.size() != w.size()) {
            throw new IllegalArgumentException("sgd: " + w.size() + " weights, " + grads.size() + " grads and "
                    + velocities.size() + " velocities");
        }
    }

    /**
     * The tensors of a multi-tensor op ({@link Backend#allFinite}, {@link Backend#scaleAll}): the list present,
     * every entry a live float32 tensor on {@code device}.
     */
    public static void floatList(java.util.List<Tensor> tensors, String op, Device device) {
        if (tensors == null) {
            throw new IllegalArgumentException(op + ": the tensor list must not be null");
        }
        int i = 0;
        for (Tensor t : tensors) {
            tensor(t, op + ": tensor " + i, device, DType.FLOAT32, true); // whole-tensor ops: any byte order
            i++;
        }
    }

    /**
     * No two of {@code tensors} share an element (an in-place op over all of them, such as
     * {@link Backend#scaleAll}, would otherwise update that element twice, or race where the tensors are
     * split among threads). Empty tensors overlap nothing. The tensors are live ({@link #floatList}).
     */
    public static void disjoint(java.util.List<Tensor> tensors, String op) {
        long[][] ranges = sortedRanges(tensors);
        for (int k = 1; k < ranges.length; k++) {
            // sorted by start: if any two overlap, some neighbours do
            if (ranges[k][0] < ranges[k - 1][1]) {
                throw new IllegalArgumentException(op + ": tensors " + Math.min(ranges[k - 1][2], ranges[k][2])
                        + " and " + Math.max(ranges[k - 1][2], ranges[k][2]) + " share memory");
            }
        }
    }

    /**
     * The lists of {@link Backend#axpbyAll}: as many {@code xs} as {@code ys}, float32 on {@code device}, each pair of
     * one size and byte order, the {@code ys} disjoint ({@link #disjoint}) and none overlapping any {@code x} (the
     * {@code xs} may share memory among themselves: they are only read).
     */
    public static void axpbyLists(java.util.List<Tensor> xs, java.util.List<Tensor> ys, String op, Device device) {
        floatList(xs, op + " (x)", device);
        floatList(ys, op + " (y)", device);
        if (xs.size() != ys.size()) {
            throw new IllegalArgumentException(op + ": " + xs.size() + " x tensors for " + ys.size() + " y tensors");
        }
        for (int i = 0; i < xs.size(); i++) {
            Tensor x = xs.get(i);
            Tensor y = ys.get(i);
            if (x.size() != y.size()) {
                throw new IllegalArgumentException(op + ": x " + i + " " + x.shape() + " and y " + i + " " + y.shape()
                        + " differ in size");
            }
            sameFormat(x, op + ": x " + i, y, "y " + i);
        }
        disjoint(ys, op);
        // every x against the sorted y ranges: an x overlapping a y would be read while it is written
        long[][] ranges = sortedRanges(ys);
        int m = ranges.length;
        for (int i = 0; i < xs.size(); i++) {
            Tensor x = xs.get(i);
            if (x.byteSize() == 0) {
                continue;
            }
            long lo = x.address();
            long hi = lo + x.byteSize();
            // the last y starting below hi is the only one that can overlap [lo, hi): the ys are disjoint and sorted
            int a = 0;
            int b = m - 1;
            int k = -1;
            while (a <= b) {
                int mid = (a + b) >>> 1;
                if (ranges[mid][0] < hi) {
                    k = mid;
                    a = mid + 1;
                } else {
                    b = mid - 1;
                }
            }
            if (k >= 0 && ranges[k][1] > lo) {
                throw new IllegalArgumentException(op + ": x " + i + " shares memory with y " + ranges[k][2]);
            }
        }
    }

    /** {start, end, index} of each non-empty tensor's bytes, by start. */
    private static long[][] sortedRanges(java.util.List<Tensor> tensors) {
        java.util.List<long[]> ranges = new java.util.ArrayList<>(tensors.size());
        for (int i = 0; i < tensors.size(); i++) {
            Tensor t = tensors.get(i);
            if (t.byteSize() > 0) {
                ranges.add(new long[] {t.address(), t.address() + t.byteSize(), i});
            }
        }
        ranges.sort(java.util.Comparator.comparingLong((long[] r) -> r[0]));
        return ranges.toArray(new long[0][]);
    }
}
