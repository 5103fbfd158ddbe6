package dev.sevnet.backend;

/**
 * A device allocation failed even after the allocator released every cached block. The device and
 * allocator are still usable: free some tensors (or retry with a smaller batch) and go on.
 */
public final class DeviceOutOfMemoryException extends RuntimeException {
    private final long requestedBytes;
    private final long freeBytes;

    public DeviceOutOfMemoryException(String device, long requestedBytes, long freeBytes, long inUseBytes, long totalBytes) {
        super(String.format("out of memory on %s: could not allocate %s (device free %s of %s; this process holds %s "
                + "in live tensors). Reduce the batch size or free tensors.", device, mib(requestedBytes),
                mib(freeBytes), mib(totalBytes), mib(inUseBytes)));
        this.requestedBytes = requestedBytes;
        this.freeBytes = freeBytes;
    }

    /** Out of memory even after every way to reduce the demand was tried (e.g. one clip at a time). */
    public static final class Unrecoverable extends RuntimeException {
        public Unrecoverable(String message, DeviceOutOfMemoryException cause) {
            super(message, cause);
        }
    }

    public long requestedBytes() {
        return requestedBytes;
    }

    public long freeBytes() {
        return freeBytes;
    }

    private static String mib(long b) {
        return String.format("%.1f MiB", b / 1048576.0);
    }
}
