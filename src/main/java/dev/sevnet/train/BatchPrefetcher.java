package dev.sevnet.train;

import dev.sevnet.backend.Uploader;
import dev.sevnet.data.Batch;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Batches assembled and started on their way to the device by a thread of their own, one ahead of the batch being
 * computed: while the device runs step k, this thread takes batch k+1 from the loader (the host-side copy of the
 * decoded clips into one tensor) and starts its upload ({@link Uploader#start}); the training loop takes it
 * ready. The order is the source's, so the run is the same as without prefetching, bit for bit.
 *
 * <p>The source iterator is used by the prefetch thread only, from construction until the end of the source is
 * reached or {@link #close} returns. An exception of the source or the uploader is rethrown by {@link #next} in the
 * order it happened. {@code close} stops the thread and closes every batch not handed out.
 */
final class BatchPrefetcher implements Iterator<BatchPrefetcher.Item>, AutoCloseable {

    /** A host batch and its started upload of {@link Batch#clips()} (null: none); closing it closes both. */
    record Item(Batch batch, Uploader.Upload clips) implements AutoCloseable {
        @Override
        public void close() {
            try {
                if (clips != null) {
                    clips.close();
                }
            } finally {
                batch.close();
            }
        }
    }

    /** The batches of {@code source} as items without an upload, on the caller's thread (no prefetching). */
    static Iterator<Item> direct(Iterator<Batch> source) {
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                return source.hasNext();
            }

            @Override
            public Item next() {
                return new Item(source.next(), null);
            }
        };
    }

    /**
     * Whether to prefetch on {@code device}: {@code -Dsevnet.prefetch=auto} (the default: on a GPU, where the upload
     * is worth overlapping; not on the CPU, whose cores the step already uses), {@code on} or {@code off}.
     */
    static boolean enabledFor(dev.sevnet.tensor.Device device) {
        String v = System.getProperty(PROPERTY, "auto").trim().toLowerCase(java.util.Locale.ROOT);
        return switch (v) {
            case "on", "true" -> true;
            case "off", "false" -> false;
            case "auto" -> !device.isCpu();
            default -> throw new IllegalArgumentException("-D" + PROPERTY + "=" + v + ": expected auto, on or off");
        };
    }

    static final String PROPERTY = "sevnet.prefetch";

    private static final Object END = new Object();

    private record Failure(Throwable error) {
    }

    private final BlockingQueue<Object> queue = new ArrayBlockingQueue<>(1);
    private final Thread thread;
    private volatile boolean stopping;
    private Object head;

    BatchPrefetcher(Iterator<Batch> source, Uploader uploader, String name) {
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(uploader, "uploader");
        thread = new Thread(() -> produce(source, uploader), name);
        thread.setDaemon(true);
        thread.start();
    }

    private void produce(Iterator<Batch> source, Uploader uploader) {
        try {
            while (!stopping && source.hasNext()) {
                Batch b = source.next();
                Item item;
                try {
                    item = new Item(b, uploader.start(b.clips()));
                } catch (RuntimeException | Error e) {
                    b.close();
                    throw e;
                }
                if (!hand(item)) {
                    item.close();
                    return;
                }
            }
            hand(END);
        } catch (Throwable e) {
            if (!stopping) {
                hand(new Failure(e));
            }
        }
    }

    /** Queues {@code x}; false when the consumer closed meanwhile. */
    private boolean hand(Object x) {
        try {
            while (!stopping) {
                if (queue.offer(x, 50, TimeUnit.MILLISECONDS)) {
                    return true;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return false;
    }

    @Override
    public boolean hasNext() {
        if (head == null) {
            try {
                head = queue.take();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for the next batch", e);
            }
        }
        if (head instanceof Failure f) {
            if (f.error() instanceof RuntimeException r) {
                throw r;
            }
            if (f.error() instanceof Error er) {
                throw er;
            }
            throw new IllegalStateException("the batch loader failed: " + f.error(), f.error());
        }
        return head != END;
    }

    /** The next batch with its upload; the caller closes it. */
    @Override
    public Item next() {
        if (!hasNext()) {
            throw new NoSuchElementException();
        }
        Item item = (Item) head;
        head = null;
        return item;
    }

    @Override
    public void close() {
        stopping = true;
        thread.interrupt();
        boolean interrupted = false;
        while (thread.isAlive()) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (head instanceof Item i) {
            i.close();
        }
        head = END;
        for (Object x; (x = queue.poll()) != null; ) {
            if (x instanceof Item i) {
                i.close();
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
