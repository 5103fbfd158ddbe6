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
        return commandLine().execute(args);
    }

    /**
     * The command tree with its error policy: a bad argument or an unreadable file is one line on
     * stderr and exit code 2, never a stack trace; anything else is a bug and keeps its trace.
     */
    public static CommandLine commandLine() {
        return new CommandLine(new Main()).setExecutionExceptionHandler((e, cmd, parsed) -> {
            if (e instanceof IllegalArgumentException || e instanceof java.io.UncheckedIOException) {
                cmd.getErr().println("error: " + e.getMessage());
                return 2;
            }
            throw e;
        });
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
