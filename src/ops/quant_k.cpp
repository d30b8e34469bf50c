// Q4_K and Q6_K: 256-value super-blocks with quantized sub-block scales (ggml's k-quants).
// Dequantization is exactly the format's definition. Quantization is our own small search: per
// sub-block, a few candidate ranges each refitted by least squares, keeping the lowest squared error;
// then the sub-block scales themselves are quantized (6 bits for Q4_K, int8 for Q6_K).
#include <algorithm>
#include <cmath>

#include "ops/quant_blocks.h"
#include "ops/simd_math.h"

namespace tunekit::ops {

namespace {

constexpr float kCandidateSteps[] = {-1.0f, -0.75f, -0.5f, -0.25f, 0.0f, 0.25f, 0.5f, 0.75f, 1.0f};

// Fits x[n] ≈ scale * q - min with integer q in [0, q_max], scale >= 0, min >= 0.
void fit_scale_min(const float* x, int n, int q_max, float& scale, float& min) {
  float lo = 0.0f, hi = x[0];
  for (int i = 0; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  scale = (hi - lo) / float(q_max);
  min = -lo;
  if (hi <= lo) return;
  auto error_of = [&](float a, float m) {
    float err = 0.0f;
    for (int i = 0; i < n; ++i) {
      float q = std::clamp(std::nearbyint((x[i] + m) / a), 0.0f, float(q_max));
      err += (a * q - m - x[i]) * (a * q - m - x[i]);
    }
    return err;
  };
  float best = error_of(scale, min);
  for (float step : kCandidateSteps) {
    float inv = (float(q_max) + step) / (hi - lo);
    double sq = 0, sx = 0, sqq = 0, sqx = 0;
    for (int i = 0; i < n; ++i) {
      double q = std::clamp(std::nearbyint((x[i] - lo) * inv), 0.0f, float(q_max));
      sq += q, sx += x[i], sqq += q * q, sqx += q * x[i];
    }
    double det = n * sqq - sq * sq;
    if (det <= 0) continue;
    double a = (n * sqx - sq * sx) / det, c = (sx - a * sq) / n;  // x ≈ a q + c
    if (c > 0) c = 0, a = sqx / sqq;
    if (a <= 0) continue;
    float err = error_of(float(a), float(-c));
    if (err < best) best = err, scale = float(a), min = float(-c);
  }
}

// Fits x[n] ≈ scale * q with integer q in [-q_half, q_half - 1] (scale may be negative).
float fit_scale(const float* x, int n, int q_half) {
  float amax = 0.0f, max = 0.0f;
  for (int i = 0; i < n; ++i)
    if (std::fabs(x[i]) > amax) amax = std::fabs(x[i]), max = x[i];
  if (amax == 0.0f) return 0.0f;
  auto error_of = [&](float a) {
    float err = 0.0f;
    for (int i = 0; i < n; ++i) {
      float q = std::clamp(std::nearbyint(x[i] / a), float(-q_half), float(q_half - 1));
      err += (a * q - x[i]) * (a * q - x[i]);
    }
    return err;
  };
  float scale = max / float(-q_half), best = error_of(scale);
  for (float step : kCandidateSteps) {
    float inv = -(float(q_half) + step) / max;
    double sqq = 0, sqx = 0;
    for (int i = 0; i < n; ++i) {
      double q = std::clamp(std::nearbyint(x[i] * inv), float(-q_half), float(q_half - 1));
      sqq += q * q, sqx += q * x[i];
    }
    if (sqq == 0) continue;
    float a = float(sqx / sqq), err = error_of(a);
    if (err < best) best = err, scale = a;
  }
  return scale;
}

int quantize_level(float x, float step, int lo, int hi) {
  return step == 0.0f ? 0 : std::clamp(int(std::nearbyint(x / step)), lo, hi);
}

}  // namespace

void quantize_row_q4_k(const float* x, BlockQ4_K* y, int64_t n) {
  for (int64_t b = 0; b < n / 256; ++b, x += 256) {
    float scale[8], min[8], max_scale = 0.0f, max_min = 0.0f;
    for (int j = 0; j < 8; ++j) {
      fit_scale_min(x + 32 * j, 32, 15, scale[j], min[j]);
      max_scale = std::max(max_scale, scale[j]);
      max_min = std::max(max_min, min[j]);
    }
    BlockQ4_K& blk = y[b];
    blk.d = f32_to_f16(max_scale / 63.0f);
    blk.dmin = f32_to_f16(max_min / 63.0f);
    float d = f16_to_f32(blk.d), dmin = f16_to_f32(blk.dmin);
    uint8_t ls[8], lm[8];
    for (int j = 0; j < 8; ++j) {
      ls[j] = uint8_t(quantize_level(scale[j], d, 0, 63));
      lm[j] = uint8_t(quantize_level(min[j], dmin, 0, 63));
    }
    for (int j = 0; j < 4; ++j) {
      blk.scales[j] = uint8_t(ls[j] | ((ls[j + 4] >> 4) << 6));
      blk.scales[j + 4] = uint8_t(lm[j] | ((lm[j + 4] >> 4) << 6));
      blk.scales[j + 8] = uint8_t((ls[j + 4] & 0xF) | ((lm[j + 4] & 0xF) << 4));
    }
    uint8_t q[256];
    for (int j = 0; j < 8; ++j) {
      float step = d * ls[j], offset = dmin * lm[j];
      for (int i = 0; i < 32; ++i) q[32 * j + i] = uint8_t(quantize_level(x[32 * j + i] + offset, step, 0, 15));
    }
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l) blk.qs[32 * c + l] = uint8_t(q[64 * c + l] | (q[64 * c + 32 + l] << 4));
  }
}

void dequantize_row_q4_k(const BlockQ4_K* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / 256; ++b) {
    float d = f16_to_f32(x[b].d), dmin = f16_to_f32(x[b].dmin);
    for (int c = 0; c < 4; ++c) {  // 64 values: sub-blocks 2c (low nibbles) and 2c+1 (high nibbles)
      uint8_t sc_lo, m_lo, sc_hi, m_hi;
      q4_k_scale_min(x[b].scales, 2 * c, sc_lo, m_lo);
      q4_k_scale_min(x[b].scales, 2 * c + 1, sc_hi, m_hi);
      float d_lo = d * sc_lo, min_lo = dmin * m_lo, d_hi = d * sc_hi, min_hi = dmin * m_hi;
      const uint8_t* qs = x[b].qs + 32 * c;
      for (int l = 0; l < 32; ++l) {
        *y++ = d_lo * float(qs[l] & 0xF) - min_lo;
      }
      for (int l = 0; l < 32; ++l) {
        *y++ = d_hi * float(qs[l] >> 4) - min_hi;
      }
    }
  }
}

