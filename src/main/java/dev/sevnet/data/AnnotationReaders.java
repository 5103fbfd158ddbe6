package dev.sevnet.data;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

/**
 * Readers for the annotation formats the video community uses. All return 0-based labels. A line
 * that does not parse is an {@link IllegalArgumentException} naming the file and line number; blank
 * lines and lines starting with {@code #} are ignored in the plain-text formats.
 */
public final class AnnotationReaders {
    private AnnotationReaders() {
    }

    // ---------------------------------------------------------------- mmaction2 list files

    /** mmaction2 video list: {@code relative/path.mp4 label [label ...]} per line. */
    public static List<VideoRecord> readVideoList(Path listFile) {
        List<VideoRecord> out = new ArrayList<>();
        int lineNo = 0;
        for (String line : lines(listFile)) {
            lineNo++;
            String[] f = fields(line);
            if (f == null) {
                continue;
            }
            if (f.length < 2) {
                throw bad(listFile, lineNo, "expected 'path label [label ...]'", line);
            }
            out.add(new VideoRecord(f[0], -1, ints(listFile, lineNo, line, f, 1)));
        }
        return out;
    }

    /** mmaction2 frame-folder list: {@code relative/dir total_frames label [label ...]} per line. */
    public static List<VideoRecord> readFrameList(Path listFile) {
        List<VideoRecord> out = new ArrayList<>();
        int lineNo = 0;
        for (String line : lines(listFile)) {
            lineNo++;
            String[] f = fields(line);
            if (f == null) {
                continue;
            }
            if (f.length < 3) {
                throw bad(listFile, lineNo, "expected 'dir total_frames label [label ...]'", line);
            }
            int total = ints(listFile, lineNo, line, f, 1)[0];
            int[] labels = ints(listFile, lineNo, line, java.util.Arrays.copyOfRange(f, 2, f.length), 0);
            out.add(new VideoRecord(f[0], total, labels));
        }
        return out;
    }

    /** Class names, one per line (line i = class i); blank lines may only trail the list. */
    public static List<String> readLabelNames(Path file) {
        List<String> lines = lines(file);
        int last = lines.size();
        while (last > 0 && lines.get(last - 1).isBlank()) {
            last--;
        }
        List<String> out = new ArrayList<>();
        for (int i = 0; i < last; i++) {
            String name = lines.get(i).strip();
            if (name.isEmpty()) {
                // skipping it would silently shift every later class index by one
                throw bad(file, i + 1, "blank line before more class names (each line is one class index)", name);
            }
            out.add(name);
        }
        return out;
    }

    // ---------------------------------------------------------------- Something-Something

    /**
     * Something-Something V1: {@code id;label name} per line, frame folders named by id (frames
     * {@code 00001.jpg, ...}, see {@link FrameFolderReader#SSV1_TEMPLATE}); the labels file has one
     * class name per line (line i = class i). Frame counts are left -1 (counted on load).
     */
    public static AnnotationList readSomethingV1(Path csv, Path labelsFile) {
        List<String> names = readLabelNames(labelsFile);
        Map<String, Integer> index = indexOf(names);
        List<VideoRecord> out = new ArrayList<>();
        int lineNo = 0;
        for (String line : lines(csv)) {
            lineNo++;
            if (line.isBlank()) {
                continue;
            }
            int semi = line.indexOf(';');
            String id = (semi < 0 ? line : line.substring(0, semi)).strip();
            if (semi < 0) {
                out.add(new VideoRecord(id, -1, new int[0])); // test split: no label
                continue;
            }
            String name = line.substring(semi + 1).strip();
            Integer label = index.get(name);
            if (label == null) {
                throw bad(csv, lineNo, "label '" + name + "' is not in " + labelsFile, line);
            }
            out.add(new VideoRecord(id, -1, new int[] {label}));
        }
        return new AnnotationList(out, names);
    }

