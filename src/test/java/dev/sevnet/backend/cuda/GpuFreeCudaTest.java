package dev.sevnet.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.backend.Backends;
import dev.sevnet.backend.ConvSpec;
import dev.sevnet.backend.CudaStatus;
import dev.sevnet.tensor.Device;
import dev.sevnet.tensor.Shape;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What of the CUDA backend needs no GPU: the fallback decision, algorithm-cache persistence, plans. */
class GpuFreeCudaTest {
    @Test
    void autoFallsBackToTheCpuWithTheReasonWhenThereIsNoGpu() {
        CudaStatus probe = CudaStatus.probe();
        String[] why = new String[1];
        Device d = Backends.resolve("auto", why);
        if (CudaRuntime.status().usable() && CudaRuntime.status().customKernels()) {
            assertEquals(Device.cuda(0), d);
            assertEquals(null, why[0]);
            return;
        }
        assertTrue(d.isCpu());
        assertFalse(why[0] == null || why[0].isBlank(), "a reason is given");
        if (!probe.usable()) {
            assertEquals(probe.reason(), why[0]);
            // on a machine without a driver the reason names the library it looked for
            if (probe.builtWithCuda() && probe.driverVersion() == 0) {
                assertTrue(why[0].contains("libcuda.so.1"), why[0]);
            }
        }
        var e = assertThrows(IllegalStateException.class, () -> Backends.forDevice(Device.cuda(0)));
        assertTrue(e.getMessage().contains("sevnet doctor"), e.getMessage());
    }

    @Test
    void trainingOnAnUnusableGpuIsAClearError() {
        if (CudaRuntime.status().usable()) {
            return;
        }
        var e = assertThrows(IllegalArgumentException.class, () -> dev.sevnet.train.DeviceChoice.resolve("cuda"));
        assertTrue(e.getMessage().startsWith("device cuda is not usable"), e.getMessage());
        assertTrue(dev.sevnet.train.DeviceChoice.resolve("auto").device().isCpu());
    }

    @Test
    void algorithmCacheRoundTripsAndIgnoresAnotherEnvironment(@TempDir Path dir) throws IOException {
        ConvSpec s = ConvSpec.builder().kernel(1, 3, 3).padding(0, 1, 1).groups(8).build();
        int[] p = s.nativeParams(Shape.of(8, 64, 16, 56, 56), 64);
        ConvAlgorithmCache c = new ConvAlgorithmCache("H100 / cuDNN 9.10.2");
        String kf = ConvAlgorithmCache.key("fwd", p, true);
        String kb = ConvAlgorithmCache.key("bwd-data", p, false);
        assertFalse(kf.equals(ConvAlgorithmCache.key("fwd", p, false)), "the math mode is part of the key");
        c.put(kf, new ConvAlgorithmCache.Choice(1, 123456789L));
        c.put(kb, new ConvAlgorithmCache.Choice(4, 0));
        Path f = dir.resolve("algos.json");
        c.save(f);
        ConvAlgorithmCache same = new ConvAlgorithmCache("H100 / cuDNN 9.10.2");
        assertEquals(2, same.load(f));
        assertEquals(new ConvAlgorithmCache.Choice(1, 123456789L), same.get(kf));
        assertEquals(new ConvAlgorithmCache.Choice(4, 0), same.get(kb));
        // measured routes of 16-bit problems travel in the same file
        String kh = ConvAlgorithmCache.key("fwd", p, true, dev.sevnet.tensor.DType.BFLOAT16);
        c.putRoute(kh, "channels-last");
        c.save(f);
        ConvAlgorithmCache withRoutes = new ConvAlgorithmCache("H100 / cuDNN 9.10.2");
        assertEquals(3, withRoutes.load(f));
        assertEquals("channels-last", withRoutes.route(kh));
        assertEquals(java.util.Map.of(kh, "channels-last"), withRoutes.routes());
        assertEquals(null, withRoutes.route(kf));
        ConvAlgorithmCache other = new ConvAlgorithmCache("A100 / cuDNN 9.10.2");
        assertEquals(0, other.load(f), "timings from another GPU are not reused");
        assertEquals(null, other.route(kh));
        assertEquals(0, other.size());
        Files.writeString(f, "{not json");
        var e = assertThrows(IOException.class, () -> same.load(f));
        assertTrue(e.getMessage().contains("algos.json"), e.getMessage());
    }

    @Test
    void fusedKernelsCoverTheBlocksConvsOnly() {
        ConvSpec g8 = ConvSpec.builder().kernel(1, 3, 3).padding(0, 1, 1).groups(8).build();
        ConvSpec g8s2 = ConvSpec.builder().kernel(1, 3, 3).stride(1, 2, 2).padding(0, 1, 1).groups(8).build();
        assertTrue(CudaBackend.isBlockGrouped(g8, 64, 64), "8 channels per group");
        assertTrue(CudaBackend.isBlockGrouped(g8s2, 128, 128), "16 channels per group, stride 2");
        assertFalse(CudaBackend.isBlockGrouped(g8, 256, 256), "32 channels per group");
        assertFalse(CudaBackend.isBlockGrouped(ConvSpec.builder().kernel(1, 3, 3).padding(0, 1, 1).build(), 64, 64),
                "dense 1x3x3 over 64 channels (the R(2+1)D ablation)");
        assertFalse(CudaBackend.isBlockGrouped(ConvSpec.builder().kernel(1, 3, 3).stride(1, 3, 3).padding(0, 1, 1)
                .groups(8).build(), 64, 64), "stride 3");
        assertTrue(CudaBackend.isPointwise(ConvSpec.of(1)));
        assertFalse(CudaBackend.isPointwise(ConvSpec.builder().kernel(1, 1, 1).stride(1, 2, 2).build()));
        assertFalse(CudaBackend.isPointwise(ConvSpec.builder().kernel(3, 1, 1).padding(1, 0, 0).build()));
    }

    @Test
    void halfGroupedRouteParsesAndMeasuresByDefault() {
        assertEquals(CudaBackend.HalfGroupedRoute.MEASURE, CudaBackend.HalfGroupedRoute.parse("auto"));
        assertEquals(CudaBackend.HalfGroupedRoute.MEASURE, CudaBackend.HalfGroupedRoute.parse("measure"));
        assertEquals(CudaBackend.HalfGroupedRoute.CHANNELS_LAST, CudaBackend.HalfGroupedRoute.parse("NDHWC"));
        assertEquals(CudaBackend.HalfGroupedRoute.WIDEN, CudaBackend.HalfGroupedRoute.parse(" widen "));
        var e = assertThrows(IllegalArgumentException.class, () -> CudaBackend.HalfGroupedRoute.parse("fastest"));
        assertTrue(e.getMessage().contains("auto"), e.getMessage());
    }

    @Test
    void kernelModeParses() {
        assertEquals(CudaBackend.KernelMode.CUSTOM, CudaBackend.KernelMode.parse("custom"));
        assertEquals(CudaBackend.KernelMode.LIBRARY, CudaBackend.KernelMode.parse(" Library "));
        assertThrows(IllegalArgumentException.class, () -> CudaBackend.KernelMode.parse("fast"));
    }
}
