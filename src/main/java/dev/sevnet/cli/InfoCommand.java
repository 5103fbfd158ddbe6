package dev.sevnet.cli;

import com.google.gson.GsonBuilder;
import dev.sevnet.nn.ModelStats;
import dev.sevnet.nn.SevNetConfig;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code sevnet info}: parameters and GFLOPs (multiply-accumulates of convolutions and linear layers,
 * as the paper counts them) of a model for one clip, with a per-stage table. Builds the module tree
 * to count it but runs nothing.
 */
@Command(name = "info", mixinStandardHelpOptions = true,
        description = "Print a model's parameters and GFLOPs (multiply-accumulates) with a per-stage table.")
public final class InfoCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", defaultValue = "sevnet-g8",
            description = "sevnet-g<g>, sevnet-se-g<g>, r2plus1d-g<g> or r3d-g<g> (default: ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--classes", defaultValue = "174", description = "Number of classes (default: ${DEFAULT-VALUE}).")
    int classes;

    @Option(names = "--frames", defaultValue = "16", description = "Frames per clip (default: ${DEFAULT-VALUE}).")
    int frames;

    @Option(names = "--size", defaultValue = "224", description = "Frame height and width (default: ${DEFAULT-VALUE}).")
    int size;

    @Option(names = "--json", description = "Print one JSON object: params, gflops, stages.")
    boolean json;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        ModelStats stats;
        try {
            if (size < 1 || size > 65536 || frames < 1 || frames > 65536) {
                throw new IllegalArgumentException("--size and --frames must be 1..65536, got " + size + " and " + frames);
            }
            stats = ModelStats.of(SevNetConfig.parse(model, classes), frames, size);
        } catch (IllegalArgumentException e) {
            spec.commandLine().getErr().println("error: " + e.getMessage());
            return 2;
        }
        if (json) {
            out.println(new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create().toJson(toJson(stats)));
        } else {
            printTable(out, stats);
        }
        out.flush();
        return 0;
    }

    private static Map<String, Object> toJson(ModelStats stats) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("model", stats.model());
        r.put("frames", stats.frames());
        r.put("size", stats.size());
        r.put("params", stats.params());
        r.put("gflops", stats.gflops());
        List<Map<String, Object>> stages = new ArrayList<>();
        for (ModelStats.Part p : stats.parts()) {
            Map<String, Object> s = new LinkedHashMap<>();
            s.put("name", p.name());
            s.put("params", p.params());
            s.put("gflops", p.gflops());
            s.put("output", p.output().dims());
            stages.add(s);
        }
        r.put("stages", stages);
        return r;
    }

    private static void printTable(PrintWriter out, ModelStats stats) {
        out.printf("%s, %d classes, input 3x%dx%dx%d%n", stats.model(), stats.parts().get(stats.parts().size() - 1)
                .output().get(0), stats.frames(), stats.size(), stats.size());
        out.printf("%-10s %-22s %12s %10s%n", "stage", "output", "params", "GFLOPs");
        for (ModelStats.Part p : stats.parts()) {
            out.printf("%-10s %-22s %,12d %10.3f%n", p.name(), dims(p.output().dims()), p.params(), p.gflops());
        }
        out.printf("%-10s %-22s %,12d %10.3f%n", "total", "", stats.params(), stats.gflops());
        out.printf("%.2f M parameters, %.2f GFLOPs (multiply-accumulates)%n", stats.millionParams(), stats.gflops());
    }

    private static String dims(long[] d) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < d.length; i++) {
            b.append(i == 0 ? "" : "x").append(d[i]);
        }
        return b.toString();
    }
}
