package dev.sevnet.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.HostAllocator;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The opt-in transparent-huge-page advice for large host tensors ({@link CpuBackend#setHugePages}). */
class HugePagesTest {

    @Test
    void onlyLargeBlocksAreAdvisedAndTheirContentsAreKept() {
        boolean was = CpuBackend.hugePages();
        List<long[]> advised = new ArrayList<>();
        try {
            HostAllocator.setLargeBlockAdvice((address, bytes) -> {
                advised.add(new long[] {address, bytes});
                NativeCore.sev_advise_huge_pages(address, bytes);
            });
            float[] values = new float[(6 << 20) / 4];
            for (int i = 0; i < values.length; i++) {
                values[i] = i * 0.5f;
            }
            try (Tensor big = Tensor.of(values, Shape.of(values.length));
                    Tensor small = Tensor.zeros(Shape.of(512, 512), DType.FLOAT32)) {
                assertEquals(1, advised.size(), "the 6 MiB tensor, not the 1 MiB one");
                assertEquals(big.address(), advised.get(0)[0]);
                float[] back = big.toFloatArray();
                assertEquals(values[values.length - 1], back[back.length - 1]);
                assertEquals(values[12345], back[12345]);
                assertEquals(0f, small.toFloatArray()[7]);
            }
        } finally {
            CpuBackend.setHugePages(was);
        }
    }

    @Test
    void theNativeAdviceTakesOnlyWholeAlignedHugePages() throws Exception {
        assertEquals(0, NativeCore.sev_advise_huge_pages(0L, 64L << 20), "null");
        try (Tensor t = Tensor.zeros(Shape.of((3 << 20) / 4))) {
            assertEquals(0, NativeCore.sev_advise_huge_pages(t.address(), t.byteSize()), "under two huge pages");
        }
        Path thp = Path.of("/sys/kernel/mm/transparent_hugepage/enabled");
        boolean never = !Files.isReadable(thp) || Files.readString(thp).contains("[never]");
        try (Tensor t = Tensor.zeros(Shape.of((16 << 20) / 4))) {
            int rc = NativeCore.sev_advise_huge_pages(t.address() + 1, t.byteSize() - 1);
            if (System.getProperty("os.name").startsWith("Linux") && !never) {
                assertEquals(1, rc, "a 16 MiB block on Linux with THP available");
            } else {
                assertEquals(0, rc);
            }
        }
    }

    @Test
    void offUnlessAskedFor() {
        assertEquals(Boolean.getBoolean("sevnet.hugePages"), CpuBackend.hugePages());
    }
}
