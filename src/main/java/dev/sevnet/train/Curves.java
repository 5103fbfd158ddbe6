package dev.sevnet.train;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

import javax.imageio.ImageIO;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.ToDoubleFunction;

/** Draws curves.png: loss per epoch (left) and accuracy per epoch (right), headless. */
public final class Curves {
    private Curves() {
    }

    public static void write(List<EpochRecord> epochs, Path file, String title) throws IOException {
        System.setProperty("java.awt.headless", "true");
        XYChart loss = chart((title == null ? "" : title + ": ") + "loss", "loss");
        series(loss, "train loss", epochs, EpochRecord::trainLoss);
        series(loss, "val loss", epochs, EpochRecord::valLoss);
        XYChart acc = chart("accuracy", "accuracy");
        acc.getStyler().setYAxisMin(0.0).setYAxisMax(1.0);
        series(acc, "train top-1", epochs, EpochRecord::trainTop1);
        series(acc, "val top-1", epochs, EpochRecord::valTop1);
        series(acc, "val top-5", epochs, EpochRecord::valTop5);
        series(acc, "val mean class acc", epochs, EpochRecord::valMeanClassAcc);
        series(acc, "val mAP", epochs, EpochRecord::valMap);

        BufferedImage a = BitmapEncoder.getBufferedImage(loss);
        BufferedImage b = BitmapEncoder.getBufferedImage(acc);
        BufferedImage img = new BufferedImage(a.getWidth() + b.getWidth(), Math.max(a.getHeight(), b.getHeight()),
                BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        try {
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, img.getWidth(), img.getHeight());
            g.drawImage(a, 0, 0, null);
            g.drawImage(b, a.getWidth(), 0, null);
        } finally {
            g.dispose();
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        if (!ImageIO.write(img, "png", bytes)) {
            throw new IOException("no PNG writer available");
        }
        AtomicFiles.write(file, bytes.toByteArray());
    }

    private static XYChart chart(String title, String yTitle) {
        XYChart c = new XYChartBuilder().width(640).height(420).title(title).xAxisTitle("epoch").yAxisTitle(yTitle).build();
        c.getStyler().setChartBackgroundColor(Color.WHITE);
        c.getStyler().setLegendVisible(true);
        return c;
    }

    private static void series(XYChart c, String name, List<EpochRecord> epochs, ToDoubleFunction<EpochRecord> f) {
        List<Double> xs = new ArrayList<>();
        List<Double> ys = new ArrayList<>();
        for (EpochRecord r : epochs) {
            double v = f.applyAsDouble(r);
            if (!Double.isNaN(v) && !Double.isInfinite(v)) {
                xs.add((double) r.epoch());
                ys.add(v);
            }
        }
        if (!xs.isEmpty()) {
            XYSeries s = c.addSeries(name, xs, ys);
            s.setMarker(SeriesMarkers.CIRCLE);
        }
    }
}
