// Factories of the two backends built from kernels/*.cu (see kernels/CMakeLists.txt).
#pragma once
#include <memory>

#include "runtime/backend/backend.h"

// graphs = false runs every step directly (no stream capture): tests compare the two paths.
namespace zs::emu {
std::unique_ptr<Backend> make_backend(bool graphs = true);
}
namespace zs::cuda {
std::unique_ptr<Backend> make_backend(bool graphs = true);
// Number of usable CUDA devices (0 when there is no driver or no GPU); never throws.
int usable_device_count();
}
