package dev.sevnet.kernels;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.backend.cpu.NativeCore;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The bundled native library must carry the CUDA kernels as sm_80 and sm_90 machine code plus PTX.
 * There is no cuobjdump on the build machines, so this reads the ELF's {@code .nv_fatbin} section.
 */
class BundledFatbinTest {
    private static final int FATBIN_MAGIC = 0xBA55ED50;
    private static final int KIND_PTX = 1;
    private static final int KIND_ELF = 2;

    @Test
    void libraryHoldsSm80Sm90AndPtx() throws IOException {
        Assumptions.assumeTrue(NativeCore.sev_has_cuda_kernels() != 0,
                "this build had no nvcc: the native library is CPU-only, nothing to check");
        Path classes;
        try {
            classes = Path.of(NativeCore.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (java.net.URISyntaxException e) {
            throw new AssertionError(e);
        }
        Assumptions.assumeTrue(Files.isDirectory(classes), "classes come from a jar: run from the Maven build");
        Path lib;
        try (Stream<Path> s = Files.walk(classes)) {
            lib = s.filter(p -> p.getFileName().toString().equals("libsevnet.so")).findFirst()
                    .orElseThrow(() -> new AssertionError("libsevnet.so not found under " + classes));
        }
        ByteBuffer f = ByteBuffer.wrap(Files.readAllBytes(lib)).order(ByteOrder.LITTLE_ENDIAN);
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

    /** {offset, size} of the named section of a 64-bit little-endian ELF, or null. */
    private static long[] findSection(ByteBuffer f, String name) {
        long shoff = f.getLong(0x28);
        int shentsize = Short.toUnsignedInt(f.getShort(0x3A));
        int shnum = Short.toUnsignedInt(f.getShort(0x3C));
        int shstrndx = Short.toUnsignedInt(f.getShort(0x3E));
        long strtab = f.getLong((int) (shoff + (long) shstrndx * shentsize) + 24);
        for (int i = 0; i < shnum; i++) {
            int h = (int) (shoff + (long) i * shentsize);
            int nameOff = f.getInt(h);
            StringBuilder sb = new StringBuilder();
            for (int p = (int) (strtab + nameOff); f.get(p) != 0; p++) {
                sb.append((char) f.get(p));
            }
            if (sb.toString().equals(name)) {
                return new long[] {f.getLong(h + 24), f.getLong(h + 32)};
            }
        }
        return null;
    }
}