    /**
     * Something-Something V2: the train/validation JSON ({@code [{"id": "78687", "template":
     * "Holding [something] next to [something]", ...}]}); the template with its brackets removed
     * is looked up in the labels JSON ({@code {"Holding something next to something": "12"}}).
     * Videos are {@code id + extension} (the dataset ships {@code .webm}). Entries without a
     * template (the test split) get no label.
     */
    public static AnnotationList readSomethingV2(Path json, Path labelsJson, String extension) {
        JsonElement labelsRoot = parseJson(labelsJson);
        if (!labelsRoot.isJsonObject()) {
            throw new IllegalArgumentException(labelsJson + ": expected a JSON object {\"class name\": \"index\", ...}, got "
                    + abbreviate(labelsRoot));
        }
        JsonObject labelMap = labelsRoot.getAsJsonObject();
        Map<String, Integer> index = new HashMap<>();
        String[] names = new String[labelMap.size()];
        for (Map.Entry<String, JsonElement> e : labelMap.entrySet()) {
            // the dataset writes indices as strings ("12"); plain numbers are accepted too
            String v = scalar(e.getValue());
            int idx;
            try {
                idx = Integer.parseInt(v == null ? "" : v.strip());
            } catch (NumberFormatException ex) {
                throw new IllegalArgumentException(labelsJson + ": label index of '" + e.getKey()
                        + "' must be an integer, got " + abbreviate(e.getValue()), ex);
            }
            if (idx < 0 || idx >= names.length || names[idx] != null) {
                throw new IllegalArgumentException(labelsJson + ": label index " + idx + " of '" + e.getKey()
                        + "' is out of range or repeated");
            }
            names[idx] = e.getKey();
            index.put(e.getKey(), idx);
        }
        JsonElement root = parseJson(json);
        if (!root.isJsonArray()) {
            throw new IllegalArgumentException(json + ": expected a JSON array of {\"id\": ..., \"template\": ...} "
                    + "entries, got " + abbreviate(root));
        }
        JsonArray entries = root.getAsJsonArray();
        List<VideoRecord> out = new ArrayList<>(entries.size());
        for (int i = 0; i < entries.size(); i++) {
            JsonElement el = entries.get(i);
            if (!el.isJsonObject()) {
                throw badEntry(json, i, "expected a JSON object", el);
            }
            JsonObject o = el.getAsJsonObject();
            String id = scalar(o.get("id"));
            // the dataset's ids are strings of digits; a number must be a plain integer to name a file
            if (id == null || id.isBlank() || o.get("id").getAsJsonPrimitive().isNumber() && !id.matches("\\d+")) {
                throw badEntry(json, i, "\"id\" must be a string or an integer", o);
            }
            int[] labels = new int[0];
            if (o.has("template")) {
                JsonElement t = o.get("template");
                // getAsString would also unwrap a one-element array
                if (!t.isJsonPrimitive() || !t.getAsJsonPrimitive().isString()) {
                    throw badEntry(json, i, "\"template\" must be a string", o);
                }
                String name = t.getAsString().replace("[", "").replace("]", "");
                Integer label = index.get(name);
                if (label == null) {
                    throw new IllegalArgumentException(json + ": entry " + i + " (id " + id + ") has template '"
                            + name + "' that is not in " + labelsJson);
                }
                labels = new int[] {label};
            }
            out.add(new VideoRecord(id + extension, -1, labels));
        }
        return new AnnotationList(out, List.of(names));
    }

    // ---------------------------------------------------------------- Kinetics

    /** The class names of a Kinetics CSV (its distinct labels sorted by name, as the dataset indexes them). */
    public static List<String> kineticsClasses(Path csv) {
        TreeSet<String> names = new TreeSet<>();
        for (KineticsRow row : kineticsRows(csv)) {
            if (!row.label().isEmpty()) {
                names.add(row.label());
            }
        }
        return List.copyOf(names);
    }

