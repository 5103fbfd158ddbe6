package dev.sevnet.backend.cuda;

import dev.sevnet.backend.Timeline;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.cuda.cudart.CUevent_st;
import org.bytedeco.cuda.global.cudart;

/**
 * A {@link Timeline} of CUDA events recorded on the calling thread's stream: the time between two marks is the device
 * time of what was queued between them, plus any wait for the host (an idle device between two ops shows as the
 * interval between them). Events are created as marks come and destroyed on close.
 */
final class CudaTimeline implements Timeline {
    private final CudaDevice dev;
    private final List<CUevent_st> events = new ArrayList<>();
    private boolean closed;

    CudaTimeline(CudaDevice dev) {
        this.dev = dev;
    }

    @Override
    public void mark() {
        if (closed) {
            throw new IllegalStateException("this timeline is closed");
        }
        dev.activate();
        CUevent_st e = new CUevent_st();
        Cuda.check(cudart.cudaEventCreate(e), "cudaEventCreate");
        events.add(e); // owned from here: closed with the rest even if recording fails
        Cuda.check(cudart.cudaEventRecord(e, dev.stream()), "cudaEventRecord");
    }

    @Override
    public double[] intervalsMillis() {
        double[] ms = new double[Math.max(0, events.size() - 1)];
        if (ms.length == 0) {
            return ms;
        }
        Cuda.check(cudart.cudaEventSynchronize(events.get(events.size() - 1)), "cudaEventSynchronize");
        float[] t = new float[1];
        for (int i = 0; i < ms.length; i++) {
            Cuda.check(cudart.cudaEventElapsedTime(t, events.get(i), events.get(i + 1)), "cudaEventElapsedTime");
            ms[i] = t[0];
        }
        return ms;
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            for (CUevent_st e : events) {
                cudart.cudaEventDestroy(e);
            }
            events.clear();
        }
    }
}
