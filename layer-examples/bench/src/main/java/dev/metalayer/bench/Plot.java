package dev.metalayer.bench;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.imageio.ImageIO;

/**
 * A latency-by-percentile chart (the HdrHistogram style: the x axis is {@code log10(1 / (1 - p))}, so
 * 90 %, 99 % and 99.9 % are evenly spaced) drawn with Java2D and written as PNG. Headless; no library.
 */
final class Plot {
  private static final int WIDTH = 900;
  private static final int HEIGHT = 520;
  private static final int LEFT = 80;
  private static final int RIGHT = 30;
  private static final int TOP = 50;
  private static final int BOTTOM = 70;
  /** Blue, green, grey, red, purple: with direct, nginx, floor, layer the layer is red. */
  private static final Color[] COLORS = {new Color(0x1f77b4), new Color(0x2ca02c), new Color(0x8c8c8c),
      new Color(0xd62728), new Color(0x9467bd)};

  private Plot() {}

  /**
   * @param series sorted latency samples (ns) by label, drawn in this order
   * @param maxNines the last percentile drawn: 3 is 99.9 %
   */
  static void percentiles(Path file, String title, Map<String, long[]> series, int maxNines) throws IOException {
    System.setProperty("java.awt.headless", "true");
    double xMax = maxNines;
    Map<String, double[][]> curves = new LinkedHashMap<>();
    double yMax = 0;
    for (Map.Entry<String, long[]> e : series.entrySet()) {
      long[] sorted = e.getValue();
      if (sorted.length == 0) {
        continue;
      }
      int steps = 300;
      double[][] pts = new double[steps + 1][2];
      for (int s = 0; s <= steps; s++) {
        double x = xMax * s / steps;
        double p = 100.0 * (1 - Math.pow(10, -x));
        double y = Latencies.percentileMillis(sorted, p);
        pts[s][0] = x;
        pts[s][1] = y;
        yMax = Math.max(yMax, y);
      }
      curves.put(e.getKey(), pts);
    }
    yMax = niceCeiling(yMax * 1.05);

    BufferedImage img = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    try {
      g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
      g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
      g.setColor(Color.WHITE);
      g.fillRect(0, 0, WIDTH, HEIGHT);
      int plotW = WIDTH - LEFT - RIGHT;
      int plotH = HEIGHT - TOP - BOTTOM;

      g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
      g.setColor(Color.BLACK);
      g.drawString(title, LEFT, 28);

      g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
      for (int i = 0; i <= 5; i++) {
        double v = yMax * i / 5;
        int y = TOP + plotH - (int) Math.round(plotH * i / 5.0);
        g.setColor(new Color(0xe0e0e0));
        g.drawLine(LEFT, y, LEFT + plotW, y);
        g.setColor(Color.DARK_GRAY);
        String label = String.format(v < 10 ? "%.2f" : "%.1f", v);
        g.drawString(label, LEFT - 8 - g.getFontMetrics().stringWidth(label), y + 4);
      }
      String[] xLabels = {"0%", "90%", "99%", "99.9%", "99.99%", "99.999%"};
      for (int i = 0; i <= maxNines; i++) {
        int x = LEFT + (int) Math.round(plotW * i / xMax);
        g.setColor(new Color(0xe0e0e0));
        g.drawLine(x, TOP, x, TOP + plotH);
        g.setColor(Color.DARK_GRAY);
        g.drawString(xLabels[i], x - g.getFontMetrics().stringWidth(xLabels[i]) / 2, TOP + plotH + 18);
      }
      g.setColor(Color.BLACK);
      g.drawRect(LEFT, TOP, plotW, plotH);
      g.drawString("percentile", LEFT + plotW / 2 - 30, HEIGHT - 25);
      Graphics2D rotated = (Graphics2D) g.create();
      rotated.rotate(-Math.PI / 2);
      rotated.drawString("latency (ms), from intended send time", -(TOP + plotH / 2 + 110), 22);
      rotated.dispose();

      int c = 0;
      int legendY = TOP + 18;
      for (Map.Entry<String, double[][]> e : curves.entrySet()) {
        Color color = COLORS[c++ % COLORS.length];
        g.setColor(color);
        g.setStroke(new BasicStroke(2.2f));
        Path2D path = new Path2D.Double();
        double[][] pts = e.getValue();
        for (int i = 0; i < pts.length; i++) {
          double x = LEFT + plotW * pts[i][0] / xMax;
          double y = TOP + plotH - plotH * Math.min(pts[i][1], yMax) / yMax;
          if (i == 0) {
            path.moveTo(x, y);
          } else {
            path.lineTo(x, y);
          }
        }
        g.draw(path);
        g.fillRect(LEFT + 14, legendY - 9, 18, 4);
        g.setColor(Color.BLACK);
        g.drawString(e.getKey(), LEFT + 40, legendY - 3);
        legendY += 18;
      }
    } finally {
      g.dispose();
    }
    ImageIO.write(img, "png", file.toFile());
  }

  private static double niceCeiling(double v) {
    if (v <= 0 || Double.isNaN(v)) {
      return 1;
    }
    double magnitude = Math.pow(10, Math.floor(Math.log10(v)));
    for (double step : new double[] {1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10}) {
      if (step * magnitude >= v) {
        return step * magnitude;
      }
    }
    return 10 * magnitude;
  }
}
