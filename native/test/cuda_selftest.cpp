// GPU self-test of libsevnet_cuda: every sevc_* kernel on random data with ragged sizes against the
// CPU op of the same name (libsevnet). Needs a GPU: `cmake --build B --target sevnet_cuda_selftest`
// then run B/sevnet_cuda_selftest. Exit status 0 when every check passes.
#include <cuda_runtime.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "../../kernels/sev_half.cuh"  // the bf16/fp16 conversions of the kernels and references
#include "../../kernels/temporal_conv_ndhwc_tc.cuh"  // tt_tf32: the tensor cores' rounding, for the reference
#include "sevnet.h"
#include "sevnet_cuda.h"

namespace {
int g_failures = 0;
std::mt19937_64 g_rng(1234);

std::vector<float> randn(size_t n, float scale = 1.f) {
  std::normal_distribution<float> d(0.f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g_rng);
  return v;
}

#define CUDA_OK(x)                                                                        \
  do {                                                                                    \
    cudaError_t e_ = (x);                                                                 \
    if (e_ != cudaSuccess) {                                                              \
      fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
      exit(2);                                                                            \
    }                                                                                     \
  } while (0)

// host values in a kernel's storage type St (SevF32/SevBF16/SevF16 of sev_half.cuh), rounded as the kernels round
template <class St>
std::vector<typename St::storage> stored(const std::vector<float>& v) {
  std::vector<typename St::storage> b(v.size());
  for (size_t i = 0; i < v.size(); i++) b[i] = St::store(v[i]);
  return b;
}

template <class St>
std::vector<float> loaded(const std::vector<typename St::storage>& b) {
  std::vector<float> v(b.size());
  for (size_t i = 0; i < b.size(); i++) v[i] = St::load(b[i]);
  return v;
}

// a device copy of a host vector, freed with the object
template <typename T>
struct Dev {
  T* p = nullptr;
  size_t n = 0;
  explicit Dev(const std::vector<T>& h) : n(h.size()) {
    CUDA_OK(cudaMalloc(&p, sizeof(T) * (n ? n : 1)));
    if (n) CUDA_OK(cudaMemcpy(p, h.data(), sizeof(T) * n, cudaMemcpyHostToDevice));
  }
  explicit Dev(size_t count) : n(count) {
    CUDA_OK(cudaMalloc(&p, sizeof(T) * (n ? n : 1)));
    CUDA_OK(cudaMemset(p, 0xff, sizeof(T) * (n ? n : 1)));  // NaN-fill: unwritten outputs show
  }
  ~Dev() { cudaFree(p); }
  std::vector<T> host() const {
    std::vector<T> h(n);
    CUDA_OK(cudaDeviceSynchronize());
    if (n) CUDA_OK(cudaMemcpy(h.data(), p, sizeof(T) * n, cudaMemcpyDeviceToHost));
    return h;
  }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
};

void check_rc(int rc, const char* what) {
  if (rc != 0) {
    printf("FAIL %-40s returned %d: %s\n", what, rc, sevc_last_error());
    g_failures++;
  }
}

// |a - b| <= atol + rtol |b| everywhere (NaN fails); exact when rtol = atol = 0
void compare(const std::string& what, const std::vector<float>& ref, const std::vector<float>& got, double rtol,
             double atol) {
  double worst = 0;
  size_t bad = 0, first = (size_t)-1;
  for (size_t i = 0; i < ref.size(); i++) {
    const double err = fabs((double)ref[i] - got[i]);
    const double tol = atol + rtol * fabs((double)ref[i]);
    if (!(err <= tol) && !(ref[i] == got[i])) {
      if (first == (size_t)-1) first = i;
      bad++;
    }
    if (err > worst) worst = err;
  }
  if (bad || got.size() != ref.size()) {
    printf("FAIL %-40s %zu of %zu off (first [%zu] ref %.9g got %.9g), max err %.3g\n", what.c_str(), bad, ref.size(),
           first, first < ref.size() ? ref[first] : 0.0, first < ref.size() ? got[first] : 0.0, worst);
    g_failures++;
  } else {
    printf("ok   %-40s n=%zu max err %.3g\n", what.c_str(), ref.size(), worst);
  }
}
void compare1(const std::string& what, double ref, double got, double rtol) {
  compare(what, std::vector<float>{(float)ref}, std::vector<float>{(float)got}, rtol, 0);
}

void test_elementwise(int64_t n) {
  const std::string sz = " n=" + std::to_string(n);
  auto a = randn(n), b = randn(n);
  Dev<float> da(a), db(b), dy(n), dz(n);
  std::vector<float> ref(n), ref2(n);

  check_rc(sevc_relu_forward(da.p, dy.p, n, nullptr), "relu_forward");
  sev_relu_forward(a.data(), ref.data(), n);
  compare("relu_forward" + sz, ref, dy.host(), 0, 0);

  check_rc(sevc_relu_backward(da.p, db.p, dy.p, n, nullptr), "relu_backward");
  sev_relu_backward(a.data(), b.data(), ref.data(), n);
  compare("relu_backward" + sz, ref, dy.host(), 0, 0);

  check_rc(sevc_add(da.p, db.p, dy.p, n, nullptr), "add");
  sev_add(a.data(), b.data(), ref.data(), n);
  compare("add" + sz, ref, dy.host(), 0, 0);

  check_rc(sevc_add_relu(da.p, db.p, dy.p, n, nullptr), "add_relu");
  sev_add_relu(a.data(), b.data(), ref.data(), n);
  compare("add_relu" + sz, ref, dy.host(), 0, 0);

  check_rc(sevc_mul(da.p, db.p, dy.p, n, nullptr), "mul");
  sev_mul(a.data(), b.data(), ref.data(), n);
  compare("mul" + sz, ref, dy.host(), 0, 0);

  check_rc(sevc_scale(da.p, 0.37f, dy.p, n, nullptr), "scale");
  sev_scale(a.data(), 0.37f, ref.data(), n);
  compare("scale" + sz, ref, dy.host(), 0, 0);

  check_rc(sevc_fill(dy.p, -2.5f, n, nullptr), "fill");
  sev_fill(ref.data(), -2.5f, n);
  compare("fill" + sz, ref, dy.host(), 0, 0);

  // axpby with beta 0 must not read y (NaN-filled)
  Dev<float> dn(n);
  check_rc(sevc_axpby(1.5f, da.p, 0.f, dn.p, n, nullptr), "axpby beta 0");
  std::vector<float> nan(n, NAN);
  sev_axpby(1.5f, a.data(), 0.f, nan.data(), n);
  compare("axpby beta=0" + sz, nan, dn.host(), 1e-6, 0);
  ref = b;
  check_rc(sevc_axpby(1.5f, da.p, -0.5f, db.p, n, nullptr), "axpby");
  sev_axpby(1.5f, a.data(), -0.5f, ref.data(), n);
  compare("axpby" + sz, ref, db.host(), 1e-6, 1e-7);
  CUDA_OK(cudaMemcpy(db.p, b.data(), sizeof(float) * n, cudaMemcpyHostToDevice));

  check_rc(sevc_sigmoid_forward(da.p, dy.p, n, nullptr), "sigmoid_forward");
  sev_sigmoid_forward(a.data(), ref.data(), n);
  compare("sigmoid_forward" + sz, ref, dy.host(), 2e-6, 1e-7);

  check_rc(sevc_sigmoid_backward(da.p, db.p, dy.p, n, nullptr), "sigmoid_backward");
  sev_sigmoid_backward(a.data(), b.data(), ref.data(), n);
  compare("sigmoid_backward" + sz, ref, dy.host(), 1e-6, 1e-7);

  for (float p : {0.f, 0.3f, 0.5f, 1.f}) {
    const uint64_t seed = 0x1234567ull + (uint64_t)(p * 10);
    check_rc(sevc_dropout_forward(da.p, dy.p, dz.p, n, p, seed, nullptr), "dropout_forward");
    sev_dropout_forward(a.data(), ref.data(), ref2.data(), n, p, seed);
    compare("dropout mask p=" + std::to_string(p) + sz, ref2, dz.host(), 0, 0);
    compare("dropout y p=" + std::to_string(p) + sz, ref, dy.host(), 0, 0);
  }
}

void test_bias_relu(int64_t N, int64_t C, int64_t S) {
  auto y = randn(N * C * S), bias = randn(C);
  for (int relu = 0; relu < 2; relu++) {
    Dev<float> dy(y), db(bias);
    check_rc(sevc_bias_relu(dy.p, db.p, N, C, S, relu, nullptr), "bias_relu");
    std::vector<float> ref(y);
    for (int64_t i = 0; i < N * C * S; i++) {
      float v = ref[i] + bias[(i / S) % C];
      ref[i] = relu && v <= 0.f ? 0.f : v;
    }
    compare("bias_relu relu=" + std::to_string(relu), ref, dy.host(), 0, 0);
  }
}

void test_channels(int64_t N, int64_t Ca, int64_t Cb, int64_t S) {
  auto a = randn(N * Ca * S), b = randn(N * Cb * S);
  Dev<float> da(a), db(b), dy(N * (Ca + Cb) * S);
  std::vector<float> ref(N * (Ca + Cb) * S);
  check_rc(sevc_concat_channels(da.p, db.p, dy.p, N, Ca, Cb, S, nullptr), "concat");
  sev_concat_channels(a.data(), b.data(), ref.data(), N, Ca, Cb, S);
  compare("concat_channels", ref, dy.host(), 0, 0);
  Dev<float> da2(N * Ca * S), db2(N * Cb * S);
  check_rc(sevc_split_channels(dy.p, da2.p, db2.p, N, Ca, Cb, S, nullptr), "split");
  compare("split_channels a", a, da2.host(), 0, 0);
  compare("split_channels b", b, db2.host(), 0, 0);

  const int64_t C = Ca;
  auto g = randn(N * C), dyv = randn(N * C * S);
  Dev<float> dg(g), ddy(dyv), out(N * C * S), ddx(N * C * S), ddg(N * C);
  std::vector<float> r(N * C * S), rdx(N * C * S), rdg(N * C);
  check_rc(sevc_channel_scale_forward(da.p, dg.p, out.p, N, C, S, nullptr), "channel_scale_forward");
  sev_channel_scale_forward(a.data(), g.data(), r.data(), N, C, S);
  compare("channel_scale_forward", r, out.host(), 0, 0);
  check_rc(sevc_channel_scale_backward(da.p, dg.p, ddy.p, ddx.p, ddg.p, N, C, S, nullptr), "channel_scale_backward");
  sev_channel_scale_backward(a.data(), g.data(), dyv.data(), rdx.data(), rdg.data(), N, C, S);
  compare("channel_scale_backward dx", rdx, ddx.host(), 0, 0);
  compare("channel_scale_backward dg", rdg, ddg.host(), 1e-6, 1e-6);
}

void test_batchnorm(int64_t N, int64_t C, int64_t S) {
  const std::string sz = " [" + std::to_string(N) + "," + std::to_string(C) + "," + std::to_string(S) + "]";
  auto x = randn(N * C * S, 2.f), gamma = randn(C), beta = randn(C), rm = randn(C), dyv = randn(N * C * S);
  std::vector<float> rv(C);
  for (auto& x0 : x) x0 += 0.7f;
  for (auto& v : rv) v = 0.5f + (float)(g_rng() % 1000) / 1000.f;
  Dev<float> dx(x), dgm(gamma), dbt(beta), drm(rm), drv(rv), dy(N * C * S), dsm(C), dsi(C);
  std::vector<float> y(N * C * S), sm(C), si(C), rm2(rm), rv2(rv);
  check_rc(sevc_batchnorm_train_forward(dx.p, dgm.p, dbt.p, dy.p, dsm.p, dsi.p, drm.p, drv.p, N, C, S, 1e-5f, 0.1f,
                                        nullptr),
           "batchnorm_train_forward");
  sev_batchnorm_train_forward(x.data(), gamma.data(), beta.data(), y.data(), sm.data(), si.data(), rm2.data(),
                              rv2.data(), N, C, S, 1e-5f, 0.1f);
  compare("bn_train y" + sz, y, dy.host(), 1e-5, 1e-5);
  compare("bn_train save_mean" + sz, sm, dsm.host(), 1e-6, 1e-7);
  compare("bn_train save_invstd" + sz, si, dsi.host(), 1e-6, 0);
  compare("bn_train running_mean" + sz, rm2, drm.host(), 1e-6, 1e-7);
  compare("bn_train running_var" + sz, rv2, drv.host(), 1e-6, 0);

  for (int relu = 0; relu < 2; relu++) {
    check_rc(sevc_batchnorm_eval_forward(dx.p, dgm.p, dbt.p, drm.p, drv.p, dy.p, N, C, S, 1e-5f, relu, nullptr),
             "batchnorm_eval_forward");
    sev_batchnorm_eval_forward(x.data(), gamma.data(), beta.data(), rm2.data(), rv2.data(), y.data(), N, C, S, 1e-5f,
                               relu);
    compare("bn_eval relu=" + std::to_string(relu) + sz, y, dy.host(), 1e-5, 1e-6);
  }

  Dev<float> ddy(dyv), ddx(N * C * S), ddg(C), ddb(C);
  std::vector<float> rdx(N * C * S), rdg(C), rdb(C);
  check_rc(sevc_batchnorm_backward(dx.p, ddy.p, dgm.p, dsm.p, dsi.p, ddx.p, ddg.p, ddb.p, N, C, S, nullptr),
           "batchnorm_backward");
  sev_batchnorm_backward(x.data(), dyv.data(), gamma.data(), sm.data(), si.data(), rdx.data(), rdg.data(), rdb.data(),
                         N, C, S);
  compare("bn_backward dx" + sz, rdx, ddx.host(), 1e-4, 1e-5);
  compare("bn_backward dgamma" + sz, rdg, ddg.host(), 1e-5, 1e-5);
  compare("bn_backward dbeta" + sz, rdb, ddb.host(), 1e-5, 1e-5);
}

std::vector<int> pool_params(int N, int C, int T, int H, int W, int kT, int kH, int kW, int sT, int sH, int sW, int pT,
                             int pH, int pW) {
  const int To = (T + 2 * pT - kT) / sT + 1, Ho = (H + 2 * pH - kH) / sH + 1, Wo = (W + 2 * pW - kW) / sW + 1;
  return {N, C, T, H, W, C, kT, kH, kW, sT, sH, sW, pT, pH, pW, C, To, Ho, Wo};
}

void test_pool(const std::vector<int>& p) {
  const int64_t in = (int64_t)p[0] * p[1] * p[2] * p[3] * p[4], out = (int64_t)p[0] * p[1] * p[16] * p[17] * p[18];
  auto x = randn(in), dyv = randn(out);
  Dev<float> dx(x), dy(out), ddy(dyv), ddx(in);
  std::vector<float> y(out), rdx(in);
  check_rc(sevc_avgpool3d_forward(dx.p, dy.p, p.data(), nullptr), "avgpool3d_forward");
  sev_avgpool3d_forward(x.data(), y.data(), p.data());
  compare("avgpool3d_forward", y, dy.host(), 0, 0);
  check_rc(sevc_avgpool3d_backward(ddy.p, ddx.p, p.data(), nullptr), "avgpool3d_backward");
  sev_avgpool3d_backward(dyv.data(), rdx.data(), p.data());
  compare("avgpool3d_backward", rdx, ddx.host(), 0, 0);
}

void test_global_pool(int64_t N, int64_t C, int64_t S) {
  auto x = randn(N * C * S), dyv = randn(N * C);
  Dev<float> dx(x), dy(N * C), ddy(dyv), ddx(N * C * S);
  std::vector<float> y(N * C), rdx(N * C * S);
  check_rc(sevc_global_avgpool_forward(dx.p, dy.p, N, C, S, nullptr), "global_avgpool_forward");
  sev_global_avgpool_forward(x.data(), y.data(), N, C, S);
  compare("global_avgpool_forward", y, dy.host(), 1e-6, 1e-7);
  check_rc(sevc_global_avgpool_backward(ddy.p, ddx.p, N, C, S, nullptr), "global_avgpool_backward");
  sev_global_avgpool_backward(dyv.data(), rdx.data(), N, C, S);
  compare("global_avgpool_backward", rdx, ddx.host(), 0, 0);
}

void test_losses(int64_t N, int64_t K) {
  const std::string sz = " N=" + std::to_string(N) + " K=" + std::to_string(K);
  auto x = randn(N * K, 3.f);
  std::vector<int64_t> labels(N);
  for (auto& l : labels) l = (int64_t)(g_rng() % K);
  Dev<float> dx(x), dp(N * K), dl(1), dd(N * K), dys(N * K);
  Dev<int64_t> dlab(labels);
  std::vector<float> p(N * K), d(N * K), ys(N * K);
  float loss = 0;
  check_rc(sevc_softmax_xent_forward(dx.p, dlab.p, dp.p, dl.p, N, K, nullptr), "softmax_xent_forward");
  sev_softmax_xent_forward(x.data(), labels.data(), p.data(), &loss, N, K);
  compare("softmax_xent probs" + sz, p, dp.host(), 1e-6, 1e-9);
  compare1("softmax_xent loss" + sz, loss, dl.host()[0], 1e-6);
  check_rc(sevc_softmax_xent_backward(dp.p, dlab.p, dd.p, 0.75f, N, K, nullptr), "softmax_xent_backward");
  sev_softmax_xent_backward(p.data(), labels.data(), d.data(), 0.75f, N, K);
  compare("softmax_xent_backward" + sz, d, dd.host(), 1e-6, 1e-9);
  check_rc(sevc_softmax(dx.p, dys.p, N, K, nullptr), "softmax");
  sev_softmax(x.data(), ys.data(), N, K);
  compare("softmax" + sz, ys, dys.host(), 1e-5, 1e-9);

  std::vector<float> t(N * K);
  for (auto& v : t) v = (float)(g_rng() & 1);
  Dev<float> dt(t);
  check_rc(sevc_bce_logits_forward(dx.p, dt.p, dl.p, N, K, nullptr), "bce_logits_forward");
  sev_bce_logits_forward(x.data(), t.data(), &loss, N, K);
  compare1("bce loss" + sz, loss, dl.host()[0], 1e-6);
  check_rc(sevc_bce_logits_backward(dx.p, dt.p, dd.p, 2.f, N, K, nullptr), "bce_logits_backward");
  sev_bce_logits_backward(x.data(), t.data(), d.data(), 2.f, N, K);
  compare("bce_backward" + sz, d, dd.host(), 2e-6, 1e-9);
}

void test_sgd() {
  const std::vector<int64_t> sizes = {1, 37, 1000, 4097, 100003, 3};
  std::vector<std::vector<float>> w, g, v;
  std::vector<Dev<float>*> dw, dg, dv;
  for (int64_t n : sizes) {
    w.push_back(randn(n));
    g.push_back(randn(n));
    v.push_back(randn(n));
    dw.push_back(new Dev<float>(w.back()));
    dg.push_back(new Dev<float>(g.back()));
    dv.push_back(new Dev<float>(v.back()));
  }
  // single tensor
  check_rc(sevc_sgd_momentum_step(dw[3]->p, dg[3]->p, dv[3]->p, sizes[3], 0.1f, 0.9f, 1e-4f, nullptr), "sgd");
  sev_sgd_momentum_step(w[3].data(), g[3].data(), v[3].data(), sizes[3], 0.1f, 0.9f, 1e-4f);
  // the GPU fuses the multiply-adds (FMA): within a rounding of the CPU's separate multiply and add
  compare("sgd w", w[3], dw[3]->host(), 1e-6, 1e-7);
  compare("sgd v", v[3], dv[3]->host(), 1e-6, 1e-7);
  // all tensors in one launch
  std::vector<float*> pw, pv;
  std::vector<const float*> pg;
  for (size_t i = 0; i < sizes.size(); i++) {
    pw.push_back(dw[i]->p);
    pg.push_back(dg[i]->p);
    pv.push_back(dv[i]->p);
    sev_sgd_momentum_step(w[i].data(), g[i].data(), v[i].data(), sizes[i], 0.05f, 0.8f, 5e-4f);
  }
  Dev<float*> tw(pw), tv(pv);
  Dev<const float*> tg(pg);
  Dev<int64_t> ts(sizes);
  const int64_t chunk = 4096;  // several chunks in the large tensors, one in the small
  std::vector<int64_t> prefix(sizes.size() + 1, 0);
  for (size_t i = 0; i < sizes.size(); i++) prefix[i + 1] = prefix[i] + (sizes[i] + chunk - 1) / chunk;
  Dev<int64_t> tp(prefix);
  check_rc(sevc_sgd_momentum_step_multi(tw.p, tg.p, tv.p, ts.p, tp.p, (int)sizes.size(), prefix.back(), chunk, 0.05f,
                                        0.8f, 5e-4f, nullptr),
           "sgd_multi");
  for (size_t i = 0; i < sizes.size(); i++) {
    compare("sgd_multi w" + std::to_string(i), w[i], dw[i]->host(), 1e-6, 1e-7);
    compare("sgd_multi v" + std::to_string(i), v[i], dv[i]->host(), 1e-6, 1e-7);
    delete dw[i];
    delete dg[i];
    delete dv[i];
  }
}

// loss scaling: every tensor checked in one launch (one non-finite value anywhere, in the last element of the
// last tensor among them), then scaled in one launch, against sev_all_finite / sev_scale_all
void test_amp() {
  const std::vector<int64_t> sizes = {1, 37, 0, 1000, 4097, 100003, 3};
  std::vector<std::vector<float>> x;
  std::vector<Dev<float>*> dx;
  std::vector<const float*> hp, dp;
  for (int64_t n : sizes) {
    x.push_back(randn(n));
    dx.push_back(new Dev<float>(x.back()));
    hp.push_back(x.back().data());
    dp.push_back(dx.back()->p);
  }
  Dev<const float*> tx(dp);
  Dev<int64_t> ts(sizes);
  const int count = (int)sizes.size();
  const int64_t chunk = 4096;  // as the SGD test: several chunks in the large tensors
  std::vector<int64_t> prefix(sizes.size() + 1, 0);
  for (size_t i = 0; i < sizes.size(); i++) prefix[i + 1] = prefix[i] + (sizes[i] + chunk - 1) / chunk;
  Dev<int64_t> tp(prefix);
  Dev<int> flag(1);
  const float bads[] = {NAN, INFINITY, -INFINITY};
  const int64_t places[][2] = {{6, 2}, {5, 50000}, {0, 0}, {-1, -1}};
  for (float bad : bads) {
    for (const auto& pl : places) {
      float keep = 0;
      if (pl[0] >= 0) {
        keep = x[pl[0]][pl[1]];
        CUDA_OK(cudaMemcpy(dx[pl[0]]->p + pl[1], &bad, sizeof(float), cudaMemcpyHostToDevice));
        x[pl[0]][pl[1]] = bad;
      }
      check_rc(sevc_all_finite_multi(tx.p, ts.p, tp.p, count, prefix.back(), chunk, flag.p, nullptr),
               "all_finite_multi");
      const int ref = sev_all_finite(hp.data(), sizes.data(), count);
      const int got = flag.host()[0];
      const std::string what = "all_finite_multi at " + std::to_string(pl[0]) + "/" + std::to_string(pl[1]);
      if ((ref == 1) != (got == 0) || (got != 0 && got != 1)) {
        printf("FAIL %-40s cpu %d flag %d\n", what.c_str(), ref, got);
        g_failures++;
      } else {
        printf("ok   %-40s\n", what.c_str());
      }
      if (pl[0] >= 0) {
        CUDA_OK(cudaMemcpy(dx[pl[0]]->p + pl[1], &keep, sizeof(float), cudaMemcpyHostToDevice));
        x[pl[0]][pl[1]] = keep;
      }
    }
  }
  std::vector<float*> hw, dw;
  for (int i = 0; i < count; i++) {
    hw.push_back(x[i].data());
    dw.push_back(dx[i]->p);
  }
  Dev<float*> tw(dw);
  check_rc(sevc_scale_multi(tw.p, ts.p, tp.p, count, prefix.back(), chunk, 1.f / 65536, nullptr), "scale_multi");
  sev_scale_all(hw.data(), sizes.data(), count, 1.f / 65536);
  for (int i = 0; i < count; i++) {
    compare("scale_multi " + std::to_string(i), x[i], dx[i]->host(), 0, 0);
    delete dx[i];
  }
}

// a backward's leaf gradients: 200 tensors (four batches of 64: one ending in empty tensors, one entirely empty),
// some spanning several 16384-element chunks; beta 0 with NaN in y (not read) and beta 1, against sev_axpby_all (the same expression on the CPU)
void test_axpby_list() {
  std::vector<int64_t> sizes;
  for (int i = 0; i < 200; i++) {
    // empty ones: scattered, a batch's last two (62, 63), a whole batch (128..191), the last
    const bool empty = i % 13 == 0 || i == 62 || i == 63 || (i >= 128 && i < 192) || i == 199;
    sizes.push_back(empty ? 0 : i % 37 == 5 ? 40000 : 1 + (i * 7919) % 5000);
  }
  const int count = (int)sizes.size();
  for (float beta : {0.f, 1.f}) {
    std::vector<std::vector<float>> x, y;
    std::vector<Dev<float>*> dx, dy;
    std::vector<const float*> hx, dxp;
    std::vector<float*> hy, dyp;
    for (int64_t n : sizes) {
      x.push_back(randn(n));
      y.push_back(beta == 0.f ? std::vector<float>(n, NAN) : randn(n));
      dx.push_back(new Dev<float>(x.back()));
      dy.push_back(new Dev<float>(y.back()));
      dxp.push_back(dx.back()->p);
      dyp.push_back(dy.back()->p);
    }
    for (int i = 0; i < count; i++) {
      hx.push_back(x[i].data());
      hy.push_back(y[i].data());
    }
    check_rc(sevc_axpby_list(1.f, dxp.data(), beta, dyp.data(), sizes.data(), count, nullptr), "axpby_list");
    sev_axpby_all(1.f, hx.data(), beta, hy.data(), sizes.data(), count);
    for (int i = 0; i < count; i++) {
      compare("axpby_list beta " + std::to_string((int)beta) + " tensor " + std::to_string(i), y[i], dy[i]->host(),
              1e-6, 1e-7);
      delete dx[i];
      delete dy[i];
    }
  }
}

void test_sum(int64_t n) {
  auto x = randn(n);
  Dev<float> dx(x);
  Dev<double> out(1);
  double ref = 0;
  check_rc(sevc_sum(dx.p, n, out.p, nullptr), "sum");
  sev_sum(x.data(), n, &ref);
  compare1("sum n=" + std::to_string(n), ref, out.host()[0], 1e-9);
}

void test_temporal(int N, int C, int T, int64_t S) {
  const std::string sz = " [" + std::to_string(N) + "," + std::to_string(C) + "," + std::to_string(T) + "," +
                         std::to_string(S) + "]";
  const int64_t n = (int64_t)N * C * T * S;
  auto x = randn(n), w = randn((size_t)C * C * 3), dyv = randn(n);
  Dev<float> dx(x), dw(w), dy(n), ddy(dyv), ddx(n), ddw((size_t)C * C * 3);
  std::vector<float> y(n), rdx(n), rdw((size_t)C * C * 3);
  // conv3d parameter block of a 3x1x1 conv, padding 1 in time; S as H = S, W = 1
  const int p[19] = {N, C, T, (int)S, 1, C, 3, 1, 1, 1, 1, 1, 1, 0, 0, 1, T, (int)S, 1};
  check_rc(sevc_temporal_conv3_forward(dx.p, dw.p, dy.p, N, C, T, S, nullptr), "temporal_conv3_forward");
  sev_conv3d_forward(x.data(), w.data(), nullptr, y.data(), p, 0);
  const double atol = 2e-6 * sqrt(3.0 * C);  // sums of 3C products of unit normals, cancelling
  compare("temporal_conv3_forward" + sz, y, dy.host(), 1e-4, atol);
  check_rc(sevc_temporal_conv3_backward_data(ddy.p, dw.p, ddx.p, N, C, T, S, nullptr), "temporal_conv3_backward_data");
  sev_conv3d_backward_data(dyv.data(), w.data(), rdx.data(), p);
  compare("temporal_conv3_backward_data" + sz, rdx, ddx.host(), 1e-4, atol);
  check_rc(sevc_temporal_conv3_backward_weight(dx.p, ddy.p, ddw.p, N, C, T, S, nullptr),
           "temporal_conv3_backward_weight");
  sev_conv3d_backward_weight(x.data(), dyv.data(), rdw.data(), p);
  compare("temporal_conv3_backward_weight" + sz, rdw, ddw.host(), 1e-4, 1e-3);
}
// the channels-last temporal conv (temporal_conv_ndhwc.cu), fp32 and bf16, against its plain-loop references
// (double sums, one rounding): fp32 within its accumulation error; bf16 y/dx within one bf16 ulp (2^-7
// relative, upper bound) of the reference on the same bf16 inputs; dw fp32 in both
void test_temporal_ndhwc(int N, int C, int T, int64_t S) {
  const std::string sz = " [" + std::to_string(N) + "," + std::to_string(T) + "," + std::to_string(S) + "," +
                         std::to_string(C) + "]";
  const size_t n = (size_t)N * C * T * S, nw = (size_t)C * C * 3;
  const double atol = 2e-6 * sqrt(3.0 * C);
  auto x = randn(n), w = randn(nw), dyv = randn(n);
  {
    Dev<float> dx(x), dw(w), ddy(dyv), y(n), gx(n), gw(nw);
    std::vector<float> ry(n), rgx(n), rgw(nw);
    check_rc(sevc_temporal_conv3_ndhwc_forward_f32(dx.p, dw.p, y.p, N, C, T, S, nullptr), "ndhwc_forward_f32");
    check_rc(sevc_temporal_conv3_ndhwc_backward_data_f32(ddy.p, dw.p, gx.p, N, C, T, S, nullptr), "ndhwc_bwd_data_f32");
    check_rc(sevc_temporal_conv3_ndhwc_backward_weight_f32(dx.p, ddy.p, gw.p, N, C, T, S, nullptr), "ndhwc_bwd_w_f32");
    sev_temporal_conv3_ndhwc_forward_f32(x.data(), w.data(), ry.data(), N, C, T, S);
    sev_temporal_conv3_ndhwc_backward_data_f32(dyv.data(), w.data(), rgx.data(), N, C, T, S);
    sev_temporal_conv3_ndhwc_backward_weight_f32(x.data(), dyv.data(), rgw.data(), N, C, T, S);
    compare("temporal_conv3_ndhwc_forward_f32" + sz, ry, y.host(), 1e-5, atol);
    compare("temporal_conv3_ndhwc_backward_data_f32" + sz, rgx, gx.host(), 1e-5, atol);
    compare("temporal_conv3_ndhwc_backward_weight_f32" + sz, rgw, gw.host(), 1e-4, 1e-3);
  }
  auto to_bf16 = [](const std::vector<float>& v) {
    std::vector<uint16_t> b(v.size());
    for (size_t i = 0; i < v.size(); i++) {
      uint32_t u;
      memcpy(&u, &v[i], 4);
      b[i] = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);  // finite values: round to nearest even
    }
    return b;
  };
  auto widen = [](const std::vector<uint16_t>& b) {
    std::vector<float> v(b.size());
    for (size_t i = 0; i < b.size(); i++) {
      const uint32_t u = (uint32_t)b[i] << 16;
      memcpy(&v[i], &u, 4);
    }
    return v;
  };
  auto xb = to_bf16(x), wb = to_bf16(w), dyb = to_bf16(dyv);
  Dev<uint16_t> dx(xb), dw(wb), ddy(dyb), y(n), gx(n);
  Dev<float> gw(nw);
  std::vector<uint16_t> ry(n), rgx(n);
  std::vector<float> rgw(nw);
  check_rc(sevc_temporal_conv3_ndhwc_forward_bf16(dx.p, dw.p, y.p, N, C, T, S, nullptr), "ndhwc_forward_bf16");
  check_rc(sevc_temporal_conv3_ndhwc_backward_data_bf16(ddy.p, dw.p, gx.p, N, C, T, S, nullptr), "ndhwc_bwd_data_bf16");
  check_rc(sevc_temporal_conv3_ndhwc_backward_weight_bf16(dx.p, ddy.p, gw.p, N, C, T, S, nullptr), "ndhwc_bwd_w_bf16");
  sev_temporal_conv3_ndhwc_forward_bf16(xb.data(), wb.data(), ry.data(), N, C, T, S);
  sev_temporal_conv3_ndhwc_backward_data_bf16(dyb.data(), wb.data(), rgx.data(), N, C, T, S);
  sev_temporal_conv3_ndhwc_backward_weight_bf16(xb.data(), dyb.data(), rgw.data(), N, C, T, S);
  compare("temporal_conv3_ndhwc_forward_bf16" + sz, widen(ry), widen(y.host()), 1.0 / 128, atol);
  compare("temporal_conv3_ndhwc_backward_data_bf16" + sz, widen(rgx), widen(gx.host()), 1.0 / 128, atol);
  compare("temporal_conv3_ndhwc_backward_weight_bf16" + sz, rgw, gw.host(), 1e-4, 1e-3);
}
// ---- fused conv -> BN -> ReLU (conv_bn_relu.cu) against the CPU ops composed
// the conv -> BN -> ReLU training form's CPU reference: z, y, mean, invstd, running stats
struct CbrRef {
  std::vector<float> z, y, sm, si, rm, rv;
};
CbrRef cbr_reference(const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>& gamma,
                     const std::vector<float>& beta, const std::vector<float>& rm, const std::vector<float>& rv,
                     const int* p, int relu) {
  const int64_t N = p[0], C = p[5], S = (int64_t)p[16] * p[17] * p[18];
  CbrRef r{std::vector<float>(N * C * S), std::vector<float>(N * C * S), std::vector<float>(C), std::vector<float>(C),
           rm, rv};
  sev_conv3d_forward(x.data(), w.data(), nullptr, r.z.data(), p, 0);
  sev_batchnorm_train_forward(r.z.data(), gamma.data(), beta.data(), r.y.data(), r.sm.data(), r.si.data(), r.rm.data(),
                              r.rv.data(), N, C, S, 1e-5f, 0.1f);
  if (relu) sev_relu_forward(r.y.data(), r.y.data(), N * C * S);
  return r;
}
void compare_cbr(const std::string& what, const CbrRef& ref, Dev<float>& z, Dev<float>& y, Dev<float>& sm,
                 Dev<float>& si, Dev<float>& rm, Dev<float>& rv, double zatol) {
  compare(what + " z", ref.z, z.host(), 1e-4, zatol);
  compare(what + " save_mean", ref.sm, sm.host(), 1e-5, 1e-6);
  compare(what + " save_invstd", ref.si, si.host(), 1e-5, 0);
  compare(what + " running_mean", ref.rm, rm.host(), 1e-5, 1e-6);
  compare(what + " running_var", ref.rv, rv.host(), 1e-5, 0);
  compare(what + " y", ref.y, y.host(), 1e-4, 1e-4);
}

