// Planted for scripts/check-isa-leaks' own test: compiled with -mavx512f, so this ordinary function
// holds AVX-512 instructions the check must report. Never linked into anything. The instructions
// are written with intrinsics, not left to the vectorizer: a sanitizer build does not vectorize.
#include <immintrin.h>

void planted_avx512_scale(float* a) {
  for (int i = 0; i < 64; i += 16) _mm512_storeu_ps(a + i, _mm512_mul_ps(_mm512_loadu_ps(a + i), _mm512_set1_ps(2.f)));
}
