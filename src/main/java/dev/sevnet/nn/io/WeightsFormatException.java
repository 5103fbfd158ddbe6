package dev.sevnet.nn.io;

import java.nio.file.Path;

/**
 * A weights or tensor file that cannot be used: corrupt, truncated, of an unsupported dtype or layout,
 * or not matching the model it is loaded into. The message names the file and, where one is at fault,
 * the tensor.
 */
public class WeightsFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final transient Path file;
    private final String tensor;

    public WeightsFormatException(Path file, String tensor, String message) {
        this(file, tensor, message, null);
    }

    public WeightsFormatException(Path file, String tensor, String message, Throwable cause) {
        this(file, tensor, format(file, tensor, message), cause, true);
    }

    private WeightsFormatException(Path file, String tensor, String fullMessage, Throwable cause, boolean raw) {
        super(fullMessage, cause);
        this.file = file;
        this.tensor = tensor;
    }

    /**
     * An error about {@code tensor} whose {@code message} already names it (and possibly others):
     * the message is prefixed with the file only.
     */
    static WeightsFormatException named(Path file, String tensor, String message) {
        return new WeightsFormatException(file, tensor, format(file, null, message), null, true);
    }

    private static String format(Path file, String tensor, String message) {
        StringBuilder b = new StringBuilder();
        if (file != null) {
            b.append(file).append(": ");
        }
        if (tensor != null) {
            b.append("tensor '").append(tensor).append("': ");
        }
        return b.append(message).toString();
    }

    /** The file at fault, or null when the data did not come from a file. */
    public Path file() {
        return file;
    }

    /** The tensor at fault, or null when the problem is not one tensor's (e.g. a bad header length). */
    public String tensor() {
        return tensor;
    }
}
