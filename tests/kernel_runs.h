// How a kernel test repeats a run, shared by every test_emu_* and test_cuda_* file.
// A check (tests/*_kernel_checks.h) hands a Producer (run the kernel, download its outputs) to a
// Repeater supplied by the test file and requires every run to match the oracle and all runs to
// be bit-identical (the kernels are deterministic by design):
//   emulator build (zs::emu):  in_every_order runs it in forward, reverse and two random thread
//                              orders, strict mode on;
//   GPU build (zs::cuda):      twice runs it twice; SKIP_WITHOUT_GPU() makes a test case say
//                              "SKIPPED: no CUDA GPU" (a WARN, which ctest's SKIP_REGULAR_EXPRESSION
//                              counts as skipped) and check nothing when no usable GPU is present.
// The includer picks the build: it defines ZS_KNS (cuda) before including this, or leaves it to
// kernels/common.cuh (emu).
#pragma once
#include <catch2/catch.hpp>

#include <functional>
#include <string>
#include <vector>

#include "kernels/common.cuh"

#if ZS_EMULATED
#include "simt_test_support.h"
#else
#include "runtime/backend/kernel_backend.h"
#endif

namespace zs::kernel_runs {

using Outputs = std::vector<std::vector<float>>;
using Producer = std::function<Outputs()>;
struct Run {
  std::string label;  // e.g. "order reverse, threads 1, strict" or "GPU run 2"
  Outputs outputs;
};
using Repeater = std::function<std::vector<Run>(const Producer&)>;

#if ZS_EMULATED

inline std::vector<Run> in_every_order(const Producer& produce) {
  std::vector<Run> runs;
  for (const zs::simt::Settings& s : zs::simt_test::all_orders()) {
    zs::simt::ScopedSettings scoped(s);
    runs.push_back({zs::simt_test::describe(s), produce()});
  }
  return runs;
}

#else

inline bool have_gpu() {
  static const bool available = zs::cuda::usable_device_count() > 0;
  return available;
}

inline std::vector<Run> twice(const Producer& produce) {
  std::vector<Run> runs;
  runs.push_back({"GPU run 1", produce()});
  runs.push_back({"GPU run 2", produce()});
  return runs;
}

#define SKIP_WITHOUT_GPU()                    \
  do {                                        \
    if (!::zs::kernel_runs::have_gpu()) {     \
      WARN("SKIPPED: no CUDA GPU");           \
      return;                                 \
    }                                         \
  } while (0)

#endif

}  // namespace zs::kernel_runs
