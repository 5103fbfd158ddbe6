package dev.sevnet.backend;

/**
 * The device's own allocator underneath the {@link CachingAllocator} (cudaMalloc/cudaFree on a GPU;
 * a fake in tests). Implementations are not required to be fast: the cache calls them rarely.
 */
public interface RawDeviceMemory {
    /** A new block of {@code bytes}, or 0 when the device has no room. */
    long malloc(long bytes);

    void free(long address);

    /** Free device memory in bytes, as the driver reports it. */
    long freeBytes();

    long totalBytes();

    /** The device's name in messages, e.g. "cuda:0". */
    String deviceName();
}
