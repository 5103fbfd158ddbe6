package dev.sevnet.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sevnet.cli.InfoCommand;
import java.io.PrintWriter;
import java.io.StringWriter;
import picocli.CommandLine;
import org.junit.jupiter.api.Test;

/** {@code sevnet info} (lives beside the nn tests because it prints {@link ModelStats}). */
class InfoCommandTest {
    private static String[] run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cmd = new CommandLine(new InfoCommand());
        cmd.setOut(new PrintWriter(out));
        cmd.setErr(new PrintWriter(err));
        int rc = cmd.execute(args);
        return new String[] {Integer.toString(rc), out.toString(), err.toString()};
    }

    @Test
    void printsJson() {
        String[] r = run("--model", "sevnet-g8", "--classes", "174", "--frames", "16", "--size", "224", "--json");
        assertEquals("0", r[0], r[2]);
        JsonObject o = JsonParser.parseString(r[1]).getAsJsonObject();
        assertEquals(4.4, o.get("params").getAsLong() / 1e6, 0.088);
        assertEquals(14.4, o.get("gflops").getAsDouble(), 0.288);
        JsonArray stages = o.getAsJsonArray("stages");
        assertEquals(6, stages.size());
        JsonObject s0 = stages.get(1).getAsJsonObject();
        assertEquals("stages.0", s0.get("name").getAsString());
        assertEquals("[64,16,56,56]", s0.get("output").toString());
        assertTrue(s0.get("params").getAsLong() > 0);
        assertTrue(s0.get("gflops").getAsDouble() > 0);
    }

    @Test
    void printsTable() {
        String[] r = run("--model", "sevnet-g12", "--classes", "400");
        assertEquals("0", r[0], r[2]);
        assertTrue(r[1].contains("stage"), r[1]);
        assertTrue(r[1].contains("stages.3"), r[1]);
        assertTrue(r[1].contains("10.05 M parameters, 31.79 GFLOPs"), r[1]);
    }

    @Test
    void unknownModelIsAnErrorMessage() {
        String[] r = run("--model", "resnet50");
        assertEquals("2", r[0]);
        assertTrue(r[2].contains("unknown model 'resnet50'"), r[2]);
    }
}
