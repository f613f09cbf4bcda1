// Private: exp and log written so that GCC vectorizes the loops calling them (std::exp and
// std::log are library calls that keep a loop scalar unless -ffast-math links libmvec).
// Plain branch-free float code: selects between values, integer bit tricks, Horner polynomials.
// Both are accurate to a few ulp over the ranges stated, which is all the sigmoid and the BCE
// loss need; tests compare the ops against double-precision std::exp / std::log.
#pragma once
#include <bit>
#include <cstdint>

namespace zs::cpu::detail {

// 2^k for k in [-126, 127], built from the exponent bits.
inline float pow2i(int32_t k) { return std::bit_cast<float>(uint32_t(k + 127) << 23); }

// e^x for x <= 0 (NaN passes through). Range reduction x = n ln2 + r, |r| <= ln2/2, with ln2 split
// in a high part of few bits (n * ln2_hi is exact) and a low part; e^r by its Taylor series to
// r^7 (the r^8 term is below 1e-8 relative); then 2^n applied in two halves so results down in
// the denormals round once. Below -105 the true value is under half the smallest denormal: 0.
inline float exp_nonpositive(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693145751953125f;
  constexpr float kLn2Lo = 1.42860682030941723212e-6f;
  constexpr float kRoundMagic = 12582912.f;  // 1.5 * 2^23: adding and subtracting rounds to an integer
  const float xc = x < -105.f ? -105.f : x;
  const float n = (xc * kLog2e + kRoundMagic) - kRoundMagic;
  const float r = (xc - n * kLn2Hi) - n * kLn2Lo;
  float p = 1.f / 5040.f;
  p = p * r + 1.f / 720.f;
  p = p * r + 1.f / 120.f;
  p = p * r + 1.f / 24.f;
  p = p * r + 1.f / 6.f;
  p = p * r + 0.5f;
  p = p * r + 1.f;
  p = p * r + 1.f;
  const int32_t ni = int32_t(n);  // in [-152, 0]
  const int32_t half = ni / 2;
  const float result = p * pow2i(half) * pow2i(ni - half);
  return x < -105.f ? 0.f : result;
}

// ln(x) for normal x > 0 (the BCE loss clamps its arguments to [1e-7, 1 - 1e-7]).
// x = m 2^k with m in [sqrt(1/2), sqrt(2)); ln m = 2 atanh(s) with s = (m - 1) / (m + 1), |s| < 0.172,
// summed to s^9 (the next term is below 1e-9).
inline float log_positive(float x) {
  constexpr float kLn2Hi = 0.693145751953125f;
  constexpr float kLn2Lo = 1.42860682030941723212e-6f;
  constexpr float kSqrt2 = 1.41421356237309505f;
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  const float m1 = std::bit_cast<float>((bits & 0x007fffffu) | 0x3f800000u);  // [1, 2)
  const bool high = m1 > kSqrt2;
  const float m = high ? m1 * 0.5f : m1;
  const float k = float(int32_t(bits >> 23) - 127 + (high ? 1 : 0));
  const float s = (m - 1.f) / (m + 1.f);
  const float s2 = s * s;
  float p = 1.f / 9.f;
  p = p * s2 + 1.f / 7.f;
  p = p * s2 + 1.f / 5.f;
  p = p * s2 + 1.f / 3.f;
  const float two_s = 2.f * s;
  return k * kLn2Hi + (two_s + (two_s * s2 * p + k * kLn2Lo));
}

}  // namespace zs::cpu::detail
