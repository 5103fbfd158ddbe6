package dev.sevnet.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.backend.CachingAllocator;
import dev.sevnet.tensor.HostAllocator;
import dev.sevnet.tensor.MemoryStats;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import org.junit.jupiter.api.Test;

/** Host tensors from a bound pool: reuse, best fit for smaller shapes, lifetime across close. */
class HostMemoryPoolTest {
    @Test
    void tensorsMadeWhileBoundReuseTheSameBlocksAndSmallerShapesFitInThem() {
        long before = MemoryStats.liveHostBytes();
        try (HostMemoryPool pool = new HostMemoryPool("test")) {
            long first;
            try (HostAllocator.Binding b = pool.bind(); Tensor t = Tensor.full(Shape.of(4, 1000, 1000), 2f)) {
                assertSame(pool, HostAllocator.current());
                first = t.storage().address();
                assertEquals(2f, t.floatBuffer().get(3_999_999));
            }
            assertNull(HostAllocator.current(), "the binding ended");
            CachingAllocator.Stats s1 = pool.stats();
            assertEquals(1, s1.deviceAllocs());
            try (HostAllocator.Binding b = pool.bind(); TensorScope scope = TensorScope.open()) {
                Tensor big = Tensor.empty(Shape.of(4, 1000, 1000));
                assertEquals(first, big.storage().address(), "the freed block came back");
                Tensor small = Tensor.empty(Shape.of(2, 1000, 1000));
                assertTrue(small.storage().address() != first);
                big.close();
                Tensor again = Tensor.empty(Shape.of(1, 1000, 1000));
                assertEquals(first, again.storage().address(), "a smaller request fits in a cached larger block");
            }
            CachingAllocator.Stats s2 = pool.stats();
            assertEquals(2, s2.deviceAllocs(), "one new block for the tensor alive next to the big one");
            assertEquals(0, s2.inUseBytes());
            assertTrue(MemoryStats.liveHostBytes() > before, "cached blocks are native memory until close");
        }
        assertEquals(before, MemoryStats.liveHostBytes(), "close frees the cached blocks");
    }

    @Test
    void aTensorThatOutlivesThePoolIsFreedWhenItCloses() {
        long before = MemoryStats.liveHostBytes();
        HostMemoryPool pool = new HostMemoryPool("test");
        Tensor escaped;
        try (HostAllocator.Binding b = pool.bind()) {
            escaped = Tensor.full(Shape.of(1000), 1f);
            Tensor.empty(Shape.of(100)).close();
        }
        pool.close();
        assertTrue(MemoryStats.liveHostBytes() > before);
        assertEquals(1f, escaped.floatBuffer().get(999), "still readable after the pool closed");
        escaped.close();
        assertEquals(before, MemoryStats.liveHostBytes());
        assertThrows(IllegalStateException.class, pool::bind);
    }

    @Test
    void bindingsNestAndOtherThreadsAreUnaffected() throws Exception {
        try (HostMemoryPool a = new HostMemoryPool("a"); HostMemoryPool b = new HostMemoryPool("b")) {
            try (HostAllocator.Binding ba = a.bind()) {
                try (HostAllocator.Binding bb = b.bind()) {
                    assertSame(b, HostAllocator.current());
                    Thread t = new Thread(() -> {
                        try (Tensor x = Tensor.empty(Shape.of(10))) {
                            assertNull(HostAllocator.current());
                        }
                    });
                    t.start();
                    t.join();
                    Tensor.empty(Shape.of(10)).close();
                }
                assertSame(a, HostAllocator.current());
            }
            assertEquals(1, b.stats().requests());
            assertEquals(0, a.stats().requests());
        }
    }
}
