// train_mnist and the CPU paths (kernels/cpu/cpu_isa.h): --version names the path, metrics.json
// records the path and the precision that ran, ZS_CPU_ISA forces a path, and a bad ZS_CPU_ISA or
// --precision is a clean failure (exit 2, one line, nothing written).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "driver_harness.h"
#include "kernels/cpu/cpu_isa.h"

using namespace zs;
using namespace zs::testing;

namespace {

// Sets an environment variable for train_mnist runs started while this object lives.
struct ScopedEnv {
  ScopedEnv(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ~ScopedEnv() { ::unsetenv(name_); }
  const char* name_;
};

// train_mnist's stdout for `args` (exit code in `code`).
std::string run_stdout(const std::string& args, int& code) {
  const fs::path out_file = fs::temp_directory_path() / ("zs-test-stdout-" + std::to_string(::getpid()));
  const int status = std::system((train_mnist_path() + " " + args + " > " + out_file.string() + " 2>&1").c_str());
  code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(out_file);
  std::stringstream ss;
  ss << in.rdbuf();
  fs::remove(out_file);
  return ss.str();
}

}  // namespace

TEST_CASE("train_mnist --version names the CPU path, and ZS_CPU_ISA changes it", "[driver][isa]") {
  int code = -1;
  const std::string widest = cpu::cpu_isa_name(cpu::widest_supported(cpu::detect_cpu_features()));
  std::string text = run_stdout("--version", code);
  INFO(text);
  CHECK(code == 0);
  CHECK(text.find("train_mnist (zspace ") != std::string::npos);
  CHECK(text.find("cpu path: " + widest + " (cpu offers avx2") != std::string::npos);
  {
    const ScopedEnv env("ZS_CPU_ISA", "avx2");
    text = run_stdout("--version", code);
    CHECK(code == 0);
    CHECK(text.find("cpu path: avx2 (") != std::string::npos);
    CHECK(text.find("ZS_CPU_ISA=avx2") != std::string::npos);
  }
}

TEST_CASE("metrics.json records the CPU path and the precision that ran", "[driver][isa]") {
  const std::string widest = cpu::cpu_isa_name(cpu::widest_supported(cpu::detect_cpu_features()));
  fs::path out = fresh_dir("driver-isa-default");
  RunResult r = run_train_mnist("ae " + common_args(out) + " --epochs 1 --batch 16 --z-dim 2");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto m = read_json(out / "metrics.json");
  CHECK(m["cpu_isa"] == widest);
  CHECK(m["precision"] == "fp32");

  // avx2 forced: the same bits as the widest path (the AVX-512 GEMM sums in the AVX2 order).
  fs::path forced = fresh_dir("driver-isa-avx2");
  {
    const ScopedEnv env("ZS_CPU_ISA", "avx2");
    r = run_train_mnist("ae " + common_args(forced) + " --epochs 1 --batch 16 --z-dim 2");
  }
  REQUIRE(r.exit_code == 0);
  auto f = read_json(forced / "metrics.json");
  CHECK(f["cpu_isa"] == "avx2");
  CHECK(f["test_loss"].get<double>() == m["test_loss"].get<double>());

  out = fresh_dir("driver-isa-kmeans");
  r = run_train_mnist("kmeans " + common_args(out) + " --k 3 --n-init 1");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(read_json(out / "metrics.json")["cpu_isa"] == widest);
}

TEST_CASE("train_mnist with --precision bf16 trains where AVX512_BF16 exists, else fails cleanly", "[driver][isa][bf16]") {
  fs::path out = fresh_dir("driver-bf16");
  const std::string args = "ae " + common_args(out) + " --epochs 2 --batch 16 --z-dim 2 --lr 2e-3 --precision bf16";
  if (!cpu::bf16_available()) {
    WARN("this CPU lacks avx512_bf16: checking the clean failure only");
    require_clean_failure(args, "--precision bf16: needs AVX512_BF16", out);
    return;
  }
  RunResult r = run_train_mnist(args);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto m = read_json(out / "metrics.json");
  CHECK(m["precision"] == "bf16");
  CHECK(m["train_loss"][1].get<double>() < m["train_loss"][0].get<double>());
  fs::path emu = fresh_dir("driver-bf16-emu");
  require_clean_failure("ae --data " + tiny_data().string() + " --out " + emu.string() +
                            " --device emu --threads 2 --quiet --epochs 1 --precision bf16",
                        "--precision bf16: runs on the cpu device only", emu);
}

TEST_CASE("a bad ZS_CPU_ISA or --precision is a clean failure", "[driver][isa]") {
  fs::path out = fresh_dir("driver-isa-bad");
  require_clean_failure("ae " + common_args(out) + " --epochs 1 --precision fp16",
                        "--precision fp16: unknown precision; use fp32 or bf16", out);
  {
    const ScopedEnv env("ZS_CPU_ISA", "sse");
    require_clean_failure("ae " + common_args(out) + " --epochs 1", "ZS_CPU_ISA=sse: unknown instruction set", out);
    require_clean_failure("kmeans " + common_args(out) + " --k 3", "ZS_CPU_ISA=sse", out);
    int code = -1;
    run_stdout("--version", code);
    CHECK(code == 2);
  }
  {
    // bf16 needs the avx512 path: with avx2 forced it is refused on every machine.
    const ScopedEnv env("ZS_CPU_ISA", "avx2");
    require_clean_failure("ae " + common_args(out) + " --epochs 1 --precision bf16", "--precision bf16: needs AVX512_BF16",
                          out);
  }
  if (!cpu::cpu_supports(cpu::detect_cpu_features(), cpu::CpuIsa::kAvx512)) {
    const ScopedEnv env("ZS_CPU_ISA", "avx512");
    require_clean_failure("ae " + common_args(out) + " --epochs 1", "does not support avx512", out);
  }
}
