package dev.sevnet.cli;

import dev.sevnet.autograd.F;
import dev.sevnet.autograd.GradMode;
import dev.sevnet.autograd.Var;
import dev.sevnet.nn.Module;
import dev.sevnet.nn.Parameter;
import dev.sevnet.nn.SevNet;
import dev.sevnet.nn.SevNetConfig;
import dev.sevnet.nn.io.Npy;
import dev.sevnet.nn.io.Safetensors;
import dev.sevnet.nn.io.WeightsFormatException;
import dev.sevnet.nn.io.WeightsLoader;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code sevnet parity}: runs a SEVNet on a clip with weights from a PyTorch {@code state_dict} and
 * writes the logits (and optionally every parameter's gradient), so a port can be checked against
 * PyTorch. Dropout is always off; {@code --train} uses batch statistics in batch norm (and updates the
 * running statistics, which {@code --buffers} writes out).
 */
@Command(name = "parity", mixinStandardHelpOptions = true,
        description = "Forward (and optionally backward) a SEVNet with PyTorch weights, writing logits and gradients "
                + "to compare with PyTorch.")
public final class ParityCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", required = true, description = "Model name: sevnet-g<g>, sevnet-se-g<g>, r2plus1d-g<g>, r3d-g<g>.")
    String model;

    @Option(names = "--classes", required = true, description = "Number of classes K.")
    int classes;

    @Option(names = "--weights", required = true, description = "safetensors state_dict (PyTorch names), e.g. from "
            + "safetensors.torch.save_file(model.state_dict(), ...).")
    Path weights;

    @Option(names = "--input", required = true, description = "float32 .npy clip batch [N, 3, T, H, W].")
    Path input;

    @Option(names = "--logits", required = true, description = "Output .npy for the float32 logits [N, K].")
    Path logits;

    @Option(names = "--train", description = "Train mode: batch norm with batch statistics (dropout stays off).")
    boolean train;

    @Option(names = "--label", split = ",", description = "One class index per clip: backward of the batch-mean "
            + "softmax cross-entropy (needs --grads).")
    List<Long> labels;

    @Option(names = "--grads", description = "Output safetensors with every parameter's gradient under its name.")
    Path grads;

    @Option(names = "--buffers", description = "Output safetensors with every buffer (BN running stats) after the forward.")
    Path buffers;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        try {
            run(out, err);
            out.flush();
            return 0;
        } catch (WeightsFormatException | IllegalArgumentException | IllegalStateException | UncheckedIOException e) {
            err.println("sevnet parity: " + oneLine(e.getMessage()));
            err.flush();
            return e instanceof IllegalStateException ? 1 : 2; // bad input: 2, as in every command
        } catch (RuntimeException e) {
            err.println("sevnet parity: " + e.getClass().getSimpleName() + ": " + oneLine(e.getMessage()));
            err.flush();
            return 1;
        }
    }

    private static String oneLine(String s) {
        return s == null ? "failed" : s.replace('\n', ' ').replace('\r', ' ');
    }

    private void run(PrintWriter out, PrintWriter err) {
        if ((labels == null) != (grads == null)) {
            throw new IllegalArgumentException("--label and --grads go together: the labels define the loss whose "
                    + "gradients --grads writes");
        }
        // dropout is never active in a parity run (in train mode it would make the result random)
        SevNetConfig config = SevNetConfig.parse(model, classes).toBuilder().dropout(0).build();
        try (TensorScope scope = TensorScope.open(); SevNet net = SevNet.create(config, 0)) {
            WeightsLoader.Report report = WeightsLoader.load(net, weights, true);
            report.notes().forEach(n -> err.println("note: " + n));
            Tensor x = Npy.read(input);
            if (x.dtype() != DType.FLOAT32 || x.rank() != 5 || x.dim(1) != 3) {
                throw new IllegalArgumentException(input + ": input must be float32 [N, 3, T, H, W], got "
                        + x.dtype() + " " + x.shape());
            }
            long n = x.dim(0);
            Tensor labelTensor = null;
            if (labels != null) {
                if (labels.size() != n) {
                    throw new IllegalArgumentException("--label has " + labels.size() + " labels for " + n + " clips");
                }
                long[] l = new long[labels.size()];
                for (int i = 0; i < l.length; i++) {
                    l[i] = labels.get(i);
                    if (l[i] < 0 || l[i] >= classes) {
                        throw new IllegalArgumentException("label " + l[i] + " is outside [0, " + classes + ")");
                    }
                }
                labelTensor = Tensor.ofLongs(l, l.length);
            }
            net.train(train);
            Var y;
            if (labelTensor == null) {
                try (GradMode.Guard g = GradMode.noGrad()) {
                    y = net.forward(Var.of(x));
                }
            } else {
                net.zeroGrad();
                y = net.forward(Var.of(x));
                Var loss = F.softmaxCrossEntropy(y, labelTensor);
                loss.backward();
                out.printf(Locale.ROOT, "loss %.8g%n", loss.item());
                Safetensors.write(grads, gradients(net), Map.of("format", "pt"));
                out.println("gradients of " + net.namedParameters().size() + " parameters -> " + grads);
            }
            Npy.write(logits, y.value());
            out.println("logits " + y.shape() + " (" + (train ? "train" : "eval") + " mode) -> " + logits);
            if (buffers != null) {
                Safetensors.write(buffers, net.namedBuffers(), Map.of("format", "pt"));
                out.println("buffers -> " + buffers);
            }
        }
    }

    /** Every parameter's gradient by full name (zeros for a parameter the loss does not reach). */
    private static Map<String, Tensor> gradients(Module net) {
        Map<String, Tensor> g = new LinkedHashMap<>();
        for (Map.Entry<String, Parameter> e : net.namedParameters().entrySet()) {
            Tensor grad = e.getValue().grad();
            g.put(e.getKey(), grad != null ? grad : Tensor.zeros(e.getValue().shape()));
        }
        return g;
    }
}
