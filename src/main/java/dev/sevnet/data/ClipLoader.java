package dev.sevnet.data;

import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import java.nio.FloatBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Random;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads batches from a {@link ClipSource} with decoding and augmentation on worker threads.
 *
 * <p>Deterministic for a seed whatever the number of workers: the epoch's order is a shuffle
 * seeded by {@code (seed, epoch)}, each sample's random state is seeded by {@code (seed, epoch,
 * index)}, and samples are consumed in order (workers run ahead by at most the prefetch window,
 * results are taken in sequence). A sample that fails with {@link VideoDecodeException} is skipped
 * with one warning line naming it and counted in {@link Epoch#skippedCount()}; the batch is filled
 * from the next samples instead.
 *
 * <p>Worker threads build heap arrays only; the batch tensor is made on the consumer thread in
 * {@link Epoch#next()}, and the {@link Batch} owns it.
 */
public final class ClipLoader implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ClipLoader.class);
    private static final AtomicInteger POOL_NUMBER = new AtomicInteger();

    private final ClipSource source;
    private final int batchSize;
    private final int workers;
    private final int prefetchBatches;
    private final long seed;
    private final boolean train;
    private final boolean shuffle;
    private final boolean dropLast;
    private final boolean multiView;
    private final ExecutorService pool;

    private ClipLoader(Builder b) {
        this.source = Objects.requireNonNull(b.source, "source");
        this.batchSize = b.batchSize;
        this.workers = b.workers;
        this.prefetchBatches = b.prefetchBatches;
        this.seed = b.seed;
        this.train = b.train;
        this.shuffle = b.shuffle == null ? b.train : b.shuffle;
        this.dropLast = b.dropLast;
        this.multiView = b.multiView;
        if (batchSize <= 0 || workers < 0 || prefetchBatches <= 0) {
            throw new IllegalArgumentException("need batch size > 0, workers >= 0, prefetch > 0; got " + batchSize
                    + ", " + workers + ", " + prefetchBatches);
        }
        if (multiView && train) {
            throw new IllegalArgumentException("multi-view loading is a test mode; set train(false)");
        }
        int poolId = POOL_NUMBER.incrementAndGet();
        AtomicInteger threadId = new AtomicInteger();
        ThreadFactory factory = r -> {
            Thread t = new Thread(r, "clip-loader-" + poolId + "-" + threadId.incrementAndGet());
            t.setDaemon(true); // a forgotten loader never keeps the JVM alive
            return t;
        };
        this.pool = workers == 0 ? null : Executors.newFixedThreadPool(workers, factory);
    }

    public static Builder builder(ClipSource source) {
        return new Builder(source);
    }

    public ClipSource source() {
        return source;
    }

    public int batchSize() {
        return batchSize;
    }

    /** Batches in one epoch when no sample is skipped. */
    public int batchesPerEpoch() {
        int n = source.size();
        return dropLast ? n / batchSize : (n + batchSize - 1) / batchSize;
    }

    /** The sample order of {@code epoch} (a permutation of 0..size-1, or identity without shuffling). */
    public int[] order(int epoch) {
        int n = source.size();
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        if (shuffle) {
            Random r = new Random(Seeds.mix(seed, epoch, -1));
            for (int i = n - 1; i > 0; i--) {
                int j = r.nextInt(i + 1);
                int tmp = order[i];
                order[i] = order[j];
                order[j] = tmp;
            }
        }
        return order;
    }

    /** Starts loading epoch {@code epoch}; close the returned epoch (try-with-resources) when done. */
    public Epoch epoch(int epoch) {
        return new Epoch(epoch);
    }

    @Override
    public void close() {
        if (pool != null) {
            pool.shutdownNow();
            // a source's load() may still run after the interrupt: wait (bounded) so that a caller closing what the
            // source reads from right after training (a database connection, say) does not pull it from under it
            boolean interrupted = Thread.interrupted();
            try {
                if (!pool.awaitTermination(CLOSE_WAIT_SECONDS, java.util.concurrent.TimeUnit.SECONDS)) {
                    LOG.warn("clip loader workers still running {} s after close (a source's load() ignores "
                            + "interrupts)", CLOSE_WAIT_SECONDS);
                }
            } catch (InterruptedException e) {
                interrupted = true;
            } finally {
                if (interrupted) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    /** How long close() waits for workers to finish their current sample. */
    static final long CLOSE_WAIT_SECONDS = 30;

    /** What a worker made of one sample: its clips (one, or every view), or the failure that skips it. */
    private record Loaded(int index, List<Clip> clips, VideoDecodeException failure) {
    }

    private Loaded loadSample(int epoch, int index) {
        try {
            if (multiView) {
                return new Loaded(index, source.loadViews(index), null);
            }
            Random rng = new Random(Seeds.mix(seed, epoch, index));
            return new Loaded(index, List.of(source.load(index, rng, train)), null);
        } catch (VideoDecodeException e) {
            return new Loaded(index, null, e);
        }
    }

    /** One pass over the data: an iterator of batches plus the count of skipped samples. */
    public final class Epoch implements Iterator<Batch>, AutoCloseable {
        private final int epoch;
        private final int[] order;
        private final ArrayDeque<Future<Loaded>> inFlight = new ArrayDeque<>();
        private final List<String> skipped = new ArrayList<>();
        private int nextToSubmit;
        private Batch pending;
        private boolean exhausted;
        private boolean closed;

        private Epoch(int epoch) {
            this.epoch = epoch;
            this.order = order(epoch);
            fillWindow();
        }

        public int epochNumber() {
            return epoch;
        }

        /** Samples skipped so far in this epoch because they could not be decoded. */
        public int skippedCount() {
            return skipped.size();
        }

        /** Names of the skipped samples, in the order met. */
        public List<String> skipped() {
            return List.copyOf(skipped);
        }

        @Override
        public boolean hasNext() {
            if (pending == null && !exhausted) {
                pending = assemble();
                exhausted = pending == null;
            }
            return pending != null;
        }

        /** The next batch; the caller owns it and must close it. */
        @Override
        public Batch next() {
            if (!hasNext()) {
                throw new NoSuchElementException("epoch " + epoch + " has no more batches");
            }
            Batch b = pending;
            pending = null;
            return b;
        }

        private void fillWindow() {
            int window = prefetchBatches * batchSize;
            while (!closed && inFlight.size() < window && nextToSubmit < order.length) {
                int index = order[nextToSubmit++];
                if (pool == null) {
                    inFlight.add(CompletableFuture.completedFuture(loadSample(epoch, index)));
                } else {
                    inFlight.add(pool.submit(() -> loadSample(epoch, index)));
                }
            }
        }

        private Loaded take() {
            Future<Loaded> f = inFlight.poll();
            if (f == null) {
                return null;
            }
            try {
                return f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while loading clips", e);
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                if (cause instanceof RuntimeException re) {
                    throw re;
                }
                if (cause instanceof Error err) {
                    throw err;
                }
                throw new IllegalStateException("loading a clip failed", cause);
            } catch (CancellationException e) {
                return null;
            } finally {
                fillWindow();
            }
        }

        private Batch assemble() {
            if (closed) {
                return null;
            }
            List<Loaded> samples = new ArrayList<>(batchSize);
            while (samples.size() < batchSize) {
                Loaded l = take();
                if (l == null) {
                    break;
                }
                if (l.failure != null) {
                    skipped.add(source.describe(l.index));
                    LOG.warn("skipping sample {}: {}", l.index, l.failure.getMessage());
                    continue;
                }
                samples.add(l);
            }
            if (samples.isEmpty() || (dropLast && samples.size() < batchSize)) {
                return null;
            }
            return toBatch(samples);
        }

        private Batch toBatch(List<Loaded> samples) {
            Clip first = samples.get(0).clips.get(0);
            int views = samples.get(0).clips.size();
            int clipSize = first.data().length;
            int[] indices = new int[samples.size()];
            int[][] labelSets = new int[samples.size()][];
            Tensor t = TensorScope.detach(Tensor.empty(
                    Shape.of(samples.size() * views, 3, first.frames(), first.height(), first.width())));
            try {
                FloatBuffer buf = t.floatBuffer();
                int offset = 0;
                for (int i = 0; i < samples.size(); i++) {
                    Loaded l = samples.get(i);
                    indices[i] = l.index;
                    labelSets[i] = l.clips.get(0).labels();
                    if (l.clips.size() != views) {
                        throw new IllegalStateException(source.describe(l.index) + " gave " + l.clips.size()
                                + " views, expected " + views);
                    }
                    for (Clip c : l.clips) {
                        if (c.data().length != clipSize || c.frames() != first.frames() || c.height() != first.height()) {
                            throw new IllegalStateException(source.describe(l.index) + " gave a clip of " + c
                                    + ", the batch holds " + first);
                        }
                        buf.put(offset, c.data());
                        offset += clipSize;
                    }
                }
            } catch (RuntimeException e) {
                t.close();
                throw e;
            }
            return new Batch(t, indices, labelSets, source.numClasses(), views);
        }

        /** Stops this epoch's outstanding work and frees an unconsumed batch. */
        @Override
        public void close() {
            if (closed) {
                return;
            }
            closed = true;
            for (Future<Loaded> f : inFlight) {
                f.cancel(true);
            }
            inFlight.clear();
            if (pending != null) {
                pending.close();
                pending = null;
            }
        }
    }

    /** Loader configuration; defaults: batch 8, 2 workers, 2 batches prefetched, training order. */
    public static final class Builder {
        private final ClipSource source;
        private int batchSize = 8;
        private int workers = 2;
        private int prefetchBatches = 2;
        private long seed;
        private boolean train = true;
        private Boolean shuffle;
        private boolean dropLast;
        private boolean multiView;

        private Builder(ClipSource source) {
            this.source = source;
        }

        public Builder batchSize(int batchSize) {
            this.batchSize = batchSize;
            return this;
        }

        /** Worker threads; 0 loads on the consumer thread (handy for debugging). */
        public Builder workers(int workers) {
            this.workers = workers;
            return this;
        }

        /** How many batches workers may prepare ahead of the consumer. */
        public Builder prefetchBatches(int batches) {
            this.prefetchBatches = batches;
            return this;
        }

        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        /** Training clips (random sampling and augmentation) or the deterministic test view. */
        public Builder train(boolean train) {
            this.train = train;
            return this;
        }

        /** Shuffle every epoch; default: on for training, off for testing. */
        public Builder shuffle(boolean shuffle) {
            this.shuffle = shuffle;
            return this;
        }

        /** Drop the last batch when it is incomplete. */
        public Builder dropLast(boolean dropLast) {
            this.dropLast = dropLast;
            return this;
        }

        /** Test mode with every view of every sample ({@link ClipSource#loadViews}). */
        public Builder multiView(boolean multiView) {
            this.multiView = multiView;
            return this;
        }

        public ClipLoader build() {
            return new ClipLoader(this);
        }
    }
}
