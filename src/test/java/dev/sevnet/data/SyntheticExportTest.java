package dev.sevnet.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SyntheticExportTest {
    @TempDir
    Path dir;

    @Test
    void writesMp4FilesAndListsThatReadBack() throws IOException {
        SyntheticMotionDataset template = SyntheticMotionDataset.builder().seed(4).frames(8).resolution(32).build();
        SyntheticExport.Summary s = SyntheticExport.write(dir, 8, 4, template);
        assertEquals(SyntheticMotionDataset.classNamesList(), AnnotationReaders.readLabelNames(s.labels()));
        List<VideoRecord> train = AnnotationReaders.readVideoList(s.trainList());
        List<VideoRecord> val = AnnotationReaders.readVideoList(dir.resolve("val.txt"));
        assertEquals(8, train.size());
        assertEquals(4, val.size());
        assertEquals("train/000003.mp4", train.get(3).path());
        assertEquals(3, train.get(3).label());
        assertTrue(Files.isRegularFile(dir.resolve("val/000001.mp4")));

        // decoded video matches the rendered frames up to compression error
        RgbFrames decoded = VideoReader.readAll(train.get(3).resolve(dir));
        RgbFrames rendered = template.render(3);
        assertEquals(8, decoded.count());
        double error = 0;
        for (int t = 0; t < 8; t++) {
            byte[] a = decoded.frame(t);
            byte[] b = rendered.frame(t);
            for (int i = 0; i < a.length; i++) {
                error += Math.abs((a[i] & 0xFF) - (b[i] & 0xFF));
            }
        }
        error /= 8.0 * 32 * 32 * 3;
        assertTrue(error < 20, "mean absolute error " + error);
    }
}
