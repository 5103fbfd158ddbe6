package dev.sevnet.backend.cpu;

import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * A u8 activation of the int8 CPU path: logical shape {@code [N, C, T, H, W]}, one scale per channel
 * and one zero point ({@code x[c] = (q - zeroPoint) * scale[c]}), bytes in the channel-blocked layout
 * {@code [N][ceil(C/4)][T][H][W][4]} that the VNNI kernels read directly (four channels of a position
 * are one 32-bit word; channels past C in the last block are 0).
 *
 * <p>The bytes live in an ordinary host {@link Tensor} (int64 words, so that no float conversion or
 * {@code Module.to} ever touches them); closing this closes it, and a {@code TensorScope} open when it
 * was made owns it like any tensor.
 */
public final class QTensor implements AutoCloseable {
    private final Tensor bytes;
    private final Shape shape;
    private final float[] scales;
    private final int zeroPoint;

    private QTensor(Tensor bytes, Shape shape, float[] scales, int zeroPoint) {
        this.bytes = bytes;
        this.shape = shape;
        this.scales = scales;
        this.zeroPoint = zeroPoint;
    }

    /** Bytes of the blocked layout of {@code shape} ({@code [N, C, T, H, W]}). */
    public static long byteSize(Shape shape) {
        checkShape(shape);
        return shape.get(0) * ((shape.get(1) + 3) / 4) * 4 * shape.sizeFrom(2);
    }

    /** Uninitialised (the op that fills it writes every byte), {@code scales[c]} per channel (copied). */
    public static QTensor empty(Shape shape, float[] scales, int zeroPoint) {
        checkShape(shape);
        if (scales == null || scales.length != shape.get(1)) {
            throw new IllegalArgumentException("a u8 tensor of " + shape.get(1) + " channels needs as many scales, got "
                    + (scales == null ? "none" : scales.length));
        }
        for (float s : scales) {
            if (!(s > 0) || !Float.isFinite(s)) {
                throw new IllegalArgumentException("u8 tensor scales must be finite and > 0, got " + s);
            }
        }
        if (zeroPoint < 0 || zeroPoint > 255) {
            throw new IllegalArgumentException("zero point must be in [0, 255], got " + zeroPoint);
        }
        long words = Math.max(1, (byteSize(shape) + 7) / 8);
        return new QTensor(Tensor.empty(Shape.of(words), DType.INT64), shape, scales.clone(), zeroPoint);
    }

    /** {@link #empty(Shape, float[], int)} with the same scale for every channel. */
    public static QTensor empty(Shape shape, float scale, int zeroPoint) {
        checkShape(shape);
        float[] s = new float[Math.toIntExact(shape.get(1))];
        Arrays.fill(s, scale);
        return empty(shape, s, zeroPoint);
    }

    private static void checkShape(Shape shape) {
        if (shape.rank() != 5) {
            throw new IllegalArgumentException("u8 activations are [N, C, T, H, W], got " + shape);
        }
        for (int i = 0; i < 5; i++) {
            if (shape.get(i) < 0) {
                throw new IllegalArgumentException("negative dimension in " + shape);
            }
        }
    }

    public Shape shape() {
        return shape;
    }

    public long dim(int i) {
        return shape.get(i);
    }

    /** The scale of channel {@code c}. */
    public float scale(int c) {
        return scales[c];
    }

    /** Every channel's scale (a copy). */
    public float[] scales() {
        return scales.clone();
    }

    /** The scales without a copy, for the native calls of this package (never modified). */
    float[] scalesView() {
        return scales;
    }

    /** Scales of channels [from, to) (a copy). */
    float[] scales(long from, long to) {
        return Arrays.copyOfRange(scales, Math.toIntExact(from), Math.toIntExact(to));
    }

    public int zeroPoint() {
        return zeroPoint;
    }

    /** The native address of the first byte (checks the tensor is still open). */
    public long address() {
        return bytes.address();
    }

    public boolean isClosed() {
        return bytes.isClosed();
    }

    /** The u8 value of element {@code [n, c, t, h, w]} (tests; slow). */
    public int get(long n, long c, long t, long h, long w) {
        long s = (t * shape.get(3) + h) * shape.get(4) + w;
        long idx = ((n * ((shape.get(1) + 3) / 4) + c / 4) * shape.sizeFrom(2) + s) * 4 + c % 4;
        return bytes.hostBuffer().get(Math.toIntExact(idx)) & 0xff;
    }

    /** Every byte of the blocked layout (tests). */
    public byte[] toByteArray() {
        ByteBuffer b = bytes.hostBuffer();
        byte[] out = new byte[Math.toIntExact(byteSize(shape))];
        b.get(0, out);
        return out;
    }

    /** Overwrites the blocked bytes (tests: garbage before an op, to see it writes every byte). */
    public void fill(byte value) {
        ByteBuffer b = bytes.hostBuffer();
        for (int i = 0, n = b.capacity(); i < n; i++) {
            b.put(i, value);
        }
    }

    /** Takes this out of {@code scope} (to its enclosing one, if any), as {@link TensorScope#keep}. */
    public QTensor keepIn(TensorScope scope) {
        scope.keep(bytes);
        return this;
    }

    @Override
    public void close() {
        bytes.close();
    }

    @Override
    public String toString() {
        return "QTensor" + shape + " u8 zp " + zeroPoint + (isClosed() ? " (closed)" : "");
    }
}
