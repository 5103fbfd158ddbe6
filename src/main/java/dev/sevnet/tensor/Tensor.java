package dev.sevnet.tensor;

import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.Objects;

/**
 * An n-dimensional array in off-heap memory: shape, dtype, device and a reference-counted storage.
 *
 * <p>Tensors are {@link AutoCloseable}: close them, or create them inside a {@link TensorScope} that
 * closes them. The garbage collector never frees tensor memory. A tensor made while a scope is open
 * belongs to that scope unless {@link TensorScope#keep(Tensor)} takes it out.
 *
 * <p><b>Threads.</b> A tensor's shape and dtype never change, and reading one from several threads at once
 * is safe (ops never write their inputs). Writing its contents while another thread reads them, or closing
 * it while another thread still uses it, is a data race the tensor does not guard against, as in PyTorch:
 * hand a tensor to another thread only when you are done with it, or give each thread its own copy.
 * {@link TensorScope}s are per thread. {@link #wrap}, {@link #storage()} and {@link #address()} are for
 * backends: memory reached through them is valid only while the tensor is open.
 */
public final class Tensor implements AutoCloseable {
    private final Shape shape;
    private final DType dtype;
    private Storage storage;
    /** Changes only with the storage ({@link #adoptStorage}): a parameter moved to a channels-last device. */
    private volatile MemoryFormat format;
    private volatile boolean closed;

    private Tensor(Shape shape, DType dtype, Storage storage, MemoryFormat format) {
        this.shape = shape;
        this.dtype = dtype;
        this.storage = storage;
        this.format = format;
        TensorScope.register(this);
    }

    private Tensor(Shape shape, DType dtype, Storage storage) {
        this(shape, dtype, storage, MemoryFormat.CONTIGUOUS);
    }

    /** Wraps storage the caller already owns one reference of (used by device backends). */
    public static Tensor wrap(Shape shape, DType dtype, Storage storage) {
        long need = bytesOf(shape, dtype);
        if (storage.bytes() < need) {
            throw new IllegalArgumentException("storage of " + storage.bytes() + " bytes is too small for "
                    + shape + " " + dtype);
        }
        return new Tensor(shape, dtype, storage);
    }

    /**
     * Wraps storage the caller already owns one reference of, whose bytes are in {@code format} (used by device
     * backends). {@link MemoryFormat#CHANNELS_LAST} needs a rank-5 shape.
     */
    public static Tensor wrap(Shape shape, DType dtype, Storage storage, MemoryFormat format) {
        java.util.Objects.requireNonNull(format, "format");
        if (format == MemoryFormat.CHANNELS_LAST && shape.rank() != 5) {
            throw new IllegalArgumentException("channels-last needs a 5-d shape [N, C, T, H, W], got " + shape);
        }
        Tensor t = wrap(shape, dtype, storage);
        t.format = format;
        return t;
    }

    /** Uninitialised host tensor. */
    public static Tensor empty(Shape shape, DType dtype) {
        return new Tensor(shape, dtype, HostStorage.allocate(bytesOf(shape, dtype)));
    }

    /** The bytes {@code shape} takes in {@code dtype}; an overflow of 64 bits is a clear error, never a wrap-around. */
    public static long bytesOf(Shape shape, DType dtype) {
        try {
            return Math.multiplyExact(shape.size(), (long) dtype.byteSize());
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("a tensor of shape " + shape + " in " + dtype + " is too large ("
                    + shape.size() + " elements of " + dtype.byteSize() + " bytes overflow 64 bits)", e);
        }
    }

    public static Tensor empty(Shape shape) {
        return empty(shape, DType.FLOAT32);
    }

    public static Tensor zeros(Shape shape, DType dtype) {
        Tensor t = empty(shape, dtype);
        ByteBuffer b = t.hostBuffer();
        // bulk clear in 8-byte steps, then the tail
        int n = b.capacity();
        int i = 0;
        for (; i + 8 <= n; i += 8) {
            b.putLong(i, 0L);
        }
        for (; i < n; i++) {
            b.put(i, (byte) 0);
        }
        return t;
    }

    public static Tensor zeros(Shape shape) {
        return zeros(shape, DType.FLOAT32);
    }

    public static Tensor full(Shape shape, float value) {
        Tensor t = empty(shape, DType.FLOAT32);
        FloatBuffer f = t.floatBuffer();
        for (int i = 0; i < f.capacity(); i++) {
            f.put(i, value);
        }
        return t;
    }

    /** A float32 host tensor holding a copy of {@code data}. */
    public static Tensor of(float[] data, Shape shape) {
        if (shape.size() != data.length) {
            throw new IllegalArgumentException("shape " + shape + " needs " + shape.size() + " values, got " + data.length);
        }
        Tensor t = empty(shape, DType.FLOAT32);
        t.floatBuffer().put(0, data);
        return t;
    }

