package dev.sevnet.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code sevnet} command line. */
@Command(name = "sevnet", mixinStandardHelpOptions = true, version = "sevnet " + Main.VERSION,
        description = "Train, evaluate and serve SEVNets for video action recognition.",
        subcommands = {CommandLine.HelpCommand.class, DoctorCommand.class, InfoCommand.class, ParityCommand.class,
            BenchCommand.class, TrainCommand.class, EvalCommand.class, PredictCommand.class, ServeCommand.class, SynthCommand.class})
public final class Main implements Runnable {
    /** The release of this build (also in the jar's name). */
    public static final String VERSION = "0.1.0";

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    public static int run(String... args) {
        try {
            return commandLine().execute(args);
        } catch (OutOfMemoryError e) { // an Error: past picocli's handler, which sees exceptions only
            System.err.println("error: " + describe(e));
            if (traceWanted()) {
                e.printStackTrace();
            }
            return 1;
        }
    }

    /**
     * The command tree with its error policy: a bad argument, an unreadable or corrupt file (weights, videos) is one
     * line on stderr and exit code 2; running out of memory, a device or I/O failure one line and exit code 1 (out of
     * memory with what to lower). Never a stack trace unless asked for: {@code SEVNET_TRACE=1} in the environment or
     * {@code -Dsevnet.trace=true} prints it after the line (what a bug report needs).
     */
    public static CommandLine commandLine() {
        return new CommandLine(new Main()).setParameterExceptionHandler(Main::usageError)
                .setExecutionExceptionHandler((e, cmd, parsed) -> {
            int code = exitCode(e);
            cmd.getErr().println("error: " + describe(e));
            if (traceWanted()) {
                e.printStackTrace(cmd.getErr());
            } else if (code == 1 && !userFacing(e)) {
                cmd.getErr().println("(SEVNET_TRACE=1 shows where it happened)");
            }
            return code;
        });
    }

    /**
     * A command line picocli cannot parse (an unknown option or command, a missing or malformed value): one line on
     * stderr naming the problem, picocli's suggestion if it has one, and where the options are listed; exit code 2.
     * Not the whole usage text, which would bury the error under dozens of lines.
     */
    static int usageError(CommandLine.ParameterException e, String[] args) {
        CommandLine cmd = e.getCommandLine();
        StringBuilder line = new StringBuilder("error: ").append(
                String.valueOf(e.getMessage()).replaceAll("\\s*\\R\\s*", " ").trim());
        if (e instanceof CommandLine.UnmatchedArgumentException u && !u.getSuggestions().isEmpty()) {
            line.append("; did you mean ").append(String.join(" or ", u.getSuggestions())).append('?');
        }
        line.append(" (`").append(cmd.getCommandSpec().qualifiedName()).append(" --help` lists the ")
                .append(cmd.getSubcommands().isEmpty() ? "options" : "commands").append(')');
        cmd.getErr().println(line);
        if (traceWanted()) {
            e.printStackTrace(cmd.getErr());
        }
        return cmd.getCommandSpec().exitCodeOnInvalidInput();
    }

    /** 2: the input is wrong (arguments, files); 1: the run failed (memory, device, I/O, a bug). */
    static int exitCode(Throwable e) {
        if (outOfSpaceOrReadOnly(e)) {
            return 1; // the machine failed the run, not the input: rerunning after freeing space works
        }
        if (e instanceof IllegalArgumentException || e instanceof java.io.UncheckedIOException
                || e instanceof dev.sevnet.nn.io.WeightsFormatException || e instanceof dev.sevnet.data.VideoDecodeException
                || e instanceof java.nio.file.NoSuchFileException || e instanceof java.nio.file.FileAlreadyExistsException
                || e instanceof java.nio.file.NotDirectoryException) {
            return 2;
        }
        return 1;
    }

    /** A write refused by the file system itself: disk full, quota, read-only mount. */
    static boolean outOfSpaceOrReadOnly(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String m = t instanceof java.nio.file.FileSystemException f && f.getReason() != null ? f.getReason()
                    : t.getMessage();
            if (m != null && (m.contains("No space left on device") || m.contains("Disk quota exceeded")
                    || m.contains("Read-only file system"))) {
                return true;
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return false;
    }

    static String describe(Throwable e) {
        if (e instanceof OutOfMemoryError || e instanceof dev.sevnet.backend.DeviceOutOfMemoryException) {
            return "out of memory: " + e.getMessage() + " (lower --batch, --size or --frames, or give the JVM more "
                    + "memory)";
        }
        if (e instanceof java.nio.file.FileSystemException f) {
            String why = f.getReason() != null ? f.getReason()
                    : e instanceof java.nio.file.NoSuchFileException ? "no such file or directory"
                    : e instanceof java.nio.file.FileAlreadyExistsException ? "already exists"
                    : e instanceof java.nio.file.AccessDeniedException ? "permission denied" : "file system error";
            return f.getFile() + (f.getOtherFile() != null ? " -> " + f.getOtherFile() : "") + ": " + why;
        }
        String m = e.getMessage();
        boolean plain = userFacing(e);
        if (m == null || m.isBlank()) {
            return e.getClass().getSimpleName();
        }
        if (m.length() > 2000) {
            m = m.substring(0, 2000) + " ... (" + (m.length() - 2000) + " more characters)";
        }
        return plain ? m : e.getClass().getSimpleName() + ": " + m;
    }

    /** Exceptions whose message is written for the user (the others name their type: likely a bug). */
    private static boolean userFacing(Throwable e) {
        return e instanceof IllegalArgumentException || e instanceof IllegalStateException
                || e instanceof java.io.UncheckedIOException || e instanceof java.io.IOException
                || e instanceof dev.sevnet.nn.io.WeightsFormatException || e instanceof dev.sevnet.data.VideoDecodeException
                || e instanceof UnsupportedOperationException || e instanceof OutOfMemoryError
                || e instanceof dev.sevnet.backend.DeviceOutOfMemoryException;
    }

    private static boolean traceWanted() {
        String env = System.getenv("SEVNET_TRACE");
        return Boolean.getBoolean("sevnet.trace") || (env != null && !env.isEmpty() && !env.equals("0"));
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
