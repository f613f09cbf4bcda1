// Philox-4x32-10 (Salmon, Moraes, Dror, Shaw: "Parallel random numbers: as easy as 1, 2, 3",
// SC 2011), the counter-based generator of the VAE's reparameterization noise, and the normal
// draw built on it. Plain integer code: the CPU twin (g++), the emulator build (g++) and nvcc
// (host and device) all compile this one file, so every backend computes the same words.
//
// Philox-4x32-R maps a 128-bit counter {c0, c1, c2, c3} and a 64-bit key {k0, k1} to four 32-bit
// words by R rounds of
//   (hi0, lo0) = M0 * c0;  (hi1, lo1) = M1 * c2          (32 x 32 -> 64-bit products)
//   c = {hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0}
// with the key bumped by the Weyl constants (k0 += W0, k1 += W1) between consecutive rounds.
// Constants and test vectors are Random123's (tests/test_vae_ops.cpp checks its known answers).
//
// The VAE keys every draw by (seed, step, element):
//   counter = {element lo, element hi, step lo, step hi},  key = {seed lo, seed hi}
// where element = i * zdim + j is the flat index of eps[i][j] and step is the training step's
// key (64-bit, its two's-complement bits). One Philox block per element; only words 0 and 1 are
// used (words 2 and 3 are discarded: simpler than sharing blocks between elements, and the
// generator costs next to nothing against the rest of a training step).
//
// Normal draw (Box-Muller, cosine branch) from words w0, w1:
//   u1 = ((w0 >> 8) + 1) * 2^-24         in [2^-24, 1]   (never 0, so log(u1) is finite)
//   x  = (2 (w1 >> 9) + 1) * 2^-23       in (0, 2): twice the uniform u2 = (k + 1/2) 2^-23, the
//                                        midpoint of one of 2^23 equal cells of [0, 1)
//   eps = sqrt(-2 ln u1) * cos(pi x)     in float; |eps| <= sqrt(48 ln 2) ~ 5.77
// Both uniforms are exact in float (24-bit integers times powers of two). The angle pi x is never
// a zero of the cosine (x = 1/2 or 3/2 would need an even numerator), so |cos| >= ~3.7e-7 and
// every backend's cosine is accurate RELATIVE to its value; eps's error is relative everywhere.
// The cosine: on the host, the double cos(pi * x) rounded to float (glibc has no cospi); on the
// device, cospif(x) (exact argument reduction: cosf's slow path for huge arguments would need
// local memory). The formula has no a*b + c a compiler could contract into an FMA, so g++ builds
// calling the same libm (the CPU twin and the emulator) give bit-identical eps; nvcc's device
// logf / sqrtf / cospif differ from glibc by a few ulp. Truncating the tail at 5.77 sigma drops a
// probability of about 8e-9; the angle's 2^23 cells are symmetric about 1/2, so eps is symmetric.
#pragma once
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#  define ZS_HOST_DEVICE __host__ __device__ __forceinline__
#else
#  define ZS_HOST_DEVICE inline
#endif

namespace zs {

struct PhiloxWords {
  uint32_t w[4];
};

inline constexpr uint32_t kPhiloxM0 = 0xD2511F53u;   // round multipliers
inline constexpr uint32_t kPhiloxM1 = 0xCD9E8D57u;
inline constexpr uint32_t kPhiloxW0 = 0x9E3779B9u;   // key bumps: golden ratio, sqrt(3) - 1
inline constexpr uint32_t kPhiloxW1 = 0xBB67AE85u;
inline constexpr int kPhiloxRounds = 10;

// Philox-4x32-10 of counter {c0, c1, c2, c3} under key {k0, k1}.
ZS_HOST_DEVICE PhiloxWords philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0,
                                         uint32_t k1) {
  for (int round = 0; round < kPhiloxRounds; ++round) {
    if (round > 0) {
      k0 += kPhiloxW0;
      k1 += kPhiloxW1;
    }
    const uint64_t p0 = uint64_t(kPhiloxM0) * c0;   // nvcc: one mul.wide.u32 each
    const uint64_t p1 = uint64_t(kPhiloxM1) * c2;
    const uint32_t hi0 = uint32_t(p0 >> 32), lo0 = uint32_t(p0);
    const uint32_t hi1 = uint32_t(p1 >> 32), lo1 = uint32_t(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
  }
  return PhiloxWords{{c0, c1, c2, c3}};
}

// The four words of the VAE's draw for (seed, step, element).
ZS_HOST_DEVICE PhiloxWords philox_vae_words(uint64_t seed, int64_t step, uint64_t element) {
  const uint64_t s = uint64_t(step);
  return philox4x32_10(uint32_t(element), uint32_t(element >> 32), uint32_t(s), uint32_t(s >> 32), uint32_t(seed),
                       uint32_t(seed >> 32));
}

// Standard normal from two words (mapping in the file header).
ZS_HOST_DEVICE float philox_box_muller(uint32_t w0, uint32_t w1) {
  const float u1 = float((w0 >> 8) + 1u) * 0x1p-24f;
  const float x = float(2u * (w1 >> 9) + 1u) * 0x1p-23f;
  const float radius = sqrtf(-2.f * logf(u1));
#if defined(__CUDA_ARCH__)
  const float cosine = cospif(x);
#else
  constexpr double kPi = 3.14159265358979323846;
  const float cosine = float(cos(kPi * double(x)));
#endif
  return radius * cosine;
}

// eps for (seed, step, element).
ZS_HOST_DEVICE float philox_vae_normal(uint64_t seed, int64_t step, uint64_t element) {
  const PhiloxWords r = philox_vae_words(seed, step, element);
  return philox_box_muller(r.w[0], r.w[1]);
}

}  // namespace zs