    /**
     * Kinetics CSV ({@code label,youtube_id,time_start,time_end,split[,is_cc]}). With a header line
     * the columns are found by name (any order; no {@code label} column, as in the Kinetics-400 test
     * split, gives unlabelled records); without one they are taken in this order. Assumed
     * layout, the one the common download scripts produce: {@code <label>/<youtube_id>_<start
     * 6 digits>_<end 6 digits>.mp4}, the label folder named exactly as in the CSV (spaces kept).
     *
     * @param classNames class names in label order, or null for this file's labels sorted by name
     *                   (pass the train split's classes when reading validation)
     */
    public static AnnotationList readKinetics(Path csv, List<String> classNames) {
        List<String> names = classNames != null ? List.copyOf(classNames) : kineticsClasses(csv);
        Map<String, Integer> index = indexOf(names);
        List<VideoRecord> out = new ArrayList<>();
        for (KineticsRow row : kineticsRows(csv)) {
            if (row.label().isEmpty()) {
                out.add(new VideoRecord(row.clip(), -1, new int[0])); // test split
                continue;
            }
            Integer idx = index.get(row.label());
            if (idx == null) {
                throw bad(csv, row.lineNo(), "label '" + row.label() + "' is not among the " + names.size()
                        + " classes", row.line());
            }
            out.add(new VideoRecord(row.label() + "/" + row.clip(), -1, new int[] {idx}));
        }
        return new AnnotationList(out, names);
    }

    /** One Kinetics CSV row: its label ("" for none) and clip file name, with where it came from. */
    private record KineticsRow(int lineNo, String line, String label, String clip) {
    }

    private static final List<String> KINETICS_COLUMNS = List.of("label", "youtube_id", "time_start", "time_end");

    private static List<KineticsRow> kineticsRows(Path csv) {
        List<KineticsRow> rows = new ArrayList<>();
        int[] col = {0, 1, 2, 3}; // label, youtube_id, time_start, time_end; -1 = absent
        int needed = 4;
        String expected = "expected 'label,youtube_id,time_start,time_end[,split]'";
        boolean first = true;
        int lineNo = 0;
        for (String line : lines(csv)) {
            lineNo++;
            if (line.isBlank()) {
                continue;
            }
            List<String> f = splitCsv(line);
            if (first) {
                first = false;
                Map<String, Integer> header = kineticsHeader(csv, lineNo, line, f);
                if (header != null) {
                    needed = 0;
                    for (int c = 0; c < col.length; c++) {
                        col[c] = header.getOrDefault(KINETICS_COLUMNS.get(c), -1);
                        needed = Math.max(needed, col[c] + 1);
                    }
                    expected = "expected the " + needed + "+ columns the header names";
                    continue;
                }
            }
            if (f.size() < needed) {
                throw bad(csv, lineNo, expected, line);
            }
            String label = col[0] < 0 ? "" : f.get(col[0]).strip();
            String id = f.get(col[1]).strip();
            if (id.isEmpty()) {
                throw bad(csv, lineNo, "empty youtube_id", line);
            }
            long start = clipTime(csv, lineNo, line, "time_start", f.get(col[2]));
            long end = clipTime(csv, lineNo, line, "time_end", f.get(col[3]));
            if (end < start) {
                throw bad(csv, lineNo, "time_end " + end + " is before time_start " + start, line);
            }
            rows.add(new KineticsRow(lineNo, line, label,
                    String.format(Locale.ROOT, "%s_%06d_%06d.mp4", id, start, end)));
        }
        return rows;
    }

