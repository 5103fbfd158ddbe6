package dev.sevnet.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** {@code sevnet doctor} without a GPU: it says why the GPU path is unavailable and what its switches are set to. */
class DoctorCommandTest {

    @Test
    void doctorReportsThePathsAndTheGpuSettings() {
        java.io.PrintStream before = System.out;
        java.io.ByteArrayOutputStream buf = new java.io.ByteArrayOutputStream();
        int code;
        try {
            System.setOut(new java.io.PrintStream(buf, true, java.nio.charset.StandardCharsets.UTF_8));
            code = ServeCommandTest.run("doctor").code();
        } finally {
            System.setOut(before);
        }
        String out = buf.toString(java.nio.charset.StandardCharsets.UTF_8);
        assertEquals(0, code, out);
        assertTrue(out.contains("gpu path"), out);
        assertTrue(out.contains("gpu settings       kernels auto (measured per problem), 16-bit convs measure, tf32 on, "
                + "cudnn algorithms fastest, prefetch auto"), out);
        assertTrue(out.contains("cpu path           ready"), out);
        // the bf16 kernels this CPU has, the one in use marked; none where it has neither
        dev.sevnet.backend.cpu.CpuBackend.Bf16Kernel k = dev.sevnet.backend.cpu.CpuBackend.bf16Kernel();
        assertTrue(k == dev.sevnet.backend.cpu.CpuBackend.Bf16Kernel.NONE
                ? out.contains("bf16 kernels       none on this CPU") : out.contains(k + " (in use)"), out);
        assertTrue(out.contains("fp32 precision     ieee"), out);
    }

    @Test
    void aBadSettingIsShownWithItsError() {
        String old = System.getProperty("sevnet.kernels");
        System.setProperty("sevnet.kernels", "fastest");
        try {
            String s = DoctorCommand.gpuSettings();
            assertTrue(s.startsWith("kernels: ") && s.contains("fastest"), s);
        } finally {
            if (old == null) {
                System.clearProperty("sevnet.kernels");
            } else {
                System.setProperty("sevnet.kernels", old);
            }
        }
    }
}