void test_grouped(int N, int C, int cg, int T, int H, int W, int s) {
  const std::string sz = " [" + std::to_string(N) + "," + std::to_string(C) + "/" + std::to_string(cg) + "," +
                         std::to_string(T) + "," + std::to_string(H) + "," + std::to_string(W) + "] s" +
                         std::to_string(s);
  const int Ho = (H - 1) / s + 1, Wo = (W - 1) / s + 1;
  const int p[19] = {N, C, T, H, W, C, 1, 3, 3, 1, s, s, 0, 1, 1, C / cg, T, Ho, Wo};
  const int64_t nx = (int64_t)N * C * T * H * W, ny = (int64_t)N * C * T * Ho * Wo, nw = (int64_t)C * cg * 9;
  auto x = randn(nx), w = randn(nw), bias = randn(C), gamma = randn(C), beta = randn(C), rm = randn(C), dyv = randn(ny);
  std::vector<float> rv(C, 1.3f);
  for (auto& v : x) v += 1.f;  // conv outputs off zero: the statistics must not cancel
  Dev<float> dxx(x), dw(w), db(bias), dg(gamma), dbt(beta), drm(rm), drv(rv), dy(ny), dz(ny), dsm(C), dsi(C);
  const double atol = 2e-6 * sqrt(9.0 * cg);
  std::vector<float> ref(ny);
  for (int relu = 0; relu < 2; relu++) {
    check_rc(sevc_grouped_conv3x3_forward(dxx.p, dw.p, db.p, nullptr, nullptr, nullptr, nullptr, 1e-5f, relu, dy.p, N,
                                          C, cg, T, H, W, s, nullptr),
             "grouped_conv3x3_forward");
    sev_conv3d_forward(x.data(), w.data(), bias.data(), ref.data(), p, relu);
    compare("grouped fwd +bias relu=" + std::to_string(relu) + sz, ref, dy.host(), 1e-4, atol);
  }
  check_rc(sevc_grouped_conv3x3_bn_train(dxx.p, dw.p, dg.p, dbt.p, dz.p, dy.p, dsm.p, dsi.p, drm.p, drv.p, 1e-5f, 0.1f,
                                         1, N, C, cg, T, H, W, s, nullptr),
           "grouped_conv3x3_bn_train");
  compare_cbr("grouped train" + sz, cbr_reference(x, w, gamma, beta, rm, rv, p, 1), dz, dy, dsm, dsi, drm, drv, atol);
  Dev<float> ddy(dyv), ddx(nx), ddw(nw);
  std::vector<float> rdx(nx), rdw(nw);
  check_rc(sevc_grouped_conv3x3_backward_data(ddy.p, dw.p, ddx.p, N, C, cg, T, H, W, s, nullptr),
           "grouped_conv3x3_backward_data");
  sev_conv3d_backward_data(dyv.data(), w.data(), rdx.data(), p);
  compare("grouped bwd data" + sz, rdx, ddx.host(), 1e-4, atol);
  check_rc(sevc_grouped_conv3x3_backward_weight(dxx.p, ddy.p, ddw.p, N, C, cg, T, H, W, s, nullptr),
           "grouped_conv3x3_backward_weight");
  sev_conv3d_backward_weight(x.data(), dyv.data(), rdw.data(), p);
  compare("grouped bwd weight" + sz, rdw, ddw.host(), 1e-4, 1e-3);
}

