package dev.sevnet.backend;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sevnet.backend.cpu.NativeCore;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * What the GPU path found on this machine: asked once of the native library's statically linked
 * CUDA runtime, then remembered. {@link #reason()} says exactly why the GPU path is unavailable.
 */
public record CudaStatus(boolean builtWithCuda, int driverVersion, int runtimeVersion, int deviceCount, String error,
        String libcuda, String cudnn, String cublas, List<String> gpus) {

    private static volatile CudaStatus cached;

    public static CudaStatus probe() {
        CudaStatus s = cached;
        if (s == null) {
            synchronized (CudaStatus.class) {
                if (cached == null) {
                    cached = doProbe();
                }
                s = cached;
            }
        }
        return s;
    }

    private static CudaStatus doProbe() {
        byte[] buf = new byte[8192];
        try {
            NativeCore.sev_cuda_probe(buf, buf.length);
        } catch (LinkageError e) {
            return new CudaStatus(false, 0, 0, 0, "native library not loadable: " + e.getMessage(), "", "", "", List.of());
        }
        int len = 0;
        while (len < buf.length && buf[len] != 0) {
            len++;
        }
        return parse(new String(buf, 0, len, StandardCharsets.UTF_8));
    }

    static CudaStatus parse(String json) {
        JsonObject o = JsonParser.parseString(json).getAsJsonObject();
        List<String> gpus = new ArrayList<>();
        if (o.has("gpus")) {
            for (JsonElement g : o.getAsJsonArray("gpus")) {
                JsonObject d = g.getAsJsonObject();
                gpus.add("cuda:" + d.get("index").getAsInt() + " " + d.get("name").getAsString() + " (sm_"
                        + d.get("cc").getAsString().replace(".", "") + ", " + d.get("memory_mb").getAsLong() + " MiB, "
                        + d.get("sms").getAsInt() + " SMs)");
            }
        }
        return new CudaStatus(o.get("built_with_cuda").getAsBoolean(), intOr(o, "driver_version"),
                intOr(o, "runtime_version"), intOr(o, "device_count"), strOr(o, "error"), strOr(o, "libcuda"),
                strOr(o, "cudnn"), strOr(o, "cublas"), List.copyOf(gpus));
    }

    private static int intOr(JsonObject o, String k) {
        return o.has(k) ? o.get(k).getAsInt() : 0;
    }

    private static String strOr(JsonObject o, String k) {
        return o.has(k) ? o.get(k).getAsString() : "";
    }

    /** True when a GPU, a driver new enough for the runtime, and cuDNN were all found. */
    public boolean usable() {
        return builtWithCuda && deviceCount > 0 && cudnn.contains("found") && !cudnn.startsWith("not found");
    }

    /** Why the GPU path cannot be used, or "" when it can. */
    public String reason() {
        if (!builtWithCuda) {
            return error.isEmpty() ? "the native library was built without CUDA" : error;
        }
        if (deviceCount == 0) {
            if (driverVersion == 0) {
                return "no NVIDIA driver: " + libcuda + (error.isEmpty() ? "" : " (" + error + ")");
            }
            return error.isEmpty() ? "no CUDA device found" : error + " (driver " + version(driverVersion)
                    + ", runtime " + version(runtimeVersion) + ")";
        }
        if (cudnn.startsWith("not found")) {
            return "cuDNN " + cudnn;
        }
        return "";
    }

    public static String version(int v) {
        return v == 0 ? "none" : (v / 1000) + "." + (v % 1000) / 10;
    }
}
