package dev.sevnet.nn.io;

import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * Reads and writes the <a href="https://github.com/huggingface/safetensors">safetensors</a> format:
 * an 8-byte little-endian header length, a UTF-8 JSON header
 * {@code {"__metadata__": {..}, name: {"dtype", "shape", "data_offsets"}, ..}} and the raw
 * little-endian tensor bytes. Dtypes F32, I64, F16 and BF16; rank-0 tensors have shape {@code []}.
 *
 * <p>Files written here are byte-identical to what {@code safetensors.torch.save_file} writes for the
 * same tensors and metadata: tensors ordered by descending dtype (I64, F32, BF16, F16 — the library's
 * alignment order) and then by name (UTF-8 bytes), {@code __metadata__} first in the header, no
 * whitespace in the JSON, the header padded with spaces to a multiple of 8 bytes. (Metadata keys are
 * sorted; the library writes them in hash order.) Writes are atomic: a temp file in the same directory
 * renamed over the target.
 */
public final class Safetensors {
    private Safetensors() {
    }

    /** Reads every tensor, in file order, into new host tensors the caller owns. */
    public static Map<String, Tensor> read(Path file) {
        return read(file, name -> true);
    }

    /** Reads the tensors whose names {@code filter} accepts (the others are never read). */
    public static Map<String, Tensor> read(Path file, Predicate<String> filter) {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            return f.loadAll(filter);
        }
    }

    /**
     * Checks that every floating-point tensor of {@code tensors} (read from {@code file}) holds finite values only:
     * a NaN or infinity in saved weights means a diverged run or a damaged file, and would turn every prediction into
     * NaN without an error.
     *
     * @throws WeightsFormatException naming the first tensor with non-finite values and how many
     */
    public static void requireFinite(Path file, Map<String, Tensor> tensors) {
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            requireFinite(file, e.getKey(), e.getValue());
        }
    }

    /** {@link #requireFinite(Path, Map)} for one tensor. */
    public static void requireFinite(Path file, String name, Tensor t) {
        if (!t.dtype().isFloatingPoint()) {
            return;
        }
        float[] v = t.toFloatArray();
        int bad = Tensor.countNonFinite(v);
        if (bad > 0) {
            throw new WeightsFormatException(file, name, bad + " of " + v.length + " values are not finite (NaN or "
                    + "infinity): the run that saved it diverged or the file is damaged; use an earlier checkpoint");
        }
    }

    /** Opens {@code file} for lazy reading: header validated now, tensors read on demand. */
    public static SafetensorsFile open(Path file) {
        return SafetensorsFile.open(file);
    }

    /** Writes {@code tensors} (F32/I64/F16/BF16, on the host or a device) with optional {@code metadata}, atomically. */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) {
        Objects.requireNonNull(file, "file");
        List<Map.Entry<String, Tensor>> order = sortedEntries(tensors);
        byte[] header = header(order, metadata);
        AtomicFiles.write(file, ch -> {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length);
            AtomicFiles.writeFully(ch, len);
            AtomicFiles.writeFully(ch, ByteBuffer.wrap(header));
            for (Map.Entry<String, Tensor> e : order) {
                Tensor t = e.getValue();
                if (t.byteSize() > 0) {
                    if (t.device().isCpu() && !t.isChannelsLast()) {
                        AtomicFiles.writeFully(ch, t.hostBuffer());
                    } else {
                        // a device tensor is staged through the host; a channels-last one is written NCDHW
                        try (Tensor h = t.toHostCopy()) {
                            AtomicFiles.writeFully(ch, h.hostBuffer());
                        }
                    }
                }
            }
        });
    }

    public static void write(Path file, Map<String, Tensor> tensors) {
        write(file, tensors, null);
    }

    /** Descending dtype order of the reference implementation's {@code Dtype} enum. */
    static int dtypeRank(DType d) {
        return switch (d) {
            case INT64 -> 13;
            case FLOAT32 -> 11;
            case BFLOAT16 -> 8;
            case FLOAT16 -> 7;
        };
    }

    private static List<Map.Entry<String, Tensor>> sortedEntries(Map<String, Tensor> tensors) {
        Objects.requireNonNull(tensors, "tensors");
        List<Map.Entry<String, Tensor>> order = new ArrayList<>(tensors.entrySet());
        for (Map.Entry<String, Tensor> e : order) {
            String name = e.getKey();
            if (name == null || name.isEmpty()) {
                throw new IllegalArgumentException("tensor names must be non-empty");
            }
            if (name.equals("__metadata__")) {
                throw new IllegalArgumentException("'__metadata__' is reserved and cannot name a tensor");
            }
            Tensor t = e.getValue();
            if (t == null) {
                throw new IllegalArgumentException("tensor '" + name + "' is null");
            }
            if (t.isClosed()) {
                throw new IllegalArgumentException("tensor '" + name + "' is closed");
            }
            if (t.byteSize() > Integer.MAX_VALUE) {
                // checked before the temp file is written: a host buffer view holds at most 2^31-1 bytes
                throw new IllegalArgumentException("tensor '" + name + "' " + t.shape() + " is " + t.byteSize()
                        + " bytes: safetensors output holds at most " + Integer.MAX_VALUE + " bytes per tensor");
            }
        }
        order.sort((a, b) -> {
            int c = Integer.compare(dtypeRank(b.getValue().dtype()), dtypeRank(a.getValue().dtype()));
            return c != 0 ? c : Arrays.compareUnsigned(a.getKey().getBytes(StandardCharsets.UTF_8),
                    b.getKey().getBytes(StandardCharsets.UTF_8));
        });
        return order;
    }

    private static byte[] header(List<Map.Entry<String, Tensor>> order, Map<String, String> metadata) {
        StringBuilder b = new StringBuilder("{");
        boolean first = true;
        if (metadata != null) {
            b.append("\"__metadata__\":{");
            boolean mf = true;
            for (Map.Entry<String, String> m : new TreeMap<>(metadata).entrySet()) {
                if (!mf) {
                    b.append(',');
                }
                mf = false;
                Json.quote(b, m.getKey());
                b.append(':');
                Json.quote(b, Objects.requireNonNull(m.getValue(), "metadata value of " + m.getKey()));
            }
            b.append('}');
            first = false;
        }
        long offset = 0;
        for (Map.Entry<String, Tensor> e : order) {
            Tensor t = e.getValue();
            if (!first) {
                b.append(',');
            }
            first = false;
            Json.quote(b, e.getKey());
            b.append(":{\"dtype\":\"").append(t.dtype().safetensorsName()).append("\",\"shape\":[");
            long[] dims = t.shape().dims();
            for (int i = 0; i < dims.length; i++) {
                if (i > 0) {
                    b.append(',');
                }
                b.append(dims[i]);
            }
            long end = offset + t.byteSize();
            b.append("],\"data_offsets\":[").append(offset).append(',').append(end).append("]}");
            offset = end;
        }
        b.append('}');
        byte[] json = b.toString().getBytes(StandardCharsets.UTF_8);
        int pad = (8 - json.length % 8) % 8;
        byte[] out = Arrays.copyOf(json, json.length + pad);
        Arrays.fill(out, json.length, out.length, (byte) ' ');
        return out;
    }
}
