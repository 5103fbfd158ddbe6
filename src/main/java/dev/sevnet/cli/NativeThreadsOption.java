package dev.sevnet.cli;

import dev.sevnet.backend.cpu.CpuBackend;
import picocli.CommandLine.Option;

/**
 * The {@code --threads} option of the commands that run a model on the CPU: the native thread count
 * ({@link CpuBackend#setNumThreads}, PyTorch's {@code torch.set_num_threads}), for a machine shared with other work.
 */
final class NativeThreadsOption {
    @Option(names = "--threads", paramLabel = "N", description = "Native CPU threads, 0 = all cores (default: "
            + "OMP_NUM_THREADS when set, else all cores).")
    Integer threads;

    /** Applies the option when given (a negative count: IllegalArgumentException, exit code 2). */
    void apply() {
        if (threads == null) {
            return;
        }
        if (threads < 0) {
            throw new IllegalArgumentException("--threads must be >= 0 (0: all cores), got " + threads);
        }
        CpuBackend.setNumThreads(threads);
    }
}
