// libFuzzer targets for the readers of user files (issue 16): IDX (raw and gzip), safetensors, NPY.
// Built and run by scripts/fuzz (clang -fsanitize=fuzzer,address,undefined), one binary per target,
// chosen by ZS_FUZZ_TARGET (1 = IDX, 2 = safetensors, 3 = NPY).
// The contract checked: any input either loads or throws zs::UserError; anything else (a crash, a
// sanitizer report, another exception, a hang or an allocation beyond -rss_limit_mb) is a finding.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "runtime/core/error.h"
#include "runtime/data/idx.h"
#include "runtime/io/npy.h"
#include "runtime/io/safetensors.h"

namespace {

namespace fs = std::filesystem;

// The readers take paths: each input is written to a file in a private folder (tmpfs when there).
const fs::path& work_dir() {
  static const fs::path dir = [] {
    fs::path base = fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    fs::path d = base / ("zs-fuzz-" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

fs::path write_input(const std::string& name, const uint8_t* data, size_t size) {
  const fs::path p = work_dir() / name;
  FILE* f = std::fopen(p.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return p;
}

// A valid labels file of 2 labels and a valid images file of 2 blank images: the partner of the
// fuzzed half of an IDX pair.
const fs::path& valid_labels() {
  static const fs::path p = [] {
    const uint8_t bytes[] = {0, 0, 8, 1, 0, 0, 0, 2, 3, 7};
    return write_input("labels-ok", bytes, sizeof bytes);
  }();
  return p;
}
const fs::path& valid_images() {
  static const fs::path p = [] {
    std::string bytes("\0\0\x08\x03\0\0\0\x02\0\0\0\x1c\0\0\0\x1c", 16);
    bytes.resize(16 + 2 * 784, '\0');
    return write_input("images-ok", reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }();
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
#if ZS_FUZZ_TARGET == 1
    // First byte: which half of the pair is fuzzed (the reader detects gzip by content).
    if (size < 1) return 0;
    const fs::path p = write_input("fuzzed-idx", data + 1, size - 1);
    if (data[0] & 1)
      (void)zs::load_idx_pair(valid_images(), p);
    else
      (void)zs::load_idx_pair(p, valid_labels());
#elif ZS_FUZZ_TARGET == 2
    (void)zs::load_safetensors(write_input("fuzzed.safetensors", data, size));
#elif ZS_FUZZ_TARGET == 3
    const fs::path p = write_input("fuzzed.npy", data, size);
    if (size > 0 && (data[size - 1] & 1))
      (void)zs::load_npy_vector(p);
    else
      (void)zs::load_npy_matrix(p);
#else
#error "define ZS_FUZZ_TARGET as 1 (IDX), 2 (safetensors) or 3 (NPY)"
#endif
  } catch (const zs::UserError&) {
    // The expected answer to bad input.
  }
  return 0;
}
