package dev.sevnet.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sevnet.backend.ConvSpec;
import dev.sevnet.tensor.DType;
import dev.sevnet.tensor.Device;
import dev.sevnet.tensor.Shape;
import dev.sevnet.tensor.Tensor;
import dev.sevnet.tensor.TensorScope;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * The argument checks of CudaBackend's 16-bit training ops ({@link HalfTrainingChecks}: the same object CudaBackend
 * calls before any native call), run without a GPU on host tensors: mixed 16-bit types, float32 where 16-bit is
 * expected and the other way round, 16-bit batch-norm parameters or SE gates, shapes, null and closed tensors, all
 * {@link IllegalArgumentException}; good arguments give back the 16-bit type. Nothing native is loaded.
 */
class HalfTrainingChecksTest {
    static final HalfTrainingChecks HC = new HalfTrainingChecks(Device.CPU);

    static void bad(String what, Executable e) {
        IllegalArgumentException x = assertThrows(IllegalArgumentException.class, e, what);
        assertTrue(x.getMessage() != null && !x.getMessage().isBlank(), what + ": a message");
    }

    @Test
    void convBackwardsNeedOneSixteenBitType() {
        try (TensorScope scope = TensorScope.open()) {
            ConvSpec spec = new ConvSpec(1, 3, 3, 1, 2, 2, 0, 1, 1, 2);
            Shape xs = Shape.of(2, 4, 3, 7, 6);
            Shape ws = Shape.of(4, 2, 1, 3, 3);
            Shape ys = spec.outputShape(xs, 4);
            for (DType dt : new DType[] {DType.BFLOAT16, DType.FLOAT16}) {
                DType other = dt == DType.BFLOAT16 ? DType.FLOAT16 : DType.BFLOAT16;
                Tensor x = Tensor.zeros(xs, dt);
                Tensor w = Tensor.zeros(ws, dt);
                Tensor dy = Tensor.zeros(ys, dt);
                assertEquals(dt, HC.convBackwardData(dy, w, spec, xs));
                assertEquals(dt, HC.convBackwardWeight(x, dy, spec, ws));
                bad("weight of the other 16-bit type", () -> HC.convBackwardData(dy, Tensor.zeros(ws, other), spec, xs));
                bad("fp32 weight", () -> HC.convBackwardData(dy, Tensor.zeros(ws), spec, xs));
                bad("fp32 dy", () -> HC.convBackwardData(Tensor.zeros(ys), w, spec, xs));
                bad("dy of the wrong shape", () -> HC.convBackwardData(Tensor.zeros(xs, dt), w, spec, xs));
                bad("weight not matching x", () -> HC.convBackwardData(dy, Tensor.zeros(Shape.of(4, 4, 1, 3, 3), dt),
                        spec, xs));
                bad("null weight", () -> HC.convBackwardData(dy, null, spec, xs));
                bad("null spec", () -> HC.convBackwardData(dy, w, null, xs));
                bad("dy of the other 16-bit type", () -> HC.convBackwardWeight(x, Tensor.zeros(ys, other), spec, ws));
                bad("fp32 dy (weight grad)", () -> HC.convBackwardWeight(x, Tensor.zeros(ys), spec, ws));
                bad("fp32 x", () -> HC.convBackwardWeight(Tensor.zeros(xs), dy, spec, ws));
                bad("int64 x", () -> HC.convBackwardWeight(Tensor.ofLongs(new long[] {1}, 1), dy, spec, ws));
                bad("bad weight shape", () -> HC.convBackwardWeight(x, dy, spec, Shape.of(4, 2, 3, 3)));
                Tensor closed = Tensor.zeros(ys, dt);
                closed.close();
                bad("closed dy", () -> HC.convBackwardWeight(x, closed, spec, ws));
            }
        }
    }