// the grouped conv's 16-bit forms (inference forward, backward-data; x, w, dy in bf16 / fp16 bits, fp32 accumulation,
// the result rounded once) against the fp32 kernel on the same values widened, its result rounded as the kernels
// round: conv_bn_relu.cu says they agree bit for bit; one storage ulp of slack keeps an accumulation-order change from
// reading as a bug, an indexing or tiling bug is far outside it. Their shared-memory tiles are what racecheck checks.
// the channels-last grouped conv (grouped_conv_ndhwc.cu) against its plain-loop reference, in St's storage
template <class St>
void test_grouped_ndhwc(int dt, const char* fmt, int N, int C, int cg, int T, int H, int W, int s) {
  const std::string sz = std::string(" ") + fmt + " [" + std::to_string(N) + "," + std::to_string(C) + "/" +
                         std::to_string(cg) + "," + std::to_string(T) + "," + std::to_string(H) + "," +
                         std::to_string(W) + "] s" + std::to_string(s);
  const int Ho = (H - 1) / s + 1, Wo = (W - 1) / s + 1;
  const int64_t nx = (int64_t)N * T * H * W * C, ny = (int64_t)N * T * Ho * Wo * C, nw = (int64_t)C * 9 * cg;
  auto x = stored<St>(randn(nx)), w = stored<St>(randn(nw, 1.f / 8)), dyv = stored<St>(randn(ny));
  typedef typename St::storage S;
  Dev<S> dx(x), dw(w), ddy(dyv), y(ny), gx(nx);
  std::vector<S> ry(ny), rgx(nx);
  check_rc(sevc_grouped_conv_ndhwc_forward(dx.p, dw.p, nullptr, nullptr, 0, y.p, N, C, cg, T, H, W, s, dt, nullptr),
           "grouped_ndhwc_fwd");
  check_rc(sevc_grouped_conv_ndhwc_backward_data(ddy.p, dw.p, gx.p, N, C, cg, T, H, W, s, dt, nullptr),
           "grouped_ndhwc_bwd_data");
  sev_grouped_conv_ndhwc_forward(x.data(), w.data(), ry.data(), N, C, cg, T, H, W, s, dt);
  sev_grouped_conv_ndhwc_backward_data(dyv.data(), w.data(), rgx.data(), N, C, cg, T, H, W, s, dt);
  // fp32: the kernel's fp32 sums of 9*cg products; 16-bit: one ulp of the format
  const double rtol = dt == 0 ? 1e-5 : dt == 1 ? 1.0 / 128 : 1.0 / 1024, atol = dt == 0 ? 1e-5 : 1e-3;
  compare("grouped_conv_ndhwc_forward" + sz, loaded<St>(ry), loaded<St>(y.host()), rtol, atol);
  {
    // the epilogue: act((conv + bias) + residual) against the reference conv then sev_bias_act_ndhwc (which rounds y
    // once more in 16 bits: within an ulp)
    auto bias = randn(C), resv = randn(ny);
    auto res = stored<St>(resv);
    Dev<float> db(bias);
    Dev<S> dres(res), ye(ny);
    check_rc(sevc_grouped_conv_ndhwc_forward(dx.p, dw.p, db.p, dres.p, 1, ye.p, N, C, cg, T, H, W, s, dt, nullptr),
             "grouped_ndhwc_fwd_epilogue");
    std::vector<S> re = ry;
    sev_bias_act_ndhwc(re.data(), bias.data(), res.data(), ny / C, C, 1, dt);
    compare("grouped_conv_ndhwc_forward bias+residual+relu" + sz, loaded<St>(re), loaded<St>(ye.host()), rtol,
            atol + (dt == 0 ? 0 : 1e-2));
  }
  compare("grouped_conv_ndhwc_backward_data" + sz, loaded<St>(rgx), loaded<St>(gx.host()), rtol, atol);
  Dev<float> gw(nw);
  std::vector<float> rgw(nw);
  check_rc(sevc_grouped_conv_ndhwc_backward_weight(dx.p, ddy.p, gw.p, N, C, cg, T, H, W, s, dt, nullptr),
           "grouped_ndhwc_bwd_weight");
  sev_grouped_conv_ndhwc_backward_weight(x.data(), dyv.data(), rgw.data(), N, C, cg, T, H, W, s, dt);
  compare("grouped_conv_ndhwc_backward_weight" + sz, rgw, gw.host(), 1e-4, 1e-3);  // fp32 sums of N*T*Ho*Wo terms
}

