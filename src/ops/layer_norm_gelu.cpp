// The row-wise and element-wise kernels of BERT-family encoders: LayerNorm (with bias) and the exact
// (erf) GELU.
#include <algorithm>
#include <cmath>

#include "ops/simd_math.h"
#include "tunekit/core/parallel.h"
#include "tunekit/error.h"
#include "tunekit/ops/encoder.h"

namespace tunekit::ops {

namespace {

constexpr int64_t kElementGrain = 1 << 14;  // below this many values a second thread does not pay

// erf by Abramowitz & Stegun 7.1.26: for z >= 0, erf(z) = 1 - t·(a1 + t·(a2 + … + t·a5))·exp(-z²) with
// t = 1 / (1 + p·z), absolute error <= 1.5e-7 (about one f32 ulp of erf near 1); odd in z.
constexpr float kErfP = 0.3275911f;
constexpr float kErfA1 = 0.254829592f, kErfA2 = -0.284496736f, kErfA3 = 1.421413741f, kErfA4 = -1.453152027f,
                kErfA5 = 1.061405429f;
constexpr float kInvSqrt2 = 0.70710678118654752f;

float gelu_scalar(float x) {
  const float z = std::fabs(x) * kInvSqrt2;
  const float t = 1.0f / (1.0f + kErfP * z);
  const float poly = t * (kErfA1 + t * (kErfA2 + t * (kErfA3 + t * (kErfA4 + t * kErfA5))));
  const float erf_abs = 1.0f - poly * std::exp(-z * z);
  return 0.5f * x * (1.0f + std::copysign(erf_abs, x));
}

#ifdef __AVX512F__
__m512 gelu512(__m512 x) {
  const __m512 z = _mm512_mul_ps(_mm512_abs_ps(x), _mm512_set1_ps(kInvSqrt2));
  const __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(_mm512_set1_ps(kErfP), z, _mm512_set1_ps(1.0f)));
  __m512 poly = _mm512_fmadd_ps(t, _mm512_set1_ps(kErfA5), _mm512_set1_ps(kErfA4));
  poly = _mm512_fmadd_ps(t, poly, _mm512_set1_ps(kErfA3));
  poly = _mm512_fmadd_ps(t, poly, _mm512_set1_ps(kErfA2));
  poly = _mm512_fmadd_ps(t, poly, _mm512_set1_ps(kErfA1));
  poly = _mm512_mul_ps(t, poly);
  const __m512 erf_abs =
      _mm512_fnmadd_ps(poly, exp512(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), z), z)), _mm512_set1_ps(1.0f));
  // 1 + erf(x / √2) with erf's sign taken from x: 1 + erf_abs for x >= 0, 1 - erf_abs below
  const __mmask16 negative = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  const __m512 one_plus_erf =
      _mm512_mask_sub_ps(_mm512_add_ps(_mm512_set1_ps(1.0f), erf_abs), negative, _mm512_set1_ps(1.0f), erf_abs);
  return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), one_plus_erf);
}
#endif

// mean and 1/sqrt(var + eps) of one row: two passes in double (the mean, then the squares around it),
// so a large mean does not cancel the variance.
void row_moments(const float* x, int64_t n, float eps, float& mean, float& r) {
  int64_t i = 0;
  double sum = 0, squares = 0;
#ifdef __AVX512F__
  __m512d acc = _mm512_setzero_pd();
  for (; i + 8 <= n; i += 8) acc = _mm512_add_pd(acc, _mm512_cvtps_pd(_mm256_loadu_ps(x + i)));
  sum = _mm512_reduce_add_pd(acc);
#endif
  for (; i < n; ++i) sum += x[i];
  const double m = sum / double(n);
  i = 0;
#ifdef __AVX512F__
  const __m512d vm = _mm512_set1_pd(m);
  acc = _mm512_setzero_pd();
  for (; i + 8 <= n; i += 8) {
    const __m512d d = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + i)), vm);
    acc = _mm512_fmadd_pd(d, d, acc);
  }
  squares = _mm512_reduce_add_pd(acc);
#endif
  for (; i < n; ++i) squares += (x[i] - m) * (x[i] - m);
  mean = float(m);
  r = float(1.0 / std::sqrt(squares / double(n) + eps));
}

// y = (x - mean) * r * w + b for one row.
void normalize_row(const float* x, float mean, float r, const float* w, const float* b, float* y, int64_t n) {
  int64_t i = 0;
#ifdef __AVX512F__
  const __m512 vmean = _mm512_set1_ps(mean), vr = _mm512_set1_ps(r);
  for (; i + 16 <= n; i += 16) {
    const __m512 centred = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), vmean), vr);
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(centred, _mm512_loadu_ps(w + i), _mm512_loadu_ps(b + i)));
  }
#endif
  for (; i < n; ++i) y[i] = (x[i] - mean) * r * w[i] + b[i];
}

}  // namespace

void layer_norm(const float* x, const float* w, const float* b, float* y, int64_t T, int64_t C, float eps) {
  check(T >= 0 && C > 0, "layer_norm: bad shape [", T, ", ", C, "]");
  parallel_for(
      T,
      [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
          float mean = 0, r = 0;
          row_moments(x + t * C, C, eps, mean, r);
          normalize_row(x + t * C, mean, r, w, b, y + t * C, C);
        }
      },
      std::max<int64_t>(1, kElementGrain / C));
}

void gelu(const float* x, float* out, int64_t n) {
  parallel_for(
      n,
      [&](int64_t i0, int64_t i1) {
        int64_t i = i0;
#ifdef __AVX512F__
        for (; i + 16 <= i1; i += 16) _mm512_storeu_ps(out + i, gelu512(_mm512_loadu_ps(x + i)));
#endif
        for (; i < i1; ++i) out[i] = gelu_scalar(x[i]);
      },
      kElementGrain);
}

}  // namespace tunekit::ops
