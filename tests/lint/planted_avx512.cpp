// Planted for scripts/check-isa-leaks' own test: compiled with -mavx512f, so this ordinary function
// holds AVX-512 instructions the check must report. Never linked into anything.
void planted_avx512_scale(float* a) {
  for (int i = 0; i < 64; ++i) a[i] *= 2.f;
}
