// Factories of the two backends built from kernels/*.cu (zs_backend_emu, zs_backend_cuda: see
// runtime/CMakeLists.txt); each exists only in builds that have it (ZSPACE_HAVE_EMU, ZSPACE_HAVE_CUDA).
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
