// Host drivers of the channels-last glue kernels (kernels/channels_ndhwc.cu): each replays its kernel's grid on
// the host with the same bodies (kernels/channels_ndhwc.cuh) — the transposes tile by tile, all threads' loads
// before all threads' stores, as the block's __syncthreads orders them; the element-wise kernels thread by thread
// along the same grid-stride walk (same grid size); the column reductions block by block over the same splits of S,
// each thread's double share folded over the block's rows in the device's tree order, the splits' partials added in
// the finalize's order. So what the tests compare with the CPU references is the kernels' arithmetic and index
// math; only the launch itself needs a GPU. Arguments are checked by the same functions the launchers use.
#include <string>
#include <vector>

#include "channels_ndhwc.cuh"
#include "internal.h"
#include "sevnet.h"

namespace {
int bad(const char* what, const char* why) { return sev::fail(SEV_EINVAL, std::string(what) + ": " + why); }
#define HR_CHECK(what, reason)            \
  do {                                    \
    const char* why_ = (reason);          \
    if (why_) return bad((what), why_);   \
  } while (0)

// f(SevF32()), f(SevBF16()) or f(SevF16()) for a checked dtype code
template <typename F>
int dtype_dispatch(int dtype, F f) {
  if (dtype == SEV_DT_F32) return f(SevF32());
  if (dtype == SEV_DT_BF16) return f(SevBF16());
  return f(SevF16());
}

// cl_transpose_kernel: every tile, its 32 x 8 threads' loads, then their stores; where a side is narrow
// (cl_narrow), cl_transpose_narrow_kernel's threads instead
template <typename T>
void transpose_host(const T* src, T* dst, int64_t N, int64_t R, int64_t K) {
  if (cl_narrow(R, K)) {
    const int64_t L = cl_narrow_len(R, K);
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++)
      for (int64_t l = 0; l < L; l++) cl_transpose_narrow(src, dst, n, l, R, K);
    return;
  }
  const ClTileGrid g = cl_tile_grid(N, R, K);
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < g.total; t++) {
    T tile[CL_TILE * ClTile<T>::LD];
    int64_t n, r0, k0;
    cl_tile_origin(g, t, &n, &r0, &k0);
    for (int ty = 0; ty < CL_TROWS; ty++)
      for (int tx = 0; tx < CL_TILE; tx++) cl_transpose_load(src, tile, n, r0, k0, R, K, tx, ty);
    for (int ty = 0; ty < CL_TROWS; ty++)
      for (int tx = 0; tx < CL_TILE; tx++) cl_transpose_store(tile, dst, n, r0, k0, R, K, tx, ty);
  }
}

int transpose_checked(const char* what, const void* x, void* y, int64_t N, int64_t R, int64_t K, int elem_bytes) {
  HR_CHECK(what, cl_check_sizes(N, R, K));
  HR_CHECK(what, cl_check_elem(elem_bytes));
  if (N * R * K == 0) return SEV_OK;
  if (!x || !y) return bad(what, "NULL pointer");
  if (x == y) return bad(what, "cannot run in place");
  if (elem_bytes == 4)
    transpose_host((const uint32_t*)x, (uint32_t*)y, N, R, K);
  else
    transpose_host((const uint16_t*)x, (uint16_t*)y, N, R, K);
  return SEV_OK;
}

// a 1-D grid-stride kernel of cl_blocks_for(rows * C) blocks over [rows][C]: f(i, row, c) for every element, walked
// thread by thread as the device threads walk it
template <typename F>
void walk_host(int64_t rows, int64_t C, F f) {
  const int64_t threads = cl_blocks_for(rows * C) * CL_THREADS;
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < threads; t++)
    for (ClWalk k(t, threads, rows, C); k.more(); k.next()) f(k.i, k.w.row, k.w.s);
}
// the item-strided form (cl_items_grid): blockIdx.y strides the N items, x walks an item's [S][C]
template <typename F>
void items_walk_host(int64_t N, int64_t S, int64_t C, F f) {
  const ClGrid2 g = cl_items_grid(N, S * C);
  const int64_t threads = g.x * CL_THREADS;
#pragma omp parallel for schedule(static) collapse(2)
  for (int64_t by = 0; by < g.y; by++)
    for (int64_t t = 0; t < threads; t++)
      for (int64_t n = by; n < N; n += g.y)
        for (ClWalk k(t, threads, S, C); k.more(); k.next()) f(n, k.i, k.w.s);
}
// a column reduction: the device's cl_col_splits(N, C, S) splits, every (item x 32-channel tile, split) block,
// share(n, c, s0, s1, ty) of each thread over its split's rows [s0, s1), folded over ty in the block's tree order;
// with one split done(n, c, total) straight from the block, else the blocks' sums go to a [N][P][C] scratch and
// the finalize's cl_parts_sum adds them in split order. done runs for the channels below C only.
template <typename Share, typename Done>
void column_reduce_host(int64_t N, int64_t C, int64_t S, Share share, Done done) {
  const int64_t tiles = cl_col_tiles(C);
  const int P = cl_col_splits(N, C, S);
  std::vector<double> part(P > 1 ? (size_t)(N * P * C) : 0);
#pragma omp parallel for schedule(static) collapse(2)
  for (int64_t b = 0; b < N * tiles; b++)
    for (int p = 0; p < P; p++) {
      int64_t s0, s1;
      cl_split_rows(S, p, P, &s0, &s1);
      const int64_t n = b / tiles;
      for (int tx = 0; tx < 32; tx++) {
        const int64_t c = (b % tiles) * 32 + tx;
        double parts[CL_RROWS];
        for (int ty = 0; ty < CL_RROWS; ty++) parts[ty] = share(n, c, s0, s1, ty);
        const double total = sev_tree_sum_host(parts, CL_RROWS);
        if (c >= C) continue;
        if (P > 1)
          part[(size_t)((n * P + p) * C + c)] = total;
        else
          done(n, c, total);
      }
    }
  if (P == 1) return;
  // cl_finalize_kernel
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < N * C; i++) done(i / C, i % C, cl_parts_sum(part.data(), i / C, i % C, C, P));
}
}  // namespace

