package dev.sevnet.bench;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.stream.Collectors;

/**
 * A CUDA cubin (an ELF64 file, machine EM_CUDA) read just far enough to launch its kernels through the driver
 * API: the architecture from {@code e_flags}, the kernels (STT_FUNC symbols of {@code .symtab}, names in
 * {@code .strtab}), each with its parameter table from {@code .nv.info.<kernel>} (EIATTR_KPARAM_INFO:
 * ordinal, offset and size of every parameter, which the harness checks its argument bytes against) and
 * its static shared memory ({@code .nv.shared.<kernel>}).
 *
 * <p>The kernels are C++ functions, most in anonymous namespaces, so their symbols are Itanium-mangled, e.g.
 * {@code _ZN47_GLOBAL__N__d85400ed_14_elementwise_cu_d8b0d43610add_kernelEPKfS1_Pfl} (nvcc names the
 * anonymous namespace after the file and a hash, not {@code _GLOBAL__N_1}) or
 * {@code _ZN..13gc_fwd_kernelILi8EEEv...}. {@link #demangledName} recovers the name a reader would write —
 * {@code add_kernel}, {@code gc_fwd_kernel<8>} — and {@link #kernel(String)} finds a kernel by it.
 */
public final class CubinElf {
    static final int EM_CUDA = 190;
    private static final int SHT_SYMTAB = 2;
    private static final int STT_FUNC = 2;
    private static final int STO_CUDA_ENTRY = 0x10;
    private static final int EIFMT_NVAL = 1;
    private static final int EIFMT_SVAL = 4;
    private static final int EIATTR_KPARAM_INFO = 0x17;
    private static final int EIATTR_CBANK_PARAM_SIZE = 0x19;

    /** One kernel parameter: position, byte offset in the parameter buffer, size in bytes. */
    public record Param(int ordinal, int offset, int size) {
    }

    /**
     * One kernel (an entry function) of the cubin: its symbol, the demangled name, its parameters in order,
     * the parameter buffer's size and the static shared memory the cubin reserves for it.
     */
    public record Kernel(String mangled, String name, List<Param> params, int paramBytes, long staticShared) {
        /** The name without template arguments ({@code gc_fwd_kernel} for {@code gc_fwd_kernel<8>}). */
        public String baseName() {
            int lt = name.indexOf('<');
            return lt < 0 ? name : name.substring(0, lt);
        }
    }

    private final String source;
    private final int abiVersion;
    private final int flags;
    private final List<Kernel> kernels;

    private CubinElf(String source, int abiVersion, int flags, List<Kernel> kernels) {
        this.source = source;
        this.abiVersion = abiVersion;
        this.flags = flags;
        this.kernels = kernels;
    }

    /** Parses a cubin; {@code source} names it in messages. Throws IllegalArgumentException for anything else. */
    public static CubinElf parse(byte[] bytes, String source) {
        ByteBuffer f = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (bytes.length < 64 || f.getInt(0) != 0x464C457F) {
            throw new IllegalArgumentException(source + " is not an ELF file");
        }
        if (bytes[4] != 2 || bytes[5] != 1) {
            throw new IllegalArgumentException(source + " is not a 64-bit little-endian ELF file");
        }
        int machine = Short.toUnsignedInt(f.getShort(0x12));
        if (machine != EM_CUDA) {
            throw new IllegalArgumentException(source + " is not a cubin: e_machine " + machine + ", not EM_CUDA (190)");
        }
        int abi = Byte.toUnsignedInt(bytes[8]);
        int eflags = f.getInt(0x30);
        long shoff = f.getLong(0x28);
        int shentsize = Short.toUnsignedInt(f.getShort(0x3A));
        int shnum = Short.toUnsignedInt(f.getShort(0x3C));
        int shstrndx = Short.toUnsignedInt(f.getShort(0x3E));
        Section[] sec = new Section[shnum];
        for (int i = 0; i < shnum; i++) {
            int h = Math.toIntExact(shoff + (long) i * shentsize);
            sec[i] = new Section(f.getInt(h), f.getInt(h + 4), f.getLong(h + 24), f.getLong(h + 32), f.getInt(h + 40),
                    f.getLong(h + 56));
        }
        long shstr = sec[shstrndx].offset;
        Map<String, Section> byName = new HashMap<>();
        for (Section s : sec) {
            byName.put(cString(bytes, shstr + Integer.toUnsignedLong(s.name)), s);
        }
        List<Kernel> out = new ArrayList<>();
        for (Section s : sec) {
            if (s.type != SHT_SYMTAB) {
                continue;
            }
            long strtab = sec[s.link].offset;
            long entsize = s.entsize > 0 ? s.entsize : 24;
            for (long e = s.offset; e + 24 <= s.offset + s.size; e += entsize) {
                int at = Math.toIntExact(e);
                int info = Byte.toUnsignedInt(bytes[at + 4]);
                int other = Byte.toUnsignedInt(bytes[at + 5]);
                String sym = cString(bytes, strtab + Integer.toUnsignedLong(f.getInt(at)));
                Section nvInfo = byName.get(".nv.info." + sym);
                if ((info & 0xF) != STT_FUNC || sym.startsWith("$")
                        || ((other & STO_CUDA_ENTRY) == 0 && nvInfo == null)) {
                    continue;  // a device function, not a kernel
                }
                List<Param> params = new ArrayList<>();
                int paramBytes = -1;
                if (nvInfo != null) {
                    paramBytes = readParams(f, nvInfo, params);
                }
                params.sort(Comparator.comparingInt(Param::ordinal));
                if (paramBytes < 0) {
                    paramBytes = params.isEmpty() ? 0 : params.get(params.size() - 1).offset()
                            + params.get(params.size() - 1).size();
                }
                Section shared = byName.get(".nv.shared." + sym);
                out.add(new Kernel(sym, demangledName(sym), List.copyOf(params), paramBytes,
                        shared == null ? 0 : shared.size));
            }
        }
        out.sort(Comparator.comparing(Kernel::name));
        return new CubinElf(source, abi, eflags, List.copyOf(out));
    }

