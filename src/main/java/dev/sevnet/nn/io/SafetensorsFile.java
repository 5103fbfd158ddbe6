package dev.sevnet.nn.io;

import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * An open safetensors file whose header has been read and fully validated; tensors are read on
 * demand ({@link #load}), so a caller can take only the tensors it wants.
 *
 * <p>Validation (before any tensor memory is allocated): the header length fits in the file and is at
 * most 100 MB, the header is UTF-8 JSON, every tensor has a dtype of the format, a non-negative shape and
 * {@code data_offsets} whose length is exactly shape × dtype size, the tensors tile the data section
 * with no overlap, gap or trailing bytes (the rules of the Python library). Every failure is a
 * {@link WeightsFormatException} naming the file and, where one is at fault, the tensor.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** Header length limit of the reference implementation. */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    /**
     * One tensor's header entry; offsets are relative to the start of the data section. {@code dtype} is null for a
     * dtype of the format that sevnet cannot hold (F64, I32, BOOL, U8, ...): such an entry is validated and can be
     * skipped, but {@link #load} refuses it. {@code dtypeName} is the header's dtype string.
     */
    public record Entry(String name, DType dtype, Shape shape, long begin, long end, String dtypeName) {
        public Entry(String name, DType dtype, Shape shape, long begin, long end) {
            this(name, dtype, shape, begin, end, dtype.safetensorsName());
        }

        public long byteSize() {
            return end - begin;
        }

        /** Whether sevnet can load this tensor (its dtype is F32, I64, F16 or BF16). */
        public boolean supported() {
            return dtype != null;
        }
    }

    /**
     * Bits per element of every dtype the safetensors format defines (safetensors 0.6 {@code Dtype}), so that a file
     * holding tensors sevnet cannot use (a BOOL mask, an F64 or I32 tensor) still opens and its other tensors load.
     */
    private static final Map<String, Integer> FORMAT_DTYPE_BITS = Map.ofEntries(
            Map.entry("BOOL", 8), Map.entry("F4", 4), Map.entry("F6_E2M3", 6), Map.entry("F6_E3M2", 6),
            Map.entry("U8", 8), Map.entry("I8", 8), Map.entry("F8_E5M2", 8), Map.entry("F8_E4M3", 8),
            Map.entry("F8_E8M0", 8), Map.entry("I16", 16), Map.entry("U16", 16), Map.entry("F16", 16),
            Map.entry("BF16", 16), Map.entry("I32", 32), Map.entry("U32", 32), Map.entry("F32", 32),
            Map.entry("F64", 64), Map.entry("I64", 64), Map.entry("U64", 64));

    private final Path path;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, Entry> entries; // offset order
    private final Map<String, String> metadata;

    private SafetensorsFile(Path path, FileChannel channel, long dataStart, Map<String, Entry> entries,
                            Map<String, String> metadata) {
        this.path = path;
        this.channel = channel;
        this.dataStart = dataStart;
        this.entries = entries;
        this.metadata = metadata;
    }

    /** Opens and validates {@code file}; close the result. */
    public static SafetensorsFile open(Path file) {
        FileChannel ch;
        try {
            ch = FileChannel.open(file, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new WeightsFormatException(file, null, "no such file", e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open " + file + ": " + e.getMessage(), e);
        }
        try {
            return parse(file, ch);
        } catch (RuntimeException e) {
            closeQuietly(ch);
            throw e;
        } catch (IOException e) {
            closeQuietly(ch);
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    private static SafetensorsFile parse(Path file, FileChannel ch) throws IOException {
        long size = ch.size();
        if (size < 8) {
            throw new WeightsFormatException(file, null, "file is " + size
                    + " bytes, too short for the 8-byte header length of a safetensors file");
        }
        ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        if (!AtomicFiles.readFully(ch, lenBuf, 0)) {
            throw new WeightsFormatException(file, null, "file ended inside the header length");
        }
        long n = lenBuf.getLong(0);
        if (n < 0 || n > MAX_HEADER_BYTES) {
            throw new WeightsFormatException(file, null, "header length " + Long.toUnsignedString(n)
                    + " exceeds the " + MAX_HEADER_BYTES + "-byte limit: not a safetensors file, or corrupt");
        }
        if (n > size - 8) {
            throw new WeightsFormatException(file, null, "header length " + n + " runs past the end of the file ("
                    + size + " bytes): the file is truncated or not a safetensors file");
        }
        ByteBuffer hb = ByteBuffer.allocate((int) n);
        if (!AtomicFiles.readFully(ch, hb, 8)) {
            throw new WeightsFormatException(file, null, "file ended inside the header");
        }
        hb.flip();
        String text;
        try {
            CharBuffer cb = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(hb);
            text = cb.toString();
        } catch (CharacterCodingException e) {
            throw new WeightsFormatException(file, null, "header is not valid UTF-8", e);
        }
        Object root;
        try {
            root = Json.parse(text);
        } catch (Json.ParseException e) {
            throw new WeightsFormatException(file, null, "header is not valid JSON: " + e.getMessage(), e);
        }
        if (!(root instanceof Map<?, ?> top)) {
            throw new WeightsFormatException(file, null, "header is not a JSON object");
        }
        long dataLen = size - 8 - n;
        Map<String, String> metadata = Collections.emptyMap();
        List<Entry> list = new ArrayList<>();
        for (Map.Entry<?, ?> e : top.entrySet()) {
            String name = (String) e.getKey();
            if (name.equals("__metadata__")) {
                metadata = parseMetadata(file, e.getValue());
            } else {
                list.add(parseEntry(file, name, e.getValue()));
            }
        }
        list.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        long cursor = 0;
        Entry prev = null;
        Map<String, Entry> entries = new LinkedHashMap<>();
        for (Entry en : list) {
            if (en.begin < cursor) {
                throw new WeightsFormatException(file, en.name, "data_offsets " + offsets(en) + " overlap tensor '"
                        + prev.name + "' " + offsets(prev));
            }
            if (en.end > dataLen) {
                throw new WeightsFormatException(file, en.name, "data_offsets " + offsets(en)
                        + " run past the end of the data section (" + dataLen + " bytes): the file is truncated");
            }
            if (en.begin > cursor) {
                throw new WeightsFormatException(file, en.name, "data_offsets " + offsets(en) + " leave "
                        + (en.begin - cursor) + " unused bytes before this tensor"
                        + (prev == null ? "" : " (after '" + prev.name + "' " + offsets(prev) + ")"));
            }
            cursor = en.end;
            prev = en;
            entries.put(en.name, en);
        }
        if (cursor != dataLen) {
            throw new WeightsFormatException(file, null, (dataLen - cursor)
                    + " bytes after the last tensor's data are not described by the header (corrupt header, or "
                    + "extra data appended)");
        }
        return new SafetensorsFile(file, ch, 8 + n, Collections.unmodifiableMap(entries),
                Collections.unmodifiableMap(metadata));
    }

    private static String offsets(Entry e) {
        return "[" + e.begin + ", " + e.end + "]";
    }

    private static Map<String, String> parseMetadata(Path file, Object v) {
        if (v == Json.NULL) {
            return Collections.emptyMap(); // the reference reader takes "__metadata__": null as no metadata
        }
        if (!(v instanceof Map<?, ?> m)) {
            throw new WeightsFormatException(file, null, "__metadata__ is not a JSON object");
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : m.entrySet()) {
            if (!(e.getValue() instanceof String s)) {
                throw new WeightsFormatException(file, null, "__metadata__ value of \"" + e.getKey()
                        + "\" is not a string");
            }
            out.put((String) e.getKey(), s);
        }
        return out;
    }

    private static Entry parseEntry(Path file, String name, Object v) {
        if (!(v instanceof Map<?, ?> m)) {
            throw new WeightsFormatException(file, name, "header entry is not a JSON object");
        }
        Object dt = m.get("dtype");
        if (!(dt instanceof String dts)) {
            throw new WeightsFormatException(file, name, "header entry has no string \"dtype\"");
        }
        DType dtype = null;
        try {
            dtype = DType.fromSafetensors(dts);
        } catch (IllegalArgumentException e) {
            if (!FORMAT_DTYPE_BITS.containsKey(dts)) {
                throw new WeightsFormatException(file, name, "unknown dtype '" + dts
                        + "' (not a safetensors dtype; sevnet reads F32, I64, F16, BF16)");
            }
        }
        long bits = dtype != null ? 8L * dtype.byteSize() : FORMAT_DTYPE_BITS.get(dts);
        Object sh = m.get("shape");
        if (!(sh instanceof List<?> shl)) {
            throw new WeightsFormatException(file, name, "header entry has no \"shape\" array");
        }
        long[] dims = new long[shl.size()];
        long numel = 1;
        for (int i = 0; i < dims.length; i++) {
            long d = nonNegativeLong(file, name, "shape", shl.get(i));
            dims[i] = d;
            try {
                numel = Math.multiplyExact(numel, d);
            } catch (ArithmeticException e) {
                throw new WeightsFormatException(file, name, "shape " + shl + " has more elements than fit in 64 bits");
            }
        }
        Object off = m.get("data_offsets");
        if (!(off instanceof List<?> ol) || ol.size() != 2) {
            throw new WeightsFormatException(file, name, "header entry has no \"data_offsets\" array of two integers");
        }
        long begin = nonNegativeLong(file, name, "data_offsets", ol.get(0));
        long end = nonNegativeLong(file, name, "data_offsets", ol.get(1));
        if (end < begin) {
            throw new WeightsFormatException(file, name, "data_offsets [" + begin + ", " + end + "] end before they begin");
        }
        long need;
        try {
            long totalBits = Math.multiplyExact(numel, bits);
            if (totalBits % 8 != 0) {
                throw new WeightsFormatException(file, name, "shape " + shl + " " + dts + " is not a whole number "
                        + "of bytes");
            }
            need = totalBits / 8;
        } catch (ArithmeticException e) {
            throw new WeightsFormatException(file, name, "shape " + shl + " is too large");
        }
        if (end - begin != need) {
            throw new WeightsFormatException(file, name, "data_offsets [" + begin + ", " + end + "] hold "
                    + (end - begin) + " bytes but shape " + shl + " " + dts + " needs " + need);
        }
        return new Entry(name, dtype, Shape.of(dims), begin, end, dts);
    }

    private static long nonNegativeLong(Path file, String name, String field, Object v) {
        if (v instanceof BigInteger bi && bi.signum() >= 0 && bi.bitLength() < 63) {
            return bi.longValue();
        }
        throw new WeightsFormatException(file, name, "\"" + field + "\" holds " + v
                + ", not a non-negative integer");
    }

    public Path path() {
        return path;
    }

    /** The {@code __metadata__} string map (empty if the file has none). */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Tensor names in file (offset) order. */
    public List<String> names() {
        return List.copyOf(entries.keySet());
    }

    /** Header entries in file (offset) order. */
    public Map<String, Entry> entries() {
        return entries;
    }

    public boolean contains(String name) {
        return entries.containsKey(name);
    }

    private Tensor loadF64AsF32(Entry e) {
        if (e.byteSize() > Integer.MAX_VALUE) {
            throw new WeightsFormatException(path, e.name, "F64 " + e.shape + " is " + e.byteSize()
                    + " bytes: sevnet reads at most " + Integer.MAX_VALUE + " bytes per tensor");
        }
        ByteBuffer raw = ByteBuffer.allocate((int) e.byteSize()).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        try {
            if (e.byteSize() > 0 && !AtomicFiles.readFully(channel, raw, dataStart + e.begin)) {
                throw new WeightsFormatException(path, e.name, "file ended inside this tensor's data "
                        + "(was it truncated while being read?)");
            }
        } catch (IOException ex) {
            throw new UncheckedIOException("cannot read tensor '" + e.name + "' from " + path + ": " + ex.getMessage(),
                    ex);
        }
        raw.flip();
        java.nio.DoubleBuffer d = raw.asDoubleBuffer();
        float[] v = new float[d.remaining()];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) d.get(i);
        }
        return Tensor.of(v, e.shape);
    }

    /** The header entry of {@code name}, or null. */
    public Entry entry(String name) {
        return entries.get(name);
    }

    /**
     * Reads one tensor into a new host tensor the caller owns. An F64 tensor (a {@code model.double()} export) is read
     * as F32, each value rounded to nearest — what PyTorch's {@code copy_} into a float32 parameter does.
     */
    public Tensor load(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            throw new WeightsFormatException(path, name, "no such tensor in the file");
        }
        if (e.dtype == null && "F64".equals(e.dtypeName)) {
            return loadF64AsF32(e);
        }
        if (e.dtype == null) {
            throw new WeightsFormatException(path, name, "unsupported dtype '" + e.dtypeName + "' " + e.shape
                    + ": sevnet reads F32, I64, F16 and BF16 (convert it in PyTorch, e.g. t.float(), or leave this "
                    + "tensor out)");
        }
        if (e.byteSize() > Integer.MAX_VALUE) {
            throw new WeightsFormatException(path, name, e.dtypeName + " " + e.shape + " is " + e.byteSize()
                    + " bytes: sevnet's host tensors hold at most " + Integer.MAX_VALUE + " bytes");
        }
        Tensor t = Tensor.empty(e.shape, e.dtype);
        try {
            if (e.byteSize() > 0) {
                ByteBuffer dst = t.hostBuffer();
                if (!AtomicFiles.readFully(channel, dst, dataStart + e.begin)) {
                    throw new WeightsFormatException(path, name, "file ended inside this tensor's data "
                            + "(was it truncated while being read?)");
                }
            }
            return t;
        } catch (IOException ex) {
            t.close();
            throw new UncheckedIOException("cannot read tensor '" + name + "' from " + path + ": " + ex.getMessage(), ex);
        } catch (RuntimeException ex) {
            t.close();
            throw ex;
        }
    }

    /**
     * Reads every tensor whose name {@code filter} accepts, in file order, into new tensors the caller
     * owns (all of them are closed again if one fails).
     */
    public Map<String, Tensor> loadAll(Predicate<String> filter) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try {
            for (String name : entries.keySet()) {
                if (filter.test(name)) {
                    out.put(name, load(name));
                }
            }
            return out;
        } catch (RuntimeException e) {
            out.values().forEach(Tensor::close);
            throw e;
        }
    }

    @Override
    public void close() {
        closeQuietly(channel);
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // read-only channel: nothing to lose
        }
    }
}