    public static Tensor of(float[] data, long... dims) {
        return of(data, Shape.of(dims));
    }

    /** An int64 host tensor holding a copy of {@code data}. */
    public static Tensor ofLongs(long[] data, long... dims) {
        Shape shape = Shape.of(dims);
        if (shape.size() != data.length) {
            throw new IllegalArgumentException("shape " + shape + " needs " + shape.size() + " values, got " + data.length);
        }
        Tensor t = empty(shape, DType.INT64);
        t.hostBuffer().asLongBuffer().put(0, data);
        return t;
    }

    public Shape shape() {
        return shape;
    }

    public long dim(int i) {
        return shape.get(i);
    }

    public int rank() {
        return shape.rank();
    }

    public long size() {
        return shape.size();
    }

    public DType dtype() {
        return dtype;
    }

    public Device device() {
        return storage.device();
    }

    /**
     * The order of this tensor's bytes: {@link MemoryFormat#CONTIGUOUS} (NCDHW) unless a device backend made it
     * {@link MemoryFormat#CHANNELS_LAST}. {@link #toHostCopy()}, {@link #toFloatArray()} and {@link #copyFrom}
     * read and write the logical NCDHW order either way.
     */
    public MemoryFormat memoryFormat() {
        return format;
    }

    /** Whether this tensor's bytes are NDHWC ({@link MemoryFormat#CHANNELS_LAST}). */
    public boolean isChannelsLast() {
        return format == MemoryFormat.CHANNELS_LAST;
    }

    public long byteSize() {
        return bytesOf(shape, dtype);
    }

    /** The raw address of element 0, for native calls. Throws if the tensor is closed. */
    public long address() {
        checkOpen();
        return storage.address();
    }

    public Storage storage() {
        checkOpen();
        return storage;
    }

    public boolean isClosed() {
        return closed;
    }

    /**
     * A tensor of another shape with the same elements, sharing this one's memory. A channels-last tensor keeps its
     * format under its own shape; another shape needs a layout-invariant tensor (C or T·H·W of 1), else the
     * elements would change places: convert it to contiguous first.
     */
    public Tensor reshape(Shape newShape) {
        checkOpen();
        if (newShape.size() != shape.size()) {
            throw new IllegalArgumentException("cannot reshape " + shape + " (" + shape.size() + " elements) to "
                    + newShape + " (" + newShape.size() + ")");
        }
        MemoryFormat f = format;
        if (f == MemoryFormat.CHANNELS_LAST && !newShape.equals(shape)) {
            if (!MemoryFormat.isLayoutInvariant(shape)) {
                throw new IllegalArgumentException("cannot reshape the channels-last tensor " + shape + " to " + newShape
                        + ": convert it to contiguous first (Backend.toMemoryFormat)");
            }
            f = MemoryFormat.CONTIGUOUS;
        }
        storage.retain();
        return new Tensor(newShape, dtype, storage, f);
    }

    /**
     * A view of this tensor labelled {@code f}, sharing its memory: only when the bytes are the same in both orders
     * (the format it has, or a layout-invariant shape: C or T·H·W of 1). A device backend reorders the others.
     */
    public Tensor viewAs(MemoryFormat f) {
        checkOpen();
        java.util.Objects.requireNonNull(f, "format");
        if (f != format && !MemoryFormat.isLayoutInvariant(shape)) {
            throw new IllegalArgumentException("a " + format.label() + " tensor " + shape + " is not a " + f.label()
                    + " one without reordering its bytes");
        }
        if (f == MemoryFormat.CHANNELS_LAST && shape.rank() != 5) {
            throw new IllegalArgumentException("channels-last needs a 5-d shape [N, C, T, H, W], got " + shape);
        }
        storage.retain();
        return new Tensor(shape, dtype, storage, f);
    }

    public Tensor reshape(long... dims) {
        return reshape(Shape.of(dims));
    }

    /** A new host tensor with a copy of the data. */
    public Tensor copy() {
        checkOpen();
        requireHost("copy");
        Tensor t = empty(shape, dtype);
        t.rawBuffer().put(0, rawBuffer(), 0, (int) byteSize());
        t.format = format;
        return t;
    }