// the tensor-core temporal conv (temporal_conv_ndhwc_tc.cu) against the fp32 plain-loop reference on the same
// values (fp32 storage: rounded to TF32 first, as the kernel's fragments are), its weight permuted from KTRSC to
// PyTorch's order, the epilogue applied to the reference by sev_bias_act_ndhwc; 16-bit: within an ulp of the format
template <class St>
void test_temporal_tc(int dt, const char* fmt, int N, int C, int T, int64_t S) {
  const std::string sz = std::string(" ") + fmt + " [" + std::to_string(N) + "," + std::to_string(C) + "," +
                         std::to_string(T) + "," + std::to_string(S) + "]";
  typedef typename St::storage Sx;
  const int64_t n = (int64_t)N * T * S * C, nw = 3 * (int64_t)C * C;
  auto x = stored<St>(randn(n)), w = stored<St>(randn(nw, 1.f / sqrtf(3.f * C))), dyv = stored<St>(randn(n)),
       res = stored<St>(randn(n));
  auto bias = randn(C);
  Dev<Sx> dx(x), dw(w), ddy(dyv), dres(res), y(n), ye(n), gx(n);
  Dev<float> db(bias);
  check_rc(sevc_temporal_conv3_ndhwc_tc_forward(dx.p, dw.p, nullptr, nullptr, 0, y.p, N, C, T, S, dt, nullptr),
           "temporal_tc_fwd");
  check_rc(sevc_temporal_conv3_ndhwc_tc_forward(dx.p, dw.p, db.p, dres.p, 1, ye.p, N, C, T, S, dt, nullptr),
           "temporal_tc_fwd_epilogue");
  check_rc(sevc_temporal_conv3_ndhwc_tc_backward_data(ddy.p, dw.p, gx.p, N, C, T, S, dt, nullptr), "temporal_tc_bwd");
  auto operand = [&](std::vector<float> v) {
    if (dt == SEV_DT_F32)
      for (auto& e : v) e = tt_tf32(e);
    return v;
  };
  const auto xf = operand(loaded<St>(x)), wk = operand(loaded<St>(w)), dyf = operand(loaded<St>(dyv));
  std::vector<float> wp(nw), ry(n), rgx(n);
  for (int co = 0; co < C; co++)
    for (int k = 0; k < 3; k++)
      for (int ci = 0; ci < C; ci++) wp[((int64_t)co * C + ci) * 3 + k] = wk[((int64_t)co * 3 + k) * C + ci];
  sev_temporal_conv3_ndhwc_forward_f32(xf.data(), wp.data(), ry.data(), N, C, T, S);
  sev_temporal_conv3_ndhwc_backward_data_f32(dyf.data(), wp.data(), rgx.data(), N, C, T, S);
  std::vector<float> re = ry, resf = loaded<St>(res);
  sev_bias_act_ndhwc(re.data(), bias.data(), resf.data(), n / C, C, 1, SEV_DT_F32);
  const double rtol = dt == SEV_DT_F32 ? 1e-5 : dt == SEV_DT_BF16 ? 1.0 / 128 : 1.0 / 1024;
  const double atol = dt == SEV_DT_F32 ? 1e-4 : 1e-2;
  compare("temporal_conv3_ndhwc_tc_forward" + sz, loaded<St>(stored<St>(ry)), loaded<St>(y.host()), rtol, atol);
  compare("temporal_conv3_ndhwc_tc_forward bias+residual+relu" + sz, loaded<St>(stored<St>(re)),
          loaded<St>(ye.host()), rtol, atol);
  compare("temporal_conv3_ndhwc_tc_backward_data" + sz, loaded<St>(stored<St>(rgx)), loaded<St>(gx.host()), rtol,
          atol);
  // dw: fp32 KTRSC from the kernel, the reference's [C][C][3] permuted; fp32 sums of N*T*S products
  Dev<float> gw(nw);
  check_rc(sevc_temporal_conv3_ndhwc_tc_backward_weight(dx.p, ddy.p, gw.p, N, C, T, S, dt, nullptr), "temporal_tc_dw");
  std::vector<float> rdw(nw), rdwk(nw);
  sev_temporal_conv3_ndhwc_backward_weight_f32(xf.data(), dyf.data(), rdw.data(), N, C, T, S);
  for (int co = 0; co < C; co++)
    for (int k = 0; k < 3; k++)
      for (int ci = 0; ci < C; ci++) rdwk[((int64_t)co * 3 + k) * C + ci] = rdw[((int64_t)co * C + ci) * 3 + k];
  // fp32 sums of N*T*S products through the tensor cores' accumulation and the splits' partials: error ~ sqrt(NTS)
  compare("temporal_conv3_ndhwc_tc_backward_weight" + sz, rdwk, gw.host(), 1e-4,
          std::max(1e-3, 1e-5 * sqrt((double)N * T * S)));
}