    /** Reads a kernel's .nv.info records: parameters into {@code params}; returns the parameter bytes or -1. */
    private static int readParams(ByteBuffer f, Section s, List<Param> params) {
        int paramBytes = -1;
        int p = Math.toIntExact(s.offset);
        int end = Math.toIntExact(s.offset + s.size);
        while (p + 4 <= end) {
            int fmt = Byte.toUnsignedInt(f.get(p));
            int attr = Byte.toUnsignedInt(f.get(p + 1));
            if (fmt == EIFMT_SVAL) {
                int len = Short.toUnsignedInt(f.getShort(p + 2));
                if (attr == EIATTR_KPARAM_INFO && len >= 12) {
                    // u32 index, u16 ordinal, u16 offset, u32 {log-align:8, space:4, cbank:5, ..., size:14 from bit 18}
                    int ordinal = Short.toUnsignedInt(f.getShort(p + 8));
                    int offset = Short.toUnsignedInt(f.getShort(p + 10));
                    int size = f.getInt(p + 12) >>> 18;
                    params.add(new Param(ordinal, offset, size));
                }
                p += 4 + len;
            } else {
                if (attr == EIATTR_CBANK_PARAM_SIZE && fmt != EIFMT_NVAL) {
                    paramBytes = Short.toUnsignedInt(f.getShort(p + 2));
                }
                p += 4;  // NVAL, BVAL, HVAL: the value (if any) sits in the record's last two bytes
            }
        }
        return paramBytes;
    }

    private record Section(int name, int type, long offset, long size, int link, long entsize) {
    }

    private static String cString(byte[] b, long at) {
        int start = Math.toIntExact(at);
        int end = start;
        while (end < b.length && b[end] != 0) {
            end++;
        }
        return new String(b, start, end - start, java.nio.charset.StandardCharsets.ISO_8859_1);
    }

    /** Where the cubin came from (for messages). */
    public String source() {
        return source;
    }

    /** EI_ABIVERSION: 7 for the older CUDA ELF ABI, 8 for the one CUDA 12.8+ writes. */
    public int abiVersion() {
        return abiVersion;
    }

    public int flags() {
        return flags;
    }

    /**
     * The SASS architecture, e.g. 90 for sm_90: {@code e_flags} bits 8-15 in the CUDA ELF ABI v2
     * (EI_ABIVERSION 8; nvcc 12.8+), the low byte in the older ABI (EI_ABIVERSION 7), where bits 8-15 are
     * texture/address-mode flags.
     */
    public int smArch() {
        return smArch(abiVersion, flags);
    }

    static int smArch(int abiVersion, int flags) {
        return abiVersion >= 8 ? (flags >>> 8) & 0xFF : flags & 0xFF;
    }

    public String archName() {
        return "sm_" + smArch();
    }

    public List<Kernel> kernels() {
        return kernels;
    }

    /**
     * The kernel named {@code name}: its demangled name ({@code add_kernel}, {@code gc_fwd_kernel<8>},
     * {@code ns::k}), its name without template arguments when only one instance exists, or its mangled symbol.
     *
     * @throws NoSuchElementException if no kernel matches (the message lists the cubin's kernels)
     * @throws IllegalArgumentException if the name without template arguments matches several instances
     */
    public Kernel kernel(String name) {
        List<Kernel> hits = kernels.stream().filter(k -> k.mangled().equals(name) || k.name().equals(name)
                || unqualified(k.name()).equals(name)).toList();
        if (hits.isEmpty()) {
            hits = kernels.stream().filter(k -> unqualified(k.baseName()).equals(name) || k.baseName().equals(name))
                    .toList();
        }
        if (hits.size() == 1) {
            return hits.get(0);
        }
        if (hits.isEmpty()) {
            throw new NoSuchElementException("no kernel '" + name + "' in " + source + " (" + archName() + "); it has: "
                    + kernels.stream().map(Kernel::name).collect(Collectors.joining(", ")));
        }
        throw new IllegalArgumentException("'" + name + "' is ambiguous in " + source + ": "
                + hits.stream().map(Kernel::name).collect(Collectors.joining(", ")) + " (give the template arguments)");
    }

