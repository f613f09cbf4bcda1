// Kernel launches in the emulator: what LAUNCH(k, grid, block, smem, stream)(args...) becomes.
//
// make_launch() captures the kernel and the configuration; calling the result with the kernel's
// arguments converts them to the parameter types (as a call would), validates the
// configuration like CUDA (an invalid one sets the error cudaGetLastError returns and runs
// nothing) and queues the grid on its stream with a copy of the arguments (device_queue.h): it
// runs at the next synchronisation point that needs it, or is recorded while the stream
// captures. Each CUDA thread gets its own copy of the arguments. A block that cannot complete
// makes the synchronisation call that ran it throw KernelError (see block_scheduler.h).
//
// Blocks run on `threads` OS threads (settings.h), each running whole blocks, in the order
// policy's order (forward, reverse or a seeded permutation of the block indices).
#pragma once
#include <cstddef>
#include <memory>
#include <tuple>
#include <type_traits>

#include <cuda_runtime_api.h>   // dim3, cudaStream_t

#include "runtime/simt/diagnostics.h"

namespace zs::simt {

struct LaunchRequest {
  dim3 grid, block;
  std::size_t dynamic_smem = 0;
  const void* kernel = nullptr;   // identifies the kernel for cudaFuncSetAttribute limits
  const char* kernel_name = "?";
  Site site;                      // where LAUNCH was written
  cudaStream_t stream = nullptr;
};

// Validates the launch and queues a grid that runs body(closure) once per CUDA thread.
void enqueue_launch(const LaunchRequest& request, void (*body)(const void* closure),
                    std::shared_ptr<const void> closure);

template <class... P>
class Launch {
 public:
  using Kernel = void (*)(P...);
  Launch(Kernel kernel, const LaunchRequest& request) : kernel_(kernel), request_(request) {}

  void operator()(P... args) const {
    struct Closure {
      Kernel kernel;
      std::tuple<std::decay_t<P>...> args;   // the values at the call, as CUDA copies them
      static void run(const void* self) {
        const Closure& c = *static_cast<const Closure*>(self);
        std::apply(c.kernel, c.args);   // by value: each thread gets its own copy
      }
    };
    enqueue_launch(request_, &Closure::run, std::make_shared<const Closure>(Closure{kernel_, {args...}}));
  }

 private:
  Kernel kernel_;
  LaunchRequest request_;
};

template <class... P>
Launch<P...> make_launch(void (*kernel)(P...), dim3 grid, dim3 block, std::size_t dynamic_smem,
                         cudaStream_t stream, const char* kernel_name, Site site) {
  return Launch<P...>(kernel, LaunchRequest{grid, block, dynamic_smem, reinterpret_cast<const void*>(kernel),
                                            kernel_name, site, stream});
}

}  // namespace zs::simt