void quantize_row_q6_k(const float* x, BlockQ6_K* y, int64_t n) {
  for (int64_t b = 0; b < n / 256; ++b, x += 256) {
    float scale[16], amax = 0.0f;
    for (int s = 0; s < 16; ++s) {
      scale[s] = fit_scale(x + 16 * s, 16, 32);
      amax = std::max(amax, std::fabs(scale[s]));
    }
    BlockQ6_K& blk = y[b];
    blk.d = f32_to_f16(amax / 127.0f);
    float d = f16_to_f32(blk.d);
    uint8_t q[256];
    for (int s = 0; s < 16; ++s) {
      blk.scales[s] = int8_t(quantize_level(scale[s], d, -127, 127));
      float step = d * blk.scales[s];
      for (int i = 0; i < 16; ++i) q[16 * s + i] = uint8_t(quantize_level(x[16 * s + i], step, -32, 31) + 32);
    }
    for (int h = 0; h < 2; ++h) {  // 128 values each: ql[64 h ..], qh[32 h ..]
      const uint8_t* qh_src = q + 128 * h;
      for (int l = 0; l < 32; ++l) {
        uint8_t q1 = qh_src[l], q2 = qh_src[l + 32], q3 = qh_src[l + 64], q4 = qh_src[l + 96];
        blk.ql[64 * h + l] = uint8_t((q1 & 0xF) | ((q3 & 0xF) << 4));
        blk.ql[64 * h + l + 32] = uint8_t((q2 & 0xF) | ((q4 & 0xF) << 4));
        blk.qh[32 * h + l] = uint8_t((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
      }
    }
  }
}

void dequantize_row_q6_k(const BlockQ6_K* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / 256; ++b, y += 256) {
    float d = f16_to_f32(x[b].d);
#if defined(__AVX512F__) && defined(__AVX512BW__)  // the same products, 16 values (one scale) at a time
    for (int h = 0; h < 2; ++h) {
      const __m512i ql = _mm512_loadu_si512(x[b].ql + 64 * h);  // quarters 0 | 1 low nibbles, 2 | 3 high
      const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qh + 32 * h)));
      for (int p = 0; p < 2; ++p) {  // quarters 2p, 2p + 1: 64 values
        const __m512i low = _mm512_and_si512(p == 0 ? ql : _mm512_srli_epi16(ql, 4), _mm512_set1_epi8(0x0F));
        const __m512i shift = p == 0 ? _mm512_setr_epi64(0, 0, 0, 0, 2, 2, 2, 2) : _mm512_setr_epi64(4, 4, 4, 4, 6, 6, 6, 6);
        const __m512i high = _mm512_and_si512(_mm512_srlv_epi64(qh, shift), _mm512_set1_epi8(0x03));
        alignas(64) uint8_t codes[64];
        _mm512_store_si512(codes, _mm512_or_si512(low, _mm512_slli_epi16(high, 4)));
        for (int s = 0; s < 4; ++s) {
          const int value = 128 * h + 64 * p + 16 * s;
          const __m512i q = _mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(codes + 16 * s))),
                                             _mm512_set1_epi32(32));
          _mm512_storeu_ps(y + value, _mm512_mul_ps(_mm512_set1_ps(d * float(x[b].scales[value / 16])), _mm512_cvtepi32_ps(q)));
        }
      }
    }
#else
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = x[b].ql + 64 * h;
      const uint8_t* qh = x[b].qh + 32 * h;
      const int8_t* sc = x[b].scales + 8 * h;
      float* out = y + 128 * h;
      for (int l = 0; l < 32; ++l) {
        int is = l / 16;
        int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        out[l] = d * float(sc[is]) * float(q1);
        out[l + 32] = d * float(sc[is + 2]) * float(q2);
        out[l + 64] = d * float(sc[is + 4]) * float(q3);
        out[l + 96] = d * float(sc[is + 6]) * float(q4);
      }
    }
#endif
  }
}

}  // namespace tunekit::ops
