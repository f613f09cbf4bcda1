// Factories of the two backends built from kernels/*.cu (see kernels/CMakeLists.txt).
#pragma once
#include <memory>

#include "runtime/backend/backend.h"

namespace zs::emu {
std::unique_ptr<Backend> make_backend();
}
namespace zs::cuda {
std::unique_ptr<Backend> make_backend();
// Number of usable CUDA devices (0 when there is no driver or no GPU); never throws.
int usable_device_count();
}
