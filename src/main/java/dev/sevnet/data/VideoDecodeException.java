package dev.sevnet.data;

import java.nio.file.Path;

/** A video or frame folder that cannot be read: missing, truncated, corrupt or not a video at all. */
public class VideoDecodeException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final transient Path file;

    public VideoDecodeException(Path file, String reason, Throwable cause) {
        super("cannot decode " + file + ": " + reason, cause);
        this.file = file;
    }

    public VideoDecodeException(Path file, String reason) {
        this(file, reason, null);
    }

    /** The video file or frame folder that failed. */
    public Path file() {
        return file;
    }
}
