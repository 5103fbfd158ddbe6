package dev.sevnet.backend.cuda;

import dev.sevnet.backend.Checks;
import dev.sevnet.backend.ConvSpec;
import dev.sevnet.backend.OpChecks;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Device;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;

/**
 * The argument checks of {@link CudaBackend}'s 16-bit (bfloat16 / float16) training ops, in a class that loads
 * nothing native, so that a test without a GPU can run exactly the checks the GPU path runs (on CPU tensors, with
 * {@code new HalfTrainingChecks(Device.CPU)}). Every method throws {@link IllegalArgumentException} before any
 * native call when an argument is missing, closed, on another device, of the wrong shape, or of the wrong type: every
 * 16-bit operand of one op must have the same 16-bit type (the first one's), and the float32 operands (batch-norm
 * parameters and statistics, the squeeze-excite gate) must be float32. The methods return the 16-bit type
 * (or the batch-norm dimensions).
 */
public final class HalfTrainingChecks {
    private final Device device;
    private final OpChecks c;

    public HalfTrainingChecks(Device device) {
        this(device, false);
    }

    /** acceptChannelsLast: the checks of the element-wise 16-bit ops, which take NDHWC tensors too (OpChecks). */
    public HalfTrainingChecks(Device device, boolean acceptChannelsLast) {
        this.device = device;
        this.c = new OpChecks(device, acceptChannelsLast);
    }

    /** {@code t} present, open, on this device and bfloat16 or float16; returns its type. */
    public DType half(Tensor t, String name) {
        DType dt = c.floating(t, name);
        if (!OpChecks.isHalf(dt)) {
            throw new IllegalArgumentException(name + " must be " + DType.BFLOAT16 + " or " + DType.FLOAT16
                    + " for the 16-bit form, got " + dt);
        }
        return dt;
    }

    /** {@code t} of type {@code dt} (another 16-bit operand of the same op). */
    public void same(Tensor t, String name, DType dt) {
        c.same(t, name, dt);
    }

    /** dL/dx of a 16-bit conv: dy and w of one 16-bit type; returns it. */
    public DType convBackwardData(Tensor dy, Tensor w, ConvSpec spec, Shape xShape) {
        DType dt = half(dy, "dy");
        same(w, "weight", dt);
        c.conv(xShape, w.shape(), spec);
        Checks.shape(dy, "dy", spec.outputShape(xShape, w.dim(0)));
        return dt;
    }

    /** dL/dw of a 16-bit conv: x and dy of one 16-bit type (dw in it too); returns it. */
    public DType convBackwardWeight(Tensor x, Tensor dy, ConvSpec spec, Shape wShape) {
        DType dt = half(x, "x");
        same(dy, "dy", dt);
        c.conv(x.shape(), wShape, spec);
        Checks.shape(dy, "dy", spec.outputShape(x.shape(), wShape.get(0)));
        return dt;
    }

    /**
     * The 16-bit training batch norm {@code act(BN(x) + residual)}: x (and the residual, may be null, same shape)
     * 16-bit; gamma, beta, the running statistics float32 [C] (each may be null, the running ones together).
     * Returns {N, C, S}.
     */
    public long[] batchNormTrain(Tensor x, Tensor residual, Tensor gamma, Tensor beta, Tensor runningMean,
            Tensor runningVar) {
        DType dt = half(x, "x");
        long[] d = c.ncs(x);
        c.batchNormTrain(x, d, gamma, beta, runningMean, runningVar);
        if (residual != null) {
            same(residual, "residual", dt);
            Checks.sameShape(x, "x", residual, "residual");
        }
        return d;
    }

    /**
     * Its backward: x, dy (and y when {@code relu}: the forward's output, read for the mask) 16-bit of one type and
     * one shape; gamma (may be null), save_mean, save_invstd float32 [C]. Returns {N, C, S}.
     */
    public long[] batchNormBackward(Tensor x, Tensor y, Tensor dy, Tensor gamma, Tensor saveMean, Tensor saveInvstd,
            boolean relu) {
        DType dt = half(x, "x");
        same(dy, "dy", dt);
        long[] d = c.ncs(x);
        c.batchNormBackward(x, dy, d, gamma, saveMean, saveInvstd);
        if (relu) {
            same(y, "y", dt);
            Checks.sameShape(x, "x", y, "y");
        }
        return d;
    }

    /** Two 16-bit operands of one type and shape (a + b; ReLU's y and dy); returns the type. */
    public DType binary(Tensor a, String an, Tensor b, String bn) {
        DType dt = half(a, an);
        same(b, bn, dt);
        Checks.sameShape(a, an, b, bn);
        Checks.sameFormat(a, an, b, bn);
        return dt;
    }

    /** y = alpha x + beta y in place: x and y 16-bit of one type and size. */
    public DType axpby(Tensor x, Tensor y) {
        DType dt = half(y, "y");
        same(x, "x", dt);
        if (x.size() != y.size()) {
            throw new IllegalArgumentException("axpby: x " + x.shape() + " and y " + y.shape() + " differ in size");
        }
        Checks.sameFormat(x, "x", y, "y");
        return dt;
    }

    /** The average pool's backward: dy 16-bit of the pooled shape of {@code xShape}. */
    public DType avgPoolBackward(Tensor dy, ConvSpec window, Shape xShape) {
        DType dt = half(dy, "dy");
        c.pool(xShape, window);
        Checks.shape(dy, "dy", OpChecks.depthwise(window, xShape.get(1)).outputShape(xShape, xShape.get(1)));
        return dt;
    }

    /** Split of a 16-bit [N, C, ...] at channel {@code ca}, strictly inside (0, C). */
    public DType split(Tensor y, long ca) {
        half(y, "y");
        return c.splitFloating(y, ca);
    }

    /** The squeeze-excite scale's backward: x and dy 16-bit of one type and shape, the gate g float32 [N, C]. */
    public DType channelScaleBackward(Tensor x, Tensor g, Tensor dy) {
        DType dt = half(x, "x");
        c.channelScale(x, g);
        same(dy, "dy", dt);
        Checks.sameShape(x, "x", dy, "dy");
        return dt;
    }

    public Device device() {
        return device;
    }
}