    /**
     * Copies {@code src}'s contents into this tensor (same shape and dtype). Either side may be on a
     * device when the other is on the host; device-to-device copies go through the backend.
     */
    public void copyFrom(Tensor src) {
        checkOpen();
        if (!src.shape.equals(shape) || src.dtype != dtype) {
            throw new IllegalArgumentException("copyFrom: " + src.shape + " " + src.dtype + " into " + shape + " " + dtype);
        }
        if (src.format != format && !MemoryFormat.isLayoutInvariant(shape)) {
            // the bytes change places: through a host copy in this tensor's order
            try (Tensor h = src.toHostCopy(); Tensor ordered = h.inFormat(format)) {
                storage.copyFromHost(0, ordered.address(), byteSize());
            }
            return;
        }
        if (device().isCpu() && src.device().isCpu()) {
            rawBuffer().put(0, src.rawBuffer(), 0, (int) byteSize());
        } else if (src.device().isCpu()) {
            storage.copyFromHost(0, src.address(), byteSize());
        } else if (device().isCpu()) {
            src.storage().copyToHost(0, address(), byteSize());
        } else {
            // toHostCopy gives the logical order: back into this tensor's byte order
            try (Tensor h = src.toHostCopy(); Tensor ordered = h.inFormat(format)) {
                storage.copyFromHost(0, ordered.address(), byteSize());
            }
        }
    }

    /**
     * Little-endian bytes of a host tensor: a view of its native memory, with no copy. <b>Unsafe past
     * {@link #close()}</b>: the buffer cannot know the memory was freed, and reading or writing it then is undefined
     * (garbage, or a crash of the JVM). Keep it only while the tensor is open; for values that outlive the tensor use
     * {@link #toFloatArray()} / {@link #toLongArray()}, which copy. A channels-last tensor (the CPU backend's
     * reference form) has no NCDHW bytes to view: take {@link #toHostCopy()}, as file writers do.
     */
    public ByteBuffer hostBuffer() {
        if (isChannelsLast() && !MemoryFormat.isLayoutInvariant(shape)) {
            throw new IllegalStateException("the bytes of the channels-last tensor " + shape + " are NDHWC, not the "
                    + "NCDHW order a buffer view reads: take toHostCopy()");
        }
        return rawBuffer();
    }

    /** hostBuffer without the layout rule: the bytes as they are (this class's own copies and reorders). */
    private ByteBuffer rawBuffer() {
        checkOpen();
        requireHost("hostBuffer");
        if (byteSize() > Integer.MAX_VALUE) {
            throw new UnsupportedOperationException("tensor of " + byteSize() + " bytes is too large for a Java buffer view");
        }
        ByteBuffer b = ((HostStorage) storage).byteBuffer();
        return b.limit((int) byteSize()).slice().order(java.nio.ByteOrder.LITTLE_ENDIAN);
    }

    /** A float view of a float32 host tensor; the same rule as {@link #hostBuffer()}: not past {@link #close()}. */
    public FloatBuffer floatBuffer() {
        requireDType(DType.FLOAT32);
        return hostBuffer().asFloatBuffer();
    }

    public LongBuffer longBuffer() {
        requireDType(DType.INT64);
        return hostBuffer().asLongBuffer();
    }

    /**
     * Makes this tensor use {@code other}'s memory (same shape and dtype) and drops its own: how a
     * module's parameters move to another device while every reference to the tensor stays valid.
     * Views made earlier with {@link #reshape} keep the old memory.
     */
    public synchronized void adoptStorage(Tensor other) {
        checkOpen();
        if (!other.shape.equals(shape) || other.dtype != dtype) {
            throw new IllegalArgumentException("adoptStorage: " + other.shape + " " + other.dtype + " into " + shape + " "
                    + dtype);
        }
        Storage fresh = other.storage();
        fresh.retain();
        Storage old = storage;
        storage = fresh;
        format = other.format;
        old.release();
    }

    /**
     * A contiguous (NCDHW) host copy of this tensor, wherever it lives and whatever its memory format (a copy even
     * when it is a contiguous host tensor).
     */
    public Tensor toHostCopy() {
        checkOpen();
        Tensor t = empty(shape, dtype);
        storage.copyToHost(0, t.address(), byteSize());
        if (format == MemoryFormat.CHANNELS_LAST && !MemoryFormat.isLayoutInvariant(shape)) {
            try (t) {
                Tensor c = empty(shape, dtype);
                MemoryFormat.permute(t.rawBuffer(), c.rawBuffer(), shape.get(0), shape.get(1), shape.sizeFrom(2),
                        dtype.byteSize(), false);
                return c;
            }
        }
        return t;
    }

    /** This contiguous host tensor's values as a new host tensor whose bytes are in {@code f}. */
    private Tensor inFormat(MemoryFormat f) {
        if (f == MemoryFormat.CONTIGUOUS || MemoryFormat.isLayoutInvariant(shape)) {
            return reshape(shape);
        }
        Tensor c = empty(shape, dtype);
        MemoryFormat.permute(hostBuffer(), c.hostBuffer(), shape.get(0), shape.get(1), shape.sizeFrom(2),
                dtype.byteSize(), true);
        c.format = MemoryFormat.CHANNELS_LAST;
        return c;
    }

