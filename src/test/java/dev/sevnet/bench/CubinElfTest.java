package dev.sevnet.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.backend.cpu.NativeCore;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The kernels' standalone cubins (CMake target sevnet_cubins) and the ELF reader the driver-API harness finds
 * kernels with; no GPU, no CUDA library loaded. With nvcc in the build: sm_80 and sm_90 cubins of every
 * kernel source, each an EM_CUDA ELF whose e_flags name its architecture, holding every kernel the harness
 * launches under its C++ name with the parameter table the harness's argument bytes match. Without nvcc those
 * tests skip. Also: the Itanium names the reader understands, a missing kernel's error, and that JCuda's
 * classes and its driver-API JNI library (which needs only the driver's libcuda.so.1) are on the test class path.
 */
class CubinElfTest {
    private static final List<String> SOURCES = List.of("batchnorm", "channels", "conv_bn_relu", "elementwise",
            "losses", "pooling", "reduce", "sgd", "temporal_conv", "temporal_conv_ndhwc");

    /** The bundled cubins; skips when the build had no nvcc, fails when it had one but the cubins are missing. */
    static Cubins bundled() {
        Cubins c = Cubins.locate();
        if (!c.present()) {
            Assumptions.assumeTrue(NativeCore.sev_has_cuda_kernels() != 0,
                    "this build had no nvcc: no cubins (libsevnet_cuda.so is the stub)");
            throw new AssertionError("the build compiled the CUDA kernels but no cubins are on the test class path ("
                    + c.where() + "): CMake target sevnet_cubins or the Maven copy step (kernel-cubins) is broken");
        }
        return c;
    }

    @Test
    void cubinsExistForSm80AndSm90() {
        Cubins c = bundled();
        Map<Integer, List<String>> index = c.index();
        assertEquals(List.of(80, 90), c.archs());
        for (int arch : List.of(80, 90)) {
            assertTrue(index.get(arch).containsAll(SOURCES), "sm_" + arch + " cubins: " + index.get(arch));
            for (String src : index.get(arch)) {
                CubinElf elf = c.elf(arch, src);
                assertEquals(arch, elf.smArch(), elf.toString());
                assertEquals("sm_" + arch, elf.archName());
                assertFalse(elf.kernels().isEmpty(), elf + ": no kernels found");
                for (CubinElf.Kernel k : elf.kernels()) {
                    assertTrue(k.mangled().startsWith("_Z"), "C++ kernels have mangled names: " + k.mangled());
                    assertFalse(k.name().contains("_GLOBAL__N"), k.name());
                    assertTrue(k.mangled().contains(k.baseName()), k.mangled() + " vs " + k.name());
                    int end = 0;
                    for (CubinElf.Param p : k.params()) {
                        assertTrue(p.offset() >= end && p.size() > 0, k.name() + " params " + k.params());
                        end = p.offset() + p.size();
                    }
                    assertTrue(end <= k.paramBytes(), k.name() + ": " + end + " > " + k.paramBytes());
                }
            }
        }
    }

    @Test
    void everyKernelTheHarnessLaunchesIsFoundWithMatchingParameters() {
        Cubins c = bundled();
        List<CubinKernelBench.Run> runs = new ArrayList<>(CubinKernelBench.checkRuns());
        runs.addAll(CubinKernelBench.sweepRuns(CubinKernelBench.DeviceInfo.H100));
        for (int arch : List.of(80, 90)) {
            int launches = 0;
            for (CubinKernelBench.Run run : runs) {
                try {
                    launches += CubinKernelBench.dryRun(run, CubinKernelBench.DeviceInfo.H100, c, arch).size();
                } catch (IllegalArgumentException e) {
                    // a launch shape the harness rejects (reported as 'skipped'), not a lookup failure
                    assertFalse(e.getMessage().contains("ambiguous"), e.getMessage());
                }
            }
            assertTrue(launches > runs.size() / 2, "sm_" + arch + ": " + launches + " launches checked");
        }
        // the kernels by name, and what the symbol table says of them
        CubinElf cbr = c.elf(90, "conv_bn_relu");
        for (String n : List.of("gc_fwd_kernel<4>", "gc_fwd_kernel<8>", "gc_fwd_kernel<16>", "gc_dw_kernel",
                "pw_conv_kernel", "bnx_stats_kernel<SevF32>", "cbr_finalize_kernel")) {
            assertNotNull(cbr.kernel(n));
        }
        // the batch-norm glue: one instantiation per storage type (fp32, and the 16-bit bf16 / fp16 forms)
        for (int arch : List.of(80, 90)) {
            CubinElf k = c.elf(arch, "conv_bn_relu");
            for (String st : List.of("SevF32", "SevBF16", "SevF16")) {
                // (x, part, N, C, S)
                assertEquals(List.of(8, 8, 8, 8, 8), k.kernel("bnx_stats_kernel<" + st + ">").params().stream()
                        .map(CubinElf.Param::size).toList(), st);
                // (x, res, gamma, beta, mean, invstd, y, N, C, S, relu)
                assertEquals(List.of(8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 4), k.kernel("bnx_apply_kernel<" + st + ">").params()
                        .stream().map(CubinElf.Param::size).toList(), st);
                assertNotNull(k.kernel("bnx_backward_stats_kernel<" + st + ">"), st);
                assertNotNull(k.kernel("bnx_backward_dx_kernel<" + st + ">"), st);
            }
        }
        CubinElf.Kernel gc = cbr.kernel("gc_fwd_kernel<8>");
        // (x, w, y, part, CbrEpilogue, GcDims, GcTile, int64 P): the structs by value at their C++ sizes and offsets
        assertEquals(List.of(8, 8, 8, 8, 48, 36, 24, 8), gc.params().stream().map(CubinElf.Param::size).toList());
        assertEquals(List.of(0, 8, 16, 24, 32, 80, 116, 144), gc.params().stream().map(CubinElf.Param::offset).toList());
        assertEquals(152, gc.paramBytes());
        assertTrue(gc.staticShared() >= 16 * 8 * 16, "warp_sums[16][8] of SevDouble2: " + gc.staticShared());
        CubinElf tc = c.elf(80, "temporal_conv");
        assertTrue(tc.kernel("temporal_conv3_gemm_kernel<false>").mangled().contains("ILb0E"));
        assertTrue(tc.kernel("temporal_conv3_gemm_kernel<true>").mangled().contains("ILb1E"));
        assertEquals(List.of(8, 8, 8, 4, 8, 8),
                tc.kernel("temporal_conv3_gemm_kernel<true>").params().stream().map(CubinElf.Param::size).toList());
        // the channels-last temporal conv: one template per storage type (and direction)
        for (int arch : List.of(80, 90)) {
            CubinElf tcl = c.elf(arch, "temporal_conv_ndhwc");
            for (String st : List.of("SevF32", "SevBF16")) {
                for (String trans : List.of("false", "true")) {
                    assertEquals(List.of(8, 8, 8, 4, 8, 8), tcl.kernel("tcl_gemm_kernel<" + st + ", " + trans + ">")
                            .params().stream().map(CubinElf.Param::size).toList(), st + " " + trans);
                }
                // (x, dy, parts, N, C, S, TS)
                assertEquals(List.of(8, 8, 8, 4, 4, 8, 8), tcl.kernel("tcl_dw_kernel<" + st + ">").params().stream()
                        .map(CubinElf.Param::size).toList(), st);
            }
            assertNotNull(tcl.kernel("tcl_dw_reduce_kernel"));
        }
        CubinElf ew = c.elf(90, "elementwise");
        CubinElf.Kernel add = ew.kernel("add_kernel");
        assertTrue(add.mangled().matches("_ZN\\d+_GLOBAL__N_.*10add_kernelEPKfS1_Pfl"), add.mangled());
        assertEquals(add, ew.kernel(add.mangled()));
    }

    @Test
    void missingOrAmbiguousKernelErrorsClearly() {
        Cubins c = bundled();
        CubinElf ew = c.elf(90, "elementwise");
        NoSuchElementException e = assertThrows(NoSuchElementException.class, () -> ew.kernel("add_kernal"));
        assertTrue(e.getMessage().contains("no kernel 'add_kernal'") && e.getMessage().contains("sm_90")
                && e.getMessage().contains("add_kernel") && e.getMessage().contains("elementwise"), e.getMessage());
        CubinElf cbr = c.elf(80, "conv_bn_relu");
        IllegalArgumentException a = assertThrows(IllegalArgumentException.class, () -> cbr.kernel("gc_fwd_kernel"));
        assertTrue(a.getMessage().contains("gc_fwd_kernel<4>") && a.getMessage().contains("gc_fwd_kernel<16>"),
                a.getMessage());
        assertThrows(NoSuchElementException.class, () -> cbr.kernel("gc_fwd_kernel<32>"));
        // the harness refuses arguments that do not match the parameter table, before any launch
        CubinKernelBench.Args shortArgs = new CubinKernelBench.Args().ptr("a", 1).ptr("b", 2).ptr("y", 3);
        IllegalStateException v = assertThrows(IllegalStateException.class,
                () -> CubinKernelBench.verify(ew.kernel("add_kernel"), shortArgs));
        assertTrue(v.getMessage().contains("add_kernel"), v.getMessage());
        CubinKernelBench.Args narrow = new CubinKernelBench.Args().ptr("a", 1).ptr("b", 2).ptr("y", 3).i32("n", 4);
        assertThrows(IllegalStateException.class, () -> CubinKernelBench.verify(ew.kernel("add_kernel"), narrow));
    }

    @Test
    void demanglesKernelNames() {
        assertEquals("add_kernel",
                CubinElf.demangledName("_ZN47_GLOBAL__N__d85400ed_14_elementwise_cu_d8b0d43610add_kernelEPKfS1_Pfl"));
        assertEquals("gc_fwd_kernel<8>", CubinElf.demangledName(
                "_ZN48_GLOBAL__N__eec28dbd_15_conv_bn_relu_cu_3c93b64c13gc_fwd_kernelILi8EEEvPKfS2_PfP10SevDouble2"
                        + "11CbrEpilogue6GcDims6GcTilel"));
        assertEquals("temporal_conv3_gemm_kernel<false>",
                CubinElf.demangledName("_ZN12_GLOBAL__N_126temporal_conv3_gemm_kernelILb0EEEvPKfS2_Pfill"));
        assertEquals("scale", CubinElf.demangledName("_Z5scalePfi"));
        assertEquals("k<float, -3, true>", CubinElf.demangledName("_Z1kIfLin3ELb1EEvPT_"));
        assertEquals("sevc::reduce", CubinElf.demangledName("_ZN4sevc6reduceEPKfPdl"));
        assertEquals("local_kernel", CubinElf.demangledName("_ZL12local_kernelPf"));
        assertEquals("sevc_plain_c", CubinElf.demangledName("sevc_plain_c"));
        // outside the subset the reader knows: the symbol itself
        assertEquals("_ZNSt6vectorIiSaIiEE9push_backERKi",
                CubinElf.demangledName("_ZNSt6vectorIiSaIiEE9push_backERKi"));
    }

    @Test
    void architectureFromEFlags() {
        // CUDA ELF ABI v2 (EI_ABIVERSION 8, nvcc 12.8+): sm in bits 8-15 (values read from this build's cubins)
        assertEquals(90, CubinElf.smArch(8, 0x0a005a04));
        assertEquals(80, CubinElf.smArch(8, 0x0a005004));
        assertEquals(100, CubinElf.smArch(8, 0x06006402));
        // the older ABI (EI_ABIVERSION 7): sm in the low byte, texture/address flags in bits 8-11
        assertEquals(90, CubinElf.smArch(7, 0x005a055a));
        assertEquals(80, CubinElf.smArch(7, 0x00500550));
        assertThrows(IllegalArgumentException.class, () -> CubinElf.parse(new byte[64], "zeros"));
    }

    @Test
    void cubinForEachComputeCapability(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("cubins.txt"), "sm_80/a.cubin\nsm_90/a.cubin\n");
        Cubins c = Cubins.inDirectory(dir);
        assertTrue(c.present());
        assertEquals(90, c.archFor(9, 0));   // H100, H200
        assertEquals(80, c.archFor(8, 0));   // A100
        assertEquals(80, c.archFor(8, 9));   // sm_80 SASS runs on 8.6, 8.9
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> c.archFor(10, 0));
        assertTrue(e.getMessage().contains("10.0"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> c.archFor(7, 5));
        assertFalse(Cubins.inDirectory(dir.resolve("none")).present());
    }

    @Test
    void jcudaClassesAndDriverLibraryAreOnTheTestClassPath() throws Exception {
        ClassLoader cl = getClass().getClassLoader();
        // loaded, not initialised: JCudaDriver's static initialiser would load libJCudaDriver, which needs libcuda.so.1
        for (String n : List.of("jcuda.driver.JCudaDriver", "jcuda.driver.CUmodule", "jcuda.driver.CUfunction",
                "jcuda.driver.CUdeviceptr", "jcuda.driver.CUevent", "jcuda.Pointer", "jcuda.CudaException")) {
            assertEquals(n, Class.forName(n, false, cl).getName());
        }
        assertEquals(CubinKernelBench.DevPtr.class.getSuperclass(), Class.forName("jcuda.driver.CUdeviceptr", false, cl));
        String lib = "/lib/libJCudaDriver-12.6.0-linux-x86_64.so";
        byte[] so;
        try (InputStream in = getClass().getResourceAsStream(lib)) {
            assertNotNull(in, lib + " (jcuda-natives linux-x86_64) is not on the test class path");
            so = in.readAllBytes();
        }
        List<String> needed = needed(so);
        assertTrue(needed.contains("libcuda.so.1"), "libJCudaDriver needs " + needed);
        assertFalse(needed.stream().anyMatch(n -> n.startsWith("libcudart") || n.startsWith("libnvrtc")),
                "the driver binding must need only the driver (any CUDA 12+ driver, CUDA 13 included): " + needed);
    }

    /** DT_NEEDED of a 64-bit little-endian shared object. */
    private static List<String> needed(byte[] b) {
        ByteBuffer f = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        long shoff = f.getLong(0x28);
        int shentsize = Short.toUnsignedInt(f.getShort(0x3A));
        int shnum = Short.toUnsignedInt(f.getShort(0x3C));
        List<String> out = new ArrayList<>();
        for (int i = 0; i < shnum; i++) {
            int h = (int) (shoff + (long) i * shentsize);
            if (f.getInt(h + 4) != 6) {  // SHT_DYNAMIC
                continue;
            }
            long off = f.getLong(h + 24);
            long size = f.getLong(h + 32);
            long strtab = f.getLong((int) (shoff + (long) f.getInt(h + 40) * shentsize) + 24);
            for (long e = off; e + 16 <= off + size && f.getLong((int) e) != 0; e += 16) {
                if (f.getLong((int) e) == 1) {  // DT_NEEDED
                    int p = (int) (strtab + f.getLong((int) e + 8));
                    int q = p;
                    while (b[q] != 0) {
                        q++;
                    }
                    out.add(new String(b, p, q - p, java.nio.charset.StandardCharsets.US_ASCII));
                }
            }
        }
        return out;
    }
}
