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
 * to the model's float32, with a note in the report. A failed load leaves the module as it was.
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
                    if (strict) {
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
                    if (widen) {
                        notes.add("tensor '" + name + "' converted from " + src.dtype().safetensorsName() + " to F32");
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
                                + f.entry(name).dtype().safetensorsName() + " (the model has no such parameter or buffer)");
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
