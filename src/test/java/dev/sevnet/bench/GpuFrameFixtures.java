package dev.sevnet.bench;

import dev.sevnet.data.RgbFrames;
import dev.sevnet.data.SyntheticMotionDataset;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;

/**
 * Writes four synthetic clips as folders of PNG frames ({@code img_00001.png}, ...) for {@code predict} on the GPU
 * machine, where the devpack has no FFmpeg (video decoding) and the JDK's JPEG codec lacks its native library:
 *
 * <pre>java -cp target/sevnet.jar:target/test-classes dev.sevnet.bench.GpuFrameFixtures gpu-fixtures/frames</pre>
 */
public final class GpuFrameFixtures {
    private GpuFrameFixtures() {
    }

    public static void main(String[] args) throws IOException {
        Path out = Path.of(args.length > 0 ? args[0] : "gpu-fixtures/frames");
        for (int i = 0; i < 4; i++) {
            int label = 2 * i;
            RgbFrames f = SyntheticMotionDataset.render(label, 1000 + i, 16, 64, 64);
            Path dir = out.resolve("clip" + i + "_" + SyntheticMotionDataset.classNamesList().get(label).replace(' ', '-'));
            Files.createDirectories(dir);
            for (int t = 0; t < f.count(); t++) {
                byte[] px = f.frame(t);
                BufferedImage im = new BufferedImage(f.width(), f.height(), BufferedImage.TYPE_INT_RGB);
                for (int y = 0; y < f.height(); y++) {
                    for (int x = 0; x < f.width(); x++) {
                        int j = (y * f.width() + x) * 3;
                        im.setRGB(x, y, ((px[j] & 255) << 16) | ((px[j + 1] & 255) << 8) | (px[j + 2] & 255));
                    }
                }
                ImageIO.write(im, "png", dir.resolve(String.format("img_%05d.png", t + 1)).toFile());
            }
        }
        System.out.println("wrote 4 PNG frame folders to " + out);
    }
}
