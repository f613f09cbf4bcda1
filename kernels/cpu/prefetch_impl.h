// Software prefetch of the data a loop will touch next (the next image or chunk of images),
// spread over the steps of the current compute-bound loop. The convolutions' GEMM is bound by the
// FMA units and leaves the memory bus idle; the lowering steps around it (phase split, packing
// dy, col2im) are bound by cache misses on data no one has touched since an earlier layer.
// Prefetching the next chunk during the GEMM moves those misses off them (two threads: the AE
// step 126 -> 114 ms; one thread, which has the bus to itself, gains nothing). A hint only:
// results never depend on it.
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace zs::cpu::detail {

// A range to prefetch: `floats` floats from `data` (nothing when data is null).
struct PrefetchAhead {
  const float* data = nullptr;
  int64_t floats = 0;
};

// Issues the prefetches of a range a few cache lines per step(), so that `steps` calls cover it.
class SpreadPrefetch {
 public:
  SpreadPrefetch(const PrefetchAhead& ahead, int64_t steps)
      : next_(reinterpret_cast<const char*>(ahead.data)),
        end_(next_ + (ahead.data ? ahead.floats * int64_t(sizeof(float)) : 0)),
        per_step_(steps > 0 ? (end_ - next_ + kLine * steps - 1) / (kLine * steps) : 0) {}
  void step() {
    for (int64_t i = 0; i < per_step_ && next_ < end_; ++i, next_ += kLine) _mm_prefetch(next_, _MM_HINT_T0);
  }

 private:
  static constexpr int64_t kLine = 64;
  const char* next_;
  const char* end_;
  int64_t per_step_;
};

}  // namespace zs::cpu::detail
