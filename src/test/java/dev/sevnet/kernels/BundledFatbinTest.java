package dev.sevnet.kernels;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.backend.cpu.NativeCore;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The bundled native libraries, read as ELF files (no cuobjdump or readelf on the build machines):
 * libsevnet_cuda.so carries the CUDA kernels as sm_80 and sm_90 machine code plus PTX in its
 * {@code .nv_fatbin} section and needs the shared CUDA runtime; libsevnet.so (the CPU core, loaded
 * everywhere) must not need any CUDA library. Nothing here loads the CUDA library.
 */
class BundledFatbinTest {
    private static final int FATBIN_MAGIC = 0xBA55ED50;
    private static final int KIND_PTX = 1;
    private static final int KIND_ELF = 2;
    private static final int SHT_DYNAMIC = 6;
    private static final long DT_NEEDED = 1;

    @Test
    void kernelLibraryHoldsSm80Sm90AndPtx() throws IOException {
        Assumptions.assumeTrue(NativeCore.sev_has_cuda_kernels() != 0,
                "this build had no nvcc: libsevnet_cuda.so is the stub, there is no fatbin to check");
        Path lib = bundled("libsevnet_cuda.so");
        ByteBuffer f = read(lib);
        long[] section = findSection(f, ".nv_fatbin");
        assertTrue(section != null, "no .nv_fatbin section in " + lib);
        Set<String> found = new TreeSet<>();
        int off = (int) section[0];
        int end = (int) (section[0] + section[1]);
        while (off + 16 <= end && f.getInt(off) == FATBIN_MAGIC) {
            int headerSize = Short.toUnsignedInt(f.getShort(off + 6));
            long fatSize = f.getLong(off + 8);
            int e = off + headerSize;
            while (e < off + headerSize + fatSize) {
                int kind = Short.toUnsignedInt(f.getShort(e));
                int entryHeader = f.getInt(e + 4);
                long size = f.getLong(e + 8);
                int arch = f.getInt(e + 28);
                found.add((kind == KIND_PTX ? "ptx_" : kind == KIND_ELF ? "sm_" : "kind" + kind + "_") + arch);
                e += entryHeader + (int) size;
            }
            off += headerSize + (int) fatSize;
        }
        assertTrue(found.containsAll(Set.of("sm_80", "sm_90", "ptx_90")), "fatbin holds " + found);
    }

    @Test
    void kernelLibraryNeedsSharedCudaRuntimeAndNotTheCore() throws IOException {
        List<String> needed = needed(read(bundled("libsevnet_cuda.so")));
        assertFalse(needed.stream().anyMatch(n -> n.startsWith("libsevnet")), "libsevnet_cuda.so needs " + needed);
        if (NativeCore.sev_has_cuda_kernels() != 0) {
            assertTrue(needed.contains("libcudart.so.13"), "libsevnet_cuda.so needs " + needed);
        } else {
            assertFalse(needed.stream().anyMatch(n -> n.startsWith("libcudart")),
                    "the stub must load without CUDA; it needs " + needed);
        }
        bundled("libjniCudaKernels.so");  // the JNI glue was built beside it
    }

    @Test
    void coreLibraryNeedsNoCudaLibrary() throws IOException {
        List<String> needed = needed(read(bundled("libsevnet.so")));
        assertFalse(needed.isEmpty(), "no DT_NEEDED entries found: the ELF reader is broken");
        assertFalse(needed.stream().anyMatch(n -> n.startsWith("libcuda") || n.startsWith("libcudnn")
                || n.startsWith("libcublas") || n.startsWith("libsevnet_cuda")), "libsevnet.so needs " + needed);
    }

    /** The library as the build bundled it (beside the classes, where JavaCPP copied it). */
    private static Path bundled(String name) throws IOException {
        Path classes;
        try {
            classes = Path.of(NativeCore.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (java.net.URISyntaxException e) {
            throw new AssertionError(e);
        }
        Assumptions.assumeTrue(Files.isDirectory(classes), "classes come from a jar: run from the Maven build");
        try (Stream<Path> s = Files.walk(classes)) {
            return s.filter(p -> p.getFileName().toString().equals(name)).findFirst()
                    .orElseThrow(() -> new AssertionError(name + " not found under " + classes));
        }
    }

    private static ByteBuffer read(Path lib) throws IOException {
        return ByteBuffer.wrap(Files.readAllBytes(lib)).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** The DT_NEEDED names of a 64-bit little-endian ELF: the dynamic section's entries, names in its string table. */
    private static List<String> needed(ByteBuffer f) {
        long shoff = f.getLong(0x28);
        int shentsize = Short.toUnsignedInt(f.getShort(0x3A));
        int shnum = Short.toUnsignedInt(f.getShort(0x3C));
        List<String> out = new ArrayList<>();
        for (int i = 0; i < shnum; i++) {
            int h = (int) (shoff + (long) i * shentsize);
            if (f.getInt(h + 4) != SHT_DYNAMIC) {
                continue;
            }
            long off = f.getLong(h + 24);
            long size = f.getLong(h + 32);
            int link = f.getInt(h + 40);  // the section of the names (.dynstr)
            long strtab = f.getLong((int) (shoff + (long) link * shentsize) + 24);
            for (long e = off; e + 16 <= off + size; e += 16) {
                long tag = f.getLong((int) e);
                if (tag == 0) {
                    break;
                }
                if (tag == DT_NEEDED) {
                    out.add(cString(f, strtab + f.getLong((int) e + 8)));
                }
            }
        }
        return out;
    }

    private static String cString(ByteBuffer f, long at) {
        StringBuilder sb = new StringBuilder();
        for (int p = (int) at; f.get(p) != 0; p++) {
            sb.append((char) f.get(p));
        }
        return sb.toString();
    }

    /** {offset, size} of the named section of a 64-bit little-endian ELF, or null. */
    private static long[] findSection(ByteBuffer f, String name) {
        long shoff = f.getLong(0x28);
        int shentsize = Short.toUnsignedInt(f.getShort(0x3A));
        int shnum = Short.toUnsignedInt(f.getShort(0x3C));
        int shstrndx = Short.toUnsignedInt(f.getShort(0x3E));
        long strtab = f.getLong((int) (shoff + (long) shstrndx * shentsize) + 24);
        for (int i = 0; i < shnum; i++) {
            int h = (int) (shoff + (long) i * shentsize);
            if (cString(f, strtab + f.getInt(h)).equals(name)) {
                return new long[] {f.getLong(h + 24), f.getLong(h + 32)};
            }
        }
        return null;
    }
}
