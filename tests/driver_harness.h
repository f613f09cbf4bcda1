// Helpers for tests that run the real train_mnist binary: a synthetic MNIST folder, running a command
// line with its exit code and stderr captured, reading metrics.json, and the bad-input contract.
#pragma once
#include <sys/wait.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/data/idx.h"

namespace zs::testing {

namespace fs = std::filesystem;

// The build passes the binary's path (tests/CMakeLists.txt). ZS_TRAIN_MNIST_UNDER_TEST in the
// environment runs another build instead (e.g. the one before a fix, to see a regression test fail).
inline std::string train_mnist_path() {
  const char* other = std::getenv("ZS_TRAIN_MNIST_UNDER_TEST");
  return other && *other ? other : ZS_TRAIN_MNIST;
}

// A fresh empty folder under the system temp dir.
inline fs::path fresh_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("zs-test-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

// Synthetic digits: class d is a bright bar at a class-specific position plus noise, so a short
// training run has something learnable.
inline ImageSet synthetic_set(int count, uint32_t seed) {
  ImageSet s;
  s.count = count;
  s.rows = s.cols = 28;
  s.pixels.assign(size_t(count) * 784, 0);
  s.labels.resize(size_t(count));
  std::mt19937 g(seed);
  for (int i = 0; i < count; ++i) {
    int d = int(g() % 10);
    s.labels[size_t(i)] = uint8_t(d);
    for (int r = 0; r < 28; ++r)
      for (int c = 0; c < 28; ++c) {
        bool bar = (d < 5) ? (r >= 4 + 4 * d && r < 7 + 4 * d && c > 3 && c < 24)
                           : (c >= 4 + 4 * (d - 5) && c < 7 + 4 * (d - 5) && r > 3 && r < 24);
        s.pixels[size_t(i) * 784 + size_t(r * 28 + c)] = uint8_t(bar ? 200 + g() % 56 : g() % 30);
      }
  }
  return s;
}

inline fs::path synthetic_mnist_dir(const std::string& name, int train, int test) {
  fs::path dir = fresh_dir(name);
  ImageSet tr = synthetic_set(train, 1), te = synthetic_set(test, 2);
  save_idx_pair((dir / "train-images-idx3-ubyte.gz").string(), (dir / "train-labels-idx1-ubyte.gz").string(), tr);
  save_idx_pair((dir / "t10k-images-idx3-ubyte").string(), (dir / "t10k-labels-idx1-ubyte").string(), te);
  return dir;
}

struct RunResult {
  int exit_code = -1;
  std::string err;
};

// Runs train_mnist with `args` (already shell-quoted where needed), capturing stderr.
inline RunResult run_train_mnist(const std::string& args) {
  fs::path err_file = fs::temp_directory_path() / ("zs-test-stderr-" + std::to_string(::getpid()));
  std::string cmd = train_mnist_path() + " " + args + " > /dev/null 2> " + err_file.string() + " < /dev/null";
  int status = std::system(cmd.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(err_file);
  std::stringstream ss;
  ss << in.rdbuf();
  r.err = ss.str();
  fs::remove(err_file);
  return r;
}

// Whether `p` starts with the PNG signature.
inline bool is_png(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  char sig[8] = {};
  in.read(sig, 8);
  return in.gcount() == 8 && std::memcmp(sig, "\x89PNG\r\n\x1a\n", 8) == 0;
}

// Runs train_mnist with `args` and requires it to succeed (exit code 0, its stderr shown if not).
inline RunResult run_train_mnist_ok(const std::string& args) {
  RunResult r = run_train_mnist(args);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return r;
}

inline nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

// The small synthetic data set (96 training, 40 test images) the driver tests share, made once per
// test process.
inline const fs::path& tiny_data() {
  static fs::path dir = synthetic_mnist_dir("driver-data", 96, 40);
  return dir;
}

// The options every driver test passes: the tiny data, --out, the cpu backend, 2 threads, quiet.
inline std::string common_args(const fs::path& out) {
  return "--data " + tiny_data().string() + " --out " + out.string() + " --device cpu --threads 2 --quiet";
}

// Files a failed run left in `dir` (it may not exist).
inline size_t file_count(const fs::path& dir) {
  if (!fs::exists(dir)) return 0;
  size_t n = 0;
  for (auto& e : fs::recursive_directory_iterator(dir)) n += e.is_regular_file();
  return n;
}

// Runs train_mnist with `args` and requires the bad-input contract: exit code 2, one line on
// stderr that mentions `must_mention`, and no file written under `out`.
inline void require_clean_failure(const std::string& args, const std::string& must_mention, const fs::path& out) {
  RunResult r = run_train_mnist(args);
  INFO("train_mnist " << args << "\nstderr: " << r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.err.find(must_mention) != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);  // one clear message: a single line
  CHECK(file_count(out) == 0);
}

}  // namespace zs::testing
