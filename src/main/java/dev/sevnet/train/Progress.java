package dev.sevnet.train;

import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Locale;

/**
 * A per-epoch progress display counted in clips, with clips/s and ETA. On a terminal it is a
 * progress bar (me.tongfei:progressbar); without one (CI, pipes, files) it degrades to a log line
 * every {@code logEverySeconds}, so logs stay readable. Quiet mode shows nothing.
 */
public final class Progress implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Progress.class);

    /** How to show progress. */
    public enum Mode {
        AUTO, BAR, LOG, QUIET;

        Mode resolve() {
            if (this != AUTO) {
                return this;
            }
            String env = System.getenv("SEVNET_PROGRESS");
            if (env != null) {
                try {
                    return Mode.valueOf(env.trim().toUpperCase(Locale.ROOT)).resolve();
                } catch (IllegalArgumentException ignored) {
                    // fall through
                }
            }
            return System.console() != null && System.getenv("CI") == null ? BAR : LOG;
        }
    }

    private final String task;
    private final long total;
    private final Mode mode;
    private final ProgressBar bar;
    private final long start = System.nanoTime();
    private final double logEverySeconds;
    private long done;
    private long lastLog = System.nanoTime();

    public Progress(String task, long totalClips, Mode mode, double logEverySeconds) {
        this.task = task;
        this.total = totalClips;
        this.logEverySeconds = logEverySeconds;
        Mode m = mode.resolve();
        ProgressBar b = null;
        if (m == Mode.BAR) {
            try {
                b = new ProgressBarBuilder()
                        .setTaskName(task)
                        .setInitialMax(totalClips)
                        .setUnit(" clips", 1)
                        .showSpeed()
                        .setSpeedUnit(java.time.temporal.ChronoUnit.SECONDS)
                        .setStyle(ProgressBarStyle.ASCII)
                        .setUpdateIntervalMillis(500)
                        .setMaxRenderedLength(100)
                        .setConsumer(new ConsoleProgressBarConsumer(System.err, 100))
                        .continuousUpdate()
                        .build();
            } catch (RuntimeException | LinkageError e) {
                LOG.debug("progress bar unavailable ({}); using log lines", e.toString());
                m = Mode.LOG;
            }
        }
        this.mode = m;
        this.bar = b;
    }

    public Progress(String task, long totalClips) {
        this(task, totalClips, Mode.AUTO, 15);
    }

    /** Counts {@code clips} more clips done; {@code extra} (e.g. the running loss) is shown beside the bar. */
    public void step(long clips, String extra) {
        done += clips;
        if (bar != null) {
            bar.stepBy(clips);
            if (extra != null) {
                bar.setExtraMessage(extra);
            }
        } else if (mode == Mode.LOG) {
            long now = System.nanoTime();
            if ((now - lastLog) / 1e9 >= logEverySeconds && done < total) {
                lastLog = now;
                double secs = (now - start) / 1e9;
                double rate = done / Math.max(secs, 1e-9);
                long eta = rate > 0 ? Math.round((total - done) / rate) : -1;
                LOG.info(String.format(Locale.ROOT, "%s %d/%d clips (%.0f%%), %.1f clips/s, ETA %s%s", task, done, total,
                        100.0 * done / Math.max(total, 1), rate, eta < 0 ? "?" : formatDuration(eta),
                        extra == null ? "" : ", " + extra));
            }
        }
    }

    public long done() {
        return done;
    }

    public double seconds() {
        return (System.nanoTime() - start) / 1e9;
    }

    @Override
    public void close() {
        if (bar != null) {
            bar.close();
        }
    }

    /** "1:05" or "1:02:03". */
    public static String formatDuration(long seconds) {
        Duration d = Duration.ofSeconds(Math.max(0, seconds));
        long h = d.toHours();
        int m = d.toMinutesPart();
        int s = d.toSecondsPart();
        return h > 0 ? String.format(Locale.ROOT, "%d:%02d:%02d", h, m, s) : String.format(Locale.ROOT, "%d:%02d", m, s);
    }
}
