package dev.sevnet.bench;

import java.util.Collection;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.CommandLineOptionException;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/** The {@code main} of sevnet's JMH suites: JMH's own command-line options, the suite itself when no regex is given. */
final class JmhMain {
    private JmhMain() {
    }

    /** Runs {@code suite} (or the benchmarks the arguments' regexes name) with JMH's options from {@code args}. */
    static Collection<RunResult> run(Class<?> suite, String[] args) throws RunnerException {
        CommandLineOptions cli;
        try {
            cli = new CommandLineOptions(args);
        } catch (CommandLineOptionException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
        OptionsBuilder ob = new OptionsBuilder();
        ob.parent(cli);
        if (cli.getIncludes().isEmpty()) {
            ob.include(suite.getName());
        }
        return new Runner(ob.build()).run();
    }
}
