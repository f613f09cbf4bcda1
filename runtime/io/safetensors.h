// Safetensors checkpoints (the Hugging Face format), F32 tensors only.
//
// Layout: u64 little-endian N | N bytes of JSON header | raw little-endian tensor data.
// Header: {"__metadata__": {string: string}, "<name>": {"dtype": "F32", "shape": [...],
//          "data_offsets": [begin, end]}, ...}; offsets are relative to the start of the data.
// Like the reference writer: tensors are stored in name order (all share one dtype, so the
// reference's alignment-first order reduces to this), the header is compact JSON padded with
// spaces to a multiple of 8 bytes, and "__metadata__" is omitted when empty.
//
// The reader validates everything (sizes, JSON, dtype, shapes vs offsets, overlaps, holes,
// trailing bytes); any problem is a zs::UserError of the form
//   "checkpoint <file> is corrupt: <problem>; delete it or pass another --resume file".
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/io/atomic_file.h"

namespace zs {

struct NamedTensor {
  std::vector<int64_t> shape;  // Row-major; [] is a scalar (1 element).
  std::vector<float> data;     // Exactly product(shape) elements.
};

struct SafetensorsFile {
  std::map<std::string, NamedTensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Throws std::invalid_argument on a programming error (data size != product(shape), empty or
// reserved name) and zs::UserError on I/O failure. Durable (fsync) by default: it is a checkpoint.
void save_safetensors(const std::filesystem::path& path,
                      const std::map<std::string, NamedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {},
                      AtomicWriteOptions options = {.durable = true});

// `option_name` is the command-line option the file came from, used in the suggested fix.
SafetensorsFile load_safetensors(const std::filesystem::path& path,
                                 std::string_view option_name = "--resume");

}  // namespace zs
