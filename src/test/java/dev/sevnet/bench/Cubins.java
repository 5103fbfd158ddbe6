package dev.sevnet.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The kernels' standalone cubins, as the build made them (CMake target {@code sevnet_cubins}: one
 * {@code nvcc -cubin -arch=sm_XX} per kernels/*.cu, XX = 80 and 90) — {@code sm_XX/<source>.cubin} plus an
 * index, {@code cubins.txt}. Looked for in a folder given by the system property {@code sevnet.cubins} or
 * the environment variable {@code SEVNET_CUBINS} (e.g. {@code target/cmake-build/cubins}), else on the class
 * path under {@code dev/sevnet/cubins/} (Maven copies them into the test classes; the devpack's
 * project-test-classes.jar carries them).
 */
public final class Cubins {
    static final String RESOURCE_DIR = "/dev/sevnet/cubins/";
    private static final Map<String, CubinElf> PARSED = new ConcurrentHashMap<>();

    private final Path dir;  // null: the class path

    private Cubins(Path dir) {
        this.dir = dir;
    }

    /** The cubins of the system property / environment folder, else of the class path. */
    public static Cubins locate() {
        String p = System.getProperty("sevnet.cubins", System.getenv("SEVNET_CUBINS"));
        return p == null || p.isBlank() ? new Cubins(null) : new Cubins(Path.of(p));
    }

    public static Cubins inDirectory(Path dir) {
        return new Cubins(dir);
    }

    public String where() {
        return dir == null ? "class path " + RESOURCE_DIR : dir.toString();
    }

    /** Whether the build made cubins (the index exists): false for a build without nvcc. */
    public boolean present() {
        return exists("cubins.txt");
    }

    /** The index: architecture (80, 90) -> the source names ({@code elementwise}, ...) built for it. */
    public Map<Integer, List<String>> index() {
        Map<Integer, List<String>> out = new TreeMap<>();
        String text = new String(read("cubins.txt"), StandardCharsets.UTF_8);
        for (String line : text.split("\n")) {
            line = line.strip();
            if (line.isEmpty()) {
                continue;
            }
            // sm_90/elementwise.cubin
            int slash = line.indexOf('/');
            int arch = Integer.parseInt(line.substring(3, slash));
            String name = line.substring(slash + 1, line.length() - ".cubin".length());
            out.computeIfAbsent(arch, a -> new ArrayList<>()).add(name);
        }
        return out;
    }

    /** The architectures built, ascending. */
    public List<Integer> archs() {
        return new ArrayList<>(new TreeSet<>(index().keySet()));
    }

    /**
     * The architecture whose cubin runs on a device of compute capability major.minor: the highest built sm_XY
     * with X == major and Y <= minor (SASS runs only within its major version, on equal or later minors).
     *
     * @throws IllegalStateException if none does (e.g. sm_100: these cubins are not forward compatible)
     */
    public int archFor(int major, int minor) {
        int best = -1;
        for (int a : archs()) {
            if (a / 10 == major && a % 10 <= minor) {
                best = Math.max(best, a);
            }
        }
        if (best < 0) {
            throw new IllegalStateException("no cubin runs on compute capability " + major + "." + minor + ": built "
                    + archs() + " (" + where() + "); SASS only runs within its major version");
        }
        return best;
    }

    /** The raw bytes of sm_{arch}/{source}.cubin. */
    public byte[] bytes(int arch, String source) {
        return read("sm_" + arch + "/" + source + ".cubin");
    }

    /** sm_{arch}/{source}.cubin parsed (cached). */
    public CubinElf elf(int arch, String source) {
        String rel = "sm_" + arch + "/" + source + ".cubin";
        return PARSED.computeIfAbsent(where() + "!" + rel, k -> CubinElf.parse(read(rel), rel));
    }

    private boolean exists(String rel) {
        if (dir != null) {
            return Files.isRegularFile(dir.resolve(rel));
        }
        return Cubins.class.getResource(RESOURCE_DIR + rel) != null;
    }

    private byte[] read(String rel) {
        try {
            if (dir != null) {
                return Files.readAllBytes(dir.resolve(rel));
            }
            try (InputStream in = Cubins.class.getResourceAsStream(RESOURCE_DIR + rel)) {
                if (in == null) {
                    throw new IOException(rel + " is not on the class path under " + RESOURCE_DIR
                            + " (built without nvcc, or the Maven copy step did not run)");
                }
                return in.readAllBytes();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cubin " + rel + " (" + where() + ")", e);
        }
    }
}