template <class St>
void test_grouped_half(const char* fmt, int N, int C, int cg, int T, int H, int W, int s) {
  const bool bf = !strcmp(fmt, "bf16");
  const std::string sz = std::string(" ") + fmt + " [" + std::to_string(N) + "," + std::to_string(C) + "/" +
                         std::to_string(cg) + "," + std::to_string(T) + "," + std::to_string(H) + "," +
                         std::to_string(W) + "] s" + std::to_string(s);
  const int Ho = (H - 1) / s + 1, Wo = (W - 1) / s + 1;
  const int64_t nx = (int64_t)N * C * T * H * W, ny = (int64_t)N * C * T * Ho * Wo, nw = (int64_t)C * cg * 9;
  auto x = stored<St>(randn(nx)), w = stored<St>(randn(nw)), dyv = stored<St>(randn(ny));
  auto bias = randn(C);
  Dev<uint16_t> dx16(x), dw16(w), ddy16(dyv), dy16(ny), ddx16(nx);
  Dev<float> dxw(loaded<St>(x)), dww(loaded<St>(w)), ddyw(loaded<St>(dyv)), db(bias), dyf(ny), ddxf(nx);
  const double rtol = bf ? 1.0 / 128 : 1.0 / 1024;
  for (int relu = 0; relu < 2; relu++) {
    check_rc((bf ? sevc_grouped_conv3x3_forward_bf16 : sevc_grouped_conv3x3_forward_f16)(
                 dx16.p, dw16.p, db.p, nullptr, nullptr, nullptr, nullptr, 1e-5f, relu, dy16.p, N, C, cg, T, H, W, s,
                 nullptr),
             "grouped_conv3x3_forward_16");
    check_rc(sevc_grouped_conv3x3_forward(dxw.p, dww.p, db.p, nullptr, nullptr, nullptr, nullptr, 1e-5f, relu, dyf.p,
                                          N, C, cg, T, H, W, s, nullptr),
             "grouped_conv3x3_forward");
    compare("grouped fwd 16-bit relu=" + std::to_string(relu) + sz, loaded<St>(stored<St>(dyf.host())),
            loaded<St>(dy16.host()), rtol, 1e-6);
  }
  check_rc((bf ? sevc_grouped_conv3x3_backward_data_bf16 : sevc_grouped_conv3x3_backward_data_f16)(
               ddy16.p, dw16.p, ddx16.p, N, C, cg, T, H, W, s, nullptr),
           "grouped_conv3x3_backward_data_16");
  check_rc(sevc_grouped_conv3x3_backward_data(ddyw.p, dww.p, ddxf.p, N, C, cg, T, H, W, s, nullptr),
           "grouped_conv3x3_backward_data");
  compare("grouped bwd data 16-bit" + sz, loaded<St>(stored<St>(ddxf.host())), loaded<St>(ddx16.host()), rtol, 1e-6);
}

void test_pointwise(int N, int Cin, int Cout, int64_t S) {
  const std::string sz = " [" + std::to_string(N) + "," + std::to_string(Cin) + "->" + std::to_string(Cout) + "," +
                         std::to_string(S) + "]";
  const int p[19] = {N, Cin, 1, (int)S, 1, Cout, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, (int)S, 1};
  auto x = randn((size_t)N * Cin * S), w = randn((size_t)Cout * Cin), bias = randn(Cout), gamma = randn(Cout),
       beta = randn(Cout), rm = randn(Cout);
  std::vector<float> rv(Cout, 0.8f);
  for (auto& v : x) v += 0.5f;
  const int64_t ny = (int64_t)N * Cout * S;
  Dev<float> dxx(x), dw(w), db(bias), dg(gamma), dbt(beta), drm(rm), drv(rv), dy(ny), dz(ny), dsm(Cout), dsi(Cout);
  const double atol = 2e-6 * sqrt((double)Cin);
  std::vector<float> ref(ny);
  check_rc(sevc_pointwise_conv_forward(dxx.p, dw.p, db.p, nullptr, nullptr, nullptr, nullptr, 1e-5f, 1, dy.p, N, Cin,
                                       Cout, S, nullptr),
           "pointwise_conv_forward");
  sev_conv3d_forward(x.data(), w.data(), bias.data(), ref.data(), p, 1);
  compare("pointwise fwd +bias relu" + sz, ref, dy.host(), 1e-4, atol);
  check_rc(sevc_pointwise_conv_bn_train(dxx.p, dw.p, dg.p, dbt.p, dz.p, dy.p, dsm.p, dsi.p, drm.p, drv.p, 1e-5f, 0.1f, 1,
                                        N, Cin, Cout, S, nullptr),
           "pointwise_conv_bn_train");
  compare_cbr("pointwise train" + sz, cbr_reference(x, w, gamma, beta, rm, rv, p, 1), dz, dy, dsm, dsi, drm, drv, atol);
}

