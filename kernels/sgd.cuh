// SGD with momentum and coupled (PyTorch-style) weight decay (kernels/sgd.cu), as
// sev_sgd_momentum_step: g' = g + wd*w; v = momentum*v + g'; w -= lr*v.
#pragma once
#include <stdint.h>

#include "multi_tensor.cuh"
#include "sev_cuda_compat.cuh"

SEV_HD void sgd_momentum_element(float* w, const float* g, float* v, int64_t i, float lr, float momentum,
                                 float weight_decay) {
  const float gi = g[i] + weight_decay * w[i];
  const float vi = momentum * v[i] + gi;
  v[i] = vi;
  w[i] -= lr * vi;
}
