// Device memory for code that calls kernel launchers directly rather than through a Backend:
// the kernel tests and the benchmarks. Buffers are DeviceBuffer<T>(kernel_memory(), n).
// Allocation is cudaMalloc; an upload is a synchronous cudaMemcpy; a download first waits for all
// of the device's work (cudaDeviceSynchronize), so a test may launch kernels on any stream and
// then read their results. One per kernel namespace, in builds that have it (runtime/CMakeLists.txt).
#pragma once
#include "runtime/backend/device_buffer.h"

namespace zs::emu {
DeviceMemory& kernel_memory();
}
namespace zs::cuda {
DeviceMemory& kernel_memory();
}
