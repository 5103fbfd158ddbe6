package dev.sevnet.train;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which kind of list a file is: decided by the entries, not by its first line alone. */
class DatasetsListKindTest {
    @TempDir
    Path root;

    private Path list(String name, String text) throws IOException {
        Path p = root.resolve(name);
        Files.writeString(p, text);
        return p;
    }

    @Test
    void framesAndVideosAreToldApartDespiteABadFirstEntryOrAByteOrderMark() throws IOException {
        Files.createDirectories(root.resolve("a"));
        Files.createDirectories(root.resolve("b"));
        Files.write(root.resolve("x.mp4"), new byte[] {0});
        Files.write(root.resolve("y.mp4"), new byte[] {0});
        Files.write(root.resolve("z.mp4"), new byte[] {0});
        Files.createDirectories(root.resolve("folder.mp4"));

        assertTrue(Datasets.looksLikeFrameList(root, list("frames.txt", "a 16 1\nb 16 2\n")));
        // a UTF-8 byte order mark used to hide the first folder: total_frames was then read as a label
        assertTrue(Datasets.looksLikeFrameList(root, list("bom.txt", "\uFEFFa 16 1\nb 16 2\n")));
        // a missing first folder used to make it a video list
        assertTrue(Datasets.looksLikeFrameList(root, list("first-missing.txt", "gone 16 1\na 16 1\nb 16 2\n")));
        assertFalse(Datasets.looksLikeFrameList(root, list("videos.txt", "x.mp4 1\ny.mp4 2\n")));
        // one folder where a video is expected used to turn the whole list into a frame list (and refuse it)
        assertFalse(Datasets.looksLikeFrameList(root, list("first-dir.txt", "folder.mp4 1\nx.mp4 1\ny.mp4 2\nz.mp4 3\n")));
        // nothing on disk yet: the names and columns decide
        assertFalse(Datasets.looksLikeFrameList(root, list("missing-videos.txt", "p/q.webm 1 4\n")));
        assertTrue(Datasets.looksLikeFrameList(root, list("missing-frames.txt", "p/q 32 4\n")));
    }

    @Test
    void aMultiLabelListIsRefusedForSingleLabelTrainingInsteadOfCutToItsFirstLabels() throws IOException {
        Files.write(root.resolve("x.mp4"), new byte[] {0});
        Path l = list("multi.txt", "x.mp4 1\nx.mp4 2 7\n");
        TrainConfig single = TrainConfig.builder().dataRoot(root.toString()).trainList(l.toString()).valList(l.toString())
                .numClasses(10).build();
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> Datasets.train(single));
        assertTrue(e.getMessage().contains("entry 2") && e.getMessage().contains("--multi-label"), e.getMessage());
        TrainConfig multi = single.toBuilder().multiLabel(true).build();
        org.junit.jupiter.api.Assertions.assertEquals(2, Datasets.train(multi).size());
    }

    @Test
    void aFrameFolderGivenWithoutATemplateIsReadWhateverItsToolNamedTheFrames() throws IOException {
        String[][] cases = {{"img_00001.jpg", "img_{:05d}.jpg"}, {"00001.jpg", "{:05d}.jpg"}, {"000001.png", "{:06d}.png"},
            {"frame_00001.jpeg", "frame_{:05d}.jpeg"}, {"notes.txt", "img_{:05d}.jpg"}};
        for (String[] c : cases) {
            Path folder = root.resolve("f-" + c[0]);
            Files.createDirectories(folder);
            Files.write(folder.resolve(c[0]), new byte[] {1});
            org.junit.jupiter.api.Assertions.assertEquals(c[1], Datasets.frameTemplateOf(folder), c[0]);
        }
    }
}