void test_bn_act(int64_t N, int64_t C, int64_t S) {
  const std::string sz = " [" + std::to_string(N) + "," + std::to_string(C) + "," + std::to_string(S) + "]";
  const int64_t n = N * C * S;
  auto x = randn(n, 2.f), res = randn(n), dyv = randn(n), gamma = randn(C), beta = randn(C), rm = randn(C);
  std::vector<float> rv(C, 1.1f);
  for (auto& v : x) v += 0.7f;
  Dev<float> dxx(x), dres(res), ddy(dyv), dg(gamma), dbt(beta), drm(rm), drv(rv), dy(n), dsm(C), dsi(C);
  check_rc(sevc_bn_act_train_forward(dxx.p, dres.p, dg.p, dbt.p, dy.p, dsm.p, dsi.p, drm.p, drv.p, N, C, S, 1e-5f, 0.1f,
                                     1, nullptr),
           "bn_act_train_forward");
  CbrRef r{x, std::vector<float>(n), std::vector<float>(C), std::vector<float>(C), rm, rv};
  sev_batchnorm_train_forward(x.data(), gamma.data(), beta.data(), r.y.data(), r.sm.data(), r.si.data(), r.rm.data(),
                              r.rv.data(), N, C, S, 1e-5f, 0.1f);
  sev_add_relu(r.y.data(), res.data(), r.y.data(), n);
  compare_cbr("bn+add+relu train" + sz, r, dxx, dy, dsm, dsi, drm, drv, 0);
  // backward with the mask of that output, and the residual's gradient
  Dev<float> ddx(n), ddg(C), ddb(C), ddres(n);
  check_rc(sevc_bn_act_backward(dxx.p, dy.p, ddy.p, dg.p, dsm.p, dsi.p, ddx.p, ddg.p, ddb.p, ddres.p, N, C, S, nullptr),
           "bn_act_backward");
  std::vector<float> yg = dy.host(), sm = dsm.host(), si = dsi.host(), g(n), rdx(n), rdg(C), rdb(C);
  sev_relu_backward(yg.data(), dyv.data(), g.data(), n);
  sev_batchnorm_backward(x.data(), g.data(), gamma.data(), sm.data(), si.data(), rdx.data(), rdg.data(), rdb.data(), N, C,
                         S);
  compare("bn+relu bwd dx" + sz, rdx, ddx.host(), 1e-4, 1e-5);
  compare("bn+relu bwd dgamma" + sz, rdg, ddg.host(), 1e-5, 1e-5);
  compare("bn+relu bwd dbeta" + sz, rdb, ddb.host(), 1e-5, 1e-5);
  compare("bn+relu bwd dresidual" + sz, g, ddres.host(), 0, 0);
}
// the batch-norm glue in 16-bit storage (sevc_bn_act_*_bf16/_f16) against its CPU references on the same 16-bit
// inputs: statistics, dgamma, dbeta fp32 as the fp32 test; y and dx within one 16-bit ulp (2^-7 / 2^-10 relative,
// an upper bound) of the reference plus 1e-5 (terms of order 1-10 in fp32); dresidual bit for bit
template <class St>
void test_bn_act_half(const char* fmt, int64_t N, int64_t C, int64_t S) {
  const bool bf = !strcmp(fmt, "bf16");
  const std::string sz = std::string(" ") + fmt + " [" + std::to_string(N) + "," + std::to_string(C) + "," +
                         std::to_string(S) + "]";
  const int64_t n = N * C * S;
  auto narrow = stored<St>;
  auto widen = loaded<St>;
  auto xf = randn(n, 2.f);
  for (auto& v : xf) v += 0.7f;
  auto x = narrow(xf), res = narrow(randn(n)), dyv = narrow(randn(n));
  auto gamma = randn(C), beta = randn(C), rm = randn(C);
  std::vector<float> rv(C, 1.1f);
  Dev<uint16_t> dxx(x), dres(res), ddy(dyv), dy(n), ddx(n), ddres(n);
  Dev<float> dg(gamma), dbt(beta), drm(rm), drv(rv), dsm(C), dsi(C), ddg(C), ddb(C);
  const double rtol = bf ? 1.0 / 128 : 1.0 / 1024;
  check_rc((bf ? sevc_bn_act_train_forward_bf16 : sevc_bn_act_train_forward_f16)(
               dxx.p, dres.p, dg.p, dbt.p, dy.p, dsm.p, dsi.p, drm.p, drv.p, N, C, S, 1e-5f, 0.1f, 1, nullptr),
           "bn_act_train_forward_16");
  std::vector<uint16_t> ry(n);
  std::vector<float> rsm(C), rsi(C), rrm = rm, rrv = rv;
  (bf ? sev_batchnorm_act_train_forward_bf16 : sev_batchnorm_act_train_forward_f16)(
      x.data(), res.data(), gamma.data(), beta.data(), ry.data(), rsm.data(), rsi.data(), rrm.data(), rrv.data(), N, C,
      S, 1e-5f, 0.1f, 1);
  compare("bn+add+relu train y" + sz, widen(ry), widen(dy.host()), rtol, 1e-5);
  compare("bn+add+relu train save_mean" + sz, rsm, dsm.host(), 1e-5, 1e-6);
  compare("bn+add+relu train save_invstd" + sz, rsi, dsi.host(), 1e-5, 0);
  compare("bn+add+relu train running_mean" + sz, rrm, drm.host(), 1e-5, 1e-6);
  compare("bn+add+relu train running_var" + sz, rrv, drv.host(), 1e-5, 0);
  // backward with the mask of the device's y (the reference reads the same bits) and the residual's gradient
  check_rc((bf ? sevc_bn_act_backward_bf16 : sevc_bn_act_backward_f16)(dxx.p, dy.p, ddy.p, dg.p, dsm.p, dsi.p, ddx.p,
                                                                        ddg.p, ddb.p, ddres.p, N, C, S, nullptr),
           "bn_act_backward_16");
  std::vector<uint16_t> yg = dy.host(), rdx(n), rdres(n);
  std::vector<float> sm = dsm.host(), si = dsi.host(), rdg(C), rdb(C);
  (bf ? sev_batchnorm_act_backward_bf16 : sev_batchnorm_act_backward_f16)(x.data(), yg.data(), dyv.data(), gamma.data(),
                                                                         sm.data(), si.data(), rdx.data(), rdg.data(),
                                                                         rdb.data(), rdres.data(), N, C, S);
  compare("bn+relu bwd dx" + sz, widen(rdx), widen(ddx.host()), rtol, 1e-5);
  compare("bn+relu bwd dgamma" + sz, rdg, ddg.host(), 1e-5, 1e-5);
  compare("bn+relu bwd dbeta" + sz, rdb, ddb.host(), 1e-5, 1e-5);
  compare("bn+relu bwd dresidual" + sz, widen(rdres), widen(ddres.host()), 0, 0);
}
// ---- channels-last batch norm (batchnorm_ndhwc.cu) against its CPU references (the NCDHW ops on the transpose),
// [M][C], fp32 / bf16 / fp16: statistics, dgamma, dbeta as the NCDHW glue's test; y and dx within one storage ulp
// (fp32: 1e-5, 16-bit 2^-7 / 2^-10 relative, upper bounds) plus 1e-5; dresidual exact. The training calls take the
// caller's scratch here (the Java GPU test runs the pool form too).
template <class St>
struct NdhwcBn;
template <>
struct NdhwcBn<SevF32> {
  static constexpr auto fwd = sevc_bn_act_train_forward_ndhwc_f32;
  static constexpr auto bwd = sevc_bn_act_backward_ndhwc_f32;
  static constexpr auto bwd_from_x = sevc_bn_relu_backward_ndhwc_f32;
  static constexpr auto eval = sevc_batchnorm_eval_ndhwc_f32;
  static constexpr auto ref_fwd = sev_bn_act_train_forward_ndhwc_f32;
  static constexpr auto ref_bwd = sev_bn_act_backward_ndhwc_f32;
  static constexpr auto ref_eval = sev_batchnorm_eval_ndhwc_f32;
  static constexpr double rtol = 1e-5;
};
template <>
struct NdhwcBn<SevBF16> {
  static constexpr auto fwd = sevc_bn_act_train_forward_ndhwc_bf16;
  static constexpr auto bwd = sevc_bn_act_backward_ndhwc_bf16;
  static constexpr auto bwd_from_x = sevc_bn_relu_backward_ndhwc_bf16;
  static constexpr auto eval = sevc_batchnorm_eval_ndhwc_bf16;
  static constexpr auto ref_fwd = sev_bn_act_train_forward_ndhwc_bf16;
  static constexpr auto ref_bwd = sev_bn_act_backward_ndhwc_bf16;
  static constexpr auto ref_eval = sev_batchnorm_eval_ndhwc_bf16;
  static constexpr double rtol = 1.0 / 128;
};
template <>
struct NdhwcBn<SevF16> {
  static constexpr auto fwd = sevc_bn_act_train_forward_ndhwc_f16;
  static constexpr auto bwd = sevc_bn_act_backward_ndhwc_f16;
  static constexpr auto bwd_from_x = sevc_bn_relu_backward_ndhwc_f16;
  static constexpr auto eval = sevc_batchnorm_eval_ndhwc_f16;
  static constexpr auto ref_fwd = sev_bn_act_train_forward_ndhwc_f16;
  static constexpr auto ref_bwd = sev_bn_act_backward_ndhwc_f16;
  static constexpr auto ref_eval = sev_batchnorm_eval_ndhwc_f16;
  static constexpr double rtol = 1.0 / 1024;
};
template <class St>
void test_bn_ndhwc(const char* fmt, int64_t M, int64_t C) {
  typedef typename St::storage T;
  typedef NdhwcBn<St> K;
  const std::string sz = std::string(" ") + fmt + " [" + std::to_string(M) + "," + std::to_string(C) + "]";
  const int64_t n = M * C;
  auto narrow = stored<St>;
  auto widen = loaded<St>;
  auto xf = randn(n, 2.f);
  for (auto& v : xf) v += 0.7f;
  auto x = narrow(xf), res = narrow(randn(n)), dyv = narrow(randn(n));
  auto gamma = randn(C), beta = randn(C), rm = randn(C);
  std::vector<float> rv(C, 1.1f);
  const int64_t sbytes = sevc_bn_act_ndhwc_scratch_bytes(M, C);
  Dev<T> dxx(x), dres(res), ddy(dyv), dy(n), ddx(n), ddres(n), dye(n);
  Dev<float> dg(gamma), dbt(beta), drm(rm), drv(rv), dsm(C), dsi(C), ddg(C), ddb(C);
  Dev<double> scratch((size_t)(sbytes > 0 ? sbytes / 8 : 1));
  check_rc(K::fwd(dxx.p, dres.p, dg.p, dbt.p, dy.p, dsm.p, dsi.p, drm.p, drv.p, M, C, 1e-5f, 0.1f, 1, scratch.p, sbytes,
                  nullptr),
           "bn_act_train_forward_ndhwc");
  std::vector<T> ry(n);
  std::vector<float> rsm(C), rsi(C), rrm = rm, rrv = rv;
  K::ref_fwd(x.data(), res.data(), gamma.data(), beta.data(), ry.data(), rsm.data(), rsi.data(), rrm.data(), rrv.data(),
             M, C, 1e-5f, 0.1f, 1);
  compare("ndhwc bn+add+relu train y" + sz, widen(ry), widen(dy.host()), K::rtol, 1e-5);
  compare("ndhwc bn+add+relu train save_mean" + sz, rsm, dsm.host(), 1e-5, 1e-6);
  compare("ndhwc bn+add+relu train save_invstd" + sz, rsi, dsi.host(), 1e-5, 0);
  compare("ndhwc bn+add+relu train running_mean" + sz, rrm, drm.host(), 1e-5, 1e-6);
  compare("ndhwc bn+add+relu train running_var" + sz, rrv, drv.host(), 1e-5, 0);
  // backward with the mask of the device's y (the reference reads the same bits) and the residual's gradient
  check_rc(K::bwd(dxx.p, dy.p, ddy.p, dg.p, dsm.p, dsi.p, ddx.p, ddg.p, ddb.p, ddres.p, M, C, scratch.p, sbytes, nullptr),
           "bn_act_backward_ndhwc");
  std::vector<T> yg = dy.host(), rdx(n), rdres(n);
  std::vector<float> sm = dsm.host(), si = dsi.host(), rdg(C), rdb(C);
  K::ref_bwd(x.data(), yg.data(), dyv.data(), gamma.data(), sm.data(), si.data(), rdx.data(), rdg.data(), rdb.data(),
             rdres.data(), M, C);
  compare("ndhwc bn+relu bwd dx" + sz, widen(rdx), widen(ddx.host()), K::rtol, 1e-5);
  compare("ndhwc bn+relu bwd dgamma" + sz, rdg, ddg.host(), 1e-5, 1e-5);
  compare("ndhwc bn+relu bwd dbeta" + sz, rdb, ddb.host(), 1e-5, 1e-5);
  compare("ndhwc bn+relu bwd dresidual" + sz, widen(rdres), widen(ddres.host()), 0, 0);
  // relu(bn(x)) without a residual: the backward that recomputes the mask from x is the y form on the device's own
  // forward y, bit for bit
  Dev<T> dy2(n), ddx2(n), ddx3(n);
  Dev<float> dsm2(C), dsi2(C), ddg2(C), ddb2(C), ddg3(C), ddb3(C);
  check_rc(K::fwd(dxx.p, nullptr, dg.p, dbt.p, dy2.p, dsm2.p, dsi2.p, nullptr, nullptr, M, C, 1e-5f, 0.1f, 1, scratch.p,
                  sbytes, nullptr),
           "bn_act_train_forward_ndhwc (relu)");
  check_rc(K::bwd(dxx.p, dy2.p, ddy.p, dg.p, dsm2.p, dsi2.p, ddx2.p, ddg2.p, ddb2.p, nullptr, M, C, scratch.p, sbytes,
                  nullptr),
           "bn_act_backward_ndhwc (relu, y)");
  check_rc(K::bwd_from_x(dxx.p, ddy.p, dg.p, dbt.p, dsm2.p, dsi2.p, ddx3.p, ddg3.p, ddb3.p, M, C, nullptr, 0, nullptr),
           "bn_relu_backward_ndhwc (mask from x)");
  compare("ndhwc bn+relu bwd, mask from x: dx" + sz, widen(ddx2.host()), widen(ddx3.host()), 0, 0);
  compare("ndhwc bn+relu bwd, mask from x: dgamma" + sz, ddg2.host(), ddg3.host(), 0, 0);
  compare("ndhwc bn+relu bwd, mask from x: dbeta" + sz, ddb2.host(), ddb3.host(), 0, 0);
  // eval with the running statistics, ReLU
  check_rc(K::eval(dxx.p, dg.p, dbt.p, drm.p, drv.p, dye.p, M, C, 1e-5f, 1, nullptr), "batchnorm_eval_ndhwc");
  std::vector<T> rye(n);
  const std::vector<float> erm = drm.host(), erv = drv.host();
  K::ref_eval(x.data(), gamma.data(), beta.data(), erm.data(), erv.data(), rye.data(), M, C, 1e-5f, 1);
  compare("ndhwc bn eval relu" + sz, widen(rye), widen(dye.host()), K::rtol, 1e-5);
}
// --bench: milliseconds per call (CUDA events, median of 20 after warm-up) and the bandwidth of the
// bytes each op must move at least. Information only, never a pass/fail.
template <typename F>
void bench(const char* what, double bytes, F launch) {
  cudaEvent_t a, b;
  CUDA_OK(cudaEventCreate(&a));
  CUDA_OK(cudaEventCreate(&b));
  for (int i = 0; i < 3; i++) launch();
  std::vector<float> ms;
  for (int i = 0; i < 20; i++) {
    CUDA_OK(cudaEventRecord(a));
    launch();
    CUDA_OK(cudaEventRecord(b));
    CUDA_OK(cudaEventSynchronize(b));
    float t = 0;
    CUDA_OK(cudaEventElapsedTime(&t, a, b));
    ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  printf("bench %-44s %8.3f ms %8.1f GB/s\n", what, ms[10], bytes / (ms[10] * 1e-3) / 1e9);
  cudaEventDestroy(a);
  cudaEventDestroy(b);
}

void run_benchmarks() {
  const int64_t N = 8, C = 64, T = 8, HW = 56 * 56, S = T * HW, n = N * C * S;
  Dev<float> x(randn(n)), y(n), dy(randn(n)), dx(n), g(randn(C)), bt(randn(C)), rm(C), rv(C), sm(C), si(C), dg(C),
      db(C), w(randn(C * C * 3)), dw(C * C * 3);
  Dev<double> out(1);
  const double fb = 4.0 * n;
  bench("relu_forward [8,64,8,56,56]", 2 * fb, [&] { sevc_relu_forward(x.p, y.p, n, nullptr); });
  bench("add_relu", 3 * fb, [&] { sevc_add_relu(x.p, dy.p, y.p, n, nullptr); });
  bench("sum", fb, [&] { sevc_sum(x.p, n, out.p, nullptr); });
  bench("bias_relu", 2 * fb, [&] { sevc_bias_relu(y.p, g.p, N, C, S, 1, nullptr); });
  bench("batchnorm_train_forward", 2 * fb, [&] {
    sevc_batchnorm_train_forward(x.p, g.p, bt.p, y.p, sm.p, si.p, rm.p, rv.p, N, C, S, 1e-5f, 0.1f, nullptr);
  });
  bench("batchnorm_eval_forward relu", 2 * fb,
        [&] { sevc_batchnorm_eval_forward(x.p, g.p, bt.p, sm.p, si.p, y.p, N, C, S, 1e-5f, 1, nullptr); });
  bench("batchnorm_backward", 3 * fb,
        [&] { sevc_batchnorm_backward(x.p, dy.p, g.p, sm.p, si.p, dx.p, dg.p, db.p, N, C, S, nullptr); });
  auto p = pool_params(N, C, T, 56, 56, 1, 3, 3, 1, 2, 2, 0, 1, 1);
  bench("avgpool3d_forward 1x3x3 s2", 1.25 * fb, [&] { sevc_avgpool3d_forward(x.p, y.p, p.data(), nullptr); });
  bench("avgpool3d_backward 1x3x3 s2", 1.25 * fb, [&] { sevc_avgpool3d_backward(dy.p, dx.p, p.data(), nullptr); });
  bench("global_avgpool_forward", fb, [&] { sevc_global_avgpool_forward(x.p, y.p, N, C, S, nullptr); });
  bench("channel_scale_backward", 3 * fb,
        [&] { sevc_channel_scale_backward(x.p, y.p, dy.p, dx.p, dg.p, N, C, S, nullptr); });
  bench("temporal_conv3_forward C=64", 2 * fb,
        [&] { sevc_temporal_conv3_forward(x.p, w.p, y.p, N, C, T, HW, nullptr); });
  bench("temporal_conv3_backward_data C=64", 2 * fb,
        [&] { sevc_temporal_conv3_backward_data(dy.p, w.p, dx.p, N, C, T, HW, nullptr); });
  bench("temporal_conv3_backward_weight C=64", 2 * fb,
        [&] { sevc_temporal_conv3_backward_weight(x.p, dy.p, dw.p, N, C, T, HW, nullptr); });
  Dev<float> wg(randn(C * 8 * 9)), dwg(C * 8 * 9), wp(randn(C * C)), z(n);
  bench("grouped_conv3x3_bn_train C=64/8 relu", 3 * fb, [&] {
    sevc_grouped_conv3x3_bn_train(x.p, wg.p, g.p, bt.p, z.p, y.p, sm.p, si.p, rm.p, rv.p, 1e-5f, 0.1f, 1, N, C, 8, T, 56,
                                  56, 1, nullptr);
  });
  bench("grouped_conv3x3_forward +bias relu", 2 * fb, [&] {
    sevc_grouped_conv3x3_forward(x.p, wg.p, bt.p, nullptr, nullptr, nullptr, nullptr, 1e-5f, 1, y.p, N, C, 8, T, 56, 56,
                                 1, nullptr);
  });
  bench("grouped_conv3x3_backward_data", 2 * fb,
        [&] { sevc_grouped_conv3x3_backward_data(dy.p, wg.p, dx.p, N, C, 8, T, 56, 56, 1, nullptr); });
  bench("grouped_conv3x3_backward_weight", 2 * fb,
        [&] { sevc_grouped_conv3x3_backward_weight(x.p, dy.p, dwg.p, N, C, 8, T, 56, 56, 1, nullptr); });
  bench("pointwise_conv_bn_train C=64 relu", 3 * fb, [&] {
    sevc_pointwise_conv_bn_train(x.p, wp.p, g.p, bt.p, z.p, y.p, sm.p, si.p, rm.p, rv.p, 1e-5f, 0.1f, 1, N, C, C, S,
                                 nullptr);
  });
  bench("bn_act_train_forward +residual relu", 3 * fb, [&] {
    sevc_bn_act_train_forward(x.p, dy.p, g.p, bt.p, y.p, sm.p, si.p, rm.p, rv.p, N, C, S, 1e-5f, 0.1f, 1, nullptr);
  });
  bench("bn_act_backward relu +dresidual", 5 * fb,
        [&] { sevc_bn_act_backward(x.p, y.p, dy.p, g.p, sm.p, si.p, dx.p, dg.p, db.p, z.p, N, C, S, nullptr); });
  CUDA_OK(cudaDeviceSynchronize());
}
// ---- channels-last glue (channels_ndhwc.cu) against its CPU references (sev_*_ndhwc*: the NCDHW ops on the
// transpose), dtype 0 fp32 (T float) / 1 bf16 / 2 fp16 (T uint16_t): bit for bit (compared widened, exactly) except
// the column reductions (global pool forward, the SE gate's dg: double sums in another order, 1e-6 relative)
template <typename T>
std::vector<T> cl_rand(int dt, size_t n) {
  const std::vector<float> v = randn(n);
  std::vector<T> out(n);
  for (size_t i = 0; i < n; i++) {
    if constexpr (sizeof(T) == 4)
      out[i] = v[i];
    else
      out[i] = dt == 1 ? sev_float_to_bf16(v[i]) : sev_float_to_half(v[i]);
  }
  return out;
}
template <typename T>
std::vector<float> cl_wide(int dt, const std::vector<T>& v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); i++) {
    if constexpr (sizeof(T) == 4)
      out[i] = v[i];
    else
      out[i] = dt == 1 ? sev_bf16_to_float(v[i]) : sev_half_to_float(v[i]);
  }
  return out;
}
template <typename T>
void test_channels_ndhwc(int dt, int64_t N, int64_t C, int64_t S) {
  const std::string sz = " dt=" + std::to_string(dt) + " [" + std::to_string(N) + "," + std::to_string(C) + "," +
                         std::to_string(S) + "]";
  const int eb = (int)sizeof(T);
  const int64_t n = N * C * S, M = N * S;
  const std::vector<T> x = cl_rand<T>(dt, n);
  Dev<T> dx(x), dl(n), dback(n);
  std::vector<T> rl(n);
  check_rc(sevc_ncdhw_to_ndhwc(dx.p, dl.p, N, C, S, eb, nullptr), "ncdhw_to_ndhwc");
  check_rc(sevc_ndhwc_to_ncdhw(dl.p, dback.p, N, C, S, eb, nullptr), "ndhwc_to_ncdhw");
  if constexpr (sizeof(T) == 4)
    sev_ncdhw_to_ndhwc(x.data(), rl.data(), N, C, S);
  else
    sev_ncdhw_to_ndhwc_u16(x.data(), rl.data(), N, C, S);
  compare("ncdhw_to_ndhwc" + sz, cl_wide(dt, rl), cl_wide(dt, dl.host()), 0, 0);
  compare("ndhwc_to_ncdhw round trip" + sz, cl_wide(dt, x), cl_wide(dt, dback.host()), 0, 0);

  const std::vector<T> y = cl_rand<T>(dt, n), res = cl_rand<T>(dt, n);
  const std::vector<float> bias = randn(C), g = randn(N * C), gy = randn(N * C);
  Dev<T> dy(y), dres(res), ds(n), dgx(n);
  Dev<float> dbias(bias), dg(g), dgy(gy), dp(N * C);
  std::vector<T> ry(y), rs(n), rgx(n);
  std::vector<float> rp(N * C);
  check_rc(sevc_bias_act_ndhwc(dy.p, dbias.p, dres.p, M, C, 1, dt, nullptr), "bias_act_ndhwc");
  sev_bias_act_ndhwc(ry.data(), bias.data(), res.data(), M, C, 1, dt);
  compare("bias_act_ndhwc relu" + sz, cl_wide(dt, ry), cl_wide(dt, dy.host()), 0, 0);
  check_rc(sevc_channel_scale_ndhwc_forward(dx.p, dg.p, ds.p, N, C, S, dt, nullptr), "channel_scale_ndhwc_forward");
  sev_channel_scale_ndhwc_forward(x.data(), g.data(), rs.data(), N, C, S, dt);
  compare("channel_scale_ndhwc_forward" + sz, cl_wide(dt, rs), cl_wide(dt, ds.host()), 0, 0);
  check_rc(sevc_global_avgpool_ndhwc_forward(dx.p, dp.p, N, C, S, dt, nullptr), "global_avgpool_ndhwc_forward");
  sev_global_avgpool_ndhwc_forward(x.data(), rp.data(), N, C, S, dt);
  compare("global_avgpool_ndhwc_forward" + sz, rp, dp.host(), 1e-6, 1e-9);
  check_rc(sevc_global_avgpool_ndhwc_backward(dgy.p, dgx.p, N, C, S, dt, nullptr), "global_avgpool_ndhwc_backward");
  sev_global_avgpool_ndhwc_backward(gy.data(), rgx.data(), N, C, S, dt);
  compare("global_avgpool_ndhwc_backward" + sz, cl_wide(dt, rgx), cl_wide(dt, dgx.host()), 0, 0);

  // x as [M][C] ++ b [M][C]: the downsample block's two halves
  const std::vector<T> b = cl_rand<T>(dt, n);
  Dev<T> db(b), dc(2 * n), da2(n), db2(n);
  std::vector<T> rc(2 * n);
  check_rc(sevc_concat_channels_ndhwc(dx.p, db.p, dc.p, M, C, C, eb, nullptr), "concat_channels_ndhwc");
  sev_concat_channels_ndhwc(x.data(), b.data(), rc.data(), M, C, C, eb);
  compare("concat_channels_ndhwc" + sz, cl_wide(dt, rc), cl_wide(dt, dc.host()), 0, 0);
  check_rc(sevc_split_channels_ndhwc(dc.p, da2.p, db2.p, M, C, C, eb, nullptr), "split_channels_ndhwc");
  compare("split_channels_ndhwc a" + sz, cl_wide(dt, x), cl_wide(dt, da2.host()), 0, 0);
  compare("split_channels_ndhwc b" + sz, cl_wide(dt, b), cl_wide(dt, db2.host()), 0, 0);

  if constexpr (sizeof(T) == 4) {
    const std::vector<float> dyv = randn(n);
    Dev<float> ddy(dyv), ddx(n), ddg(N * C);
    std::vector<float> rdx(n), rdg(N * C);
    check_rc(sevc_channel_scale_ndhwc_backward(dx.p, dg.p, ddy.p, ddx.p, ddg.p, N, C, S, nullptr),
             "channel_scale_ndhwc_backward");
    sev_channel_scale_ndhwc_backward(x.data(), g.data(), dyv.data(), rdx.data(), rdg.data(), N, C, S);
    compare("channel_scale_ndhwc_backward dx" + sz, rdx, ddx.host(), 0, 0);
    compare("channel_scale_ndhwc_backward dg" + sz, rdg, ddg.host(), 1e-6, 1e-9);
  }
}
template <typename T>
void test_pool_ndhwc(int dt, const std::vector<int>& p) {
  const std::string sz = " dt=" + std::to_string(dt) + " C=" + std::to_string(p[1]);
  const int64_t in = (int64_t)p[0] * p[1] * p[2] * p[3] * p[4], out = (int64_t)p[0] * p[1] * p[16] * p[17] * p[18];
  const std::vector<T> x = cl_rand<T>(dt, in), dyv = cl_rand<T>(dt, out);
  Dev<T> dx(x), dy(out), ddy(dyv), ddx(in);
  std::vector<T> ry(out), rdx(in);
  check_rc(sevc_avgpool3d_ndhwc_forward(dx.p, dy.p, p.data(), dt, nullptr), "avgpool3d_ndhwc_forward");
  sev_avgpool3d_ndhwc_forward(x.data(), ry.data(), p.data(), dt);
  compare("avgpool3d_ndhwc_forward" + sz, cl_wide(dt, ry), cl_wide(dt, dy.host()), 0, 0);
  check_rc(sevc_avgpool3d_ndhwc_backward(ddy.p, ddx.p, p.data(), dt, nullptr), "avgpool3d_ndhwc_backward");
  sev_avgpool3d_ndhwc_backward(dyv.data(), rdx.data(), p.data(), dt);
  compare("avgpool3d_ndhwc_backward" + sz, cl_wide(dt, rdx), cl_wide(dt, ddx.host()), 0, 0);
}
}  // namespace

