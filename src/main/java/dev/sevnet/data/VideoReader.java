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
     * (exact for mp4, estimated from duration for webm); decoding stops after the last frame needed.
     * A stream up to {@value #END_SLACK} frames shorter than announced (an edit list or decoder delay drops
     * the last frames of many valid mp4 files) is sampled again over the frames it really has, so no frame
     * is repeated; one shorter than that is truncated or damaged, and an error. Without any count in the
     * container the frames are kept while they fit {@value #DECODE_ALL_BUDGET_MB} MiB, else counted first
     * and the selected ones decoded in a second pass, so a long video never fills the heap.
     *
     * @throws VideoDecodeException when the file is missing, unreadable, truncated or yields no frame
     */
    public static RgbFrames read(Path file, FrameSelection selection) {
        if (!Files.isRegularFile(file)) {
            throw new VideoDecodeException(file, "no such file");
        }
        try (Ffmpeg.Decoder decoder = new Ffmpeg.Decoder(file)) {
            int announced = decoder.announcedFrames();
            return announced > 0 ? decodeSelected(file, decoder, selection, announced, true)
                    : decodeAllThenSelect(file, decoder, selection);
        } catch (VideoDecodeException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new VideoDecodeException(file, String.valueOf(e.getMessage()), e);
        }
    }

    /** Frames a stream may fall short of its container's count and still be read (see {@link #read}). */
    static final int END_SLACK = 2;
    static final int DECODE_ALL_BUDGET_MB = 256;

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
            int count, boolean countIsAnnounced) {
        int[] wanted = checkSelection(file, selection.select(count), count);
        // the distinct indices, sorted: memory follows the clip, never the count (a damaged header may state 2^31)
        int[] needed = Arrays.stream(wanted).distinct().sorted().toArray();
        int last = needed[needed.length - 1];
        byte[][] kept = new byte[needed.length][];
        int[] size = new int[2];
        int decoded = decoder.decode((i, w, h, rgb, stride) -> {
            size[0] = w;
            size[1] = h;
            int k = Arrays.binarySearch(needed, i);
            if (k >= 0) {
                kept[k] = Ffmpeg.copyRgb(rgb, stride, w, h);
            }
            return i < last;
        });
        if (decoded == 0) {
            throw new VideoDecodeException(file, "no decodable frame");
        }
        if (decoded <= last) {
            if (!countIsAnnounced || count - decoded > END_SLACK) {
                throw new VideoDecodeException(file, "truncated or damaged: the container announces " + count
                        + " frames, the stream ends after " + decoded);
            }
            try (Ffmpeg.Decoder again = new Ffmpeg.Decoder(file)) {
                return decodeSelected(file, again, selection, decoded, false);
            }
        }
        byte[][] out = new byte[wanted.length][];
        for (int i = 0; i < wanted.length; i++) {
            out[i] = kept[Arrays.binarySearch(needed, wanted[i])];
        }
        return new RgbFrames(size[0], size[1], Arrays.asList(out));
    }

    private static RgbFrames decodeAllThenSelect(Path file, Ffmpeg.Decoder decoder, FrameSelection selection) {
        List<byte[]> all = new ArrayList<>();
        int[] size = new int[2];
        long[] bytes = {0};
        long budget = (long) DECODE_ALL_BUDGET_MB << 20;
        int count = decoder.decode((i, w, h, rgb, stride) -> {
            size[0] = w;
            size[1] = h;
            if (bytes[0] <= budget) {
                byte[] frame = Ffmpeg.copyRgb(rgb, stride, w, h);
                bytes[0] += frame.length;
                all.add(frame);
            }
            return true;
        });
        if (count == 0) {
            throw new VideoDecodeException(file, "no decodable frame");
        }
        if (all.size() < count) { // too long to hold: now the count is exact, keep only the selected frames
            all.clear();
            try (Ffmpeg.Decoder again = new Ffmpeg.Decoder(file)) {
                return decodeSelected(file, again, selection, count, false);
            }
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
