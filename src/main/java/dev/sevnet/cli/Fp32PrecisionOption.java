package dev.sevnet.cli;

import dev.sevnet.backend.cpu.CpuBackend;
import picocli.CommandLine.Option;

/** The {@code --fp32-precision} option of the commands that run a model: how fp32 convolutions compute on the CPU. */
final class Fp32PrecisionOption {
    @Option(names = "--fp32-precision", paramLabel = "ieee|bf16",
            description = "How fp32 convolutions compute on the CPU: ieee (fp32 throughout) or bf16 (the GEMM "
                    + "convolutions' and the direct (grouped, stem) convolutions' products, forward and backward, round "
                    + "their operands to bf16 and accumulate "
                    + "in fp32 on AMX-BF16 or AVX512-BF16, where the CPU has one: `sevnet doctor` says; elsewhere as "
                    + "ieee). "
                    + "Tensors stay fp32. Default: the system property sevnet.fp32Precision, else ieee.")
    String fp32Precision;

    /** Applies the option when given (a bad value: IllegalArgumentException, exit code 2). */
    void apply() {
        if (fp32Precision != null) {
            CpuBackend.setFp32Precision(CpuBackend.Fp32Precision.parse(fp32Precision));
        }
    }
}