    /** How many of {@code values} are NaN or infinite (what weights and input clips are checked for). */
    public static int countNonFinite(float[] values) {
        int bad = 0;
        for (float x : values) {
            if (!Float.isFinite(x)) {
                bad++;
            }
        }
        return bad;
    }

    /** The values in the logical (NCDHW) order, whatever the device and memory format. */
    public float[] toFloatArray() {
        if (!device().isCpu() || (isChannelsLast() && !MemoryFormat.isLayoutInvariant(shape))) {
            try (Tensor h = toHostCopy()) {
                return h.toFloatArray();
            }
        }
        if (dtype != DType.FLOAT32) {
            try (Tensor f = toFloat32()) {
                return f.toFloatArray();
            }
        }
        float[] a = new float[Math.toIntExact(size())];
        floatBuffer().get(0, a);
        return a;
    }

    public long[] toLongArray() {
        if (!device().isCpu()) {
            try (Tensor h = toHostCopy()) {
                return h.toLongArray();
            }
        }
        long[] a = new long[Math.toIntExact(size())];
        longBuffer().get(0, a);
        return a;
    }

    /**
     * The float32 element at {@code index} in the logical NCDHW order (row-major over {@link #shape()}), whatever the
     * layout: a channels-last tensor's element is found where its NDHWC bytes keep it.
     */
    public float getFloat(long index) {
        return floatElements().get(Math.toIntExact(storageIndex(index)));
    }

    /** Sets the float32 element at {@code index} in the logical NCDHW order, whatever the layout. */
    public void setFloat(long index, float v) {
        floatElements().put(Math.toIntExact(storageIndex(index)), v);
    }

    private FloatBuffer floatElements() {
        requireDType(DType.FLOAT32);
        return rawBuffer().asFloatBuffer();
    }

    /** Where the element at logical (NCDHW, row-major) {@code index} is in this tensor's bytes. */
    private long storageIndex(long index) {
        if (index < 0 || index >= shape.size()) {
            throw new IndexOutOfBoundsException("element " + index + " of a tensor " + shape);
        }
        if (!isChannelsLast() || MemoryFormat.isLayoutInvariant(shape)) {
            return index;
        }
        long c = shape.get(1);
        long s = shape.sizeFrom(2);
        long n = index / (c * s);
        long ch = index / s % c;
        long p = index % s;
        return (n * s + p) * c + ch;
    }

    /** A float32 copy of this tensor (converts f16, bf16 and int64). */
    public Tensor toFloat32() {
        checkOpen();
        requireHost("toFloat32");
        if (isChannelsLast() && !MemoryFormat.isLayoutInvariant(shape)) {
            try (Tensor c = toHostCopy()) {
                return c.toFloat32();
            }
        }
        Tensor out = empty(shape, DType.FLOAT32);
        FloatBuffer o = out.floatBuffer();
        ByteBuffer in = hostBuffer();
        int n = Math.toIntExact(size());
        switch (dtype) {
            case FLOAT32 -> o.put(0, in.asFloatBuffer(), 0, n);
            case INT64 -> {
                LongBuffer l = in.asLongBuffer();
                for (int i = 0; i < n; i++) {
                    o.put(i, (float) l.get(i));
                }
            }
            case FLOAT16 -> {
                for (int i = 0; i < n; i++) {
                    o.put(i, Half.toFloat(in.getShort(2 * i)));
                }
            }
            case BFLOAT16 -> {
                for (int i = 0; i < n; i++) {
                    o.put(i, Half.bf16ToFloat(in.getShort(2 * i)));
                }
            }
        }
        return out;
    }

    /** Frees this tensor's reference to its memory. Idempotent. */
    @Override
    public void close() {
        if (!closed) {
            synchronized (this) {
                if (closed) {
                    return;
                }
                closed = true;
            }
            storage.release();
            TensorScope.unregister(this);
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("tensor " + shape + " " + dtype + " is closed");
        }
    }

    private void requireHost(String op) {
        if (!storage.device().isCpu()) {
            throw new IllegalStateException(op + " needs a host tensor; this one is on " + storage.device());
        }
    }

    private void requireDType(DType d) {
        if (dtype != d) {
            throw new IllegalStateException("expected a " + d + " tensor, this one is " + dtype);
        }
    }

    @Override
    public String toString() {
        return "Tensor" + shape + " " + dtype + " " + device() + (isChannelsLast() ? " channels-last" : "")
                + (closed ? " (closed)" : "");
    }

    @Override
    public boolean equals(Object o) {
        return this == o;
    }

    @Override
    public int hashCode() {
        return Objects.hashCode(System.identityHashCode(this));
    }
}
