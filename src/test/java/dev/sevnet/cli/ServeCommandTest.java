package dev.sevnet.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code sevnet serve} is registered, documents its options and refuses a bad checkpoint in one line. */
class ServeCommandTest {
    record Run(int code, String out, String err) {
    }

    static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void helpListsTheEndpointsAndOptions() {
        Run r = run("serve", "--help");
        assertEquals(0, r.code());
        for (String s : new String[] {"POST /v1/predict", "/healthz", "/metrics", "--checkpoint", "--host", "--port",
            "--device", "--max-body-mb", "--intra-op-threads", "127.0.0.1"}) {
            assertTrue(r.out().contains(s), s + " in\n" + r.out());
        }
    }

    @Test
    void aMissingCheckpointIsOneLineAndExitCode2(@TempDir Path dir) {
        Run r = run("serve", "--checkpoint", dir.resolve("none").toString(), "--port", "0");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().startsWith("error: no checkpoint at"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
    }

    @Test
    void aNegativeIntraOpThreadCountIsRefusedByName(@TempDir Path dir) {
        Run r = run("serve", "--checkpoint", dir.toString(), "--port", "0", "--in-flight", "2", "--intra-op-threads",
                "-1");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().startsWith("error: --intra-op-threads must be >= 0"), r.err());
    }
}
