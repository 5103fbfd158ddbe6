package dev.sevnet.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.sevnet.tensor.DType;
import java.nio.file.Files;
import java.nio.file.Path;
import org.bytedeco.cuda.global.cudnn;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The dtype -> cuDNN / kernel mappings and the algorithm-cache keys of 16-bit convs: pure Java, no GPU. */
class CudnnTypesTest {
    @Test
    void dataComputeAndMathTypes() {
        assertEquals(cudnn.CUDNN_DATA_FLOAT, CudnnTypes.dataType(DType.FLOAT32));
        assertEquals(cudnn.CUDNN_DATA_BFLOAT16, CudnnTypes.dataType(DType.BFLOAT16));
        assertEquals(cudnn.CUDNN_DATA_HALF, CudnnTypes.dataType(DType.FLOAT16));
        // the values cuDNN 9's headers give: a changed preset would show here
        assertEquals(0, CudnnTypes.dataType(DType.FLOAT32));
        assertEquals(2, CudnnTypes.dataType(DType.FLOAT16));
        assertEquals(9, CudnnTypes.dataType(DType.BFLOAT16));
        for (DType d : new DType[] {DType.FLOAT32, DType.BFLOAT16, DType.FLOAT16}) {
            // PSEUDO_BFLOAT16 / PSEUDO_HALF configs: fp32 accumulation for every data type
            assertEquals(cudnn.CUDNN_DATA_FLOAT, CudnnTypes.computeType(d));
        }
        assertEquals(cudnn.CUDNN_DEFAULT_MATH, CudnnTypes.mathType(DType.FLOAT32, true));
        assertEquals(cudnn.CUDNN_FMA_MATH, CudnnTypes.mathType(DType.FLOAT32, false));
        assertEquals(cudnn.CUDNN_TENSOR_OP_MATH, CudnnTypes.mathType(DType.BFLOAT16, false));
        assertEquals(cudnn.CUDNN_TENSOR_OP_MATH, CudnnTypes.mathType(DType.FLOAT16, true));
        assertThrows(IllegalArgumentException.class, () -> CudnnTypes.dataType(DType.INT64));
        assertThrows(IllegalArgumentException.class, () -> CudnnTypes.mathType(DType.INT64, true));
        assertEquals(0, CudnnTypes.kernelCode(DType.FLOAT32));
        assertEquals(1, CudnnTypes.kernelCode(DType.BFLOAT16));
        assertEquals(2, CudnnTypes.kernelCode(DType.FLOAT16));
        assertThrows(IllegalArgumentException.class, () -> CudnnTypes.kernelCode(DType.INT64));
    }

    @Test
    void cacheKeysKeepTheFp32FormatAndSeparateSixteenBit() {
        int[] p = {2, 16, 8, 32, 32, 16, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 8, 32, 32};
        String old = "fwd:2,16,8,32,32,16,1,1,1,1,1,1,0,0,0,1,8,32,32";
        assertEquals(old + ":tf32", ConvAlgorithmCache.key("fwd", p, true));
        assertEquals(old + ":fp32", ConvAlgorithmCache.key("fwd", p, false));
        assertEquals(old + ":tf32", ConvAlgorithmCache.key("fwd", p, true, DType.FLOAT32));
        assertEquals(old + ":bf16", ConvAlgorithmCache.key("fwd", p, true, DType.BFLOAT16));
        assertEquals(old + ":bf16", ConvAlgorithmCache.key("fwd", p, false, DType.BFLOAT16), "TF32 does not apply");
        assertEquals(old + ":fp16", ConvAlgorithmCache.key("fwd", p, false, DType.FLOAT16));
        assertNotEquals(ConvAlgorithmCache.key("fwd", p, true, DType.BFLOAT16),
                ConvAlgorithmCache.key("fwd", p, true, DType.FLOAT16));
        assertThrows(IllegalArgumentException.class, () -> ConvAlgorithmCache.key("fwd", p, true, DType.INT64));
    }

    @Test
    void aCacheFileWithFp32AndSixteenBitEntriesRoundTrips(@TempDir Path dir) throws Exception {
        int[] p = {1, 8, 4, 16, 16, 8, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 4, 16, 16};
        Path f = dir.resolve("algos.json");
        // a file as an older build wrote it (fp32 keys only) still loads
        Files.writeString(f, "{\"environment\": \"GPU X / cuDNN 91900\", \"choices\": {\""
                + ConvAlgorithmCache.key("fwd", p, true) + "\": {\"algorithm\": 1, \"workspace_bytes\": 64}}}");
        ConvAlgorithmCache c = new ConvAlgorithmCache("GPU X / cuDNN 91900");
        assertEquals(1, c.load(f));
        assertEquals(new ConvAlgorithmCache.Choice(1, 64), c.get(ConvAlgorithmCache.key("fwd", p, true, DType.FLOAT32)));
        assertEquals(null, c.get(ConvAlgorithmCache.key("fwd", p, true, DType.BFLOAT16)));
        c.put(ConvAlgorithmCache.key("fwd", p, true, DType.BFLOAT16), new ConvAlgorithmCache.Choice(6, 0));
        c.save(f);
        ConvAlgorithmCache d = new ConvAlgorithmCache("GPU X / cuDNN 91900");
        assertEquals(2, d.load(f));
        assertEquals(new ConvAlgorithmCache.Choice(6, 0), d.get(ConvAlgorithmCache.key("fwd", p, true, DType.BFLOAT16)));
    }
}