extern "C" {

int sev_hostrun_ncdhw_to_ndhwc(const void* x, void* y, int64_t N, int64_t C, int64_t S, int elem_bytes) {
  SEV_HOSTRUN_SCOPE();
  return transpose_checked("ncdhw_to_ndhwc", x, y, N, C, S, elem_bytes);
}

int sev_hostrun_ndhwc_to_ncdhw(const void* x, void* y, int64_t N, int64_t C, int64_t S, int elem_bytes) {
  SEV_HOSTRUN_SCOPE();
  return transpose_checked("ndhwc_to_ncdhw", x, y, N, S, C, elem_bytes);
}

int sev_hostrun_bias_act_ndhwc(void* y, const float* bias, const void* residual, int64_t M, int64_t C, int relu,
                               int dtype) {
  SEV_HOSTRUN_SCOPE();
  const char* what = "bias_act_ndhwc";
  HR_CHECK(what, cl_check_dtype(dtype));
  HR_CHECK(what, cl_check_sizes(M, C, 0));
  if (M * C == 0) return SEV_OK;
  if (!y) return bad(what, "NULL pointer");
  return dtype_dispatch(dtype, [&](auto st) {
    using St = decltype(st);
    using T = typename St::storage;
    walk_host(M, C, [&](int64_t i, int64_t, int64_t c) {
      bias_act_ndhwc_element<St>((T*)y, bias, (const T*)residual, i, c, relu);
    });
    return SEV_OK;
  });
}

int sev_hostrun_channel_scale_ndhwc_forward(const void* x, const float* g, void* y, int64_t N, int64_t C, int64_t S,
                                            int dtype) {
  SEV_HOSTRUN_SCOPE();
  const char* what = "channel_scale_ndhwc_forward";
  HR_CHECK(what, cl_check_dtype(dtype));
  HR_CHECK(what, cl_check_sizes(N, C, S));
  if (N * C * S == 0) return SEV_OK;
  if (!x || !g || !y) return bad(what, "NULL pointer");
  return dtype_dispatch(dtype, [&](auto st) {
    using St = decltype(st);
    using T = typename St::storage;
    items_walk_host(N, S, C, [&](int64_t n, int64_t i, int64_t c) {
      channel_scale_ndhwc_element<St>((const T*)x + n * S * C, g + n * C, (T*)y + n * S * C, i, c);
    });
    return SEV_OK;
  });
}

int sev_hostrun_channel_scale_ndhwc_backward(const float* x, const float* g, const float* dy, float* dx, float* dg,
                                             int64_t N, int64_t C, int64_t S) {
  SEV_HOSTRUN_SCOPE();
  const char* what = "channel_scale_ndhwc_backward";
  HR_CHECK(what, cl_check_sizes(N, C, S));
  if (N * C == 0) return SEV_OK;
  if (!dg || (S > 0 && (!x || !g || !dy || !dx))) return bad(what, "NULL pointer");
  column_reduce_host(
      N, C, S,
      [&](int64_t n, int64_t c, int64_t s0, int64_t s1, int ty) {
        return channel_scale_ndhwc_backward_partial<SevF32>(x, g, dy, dx, n, c, C, S, s0, s1, ty);
      },
      [&](int64_t n, int64_t c, double total) { dg[n * C + c] = (float)total; });
  return SEV_OK;
}

int sev_hostrun_global_avgpool_ndhwc_forward(const void* x, float* y, int64_t N, int64_t C, int64_t S, int dtype) {
  SEV_HOSTRUN_SCOPE();
  const char* what = "global_avgpool_ndhwc_forward";
  HR_CHECK(what, cl_check_dtype(dtype));
  HR_CHECK(what, cl_check_sizes(N, C, S));
  if (N * C == 0) return SEV_OK;
  if (!y || (S > 0 && !x)) return bad(what, "NULL pointer");
  return dtype_dispatch(dtype, [&](auto st) {
    using St = decltype(st);
    using T = typename St::storage;
    column_reduce_host(
        N, C, S,
        [&](int64_t n, int64_t c, int64_t s0, int64_t s1, int ty) {
          return gap_ndhwc_partial<St>((const T*)x, n, c, C, S, s0, s1, ty);
        },
        [&](int64_t n, int64_t c, double total) { y[n * C + c] = global_avgpool_finish(total, S); });
    return SEV_OK;
  });
}

int sev_hostrun_global_avgpool_ndhwc_backward(const float* dy, void* dx, int64_t N, int64_t C, int64_t S, int dtype) {
  SEV_HOSTRUN_SCOPE();
  const char* what = "global_avgpool_ndhwc_backward";
  HR_CHECK(what, cl_check_dtype(dtype));
  HR_CHECK(what, cl_check_sizes(N, C, S));
  if (N * C * S == 0) return SEV_OK;
  if (!dy || !dx) return bad(what, "NULL pointer");
  return dtype_dispatch(dtype, [&](auto st) {
    using St = decltype(st);
    using T = typename St::storage;
    items_walk_host(N, S, C, [&](int64_t n, int64_t i, int64_t c) {
      gap_ndhwc_backward_element<St>(dy, (T*)dx + n * S * C, i, n, c, C, S);
    });
    return SEV_OK;
  });
}

int sev_hostrun_concat_channels_ndhwc(const void* a, const void* b, void* y, int64_t M, int64_t Ca, int64_t Cb,
                                      int elem_bytes) {
  SEV_HOSTRUN_SCOPE();
  const char* what = "concat_channels_ndhwc";
  HR_CHECK(what, cl_check_sizes(M, Ca, Cb));
  HR_CHECK(what, cl_check_elem(elem_bytes));
  if (M * (Ca + Cb) == 0) return SEV_OK;
  if (!y || (Ca > 0 && !a) || (Cb > 0 && !b)) return bad(what, "NULL pointer");
  auto run = [&](auto word) {
    using T = decltype(word);
    walk_host(M, Ca + Cb, [&](int64_t i, int64_t m, int64_t c) {
      ((T*)y)[i] = concat_ndhwc_element((const T*)a, (const T*)b, m, c, Ca, Cb);
    });
  };
  if (elem_bytes == 4)
    run(uint32_t());
  else
    run(uint16_t());
  return SEV_OK;
}

int sev_hostrun_split_channels_ndhwc(const void* y, void* a, void* b, int64_t M, int64_t Ca, int64_t Cb,
                                     int elem_bytes) {
  SEV_HOSTRUN_SCOPE();
  const char* what = "split_channels_ndhwc";
  HR_CHECK(what, cl_check_sizes(M, Ca, Cb));
  HR_CHECK(what, cl_check_elem(elem_bytes));
  if (M * (Ca + Cb) == 0) return SEV_OK;
  if (!y || (Ca > 0 && !a) || (Cb > 0 && !b)) return bad(what, "NULL pointer");
  auto run = [&](auto word) {
    using T = decltype(word);
    walk_host(M, Ca + Cb, [&](int64_t i, int64_t m, int64_t c) {
      split_ndhwc_element((const T*)y, (T*)a, (T*)b, i, m, c, Ca, Cb);
    });
  };
  if (elem_bytes == 4)
    run(uint32_t());
  else
    run(uint16_t());
  return SEV_OK;
}

int sev_hostrun_avgpool3d_ndhwc_forward(const void* x, void* y, const int* p, int dtype) {
  SEV_HOSTRUN_SCOPE();
  const char* what = "avgpool3d_ndhwc_forward";
  HR_CHECK(what, cl_check_dtype(dtype));
  HR_CHECK(what, cl_check_pool(p));
  const SevPool pp = sev_pool_params(p);
  const int64_t n = pool_out_count(pp);
  if (n == 0) return SEV_OK;
  if (!x || !y) return bad(what, "NULL pointer");
  return dtype_dispatch(dtype, [&](auto st) {
    using St = decltype(st);
    using T = typename St::storage;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) ((T*)y)[i] = avgpool3d_ndhwc_forward_element<St>((const T*)x, pp, i);
    return SEV_OK;
  });
}

int sev_hostrun_avgpool3d_ndhwc_backward(const void* dy, void* dx, const int* p, int dtype) {
  SEV_HOSTRUN_SCOPE();
  const char* what = "avgpool3d_ndhwc_backward";
  HR_CHECK(what, cl_check_dtype(dtype));
  HR_CHECK(what, cl_check_pool(p));
  const SevPool pp = sev_pool_params(p);
  const int64_t n = pool_in_count(pp);
  if (n == 0) return SEV_OK;
  if (!dy || !dx) return bad(what, "NULL pointer");
  return dtype_dispatch(dtype, [&](auto st) {
    using St = decltype(st);
    using T = typename St::storage;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) ((T*)dx)[i] = avgpool3d_ndhwc_backward_element<St>((const T*)dy, pp, i);
    return SEV_OK;
  });
}

}  // extern "C"
