package dev.sevnet.backend.cuda;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sevnet.nn.io.AtomicFiles;
import dev.sevnet.tensor.DType;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * The cuDNN algorithm chosen for each convolution problem (direction, shapes, groups, math mode),
 * found once by timing the candidates ({@code cudnnFind*AlgorithmEx}, like PyTorch's
 * {@code cudnn.benchmark}) and then reused, so a new batch size costs one search and never another.
 * The cache can be saved and loaded; a file made on another GPU or cuDNN version is ignored.
 * Thread-safe.
 */
public final class ConvAlgorithmCache {
    /**
     * The chosen algorithm of one problem, the workspace it needs and the math type it was timed with
     * ({@code cudnnConvolution*AlgoPerf_t.mathType}: the call must set it on the descriptor, as PyTorch does — an
     * algorithm found under another math type than the descriptor's is refused with CUDNN_STATUS_BAD_PARAM);
     * {@link #DESCRIPTOR_MATH} where it is not known (a cache file written before it was recorded).
     */
    public record Choice(int algorithm, long workspaceBytes, int mathType) {
        public static final int DESCRIPTOR_MATH = -1;

        public Choice(int algorithm, long workspaceBytes) {
            this(algorithm, workspaceBytes, DESCRIPTOR_MATH);
        }
    }

    private final String environment;
    private final Map<String, Choice> choices = new TreeMap<>();
    /** Measured routes (see {@code RouteTuner}): problem key -> the route's name. */
    private final Map<String, String> routes = new TreeMap<>();

    /** {@code environment} names the GPU and library versions the timings are valid for. */
    public ConvAlgorithmCache(String environment) {
        this.environment = environment;
    }

    /** The key of one fp32 convolution problem; {@code direction} is fwd, bwd-data or bwd-filter. */
    public static String key(String direction, int[] p, boolean tf32) {
        return key(direction, p, tf32, DType.FLOAT32);
    }

    /**
     * The key of one convolution problem over {@code dtype} data. fp32 keys end in {@code :tf32} or {@code :fp32}
     * (the TF32 switch) exactly as before 16-bit inference existed, so cache files saved then still load and
     * match; bfloat16 / float16 keys end in {@code :bf16} / {@code :fp16} (tensor-op math, fp32 accumulation;
     * the TF32 switch does not apply to them), so a 16-bit problem never takes an fp32 problem's algorithm.
     */
    public static String key(String direction, int[] p, boolean tf32, DType dtype) {
        StringBuilder b = new StringBuilder(direction).append(':');
        for (int i = 0; i < p.length; i++) {
            b.append(i == 0 ? "" : ",").append(p[i]);
        }
        return b.append(switch (dtype) {
            case FLOAT32 -> tf32 ? ":tf32" : ":fp32";
            case BFLOAT16 -> ":bf16";
            case FLOAT16 -> ":fp16";
            default -> throw new IllegalArgumentException("no convolution over " + dtype + " tensors");
        }).toString();
    }

    public synchronized Choice get(String key) {
        return choices.get(key);
    }

    public synchronized void put(String key, Choice c) {
        choices.put(key, c);
    }

    public synchronized int size() {
        return choices.size();
    }

    /** The route measured fastest for a problem key, or null. */
    public synchronized String route(String key) {
        return routes.get(key);
    }

    public synchronized void putRoute(String key, String route) {
        routes.put(key, route);
    }

    /** Every measured route, by problem key. */
    public synchronized Map<String, String> routes() {
        return Map.copyOf(routes);
    }

    public String environment() {
        return environment;
    }

    /** Writes the cache atomically as JSON. */
    public synchronized void save(Path file) throws IOException {
        JsonObject o = new JsonObject();
        o.addProperty("environment", environment);
        JsonObject c = new JsonObject();
        choices.forEach((k, v) -> {
            JsonObject e = new JsonObject();
            e.addProperty("algorithm", v.algorithm());
            e.addProperty("workspace_bytes", v.workspaceBytes());
            if (v.mathType() != Choice.DESCRIPTOR_MATH) {
                e.addProperty("math_type", v.mathType());
            }
            c.add(k, e);
        });
        o.add("choices", c);
        JsonObject r = new JsonObject();
        routes.forEach(r::addProperty);
        o.add("routes", r);
        Gson gson = new GsonBuilder().setPrettyPrinting().create();
        byte[] bytes = gson.toJson(o).getBytes(StandardCharsets.UTF_8);
        try {
            AtomicFiles.write(file, ch -> AtomicFiles.writeFully(ch, java.nio.ByteBuffer.wrap(bytes)));
        } catch (java.io.UncheckedIOException e) {
            throw e.getCause();
        }
    }

    /**
     * Loads the entries (algorithms and measured routes) of {@code file} made in the same environment; returns how many
     * were taken
     * (0 for another environment). A malformed file is an {@link IOException} naming it.
     */
    public synchronized int load(Path file) throws IOException {
        JsonObject o;
        try {
            o = JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8)).getAsJsonObject();
        } catch (RuntimeException e) {
            throw new IOException("algorithm cache " + file + " is not valid JSON: " + e.getMessage(), e);
        }
        if (!o.has("environment") || !environment.equals(o.get("environment").getAsString())) {
            return 0;
        }
        int n = 0;
        try {
            for (var e : o.getAsJsonObject("choices").entrySet()) {
                JsonObject v = e.getValue().getAsJsonObject();
                choices.put(e.getKey(), new Choice(v.get("algorithm").getAsInt(), v.get("workspace_bytes").getAsLong(),
                        v.has("math_type") ? v.get("math_type").getAsInt() : Choice.DESCRIPTOR_MATH));
                n++;
            }
            if (o.has("routes")) { // files written before routes were measured have none
                for (var e : o.getAsJsonObject("routes").entrySet()) {
                    routes.put(e.getKey(), e.getValue().getAsString());
                    n++;
                }
            }
        } catch (RuntimeException e) {
            throw new IOException("algorithm cache " + file + " has a malformed entry: " + e.getMessage(), e);
        }
        return n;
    }
}