    private static String unqualified(String n) {
        int lt = n.indexOf('<');
        int sep = n.lastIndexOf("::", lt < 0 ? n.length() : lt);
        return sep < 0 ? n : n.substring(sep + 2);
    }

    // ------------------------------------------------------------------ Itanium names, as far as kernels need

    /**
     * The function name of an Itanium-mangled symbol without its parameter types: {@code ns::name} (anonymous
     * namespaces, {@code _GLOBAL__N...}, left out) followed by template arguments where there are any —
     * integer literals as numbers ({@code Li8E} is 8), {@code Lb0E}/{@code Lb1E} as false/true, builtin types by
     * their C names, class types by name. A symbol that is not mangled comes back as it is (an
     * {@code extern "C"} kernel); a part this reader does not know stays in its mangled form.
     */
    public static String demangledName(String sym) {
        if (!sym.startsWith("_Z")) {
            return sym;
        }
        Cursor c = new Cursor(sym, 2);
        try {
            if (c.peek() == 'L') {
                c.pos++;  // internal linkage
            }
            List<String> parts = new ArrayList<>();
            if (c.peek() == 'N') {
                c.pos++;
                while (c.peek() != 'E') {
                    if (c.peek() == 'I') {
                        appendArgs(parts, c);
                    } else if (c.peek() == 'L') {
                        c.pos++;  // an internal-linkage name inside the nesting
                    } else {
                        parts.add(c.sourceName());
                    }
                }
            } else {
                parts.add(c.sourceName());
                if (c.peek() == 'I') {
                    appendArgs(parts, c);
                }
            }
            return parts.stream().filter(p -> !p.startsWith("_GLOBAL__N")).collect(Collectors.joining("::"));
        } catch (RuntimeException e) {
            return sym;  // outside the subset: the symbol itself still matches
        }
    }

    private static void appendArgs(List<String> parts, Cursor c) {
        String args = c.templateArgs();
        int last = parts.size() - 1;
        parts.set(last, parts.get(last) + args);
    }

    private static final class Cursor {
        final String s;
        int pos;

        Cursor(String s, int pos) {
            this.s = s;
            this.pos = pos;
        }

        char peek() {
            if (pos >= s.length()) {
                throw new IllegalStateException("end of symbol");
            }
            return s.charAt(pos);
        }

        String sourceName() {
            int start = pos;
            while (Character.isDigit(peek())) {
                pos++;
            }
            if (start == pos) {
                throw new IllegalStateException("expected a source name at " + pos + " of " + s);
            }
            int len = Integer.parseInt(s.substring(start, pos));
            String name = s.substring(pos, pos + len);
            pos += len;
            return name;
        }

        /** {@code I <arg>+ E} -> {@code <a, b>}. */
        String templateArgs() {
            pos++;  // I
            List<String> args = new ArrayList<>();
            while (peek() != 'E') {
                args.add(templateArg());
            }
            pos++;  // E
            return "<" + String.join(", ", args) + ">";
        }

        String templateArg() {
            char ch = peek();
            if (ch == 'L') {  // L <type> <value> E
                pos++;
                char type = s.charAt(pos++);
                int end = s.indexOf('E', pos);
                String v = s.substring(pos, end);
                pos = end + 1;
                if (v.startsWith("n")) {
                    v = "-" + v.substring(1);
                }
                return type == 'b' ? (v.equals("0") ? "false" : "true") : v;
            }
            if (Character.isDigit(ch)) {
                return sourceName();
            }
            String builtin = BUILTINS.get(ch);
            if (builtin != null) {
                pos++;
                return builtin;
            }
            throw new IllegalStateException("template argument '" + ch + "' not handled");
        }
    }

    private static final Map<Character, String> BUILTINS = Map.ofEntries(Map.entry('v', "void"),
            Map.entry('b', "bool"), Map.entry('c', "char"), Map.entry('a', "signed char"),
            Map.entry('h', "unsigned char"), Map.entry('s', "short"), Map.entry('t', "unsigned short"),
            Map.entry('i', "int"), Map.entry('j', "unsigned int"), Map.entry('l', "long"),
            Map.entry('m', "unsigned long"), Map.entry('x', "long long"), Map.entry('y', "unsigned long long"),
            Map.entry('f', "float"), Map.entry('d', "double"));

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%s: %s (ELF ABI %d, e_flags 0x%08x), %d kernels", source, archName(),
                abiVersion, flags, kernels.size());
    }
}
