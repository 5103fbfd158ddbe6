package dev.sevnet.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VideoIoTest {
    @TempDir
    Path dir;

    /** Frames of flat colour whose red channel encodes the frame number, easy to check after lossy coding. */
    static RgbFrames rampFrames(int count, int width, int height) {
        List<byte[]> frames = new ArrayList<>();
        for (int t = 0; t < count; t++) {
            byte[] f = new byte[width * height * 3];
            for (int p = 0; p < width * height; p++) {
                f[p * 3] = (byte) (20 + t * 20);
                f[p * 3 + 1] = (byte) 128;
                f[p * 3 + 2] = (byte) (200 - t * 10);
            }
            frames.add(f);
        }
        return new RgbFrames(width, height, frames);
    }

    static void assertFrameColour(RgbFrames frames, int i, int expectedFrameNumber) {
        int[] px = frames.pixel(i, frames.width() / 2, frames.height() / 2);
        assertEquals(20 + expectedFrameNumber * 20, px[0], 8, "red of frame " + i);
        assertEquals(128, px[1], 8, "green of frame " + i);
        assertEquals(200 - expectedFrameNumber * 10, px[2], 8, "blue of frame " + i);
    }

    @Test
    void mp4H264RoundTrip() throws IOException {
        Path file = dir.resolve("clip.mp4");
        VideoWriter.write(file, rampFrames(10, 64, 48), 10, VideoWriter.Codec.H264_MP4);
        RgbFrames all = VideoReader.readAll(file);
        assertEquals(10, all.count());
        assertEquals(64, all.width());
        assertEquals(48, all.height());
        for (int i = 0; i < 10; i++) {
            assertFrameColour(all, i, i);
        }
        RgbFrames some = VideoReader.read(file, n -> new int[] {n - 1, 0, 3, 3});
        assertEquals(4, some.count());
        assertFrameColour(some, 0, 9);
        assertFrameColour(some, 1, 0);
        assertFrameColour(some, 2, 3);
        assertFrameColour(some, 3, 3);
        assertEquals(10, VideoReader.countFrames(file));
    }

    @Test
    void webmVp9RoundTrip() throws IOException {
        // the pinned FFmpeg preset ships libvpx; Something-Something V2 is webm/VP9, so it must work
        Path file = dir.resolve("clip.webm");
        VideoWriter.write(file, rampFrames(6, 32, 32), 10, VideoWriter.Codec.VP9_WEBM);
        RgbFrames all = VideoReader.readAll(file);
        assertEquals(6, all.count());
        for (int i = 0; i < 6; i++) {
            assertFrameColour(all, i, i);
        }
    }

    @Test
    void truncatedVideoFailsNamingTheFile() throws IOException {
        Path good = dir.resolve("good.mp4");
        VideoWriter.write(good, rampFrames(10, 64, 48), 10, VideoWriter.Codec.H264_MP4);
        byte[] bytes = Files.readAllBytes(good);
        Path truncated = dir.resolve("truncated.mp4");
        Files.write(truncated, Arrays.copyOf(bytes, bytes.length / 2));
        VideoDecodeException e = assertThrows(VideoDecodeException.class, () -> VideoReader.readAll(truncated));
        assertEquals(truncated, e.file());
        assertTrue(e.getMessage().contains("truncated.mp4"), e.getMessage());
    }

    /** The mp4 with its (single) stts entry's sample count, the count FFmpeg announces, set to {@code count}. */
    private Path withAnnouncedFrames(Path mp4, int count, String name) throws IOException {
        byte[] b = Files.readAllBytes(mp4);
        int i = indexOf(b, "stts".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        assertTrue(i > 0 && java.nio.ByteBuffer.wrap(b, i + 8, 4).getInt() == 1, "one stts entry");
        java.nio.ByteBuffer.wrap(b, i + 12, 4).putInt(count);
        Path out = dir.resolve(name);
        Files.write(out, b);
        return out;
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    @Test
    void aHeaderAnnouncingFramesTheStreamLacksIsAnErrorNotAHugeAllocationOrRepeatedFrames() throws IOException {
        Path good = dir.resolve("ten.mp4");
        VideoWriter.write(good, rampFrames(10, 64, 48), 10, VideoWriter.Codec.H264_MP4);
        // a damaged count of 2^31 - 16: decoding used to size arrays by it (OutOfMemoryError, the whole run lost)
        Path huge = withAnnouncedFrames(good, 0x7ffffff0, "huge.mp4");
        VideoDecodeException e = assertThrows(VideoDecodeException.class,
                () -> VideoReader.read(huge, n -> new int[] {0, n / 2, n - 1}));
        assertTrue(e.getMessage().contains("truncated or damaged") && e.getMessage().contains("huge.mp4"),
                e.getMessage());
        // many frames short: truncated, an error (it used to repeat the last decoded frame silently)
        Path cut = withAnnouncedFrames(good, 20, "cut.mp4");
        e = assertThrows(VideoDecodeException.class, () -> VideoReader.read(cut, n -> new int[] {n - 1}));
        assertTrue(e.getMessage().contains("announces 20 frames"), e.getMessage());
        // one frame short (what an edit list does to many valid files): sampled again over the frames there are
        Path oneShort = withAnnouncedFrames(good, 11, "one-short.mp4");
        RgbFrames spread = VideoReader.read(oneShort, n -> new int[] {0, n / 2, n - 1});
        assertFrameColour(spread, 0, 0);
        assertFrameColour(spread, 1, 5);
        assertFrameColour(spread, 2, 9);
    }

    @Test
    void randomBytesAndMissingFilesFailNamingTheFile() throws IOException {
        Path junk = dir.resolve("junk.mp4");
        byte[] noise = new byte[20_000];
        new Random(1).nextBytes(noise);
        Files.write(junk, noise);
        VideoDecodeException e = assertThrows(VideoDecodeException.class, () -> VideoReader.readAll(junk));
        assertTrue(e.getMessage().contains("junk.mp4"), e.getMessage());

        Path missing = dir.resolve("missing.mp4");
        e = assertThrows(VideoDecodeException.class, () -> VideoReader.readAll(missing));
        assertTrue(e.getMessage().contains("missing.mp4") && e.getMessage().contains("no such file"), e.getMessage());
    }

    @Test
    void frameFoldersWithMmactionAndSsv1Templates() throws IOException {
        RgbFrames source = rampFrames(5, 40, 30);
        Path mm = dir.resolve("mm");
        Path ss = dir.resolve("ss");
        Files.createDirectories(mm);
        Files.createDirectories(ss);
        FrameFolderReader mmReader = FrameFolderReader.mmaction();
        FrameFolderReader ssReader = new FrameFolderReader(FrameFolderReader.SSV1_TEMPLATE, 1);
        assertEquals("img_00001.jpg", mmReader.fileName(0));
        assertEquals("00012.jpg", ssReader.fileName(11));
        assertEquals("frame_7.png", new FrameFolderReader("frame_{}.png", 0).fileName(7));
        for (int t = 0; t < source.count(); t++) {
            BufferedImage img = new BufferedImage(40, 30, BufferedImage.TYPE_INT_RGB);
            int[] px = source.pixel(t, 0, 0);
            for (int y = 0; y < 30; y++) {
                for (int x = 0; x < 40; x++) {
                    img.setRGB(x, y, (px[0] << 16) | (px[1] << 8) | px[2]);
                }
            }
            ImageIO.write(img, "jpg", mm.resolve(mmReader.fileName(t)).toFile());
            ImageIO.write(img, "jpg", ss.resolve(ssReader.fileName(t)).toFile());
        }
        Files.writeString(mm.resolve("notes.txt"), "not a frame");
        assertEquals(5, mmReader.countFrames(mm));
        assertEquals(5, ssReader.countFrames(ss));
        RgbFrames read = mmReader.read(mm, new int[] {4, 0, 2, 2});
        assertEquals(40, read.width());
        assertEquals(30, read.height());
        assertFrameColour(read, 0, 4);
        assertFrameColour(read, 1, 0);
        assertFrameColour(read, 3, 2);
        assertFrameColour(ssReader.read(ss, new int[] {1}), 0, 1);

        VideoDecodeException e = assertThrows(VideoDecodeException.class, () -> mmReader.read(mm, new int[] {9}));
        assertTrue(e.getMessage().contains("img_00010.jpg"), e.getMessage());
        Files.write(mm.resolve(mmReader.fileName(1)), new byte[] {1, 2, 3});
        assertThrows(VideoDecodeException.class, () -> mmReader.read(mm, new int[] {1}));
        assertThrows(VideoDecodeException.class, () -> mmReader.countFrames(dir.resolve("nope")));
    }

    @Test
    void aFrameFolderWithAGapIsAnErrorNamingTheMissingFrames() throws IOException {
        FrameFolderReader reader = FrameFolderReader.mmaction();
        Path gap = dir.resolve("gap");
        Files.createDirectories(gap);
        for (int t = 0; t < 16; t++) {
            if (t != 7) {
                Files.write(gap.resolve(reader.fileName(t)), new byte[] {1});
            }
        }
        // counting the 15 files used to give 15: img_00016 was never read, and sampling crossed the gap
        VideoDecodeException e = assertThrows(VideoDecodeException.class, () -> reader.countFrames(gap));
        assertTrue(e.getMessage().contains("missing img_00008.jpg") && e.getMessage().contains("gap"), e.getMessage());
        Files.write(gap.resolve(reader.fileName(7)), new byte[] {1});
        assertEquals(16, reader.countFrames(gap));
        Path zeroBased = dir.resolve("zero-based");
        Files.createDirectories(zeroBased);
        for (int t = 0; t < 3; t++) {
            Files.write(zeroBased.resolve(String.format("img_%05d.jpg", t)), new byte[] {1});
        }
        e = assertThrows(VideoDecodeException.class, () -> reader.countFrames(zeroBased));
        assertTrue(e.getMessage().contains("not numbered from 1"), e.getMessage());
    }
}
