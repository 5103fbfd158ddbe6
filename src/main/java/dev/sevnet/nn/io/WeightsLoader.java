package dev.sevnet.nn.io;

import dev.sevnet.nn.Module;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Loads a safetensors file into a {@link Module} by PyTorch {@code state_dict} name, and saves a
 * module's state dict the way PyTorch's {@code safetensors.torch.save_file(model.state_dict())} does.
 *
 * <p>Every key of the file is checked against the module before anything is copied: a wrong shape
 * or dtype is always an error; with {@code strict} a missing or an unexpected key is one too (without
 * it they are skipped and listed in the {@link Report}). F16 and BF16 tensors in the file are converted
 * to the model's float32, F64 ones rounded to it (as PyTorch's {@code copy_}), with a note in the report. As in PyTorch, a missing {@code num_batches_tracked} is not
 * an error even with {@code strict} (the model keeps its value; the key is listed as missing). A tensor of a dtype
 * sevnet cannot hold (F64, I32, BOOL, ...) is an error if the model has that key, and otherwise an unexpected key
 * like any other. A failed load leaves the module as it was.
 */
public final class WeightsLoader {
    private WeightsLoader() {
    }

    /** What a load did. */
    public record Report(List<String> loaded, List<String> missing, List<String> unexpected, List<String> notes,
                         Map<String, String> metadata) {
    }

    public static Report load(Module module, Path file, boolean strict) {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            Map<String, Tensor> own = module.stateDict();
            List<String> problems = new ArrayList<>();
            String firstBad = null;
            List<String> missing = new ArrayList<>();
            List<String> unexpected = new ArrayList<>();
            List<String> notes = new ArrayList<>();
            List<String> toLoad = new ArrayList<>();
            for (Map.Entry<String, Tensor> e : own.entrySet()) {
                String name = e.getKey();
                Tensor dst = e.getValue();
                SafetensorsFile.Entry src = f.entry(name);
                if (src == null) {
                    missing.add(name);
                    if (strict && isBatchesTracked(name, dst)) {
                        // PyTorch's BatchNorm fills in a missing num_batches_tracked (state dicts from before
                        // PyTorch 0.4.1, and exporters that drop it; safetensors carries no version metadata), so
                        // load_state_dict(strict=True) accepts such a file: keep the model's counter
                        notes.add("tensor '" + name + "' is missing from the file; the model's value is kept");
                    } else if (strict) {
                        problems.add("tensor '" + name + "' " + dst.shape() + " " + dst.dtype().safetensorsName()
                                + " is missing from the file");
                        firstBad = firstBad == null ? name : firstBad;
                    }
                    continue;
                }
                String problem = null;
                if (!src.shape().equals(dst.shape())) {
                    problem = "tensor '" + name + "' has shape " + src.shape() + " in the file, the model expects "
                            + dst.shape();
                } else if (src.dtype() != dst.dtype()) {
                    boolean widen = dst.dtype() == DType.FLOAT32
                            && (src.dtype() == DType.FLOAT16 || src.dtype() == DType.BFLOAT16);
                    boolean narrow = dst.dtype() == DType.FLOAT32 && "F64".equals(src.dtypeName());
                    if (widen) {
                        notes.add("tensor '" + name + "' converted from " + src.dtypeName() + " to "
                                + dst.dtype().safetensorsName());
                    } else if (narrow) { // as PyTorch's copy_ of a float64 tensor into a float32 parameter
                        notes.add("tensor '" + name + "' converted from F64 to F32 (rounded to nearest)");
                    } else if (!src.supported()) {
                        problem = "tensor '" + name + "' has dtype " + src.dtypeName() + " in the file, which sevnet "
                                + "cannot read; the model expects " + dst.dtype().safetensorsName()
                                + " (convert it in PyTorch, e.g. with .float())";
                    } else {
                        problem = "tensor '" + name + "' has dtype " + src.dtype().safetensorsName()
                                + " in the file, the model expects " + dst.dtype().safetensorsName();
                    }
                }
                if (problem != null) {
                    problems.add(problem);
                    firstBad = firstBad == null ? name : firstBad;
                } else {
                    toLoad.add(name);
                }
            }
            for (String name : f.names()) {
                if (!own.containsKey(name)) {
                    unexpected.add(name);
                    if (strict) {
                        problems.add("unexpected tensor '" + name + "' " + f.entry(name).shape() + " "
                                + f.entry(name).dtypeName() + " (the model has no such parameter or buffer)");
                        firstBad = firstBad == null ? name : firstBad;
                    }
                }
            }
            if (!problems.isEmpty()) {
                // the first few name the cause (a wrong model or group width makes every tensor wrong)
                int shown = Math.min(problems.size(), 5);
                String msg = (problems.size() == 1 ? "" : problems.size() + " problems loading into "
                        + module.getClass().getSimpleName() + ": ") + String.join("; ", problems.subList(0, shown))
                        + (problems.size() > shown ? "; ... and " + (problems.size() - shown) + " more" : "");
                throw WeightsFormatException.named(file, firstBad, msg);
            }
            try (TensorScope scope = TensorScope.open()) {
                Map<String, Tensor> state = new LinkedHashMap<>();
                for (String name : toLoad) {
                    Tensor t = f.load(name);
                    Safetensors.requireFinite(file, name, t);
                    Tensor dst = own.get(name);
                    state.put(name, t.dtype() == dst.dtype() ? t : t.toFloat32());
                }
                module.loadStateDict(state, false);
            }
            return new Report(List.copyOf(toLoad), List.copyOf(missing), List.copyOf(unexpected), List.copyOf(notes),
                    f.metadata());
        }
    }

    private static boolean isBatchesTracked(String name, Tensor dst) {
        return dst.dtype() == DType.INT64 && (name.equals("num_batches_tracked")
                || name.endsWith(".num_batches_tracked"));
    }

    /** Writes {@code module}'s state dict (parameters and buffers) with metadata {@code format=pt}, atomically. */
    public static void save(Module module, Path file) {
        save(module, file, Map.of());
    }

    public static void save(Module module, Path file, Map<String, String> metadata) {
        Map<String, String> md = new LinkedHashMap<>();
        md.put("format", "pt");
        md.putAll(metadata);
        Safetensors.write(file, module.stateDict(), md);
    }
}
