package dev.sevnet.cli;

import com.google.gson.GsonBuilder;
import dev.sevnet.backend.CudaStatus;
import dev.sevnet.backend.cuda.CudaBackend;
import dev.sevnet.backend.cpu.CpuBackend;
import dev.sevnet.backend.cpu.NativeCore;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import org.bytedeco.javacpp.Loader;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code sevnet doctor}: what this machine offers the CPU and GPU paths, and why a path is unavailable. */
@Command(name = "doctor", mixinStandardHelpOptions = true,
        description = "Print CPU features, the native library, CUDA driver/runtime/cuDNN versions and GPUs, "
                + "or exactly why the GPU path is unavailable.")
public final class DoctorCommand implements Callable<Integer> {
    @Option(names = "--json", description = "Print one JSON object.")
    boolean json;

    @Override
    public Integer call() {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("java", System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
        r.put("os", System.getProperty("os.name") + " " + System.getProperty("os.arch") + " (JavaCPP platform "
                + Loader.getPlatform() + ")");
        r.put("cpu_cores", Runtime.getRuntime().availableProcessors());
        String nativeError = null;
        try {
            NativeCore.ensureLoaded();
            r.put("native_library", NativeCore.sev_version() + " from " + nativePath());
            r.put("cpu_features", NativeCore.sev_cpu_features());
            String isaCap = System.getenv("SEV_ISA");
            r.put("cpu_kernels", CpuBackend.cpuKernels()
                    + (isaCap != null ? " (SEV_ISA=" + isaCap + ")" : ""));
            r.put("native_threads", NativeCore.sev_get_num_threads());
            r.put("flush_denormals", NativeCore.sev_get_flush_denormals() != 0
                    ? "on (native kernels flush denormal results; -Dsevnet.flushDenormals=false for IEEE)" : "off");
            r.put("huge_pages", CpuBackend.hugePages()
                    ? "on (host tensors of 4 MiB and more ask for transparent huge pages)"
                    : "off (-Dsevnet.hugePages=true asks for transparent huge pages on large host tensors)");
            CpuBackend.Bf16Kernel kernel = CpuBackend.bf16Kernel();
            boolean can = kernel != CpuBackend.Bf16Kernel.NONE;
            boolean bf16 = CpuBackend.fp32Precision() == CpuBackend.Fp32Precision.BF16;
            String on = kernel == CpuBackend.Bf16Kernel.AMX_BF16 ? "AMX-BF16" : "AVX512-BF16";
            String why = bf16 ? can ? " (the GEMM convolutions in bf16 on " + on + ")"
                    : CpuBackend.bf16KernelAvailable(CpuBackend.Bf16Kernel.AVX512_BF16)
                            ? " set, but the bf16 kernel is none (-Dsevnet.bf16Kernel): ieee"
                            : " set, but no bf16 kernel (AMX-BF16 or AVX512-BF16) here: ieee"
                    : can ? " (" + on + " here: -Dsevnet.fp32Precision=bf16 or --fp32-precision bf16 computes the GEMM "
                            + "convolutions in bf16)" : "";
            r.put("fp32_precision", CpuBackend.fp32Precision() + why);
            r.put("bf16_kernels", java.util.Arrays.stream(CpuBackend.Bf16Kernel.values())
                    .filter(k -> k != CpuBackend.Bf16Kernel.NONE && CpuBackend.bf16KernelAvailable(k))
                    .map(k -> k + (k == kernel ? " (in use)" : "")).collect(java.util.stream.Collectors.joining(", "))
                    .replaceFirst("^$", "none on this CPU (bf16 computes as ieee)"));
            r.put("cuda_kernels_built", NativeCore.sev_has_cuda_kernels() != 0);
        } catch (LinkageError e) {
            nativeError = e.toString() + (e.getCause() != null ? " caused by " + e.getCause() : "");
            r.put("native_library", "NOT LOADABLE: " + nativeError);
        }
        CudaStatus cuda = nativeError == null ? CudaStatus.probe() : null;
        if (cuda != null) {
            r.put("cuda_driver", CudaStatus.version(cuda.driverVersion()));
            r.put("cuda_runtime", cuda.builtWithCuda()
                    ? CudaStatus.version(cuda.runtimeVersion()) + " (static, in libsevnet)" : "not built in (no nvcc)");
            if (cuda.builtWithCuda()) {
                r.put("libcuda", cuda.libcuda());
                r.put("cudnn", cuda.cudnn());
                r.put("cublas", cuda.cublas());
            }
            r.put("gpus", cuda.gpus());
            if (cuda.usable()) {
                dev.sevnet.backend.cuda.CudaRuntime.Status s = dev.sevnet.backend.cuda.CudaRuntime.status();
                if (s.usable()) {
                    r.put("cudnn_loaded", s.cudnnVersion() + " (JavaCPP binding, shared runtime "
                            + CudaStatus.version(s.runtimeVersion()) + ")");
                    r.put("cuda_kernels", s.customKernels() ? "libsevnet_cuda.so loaded" : "not built (no nvcc)");
                    // the ceilings benchmarks divide by (CudaKernelsBench, the JMH suite): from the device's attributes
                    try {
                        r.put("gpu0_peaks", dev.sevnet.backend.cuda.CudaDevice.get(0).peaks().describe());
                    } catch (RuntimeException e) {
                        r.put("gpu0_peaks", "unknown: " + e.getMessage());
                    }
                }
                r.put("gpu_path", s.usable() && s.customKernels() ? "ready: --device cuda (auto picks it)"
                        : "unavailable: " + (s.usable() ? "this build has no CUDA kernels (built without nvcc)" : s.reason()));
            } else {
                r.put("gpu_path", "unavailable: " + cuda.reason());
            }
        }
        r.put("gpu_settings", gpuSettings());
        r.put("cpu_path", nativeError == null ? "ready" : "unavailable");
        if (json) {
            System.out.println(new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create().toJson(r));
        } else {
            r.forEach((k, v) -> System.out.printf("%-18s %s%n", k.replace('_', ' '), v));
        }
        return nativeError == null ? 0 : 1;
    }

    /**
     * The GPU path's switches as this JVM's system properties set them (what a run here would use): kernel mode,
     * whether auto measures, the 16-bit conv route, TF32, input prefetching. A bad value is shown with its error.
     */
    static String gpuSettings() {
        StringBuilder b = new StringBuilder();
        try {
            CudaBackend.KernelMode mode = CudaBackend.KernelMode.parse(System.getProperty("sevnet.kernels", "auto"));
            boolean measure = Boolean.parseBoolean(System.getProperty("sevnet.measure", "true"));
            b.append("kernels ").append(mode.toString().toLowerCase(java.util.Locale.ROOT));
            if (mode == CudaBackend.KernelMode.AUTO) {
                b.append(measure ? " (measured per problem)" : " (fixed rules, -Dsevnet.measure=false)");
            }
        } catch (IllegalArgumentException e) {
            b.append("kernels: ").append(e.getMessage());
        }
        try {
            b.append(", 16-bit convs ").append(CudaBackend.HalfGroupedRoute.parse(
                    System.getProperty("sevnet.halfGrouped", "auto")).toString().toLowerCase(java.util.Locale.ROOT)
                    .replace('_', '-'));
        } catch (IllegalArgumentException e) {
            b.append(", 16-bit convs: ").append(e.getMessage());
        }
        b.append(", tf32 ").append(Boolean.parseBoolean(System.getProperty("sevnet.tf32", "true")) ? "on" : "off");
        b.append(", cudnn algorithms ").append(Boolean.parseBoolean(System.getProperty("sevnet.deterministic", "false"))
                ? "deterministic" : "fastest");
        String prefetch = System.getProperty("sevnet.prefetch", "auto").trim().toLowerCase(java.util.Locale.ROOT);
        b.append(java.util.Set.of("auto", "on", "off", "true", "false").contains(prefetch) ? ", prefetch " + prefetch
                : ", prefetch: -Dsevnet.prefetch=" + prefetch + ": expected auto, on or off");
        return b.toString();
    }

    private static String nativePath() {
        try {
            return Loader.getCacheDir() != null ? Loader.getCacheDir().getPath() + " (JavaCPP cache)" : "class path";
        } catch (java.io.IOException e) {
            return "class path";
        }
    }
}