    /**
     * The column index of each known name when this first line is a header, else null. A header is
     * told by its names (quotes stripped, any case), not its position: some splits reorder or drop
     * columns.
     */
    private static Map<String, Integer> kineticsHeader(Path csv, int lineNo, String line, List<String> f) {
        Map<String, Integer> cols = new HashMap<>();
        for (int i = 0; i < f.size(); i++) {
            String name = f.get(i).strip().toLowerCase(Locale.ROOT);
            if (KINETICS_COLUMNS.contains(name) && cols.put(name, i) != null) {
                throw bad(csv, lineNo, "header names column '" + name + "' twice", line);
            }
        }
        // these names never occur as data (ids are 11 characters, times are numbers); "label" alone could
        if (!cols.containsKey("youtube_id") && !cols.containsKey("time_start") && !cols.containsKey("time_end")) {
            return null;
        }
        for (String name : KINETICS_COLUMNS.subList(1, KINETICS_COLUMNS.size())) {
            if (!cols.containsKey(name)) {
                throw bad(csv, lineNo, "header has no '" + name + "' column", line);
            }
        }
        return cols;
    }

    /** A time in seconds as the 6-digit clip names round it; anything else would name a file that is not there. */
    private static long clipTime(Path csv, int lineNo, String line, String column, String value) {
        double t;
        try {
            t = Double.parseDouble(value.strip());
        } catch (NumberFormatException e) {
            throw bad(csv, lineNo, column + " '" + value.strip() + "' is not a number", line);
        }
        long r = Math.round(t);
        if (!Double.isFinite(t) || t < 0 || r > 999_999) {
            throw bad(csv, lineNo, column + " " + value.strip() + " is not a time from 0 to 999999 seconds", line);
        }
        return r;
    }

    // ---------------------------------------------------------------- FineGym

    /**
     * FineGym Gym99 / Gym288 element lists: {@code <element id> <label>} per line (e.g.
     * {@code A0xAXXysHUo_E_002407_002435_A_0003_0005 12}); each element is the clip
     * {@code <id><extension>}. Class names are {@code class_0 ... class_{K-1}} with K = 99 or 288
     * given by the caller (the lists do not carry names).
     */
    public static AnnotationList readFineGym(Path elementList, int numClasses, String extension) {
        List<VideoRecord> out = new ArrayList<>();
        int lineNo = 0;
        for (String line : lines(elementList)) {
            lineNo++;
            String[] f = fields(line);
            if (f == null) {
                continue;
            }
            if (f.length != 2) {
                throw bad(elementList, lineNo, "expected '<element id> <label>'", line);
            }
            int label = ints(elementList, lineNo, line, f, 1)[0];
            if (label >= numClasses) {
                throw bad(elementList, lineNo, "label " + label + " >= " + numClasses + " classes", line);
            }
            out.add(new VideoRecord(f[0] + extension, -1, new int[] {label}));
        }
        return new AnnotationList(out, numberedClasses(numClasses));
    }

    // ---------------------------------------------------------------- MMIT

    /**
     * Multi-Moments in Time CSV: {@code video,l1,l2,...} (path relative to the data root, then the
     * 0-based class indices; empty trailing fields are ignored).
     *
     * @param classNames class names in label order (e.g. from {@link #readMmitCategories}), or null
     *                   for numbered classes up to the largest label seen
     */
    public static AnnotationList readMmit(Path csv, List<String> classNames) {
        List<VideoRecord> out = new ArrayList<>();
        int maxLabel = -1;
        int lineNo = 0;
        for (String line : lines(csv)) {
            lineNo++;
            if (line.isBlank()) {
                continue;
            }
            List<String> f = splitCsv(line);
            List<Integer> labels = new ArrayList<>();
            for (int i = 1; i < f.size(); i++) {
                String s = f.get(i).strip();
                if (!s.isEmpty()) {
                    try {
                        labels.add(Integer.parseInt(s));
                    } catch (NumberFormatException e) {
                        throw bad(csv, lineNo, "label '" + s + "' is not an integer", line);
                    }
                }
            }
            int[] arr = labels.stream().mapToInt(Integer::intValue).toArray();
            for (int l : arr) {
                maxLabel = Math.max(maxLabel, l);
                if (classNames != null && l >= classNames.size()) {
                    throw bad(csv, lineNo, "label " + l + " >= " + classNames.size() + " classes", line);
                }
            }
            out.add(new VideoRecord(f.get(0).strip(), -1, arr));
        }
        return new AnnotationList(out, classNames != null ? classNames : numberedClasses(maxLabel + 1));
    }

