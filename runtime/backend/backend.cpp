#include "runtime/backend/backend.h"

#include "runtime/backend/kernel_backend.h"
#include "runtime/core/error.h"

#include <stdexcept>
#include <string>

namespace zs {

void Backend::gather_rows(float* dst, const float* src, int64_t src_rows, std::span<const int32_t> indices,
                          int row_len) {
  if (row_len < 1) throw std::out_of_range("gather_rows: row_len must be >= 1");
  for (int32_t i : indices)
    if (i < 0 || i >= src_rows)
      throw std::out_of_range("gather_rows: index " + std::to_string(i) + " outside [0, " + std::to_string(src_rows) +
                              ")");
  if (!indices.empty()) gather_checked_rows(dst, src, indices, row_len);
}

std::unique_ptr<Backend> make_backend(DeviceKind kind, std::string* notice) {
  if (notice) notice->clear();
  switch (kind) {
    case DeviceKind::Cpu:
      return make_cpu_backend();
    case DeviceKind::Emu:
#ifdef ZSPACE_HAVE_EMU
      return emu::make_backend();
#else
      throw UserError("--device emu: the emulator is not in this build (it needs CUDA's headers at configure time; "
                      "see ZSPACE_EMU in the README); use --device cpu");
#endif
    case DeviceKind::Cuda:
#ifdef ZSPACE_HAVE_CUDA
      if (cuda::usable_device_count() > 0) return cuda::make_backend();
      throw UserError("--device cuda: no usable CUDA GPU was found; use --device cpu (or auto)");
#else
      throw UserError("--device cuda: this build has no CUDA backend (nvcc was not found at configure time); "
                      "use --device cpu, or rebuild with the CUDA toolkit installed");
#endif
    case DeviceKind::Auto:
#ifdef ZSPACE_HAVE_CUDA
      if (cuda::usable_device_count() > 0) {
        if (notice) *notice = "device: cuda (a usable GPU was found)";
        return cuda::make_backend();
      }
      if (notice) *notice = "device: cpu (no usable CUDA GPU found; --device cpu silences this notice)";
#else
      if (notice) *notice = "device: cpu (this build has no CUDA backend)";
#endif
      return make_cpu_backend();
  }
  throw UserError("unknown device kind");
}

}  // namespace zs
