package dev.sevnet.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.bytedeco.ffmpeg.global.avcodec;

/** Encodes RGB frames into a video file with the bundled FFmpeg (used by the synthetic export and tests). */
public final class VideoWriter {
    /** Container and codec pairs this project writes. */
    public enum Codec {
        H264_MP4("mp4", avcodec.AV_CODEC_ID_H264, ".mp4"),
        VP9_WEBM("webm", avcodec.AV_CODEC_ID_VP9, ".webm"),
        MPEG4_MP4("mp4", avcodec.AV_CODEC_ID_MPEG4, ".mp4");

        final String format;
        final int codecId;
        public final String extension;

        Codec(String format, int codecId, String extension) {
            this.format = format;
            this.codecId = codecId;
            this.extension = extension;
        }
    }

    private VideoWriter() {
    }

    /**
     * Writes {@code frames} to {@code file} atomically (temp file + rename). Width and height must
     * be even for the 4:2:0 codecs.
     *
     * @throws IOException when the encoder is missing from the FFmpeg build or writing fails
     */
    public static void write(Path file, RgbFrames frames, int fps, Codec codec) throws IOException {
        if (fps <= 0) {
            throw new IllegalArgumentException("frame rate must be positive, got " + fps);
        }
        if (frames.width() % 2 != 0 || frames.height() % 2 != 0) {
            throw new IllegalArgumentException("4:2:0 video needs even width and height, got "
                    + frames.width() + "x" + frames.height());
        }
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = dir.resolve("." + file.getFileName() + ".tmp" + codec.extension);
        try {
            Ffmpeg.encode(tmp, frames, fps, codec);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
