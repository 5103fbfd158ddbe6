package dev.sevnet.data;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Decodes video files (mp4/H.264, webm/VP9, anything the bundled FFmpeg reads) into RGB frames,
 * in-process through the JavaCPP FFmpeg preset. Thread-safe: every call opens its own decoder, so
 * loader workers decode in parallel.
 *
 * <p>Frames are converted to RGB24 by FFmpeg's swscale and copied into plain byte arrays; nothing
 * goes through Java2D.
 */
public final class VideoReader {
    /** Chooses which frames (0-based) to keep, given the video's frame count. */
    @FunctionalInterface
    public interface FrameSelection {
        int[] select(int frameCount);
    }

    private VideoReader() {
    }

    /** Every frame of the video. */
    public static RgbFrames readAll(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new VideoDecodeException(file, "no such file");
        }
        try (Ffmpeg.Decoder decoder = new Ffmpeg.Decoder(file)) {
            return decodeAllThenSelect(file, decoder, n -> {
                int[] all = new int[n];
                Arrays.setAll(all, i -> i);
                return all;
            });
        }
    }

    /**
     * The frames that {@code selection} picks. The selection is given the container's frame count
     * (exact for mp4, estimated from duration for webm); decoding stops after the last frame
     * needed. When the stream turns out shorter than announced, indices past its end get the last
     * decoded frame (so a clip always has the length the sampler asked for). Without any count in
     * the container the whole video is decoded first.
     *
     * @throws VideoDecodeException when the file is missing, unreadable or yields no frame
     */
    public static RgbFrames read(Path file, FrameSelection selection) {
        if (!Files.isRegularFile(file)) {
            throw new VideoDecodeException(file, "no such file");
        }
        try (Ffmpeg.Decoder decoder = new Ffmpeg.Decoder(file)) {
            int announced = decoder.announcedFrames();
            return announced > 0 ? decodeSelected(file, decoder, selection, announced)
                    : decodeAllThenSelect(file, decoder, selection);
        } catch (VideoDecodeException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new VideoDecodeException(file, String.valueOf(e.getMessage()), e);
        }
    }

    /** The exact frame count, by decoding the whole stream (the container's count may be an estimate). */
    public static int countFrames(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new VideoDecodeException(file, "no such file");
        }
        try (Ffmpeg.Decoder decoder = new Ffmpeg.Decoder(file)) {
            int n = decoder.decode((i, w, h, rgb, stride) -> true);
            if (n == 0) {
                throw new VideoDecodeException(file, "no decodable frame");
            }
            return n;
        }
    }

    private static RgbFrames decodeSelected(Path file, Ffmpeg.Decoder decoder, FrameSelection selection,
            int announced) {
        int[] wanted = checkSelection(file, selection.select(announced), announced);
        int last = Arrays.stream(wanted).max().orElseThrow();
        boolean[] needed = new boolean[last + 1];
        for (int w : wanted) {
            needed[w] = true;
        }
        byte[][] kept = new byte[last + 1][];
        byte[][] lastKept = new byte[1][];
        int[] size = new int[2];
        int decoded = decoder.decode((i, w, h, rgb, stride) -> {
            size[0] = w;
            size[1] = h;
            if (needed[i]) {
                kept[i] = Ffmpeg.copyRgb(rgb, stride, w, h);
                lastKept[0] = kept[i];
            }
            return i < last;
        });
        if (decoded == 0) {
            throw new VideoDecodeException(file, "no decodable frame");
        }
        byte[][] out = new byte[wanted.length][];
        for (int i = 0; i < wanted.length; i++) {
            out[i] = kept[wanted[i]] != null ? kept[wanted[i]] : lastKept[0];
            if (out[i] == null) {
                throw new VideoDecodeException(file, "stream ended after " + decoded + " of " + announced
                        + " announced frames, before frame " + wanted[i]);
            }
        }
        return new RgbFrames(size[0], size[1], Arrays.asList(out));
    }

    private static RgbFrames decodeAllThenSelect(Path file, Ffmpeg.Decoder decoder, FrameSelection selection) {
        List<byte[]> all = new ArrayList<>();
        int[] size = new int[2];
        decoder.decode((i, w, h, rgb, stride) -> {
            size[0] = w;
            size[1] = h;
            all.add(Ffmpeg.copyRgb(rgb, stride, w, h));
            return true;
        });
        if (all.isEmpty()) {
            throw new VideoDecodeException(file, "no decodable frame");
        }
        RgbFrames frames = new RgbFrames(size[0], size[1], all);
        return frames.select(checkSelection(file, selection.select(all.size()), all.size()));
    }

    private static int[] checkSelection(Path file, int[] wanted, int count) {
        if (wanted.length == 0) {
            throw new IllegalArgumentException("frame selection for " + file + " picked no frame");
        }
        for (int w : wanted) {
            if (w < 0 || w >= count) {
                throw new IllegalArgumentException("frame selection for " + file + " picked frame " + w
                        + " of a video with " + count + " frames");
            }
        }
        return wanted;
    }
}
