package dev.sevnet.tensor;

import java.util.Arrays;

/** An immutable tensor shape (row-major, last axis fastest). */
public final class Shape {
    private final long[] dims;

    private Shape(long[] dims) {
        for (long d : dims) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(dims));
            }
        }
        this.dims = dims;
    }

    public static Shape of(long... dims) {
        return new Shape(dims.clone());
    }

    public static Shape of(int... dims) {
        long[] d = new long[dims.length];
        for (int i = 0; i < dims.length; i++) {
            d[i] = dims[i];
        }
        return new Shape(d);
    }

    public int rank() {
        return dims.length;
    }

    /** Dimension i; negative i counts from the end. */
    public long get(int i) {
        int at = i < 0 ? dims.length + i : i;
        if (at < 0 || at >= dims.length) {
            throw new IndexOutOfBoundsException("axis " + i + " of a rank-" + dims.length + " shape " + this);
        }
        return dims[at];
    }

    public int getInt(int i) {
        return Math.toIntExact(get(i));
    }

    public long[] dims() {
        return dims.clone();
    }

    public long size() {
        long n = 1;
        for (long d : dims) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** Product of dimensions from index {@code from} (inclusive) to the end. */
    public long sizeFrom(int from) {
        long n = 1;
        for (int i = from; i < dims.length; i++) {
            n = Math.multiplyExact(n, dims[i]);
        }
        return n;
    }

    public Shape with(int axis, long value) {
        long[] d = dims.clone();
        d[axis < 0 ? d.length + axis : axis] = value;
        return new Shape(d);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Shape s && Arrays.equals(s.dims, dims);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(dims);
    }

    @Override
    public String toString() {
        return Arrays.toString(dims);
    }
}
