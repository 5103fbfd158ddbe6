package dev.sevnet.autograd;

import dev.sevnet.tensor.Tensor;

/**
 * The backward function of one recorded op: the gradients of its inputs, aligned with them (null where
 * an input needs none), for the gradient {@code dy} of its output. Every returned tensor is new and
 * owned by the engine, except that a function may hand back {@code dy} itself or the same tensor for
 * several inputs; the engine makes separate handles for those.
 */
@FunctionalInterface
interface BackwardFn {
    Tensor[] apply(Tensor dy);
}