    @Test
    void batchNormTakesSixteenBitActivationsAndFp32Parameters() {
        try (TensorScope scope = TensorScope.open()) {
            Shape s = Shape.of(2, 3, 5);
            Tensor x = Tensor.zeros(s, DType.BFLOAT16);
            Tensor r16 = Tensor.zeros(s, DType.BFLOAT16);
            Tensor g = Tensor.zeros(Shape.of(3));
            Tensor b = Tensor.zeros(Shape.of(3));
            Tensor rm = Tensor.zeros(Shape.of(3));
            Tensor rv = Tensor.zeros(Shape.of(3));
            assertArrayEquals(new long[] {2, 3, 5}, HC.batchNormTrain(x, r16, g, b, rm, rv));
            assertArrayEquals(new long[] {2, 3, 5}, HC.batchNormTrain(x, null, null, null, null, null));
            bad("fp16 residual with bf16 x", () -> HC.batchNormTrain(x, Tensor.zeros(s, DType.FLOAT16), g, b, rm, rv));
            bad("fp32 residual", () -> HC.batchNormTrain(x, Tensor.zeros(s), g, b, rm, rv));
            bad("residual of another shape", () -> HC.batchNormTrain(x, Tensor.zeros(Shape.of(2, 3, 4),
                    DType.BFLOAT16), g, b, rm, rv));
            bad("bf16 gamma", () -> HC.batchNormTrain(x, null, Tensor.zeros(Shape.of(3), DType.BFLOAT16), b, rm, rv));
            bad("bf16 running var", () -> HC.batchNormTrain(x, null, g, b, rm, Tensor.zeros(Shape.of(3),
                    DType.BFLOAT16)));
            bad("one running statistic", () -> HC.batchNormTrain(x, null, g, b, rm, null));
            bad("gamma of the wrong length", () -> HC.batchNormTrain(x, null, Tensor.zeros(Shape.of(4)), b, rm, rv));
            bad("fp32 x", () -> HC.batchNormTrain(Tensor.zeros(s), null, g, b, rm, rv));
            bad("one value per channel", () -> HC.batchNormTrain(Tensor.zeros(Shape.of(1, 3, 1), DType.BFLOAT16), null,
                    g, b, rm, rv));

            Tensor mean = Tensor.zeros(Shape.of(3));
            Tensor inv = Tensor.zeros(Shape.of(3));
            Tensor dy = Tensor.zeros(s, DType.BFLOAT16);
            assertArrayEquals(new long[] {2, 3, 5}, HC.batchNormBackward(x, r16, dy, g, mean, inv, true));
            assertArrayEquals(new long[] {2, 3, 5}, HC.batchNormBackward(x, null, dy, null, mean, inv, false));
            bad("fp16 dy", () -> HC.batchNormBackward(x, null, Tensor.zeros(s, DType.FLOAT16), g, mean, inv, false));
            bad("fp32 dy", () -> HC.batchNormBackward(x, null, Tensor.zeros(s), g, mean, inv, false));
            bad("fp32 y under ReLU", () -> HC.batchNormBackward(x, Tensor.zeros(s), dy, g, mean, inv, true));
            bad("no y under ReLU", () -> HC.batchNormBackward(x, null, dy, g, mean, inv, true));
            bad("no saved statistics", () -> HC.batchNormBackward(x, null, dy, g, null, inv, false));
            bad("bf16 saved mean", () -> HC.batchNormBackward(x, null, dy, g, Tensor.zeros(Shape.of(3),
                    DType.BFLOAT16), inv, false));
            bad("dy of another shape", () -> HC.batchNormBackward(x, null, Tensor.zeros(Shape.of(2, 3, 4),
                    DType.BFLOAT16), g, mean, inv, false));
        }
    }

    @Test
    void glueOpsNeedOneSixteenBitType() {
        try (TensorScope scope = TensorScope.open()) {
            Shape s = Shape.of(2, 6, 3, 4, 4);
            Tensor a = Tensor.zeros(s, DType.FLOAT16);
            Tensor b = Tensor.zeros(s, DType.FLOAT16);
            assertEquals(DType.FLOAT16, HC.binary(a, "y", b, "dy"));
            bad("bf16 with fp16", () -> HC.binary(a, "a", Tensor.zeros(s, DType.BFLOAT16), "b"));
            bad("fp32 with fp16", () -> HC.binary(a, "a", Tensor.zeros(s), "b"));
            bad("another shape", () -> HC.binary(a, "a", Tensor.zeros(Shape.of(2, 6, 3, 4, 5), DType.FLOAT16), "b"));
            bad("fp32 first", () -> HC.binary(Tensor.zeros(s), "a", b, "b"));

            assertEquals(DType.FLOAT16, HC.axpby(a, b));
            assertEquals(DType.FLOAT16, HC.axpby(Tensor.zeros(Shape.of(s.size()), DType.FLOAT16), b), "same size");
            bad("axpby of two types", () -> HC.axpby(Tensor.zeros(s, DType.BFLOAT16), b));
            bad("axpby fp32 x", () -> HC.axpby(Tensor.zeros(s), b));
            bad("axpby sizes", () -> HC.axpby(Tensor.zeros(Shape.of(3), DType.FLOAT16), b));

            ConvSpec window = new ConvSpec(1, 3, 3, 1, 2, 2, 0, 1, 1, 1);
            Tensor pooled = Tensor.zeros(Shape.of(2, 6, 3, 2, 2), DType.FLOAT16);
            assertEquals(DType.FLOAT16, HC.avgPoolBackward(pooled, window, s));
            bad("fp32 dy", () -> HC.avgPoolBackward(Tensor.zeros(Shape.of(2, 6, 3, 2, 2)), window, s));
            bad("dy not pooled", () -> HC.avgPoolBackward(a, window, s));
            bad("no window", () -> HC.avgPoolBackward(pooled, null, s));

            assertEquals(DType.FLOAT16, HC.split(a, 2));
            bad("split at 0", () -> HC.split(a, 0));
            bad("split at C", () -> HC.split(a, 6));
            bad("split fp32", () -> HC.split(Tensor.zeros(s), 2));

            Tensor g = Tensor.zeros(Shape.of(2, 6));
            assertEquals(DType.FLOAT16, HC.channelScaleBackward(a, g, b));
            bad("16-bit gate", () -> HC.channelScaleBackward(a, Tensor.zeros(Shape.of(2, 6), DType.FLOAT16), b));
            bad("gate shape", () -> HC.channelScaleBackward(a, Tensor.zeros(Shape.of(2, 5)), b));
            bad("dy of another type", () -> HC.channelScaleBackward(a, g, Tensor.zeros(s, DType.BFLOAT16)));
            bad("fp32 dy", () -> HC.channelScaleBackward(a, g, Tensor.zeros(s)));
            bad("fp32 x", () -> HC.channelScaleBackward(Tensor.zeros(s), g, b));
            bad("null dy", () -> HC.channelScaleBackward(a, g, null));
        }
    }
}
