// Kernel launches in the emulator: what LAUNCH(k, grid, block, smem, stream)(args...) becomes.
//
// make_launch() captures the kernel and the configuration; calling the result with the kernel's
// arguments converts them to the parameter types (as a call would), validates the
// configuration like CUDA (an invalid one sets the error cudaGetLastError returns and runs
// nothing) and runs the whole grid before returning: every launch is synchronous. Each CUDA
// thread gets its own copy of the arguments. A block that cannot complete makes the launch
// throw KernelError (see block_scheduler.h).
//
// Blocks run on `threads` OS threads (settings.h), each running whole blocks, in the order
// policy's order (forward, reverse or a seeded permutation of the block indices).
#pragma once
#include <cstddef>
#include <tuple>

#include <cuda_runtime_api.h>   // dim3, cudaStream_t

#include "runtime/simt/diagnostics.h"

namespace zs::simt {

struct LaunchRequest {
  dim3 grid, block;
  std::size_t dynamic_smem = 0;
  const void* kernel = nullptr;   // identifies the kernel for cudaFuncSetAttribute limits
  const char* kernel_name = "?";
  Site site;                      // where LAUNCH was written
};

// Runs body(closure) once per CUDA thread of the grid.
void launch_grid(const LaunchRequest& request, void (*body)(const void* closure), const void* closure);

template <class... P>
class Launch {
 public:
  using Kernel = void (*)(P...);
  Launch(Kernel kernel, const LaunchRequest& request) : kernel_(kernel), request_(request) {}

  void operator()(P... args) const {
    struct Closure {
      Kernel kernel;
      std::tuple<P...> args;
      static void run(const void* self) {
        const Closure& c = *static_cast<const Closure*>(self);
        std::apply(c.kernel, c.args);   // by value: each thread gets its own copy
      }
    };
    const Closure closure{kernel_, std::tuple<P...>(args...)};
    launch_grid(request_, &Closure::run, &closure);
  }

 private:
  Kernel kernel_;
  LaunchRequest request_;
};

template <class... P>
Launch<P...> make_launch(void (*kernel)(P...), dim3 grid, dim3 block, std::size_t dynamic_smem,
                         cudaStream_t /*stream: launches are synchronous*/, const char* kernel_name, Site site) {
  return Launch<P...>(kernel, LaunchRequest{grid, block, dynamic_smem, reinterpret_cast<const void*>(kernel),
                                            kernel_name, site});
}

}  // namespace zs::simt