    /** MMIT's category list: {@code name} or {@code name,index} per line, in index order. */
    public static List<String> readMmitCategories(Path file) {
        List<String> out = new ArrayList<>();
        for (String line : lines(file)) {
            if (line.isBlank()) {
                continue;
            }
            int comma = line.lastIndexOf(',');
            out.add((comma < 0 ? line : line.substring(0, comma)).strip());
        }
        return out;
    }

    // ---------------------------------------------------------------- helpers

    public static List<String> numberedClasses(int n) {
        List<String> names = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            names.add("class_" + i);
        }
        return names;
    }

    private static Map<String, Integer> indexOf(List<String> names) {
        Map<String, Integer> index = new HashMap<>();
        for (int i = 0; i < names.size(); i++) {
            if (index.put(names.get(i), i) != null) {
                throw new IllegalArgumentException("class name '" + names.get(i) + "' appears twice");
            }
        }
        return index;
    }

    private static List<String> lines(Path file) {
        try {
            List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            if (!lines.isEmpty() && lines.get(0).startsWith("\uFEFF")) {
                lines.set(0, lines.get(0).substring(1));
            }
            return lines;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read annotation file " + file, e);
        }
    }

    private static JsonElement parseJson(Path file) {
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            return JsonParser.parseReader(r);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read annotation file " + file, e);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(file + ": not valid JSON (" + e.getMessage() + ")", e);
        }
    }

    /** The text of a JSON string or number, or null for anything else (missing, null, boolean, object, array). */
    private static String scalar(JsonElement e) {
        if (e == null || !e.isJsonPrimitive() || e.getAsJsonPrimitive().isBoolean()) {
            return null;
        }
        return e.getAsString();
    }

    private static String abbreviate(JsonElement e) {
        String s = String.valueOf(e);
        return s.length() <= 80 ? s : s.substring(0, 77) + "...";
    }

    private static IllegalArgumentException badEntry(Path json, int entry, String why, JsonElement el) {
        return new IllegalArgumentException(json + ": entry " + entry + ": " + why + ", got " + abbreviate(el));
    }

    /** Whitespace-separated fields, or null for a blank or comment line. */
    private static String[] fields(String line) {
        String s = line.strip();
        if (s.isEmpty() || s.startsWith("#")) {
            return null;
        }
        return s.split("\\s+");
    }

    private static int[] ints(Path file, int lineNo, String line, String[] f, int from) {
        int[] out = new int[f.length - from];
        for (int i = from; i < f.length; i++) {
            try {
                out[i - from] = Integer.parseInt(f[i]);
            } catch (NumberFormatException e) {
                throw bad(file, lineNo, "'" + f[i] + "' is not an integer", line);
            }
            if (out[i - from] < 0) {
                throw bad(file, lineNo, "negative value " + f[i], line);
            }
        }
        return out;
    }

    /** Splits one CSV line, honouring double quotes (Kinetics labels never contain commas, but be safe). */
    static List<String> splitCsv(String line) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (c == '"') {
                if (quoted && i + 1 < line.length() && line.charAt(i + 1) == '"') {
                    cur.append('"');
                    i++;
                } else {
                    quoted = !quoted;
                }
            } else if (c == ',' && !quoted) {
                out.add(cur.toString());
                cur.setLength(0);
            } else {
                cur.append(c);
            }
        }
        out.add(cur.toString());
        return out;
    }

    private static IllegalArgumentException bad(Path file, int lineNo, String why, String line) {
        return new IllegalArgumentException(file + ":" + lineNo + ": " + why + ", got '" + line.strip() + "'");
    }
}
