package dev.sevnet.nn.io;

import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * NumPy {@code .npy} files (format versions 1, 2 and 3) holding little-endian float32 ({@code '<f4'})
 * or int64 ({@code '<i8'}) arrays in C order. {@link #write} produces exactly the bytes
 * {@code numpy.save} produces for the same array (version 1.0 whenever the header fits, 64-byte
 * aligned data), atomically.
 */
public final class Npy {
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final int ALIGN = 64;
    /** numpy leaves room in the header for the shape's first axis to grow to this many digits. */
    private static final int GROWTH_AXIS_MAX_DIGITS = 21;
    private static final long MAX_HEADER_BYTES = 1 << 20;

    private Npy() {
    }

    /** Reads {@code file} into a new host tensor the caller owns. */
    public static Tensor read(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return read(file, ch);
        } catch (NoSuchFileException e) {
            throw new WeightsFormatException(file, null, "no such file", e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    private static Tensor read(Path file, FileChannel ch) throws IOException {
        long size = ch.size();
        ByteBuffer pre = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
        if (size < 10 || !AtomicFiles.readFully(ch, pre.limit((int) Math.min(12, size)), 0)) {
            throw new WeightsFormatException(file, null, "file is " + size + " bytes, too short for a .npy header");
        }
        for (int i = 0; i < MAGIC.length; i++) {
            if (pre.get(i) != MAGIC[i]) {
                throw new WeightsFormatException(file, null, "not a .npy file (bad magic string)");
            }
        }
        int major = pre.get(6) & 0xff;
        long headerLen;
        int prefix;
        if (major == 1) {
            headerLen = pre.getShort(8) & 0xffff;
            prefix = 10;
        } else if (major == 2 || major == 3) {
            if (size < 12) {
                throw new WeightsFormatException(file, null, "file is too short for a version " + major + " header");
            }
            headerLen = pre.getInt(8) & 0xffffffffL;
            prefix = 12;
        } else {
            throw new WeightsFormatException(file, null, "unsupported .npy format version " + major + "."
                    + (pre.get(7) & 0xff));
        }
        if (headerLen > MAX_HEADER_BYTES || headerLen > size - prefix) {
            throw new WeightsFormatException(file, null, "header length " + headerLen
                    + " runs past the end of the file (" + size + " bytes): truncated or corrupt");
        }
        ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
        if (!AtomicFiles.readFully(ch, hb, prefix)) {
            throw new WeightsFormatException(file, null, "file ended inside the header");
        }
        String header = new String(hb.array(), major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        Map<String, Object> dict;
        try {
            dict = new DictParser(header).parse();
        } catch (IllegalArgumentException e) {
            throw new WeightsFormatException(file, null, "malformed header " + header.trim() + ": " + e.getMessage());
        }
        Object descr = dict.get("descr");
        Object fortran = dict.get("fortran_order");
        Object shapeObj = dict.get("shape");
        if (!(descr instanceof String d) || !(fortran instanceof Boolean f) || !(shapeObj instanceof List<?> sl)) {
            throw new WeightsFormatException(file, null, "header " + header.trim()
                    + " lacks 'descr', 'fortran_order' or 'shape'");
        }
        DType dtype = switch (d) {
            case "<f4" -> DType.FLOAT32;
            case "<i8" -> DType.INT64;
            default -> throw new WeightsFormatException(file, null, "unsupported dtype '" + d
                    + "': only little-endian float32 ('<f4') and int64 ('<i8') are supported "
                    + "(convert with arr.astype(np.float32))");
        };
        if (f) {
            throw new WeightsFormatException(file, null, "Fortran-order arrays are not supported; "
                    + "save np.ascontiguousarray(arr) instead");
        }
        long[] dims = new long[sl.size()];
        long numel = 1;
        for (int i = 0; i < dims.length; i++) {
            if (!(sl.get(i) instanceof Long v) || v < 0) {
                throw new WeightsFormatException(file, null, "bad shape " + sl + " in the header");
            }
            dims[i] = v;
            try {
                numel = Math.multiplyExact(numel, v);
            } catch (ArithmeticException e) {
                throw new WeightsFormatException(file, null, "shape " + sl + " is too large");
            }
        }
        long dataStart = prefix + headerLen;
        long have = size - dataStart;
        long need = numel > Long.MAX_VALUE / dtype.byteSize() ? Long.MAX_VALUE : numel * dtype.byteSize();
        if (have < need) {
            throw new WeightsFormatException(file, null, "shape " + sl + " " + d + " needs " + need
                    + " bytes of data but the file holds " + have + ": the file is truncated");
        }
        if (have > need) {
            throw new WeightsFormatException(file, null, (have - need) + " unexpected bytes after the "
                    + need + " bytes of data for shape " + sl + " " + d);
        }
        if (need > Integer.MAX_VALUE) {
            throw new WeightsFormatException(file, null, "shape " + sl + " " + d + " is " + need
                    + " bytes: sevnet's host tensors hold at most " + Integer.MAX_VALUE + " bytes");
        }
        Tensor t = Tensor.empty(Shape.of(dims), dtype);
        try {
            if (need > 0 && !AtomicFiles.readFully(ch, t.hostBuffer(), dataStart)) {
                throw new WeightsFormatException(file, null, "file ended inside the data");
            }
            return t;
        } catch (IOException | RuntimeException e) {
            t.close();
            throw e;
        }
    }

    /** Writes a float32 or int64 host tensor as {@code numpy.save} would, atomically. */
    public static void write(Path file, Tensor t) {
        String descr = switch (t.dtype()) {
            case FLOAT32 -> "<f4";
            case INT64 -> "<i8";
            default -> throw new IllegalArgumentException(".npy output supports float32 and int64 tensors, not "
                    + t.dtype() + " (convert with toFloat32())");
        };
        if (!t.device().isCpu()) {
            throw new IllegalArgumentException("tensor is on " + t.device() + "; copy it to the host first");
        }
        if (t.byteSize() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("tensor " + t.shape() + " is " + t.byteSize() + " bytes: .npy output "
                    + "holds at most " + Integer.MAX_VALUE + " bytes");
        }
        byte[] header = header(descr, t.shape().dims());
        AtomicFiles.write(file, ch -> {
            AtomicFiles.writeFully(ch, ByteBuffer.wrap(header));
            if (t.byteSize() > 0) {
                if (t.isChannelsLast()) {
                    try (Tensor h = t.toHostCopy()) { // NCDHW, the order the header's shape means
                        AtomicFiles.writeFully(ch, h.hostBuffer());
                    }
                } else {
                    AtomicFiles.writeFully(ch, t.hostBuffer());
                }
            }
        });
    }

    /** Magic, version, header length and the padded header dict, as numpy writes them. */
    static byte[] header(String descr, long[] dims) {
        StringBuilder shape = new StringBuilder("(");
        for (int i = 0; i < dims.length; i++) {
            if (i > 0) {
                shape.append(", ");
            }
            shape.append(dims[i]);
        }
        if (dims.length == 1) {
            shape.append(',');
        }
        shape.append(')');
        StringBuilder h = new StringBuilder()
                .append("{'descr': '").append(descr).append("', 'fortran_order': False, 'shape': ")
                .append(shape).append(", }");
        if (dims.length > 0) {
            h.append(" ".repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - Long.toString(dims[0]).length())));
        }
        byte[] text = h.toString().getBytes(StandardCharsets.ISO_8859_1);
        int hlen = text.length + 1; // + '\n'
        int major = 1;
        int prefix = MAGIC.length + 2 + 2;
        int padlen = ALIGN - ((prefix + hlen) % ALIGN);
        if (hlen + padlen > 0xffff) {
            major = 2;
            prefix = MAGIC.length + 2 + 4;
            padlen = ALIGN - ((prefix + hlen) % ALIGN);
        }
        ByteBuffer b = ByteBuffer.allocate(prefix + hlen + padlen).order(ByteOrder.LITTLE_ENDIAN);
        b.put(MAGIC).put((byte) major).put((byte) 0);
        if (major == 1) {
            b.putShort((short) (hlen + padlen));
        } else {
            b.putInt(hlen + padlen);
        }
        b.put(text);
        for (int i = 0; i < padlen; i++) {
            b.put((byte) ' ');
        }
        b.put((byte) '\n');
        return b.array();
    }

    /** Parses the Python literal dict of a .npy header: strings, True/False, ints, tuples and lists. */
    private static final class DictParser {
        private final String s;
        private int pos;

        DictParser(String s) {
            this.s = s;
        }

        Map<String, Object> parse() {
            ws();
            Object v = value(0);
            ws();
            if (pos != s.length()) {
                throw new IllegalArgumentException("trailing characters at " + pos);
            }
            if (!(v instanceof Map<?, ?>)) {
                throw new IllegalArgumentException("not a dict");
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> m = (Map<String, Object>) v;
            return m;
        }

        private void ws() {
            while (pos < s.length() && Character.isWhitespace(s.charAt(pos))) {
                pos++;
            }
        }

        private char peek() {
            if (pos >= s.length()) {
                throw new IllegalArgumentException("unexpected end");
            }
            return s.charAt(pos);
        }

        private Object value(int depth) {
            if (depth > 16) {
                throw new IllegalArgumentException("nested too deeply");
            }
            ws();
            char c = peek();
            if (c == '{') {
                pos++;
                Map<String, Object> m = new LinkedHashMap<>();
                while (true) {
                    ws();
                    if (peek() == '}') {
                        pos++;
                        return m;
                    }
                    Object k = value(depth + 1);
                    if (!(k instanceof String key)) {
                        throw new IllegalArgumentException("non-string key at " + pos);
                    }
                    ws();
                    if (peek() != ':') {
                        throw new IllegalArgumentException("expected ':' at " + pos);
                    }
                    pos++;
                    m.put(key, value(depth + 1));
                    ws();
                    if (peek() == ',') {
                        pos++;
                    } else if (peek() != '}') {
                        throw new IllegalArgumentException("expected ',' or '}' at " + pos);
                    }
                }
            }
            if (c == '(' || c == '[') {
                char close = c == '(' ? ')' : ']';
                pos++;
                List<Object> l = new ArrayList<>();
                while (true) {
                    ws();
                    if (peek() == close) {
                        pos++;
                        return l;
                    }
                    l.add(value(depth + 1));
                    ws();
                    if (peek() == ',') {
                        pos++;
                    } else if (peek() != close) {
                        throw new IllegalArgumentException("expected ',' or '" + close + "' at " + pos);
                    }
                }
            }
            if (c == '\'' || c == '"') {
                pos++;
                int start = pos;
                while (peek() != c) {
                    if (peek() == '\\') {
                        throw new IllegalArgumentException("escapes are not supported in header strings");
                    }
                    pos++;
                }
                return s.substring(start, pos++);
            }
            if (s.startsWith("True", pos)) {
                pos += 4;
                return Boolean.TRUE;
            }
            if (s.startsWith("False", pos)) {
                pos += 5;
                return Boolean.FALSE;
            }
            int start = pos;
            if (c == '-') {
                pos++;
            }
            while (pos < s.length() && s.charAt(pos) >= '0' && s.charAt(pos) <= '9') {
                pos++;
            }
            if (pos > start && s.charAt(start) != 'L') {
                String num = s.substring(start, pos);
                if (pos < s.length() && s.charAt(pos) == 'L') {
                    pos++; // Python 2 long suffix
                }
                try {
                    return Long.parseLong(num);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("bad integer '" + num + "'");
                }
            }
            throw new IllegalArgumentException("unexpected '" + c + "' at " + pos);
        }
    }
}