// SEVNET_SELFTEST_ONLY=a,b: run only those groups (the test function's name without "test_", e.g. bn_ndhwc), so a
// sanitizer run that cannot finish every group in its time can be pointed at the ones an earlier run did not reach
static bool selected(const char* group) {
  const char* only = getenv("SEVNET_SELFTEST_ONLY");
  if (!only || !*only) return true;
  const size_t n = strlen(group);
  for (const char* p = only; *p;) {
    const char* end = strchr(p, ',');
    const size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len == n && !strncmp(p, group, n)) return true;
    if (!end) break;
    p = end + 1;
  }
  return false;
}

int main(int argc, char** argv) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    printf("SKIP: no CUDA device\n");
    return 0;
  }
  cudaDeviceProp prop;
  CUDA_OK(cudaGetDeviceProperties(&prop, 0));
  printf("device %s (sm_%d%d), sevc_available %d, runtime %d\n", prop.name, prop.major, prop.minor, sevc_available(),
         sevc_runtime_version());
  if (argc > 1 && !strcmp(argv[1], "--bench")) {
    run_benchmarks();
    return 0;
  }
  if (selected("elementwise")) for (int64_t n : {1, 7, 1000, 65537, 3000017}) test_elementwise(n);
  if (selected("bias_relu")) test_bias_relu(3, 5, 77);
  if (selected("bias_relu")) test_bias_relu(2, 64, 3136);
  if (selected("channels")) test_channels(3, 5, 7, 33);
  if (selected("channels")) test_channels(2, 64, 64, 784);
  if (selected("batchnorm")) test_batchnorm(3, 5, 77);
  if (selected("batchnorm")) test_batchnorm(8, 64, 28 * 28 * 8);
  if (selected("batchnorm")) test_batchnorm(2, 3, 1);
  if (selected("pool")) test_pool(pool_params(2, 5, 3, 11, 13, 1, 3, 3, 1, 2, 2, 0, 1, 1));
  if (selected("pool")) test_pool(pool_params(2, 3, 7, 9, 10, 3, 3, 2, 2, 2, 1, 1, 1, 0));
  if (selected("pool")) test_pool(pool_params(4, 32, 8, 56, 56, 1, 3, 3, 1, 2, 2, 0, 1, 1));
  if (selected("global_pool")) test_global_pool(3, 5, 77);
  if (selected("global_pool")) test_global_pool(8, 512, 8 * 7 * 7);
  if (selected("losses")) test_losses(1, 1);
  if (selected("losses")) test_losses(5, 7);
  if (selected("losses")) test_losses(64, 174);
  if (selected("losses")) test_losses(3, 5000);
  if (selected("sgd")) test_sgd();
  if (selected("amp")) test_amp();
  if (selected("axpby_list")) test_axpby_list();
  if (selected("sum")) test_sum(1);
  if (selected("sum")) test_sum(1000);
  if (selected("sum")) test_sum(10000019);
  if (selected("temporal")) test_temporal(1, 3, 1, 5);
  if (selected("temporal")) test_temporal(2, 5, 7, 33);
  if (selected("temporal")) test_temporal(2, 64, 8, 28 * 28);
  if (selected("temporal")) test_temporal(3, 100, 5, 49);
  if (selected("temporal")) test_temporal(1, 130, 3, 1000);
  if (selected("temporal_ndhwc")) test_temporal_ndhwc(1, 3, 1, 5);
  if (selected("temporal_ndhwc")) test_temporal_ndhwc(2, 5, 7, 33);
  if (selected("temporal_ndhwc")) test_temporal_ndhwc(2, 70, 3, 25);
  if (selected("temporal_ndhwc")) test_temporal_ndhwc(2, 64, 8, 28 * 28);
  if (selected("temporal_ndhwc")) test_temporal_ndhwc(1, 512, 4, 49);
  if (selected("grouped")) test_grouped(1, 8, 1, 3, 5, 7, 1);
  if (selected("grouped")) test_grouped(2, 16, 8, 2, 9, 11, 2);
  if (selected("grouped")) test_grouped(1, 32, 16, 3, 13, 6, 1);
  if (selected("grouped")) test_grouped(2, 48, 16, 1, 7, 7, 2);
  if (selected("grouped")) test_grouped(2, 64, 8, 4, 56, 56, 1);
  if (selected("grouped")) test_grouped(2, 64, 8, 4, 56, 56, 2);
  if (selected("grouped")) test_grouped(2, 512, 8, 4, 7, 7, 1);
  if (selected("grouped_half")) {
    for (const auto& g : {std::vector<int>{1, 8, 1, 3, 5, 7, 1}, {2, 16, 8, 2, 9, 11, 2}, {1, 48, 16, 1, 7, 7, 2},
                          {2, 64, 8, 4, 28, 28, 1}, {2, 512, 8, 2, 7, 7, 1}}) {
      test_grouped_half<SevBF16>("bf16", g[0], g[1], g[2], g[3], g[4], g[5], g[6]);
      test_grouped_half<SevF16>("f16", g[0], g[1], g[2], g[3], g[4], g[5], g[6]);
    }
  }
  // SEVNET_SELFTEST_SMALL (set by device_session.sh for the sanitizer runs, which are 10-100x slower): the ragged
  // shapes only; the G8-sized ones run in the plain run
  const bool small = getenv("SEVNET_SELFTEST_SMALL") != nullptr;
  if (selected("grouped_ndhwc")) {
    for (const auto& g : {std::vector<int>{1, 8, 1, 3, 5, 7, 1}, {2, 16, 8, 2, 9, 11, 2}, {1, 24, 12, 2, 5, 5, 2},
                          {1, 48, 16, 2, 40, 40, 2}, {2, 64, 8, 4, 56, 56, 1}, {2, 64, 8, 4, 56, 56, 2},
                          {2, 512, 8, 4, 7, 7, 1}}) {
      if (small && (int64_t)g[0] * g[1] * g[3] * g[4] * g[5] > 200000) continue;
      test_grouped_ndhwc<SevF32>(0, "f32", g[0], g[1], g[2], g[3], g[4], g[5], g[6]);
      test_grouped_ndhwc<SevBF16>(1, "bf16", g[0], g[1], g[2], g[3], g[4], g[5], g[6]);
      test_grouped_ndhwc<SevF16>(2, "f16", g[0], g[1], g[2], g[3], g[4], g[5], g[6]);
    }
  }
  // the tensor-core temporal conv: ragged (C not a multiple of the 16-byte slot or the 64-channel tile, T = 1, a
  // partial position tile), then G8 stage shapes at batch 2 (the plain run only)
  if (selected("temporal_tc")) {
    for (const auto& g : {std::vector<int>{1, 6, 1, 9}, {2, 70, 3, 10}, {1, 96, 4, 25}, {2, 64, 4, 49},
                          {2, 64, 16, 3136}, {2, 512, 16, 49}}) {
      if (small && g[3] > 100) continue;
      test_temporal_tc<SevF32>(SEV_DT_F32, "f32", g[0], g[1], g[2], g[3]);
      test_temporal_tc<SevBF16>(SEV_DT_BF16, "bf16", g[0], g[1], g[2], g[3]);
      test_temporal_tc<SevF16>(SEV_DT_F16, "f16", g[0], g[1], g[2], g[3]);
    }
  }
  if (selected("pointwise")) test_pointwise(1, 5, 7, 33);
  if (selected("pointwise")) test_pointwise(2, 70, 130, 100);
  if (selected("pointwise")) test_pointwise(2, 64, 64, 4 * 56 * 56);
  if (selected("bn_act")) test_bn_act(2, 3, 1);
  if (selected("bn_act")) test_bn_act(3, 5, 77);
  if (selected("bn_act")) test_bn_act(8, 64, 2 * 28 * 28);
  if (selected("bn_act")) test_bn_act(2, 2100, 3);
  if (selected("bn_act_half")) {
    for (const auto& d :
         {std::vector<int64_t>{2, 3, 1}, {3, 5, 77}, {8, 64, 2 * 28 * 28}, {2, 2100, 3}, {2, 512, 4 * 49}}) {
      test_bn_act_half<SevBF16>("bf16", d[0], d[1], d[2]);
      test_bn_act_half<SevF16>("f16", d[0], d[1], d[2]);
    }
  }
  if (selected("bn_ndhwc")) {
    for (const auto& d : {std::vector<int64_t>{2, 3}, {7, 33}, {4099, 70}, {2 * 4 * 56 * 56, 64}, {2 * 4 * 7 * 7, 512},
                          {4001, 2080}}) {
      test_bn_ndhwc<SevF32>("f32", d[0], d[1]);
      test_bn_ndhwc<SevBF16>("bf16", d[0], d[1]);
      test_bn_ndhwc<SevF16>("f16", d[0], d[1]);
    }
  }
  if (selected("channels_ndhwc")) {
    for (const auto& d : {std::vector<int64_t>{1, 1, 1}, {2, 3, 7}, {3, 33, 49}, {1, 70, 7}, {2, 64, 4 * 28 * 28},
                          {2, 512, 4 * 49}}) {
      test_channels_ndhwc<float>(0, d[0], d[1], d[2]);
      test_channels_ndhwc<uint16_t>(1, d[0], d[1], d[2]);
      test_channels_ndhwc<uint16_t>(2, d[0], d[1], d[2]);
    }
  }
  if (selected("pool_ndhwc")) {
    for (const auto& p : {pool_params(2, 5, 3, 11, 13, 1, 3, 3, 1, 2, 2, 0, 1, 1),
                          pool_params(2, 33, 7, 9, 10, 3, 3, 2, 2, 2, 1, 1, 1, 0),
                          pool_params(2, 64, 4, 56, 56, 1, 3, 3, 1, 2, 2, 0, 1, 1)}) {
      test_pool_ndhwc<float>(0, p);
      test_pool_ndhwc<uint16_t>(1, p);
      test_pool_ndhwc<uint16_t>(2, p);
    }
  }
  // an error is reported as such
  if (selected("errors")) {
    const int rc = sevc_relu_forward(nullptr, nullptr, -1, nullptr);
    printf("%s negative n -> %d (%s)\n", rc == SEVC_E_ARG ? "ok  " : "FAIL", rc, sevc_last_error());
    if (rc != SEVC_E_ARG) g_failures++;
  }
  CUDA_OK(cudaDeviceSynchronize());
  printf(g_failures ? "%d FAILURES\n" : "ALL OK\n", g_failures);
  return g_failures ? 1 : 0;
}
