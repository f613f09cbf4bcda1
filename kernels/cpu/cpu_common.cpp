// Threading policy, scratch memory and argument checks shared by the CPU twin (see cpu_common_impl.h).
#include <cblas.h>
#include <omp.h>

#include <cstdlib>
#include <new>

#include "kernels/cpu/cpu_common_impl.h"

namespace zs::cpu::detail {

BlasSingleThread::BlasSingleThread() : saved_(openblas_get_num_threads()) {
  if (saved_ != 1) openblas_set_num_threads(1);
}

BlasSingleThread::~BlasSingleThread() {
  if (saved_ != 1) openblas_set_num_threads(saved_);
}

int max_threads() { return omp_get_max_threads(); }

namespace {

struct Scratch {
  float* data = nullptr;
  size_t capacity = 0;  // floats
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() { std::free(data); }
};

thread_local Scratch t_scratch[kScratchSlots];

}  // namespace

float* thread_scratch(ScratchSlot slot, size_t count) {
  Scratch& s = t_scratch[slot];
  if (count > s.capacity) {
    std::free(s.data);
    s.data = nullptr;
    s.capacity = 0;
    // Round up to whole cache lines (aligned_alloc requires a multiple of the alignment).
    size_t bytes = ((count * sizeof(float) + 63) / 64) * 64;
    s.data = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (!s.data) throw std::bad_alloc();
    s.capacity = bytes / sizeof(float);
  }
  return s.data;
}

void fail_argument(const char* op, const std::string& what) {
  throw std::invalid_argument(std::string("zs::cpu::") + op + ": " + what);
}

void check_geometry(const ConvGeom& g, const char* op) {
  if (const char* problem = g.invalid()) fail_argument(op, problem);
}

}  // namespace zs::cpu::detail
