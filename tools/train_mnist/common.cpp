#include "tools/train_mnist/common.h"

#include <omp.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include <charconv>
#include <cmath>
#include <exception>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <tuple>

#include "kernels/cpu/cpu_isa.h"
#include "runtime/core/error.h"
#include "runtime/io/atomic_file.h"

extern "C" void openblas_set_num_threads(int);

namespace zs::driver {

namespace {
Communicator* g_world = nullptr;
std::string g_scratch_out;   // this rank's scratch --out while a run holds one (ranks > 0)
}  // namespace

void discard_scratch_out() {
  if (g_scratch_out.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(g_scratch_out, ec);
  g_scratch_out.clear();
}

Communicator& world() { return g_world ? *g_world : single_process(); }
void set_world(Communicator* comm) { g_world = comm; }

// A private folder for a rank > 0's outputs (see RunContext): TMPDIR/zs-rank<r>-<pid>-XXXXXX. A rank
// that is killed cannot remove its folder, so each new one first removes those whose process is gone.
void remove_dead_scratch_outs() {
  const std::filesystem::path tmp = std::filesystem::temp_directory_path();
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(tmp, ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    long pid = 0;
    int rank = 0;
    if (std::sscanf(name.c_str(), "zs-rank%d-%ld-", &rank, &pid) != 2 || pid <= 0) continue;
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
      std::error_code ignored;
      std::filesystem::remove_all(it->path(), ignored);
    }
  }
}

static std::string make_scratch_out(int rank) {
  const std::filesystem::path tmp = std::filesystem::temp_directory_path();
  remove_dead_scratch_outs();
  std::string pattern =
      (tmp / ("zs-rank" + std::to_string(rank) + "-" + std::to_string(::getpid()) + "-XXXXXX")).string();
  if (!mkdtemp(pattern.data()))
    throw UserError("rank " + std::to_string(rank) + ": cannot create a scratch folder in " +
                    std::filesystem::temp_directory_path().string() + "; set TMPDIR to a writable folder");
  g_scratch_out = pattern;
  return pattern;
}

void add_common_options(CLI::App& cmd, CommonOptions& o) {
  cmd.add_option("--data", o.data, "folder with the four MNIST IDX files (raw or .gz)")->capture_default_str();
  cmd.add_option("--out", o.out, "output folder (created if missing)")->capture_default_str();
  cmd.add_option("--device", o.device, "auto|cpu|cuda|emu")->capture_default_str();
  // CLI11 would wrap "-1" and saturate 99999999999999999999999 into a uint64: only plain decimal
  // digits that fit pass, so the seed recorded in metrics.json is the one the user typed.
  cmd.add_option("--seed", o.seed, "seed of initialization, shuffling and sampling (0 to 18446744073709551615)")
      ->capture_default_str()
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            const bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
            uint64_t value = 0;
            const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
            if (digits && ec == std::errc() && end == text.data() + text.size()) return "";
            return "'" + text + "' is not an integer from 0 to 18446744073709551615; pass such a seed";
          },
          "UINT64"));
  cmd.add_option("--threads", o.threads, "CPU threads (0 = all cores)")->capture_default_str();
  cmd.add_option("--train-limit", o.train_limit, "use only the first N training images (-1 = all)")->capture_default_str();
  cmd.add_option("--test-limit", o.test_limit, "use only the first N test images (-1 = all)")->capture_default_str();
  cmd.add_flag("--quiet,-q", o.quiet, "no progress output on stderr");
}

void add_precision_option(CLI::App& cmd, CommonOptions& o) {
  cmd.add_option("--precision", o.precision,
                 "fp32|bf16: bf16 rounds the CPU convolutions' GEMM inputs to bf16 (fp32 accumulation, "
                 "AVX512_BF16); weights, optimizer state, gradients and loss stay fp32")
      ->capture_default_str();
}

void require_range(const std::string& option, double v, double lo, double hi) {
  if (!std::isfinite(v) || v < lo || v > hi) {
    std::ostringstream msg;
    msg << option << ": " << v << " is out of range; use a value in [" << lo << ", " << hi << "]";
    throw UserError(msg.str());
  }
}

// A bad ZS_CPU_ISA is the user's to fix: say so before any work starts.
static void check_cpu_isa_env() {
  const std::string problem = cpu::cpu_isa_env_problem();
  if (!problem.empty()) throw UserError(problem);
}

std::string version_text() {
  check_cpu_isa_env();
  return std::string("train_mnist (zspace ") + ZSPACE_VERSION + ")\ncpu path: " + cpu::cpu_isa_summary();
}

// --precision, checked before anything is written; bf16 also needs the cpu device (checked once
// the backend is known).
static cpu::ConvPrecision parse_precision(const CommonOptions& o) {
  if (o.precision == "fp32") return cpu::ConvPrecision::kFp32;
  if (o.precision != "bf16") throw UserError("--precision " + o.precision + ": unknown precision; use fp32 or bf16");
  if (!cpu::bf16_available())
    throw UserError("--precision bf16: needs AVX512_BF16 on the avx512 path, and this run has " +
                    cpu::cpu_isa_summary() + "; use --precision fp32");
  if (o.device == "cuda" || o.device == "emu")
    throw UserError("--precision bf16: runs on the cpu device only; use --device cpu or --precision fp32");
  return cpu::ConvPrecision::kBf16;
}

void require_nonempty_splits(const Dataset& data) {
  for (const auto& [count, name, file] : {std::tuple{data.train_total, "training", "train-images-idx3-ubyte"},
                                          std::tuple{data.test.count, "test", "t10k-images-idx3-ubyte"}})
    if (count == 0)
      throw UserError("--data " + data.dir + ": the " + name + " set (" + file +
                      ") holds 0 images; every command needs at least one training and one test image: "
                      "pass a folder of complete MNIST files (tools/fetch_data writes one)");
}

static DeviceKind parse_device(const std::string& d) {
  if (d == "auto") return DeviceKind::Auto;
  if (d == "cpu") return DeviceKind::Cpu;
  if (d == "cuda") return DeviceKind::Cuda;
  if (d == "emu") return DeviceKind::Emu;
  throw UserError("--device " + d + ": unknown device; use auto, cpu, cuda or emu");
}

void require_nonempty_block(int64_t block_rows, int64_t total) {
  if (block_rows > 0) return;
  throw UserError("this rank gets no training sample: the " + std::to_string(total) +
                  " samples are split between the ranks in blocks of " + std::to_string(kRankShardAlign) +
                  "; run at most " + std::to_string((total + kRankShardAlign - 1) / kRankShardAlign) +
                  " ranks, or more samples (--train-limit)");
}

// This rank's part of the training set: a block under mpirun for the data-parallel commands.
static TrainShard train_shard(TrainSplit split) {
  Communicator& comm = world();
  if (split == TrainSplit::Whole || !distributed(&comm)) return {};
  return {comm.rank(), comm.size(), kRankShardAlign};
}

// The whole training set's labels on every rank (each block's, gathered in rank order: 1 byte a
// sample), and a rank whose block is empty refused.
static std::vector<uint8_t> all_train_labels(const Dataset& data, const TrainShard& shard) {
  Communicator& comm = world();
  if (shard.ranks == 1) return data.train.labels;
  require_nonempty_block(data.train.count, data.train_total);
  const std::vector<int32_t> local(data.train.labels.begin(), data.train.labels.end());
  const std::vector<int32_t> all = comm.allgather(std::span<const int32_t>(local));
  return {all.begin(), all.end()};
}

std::vector<float> gather_train_blocks(const std::vector<float>& block, int dim, const RunContext& ctx) {
  if (ctx.data.train.count == ctx.data.train_total) return block;
  const std::vector<double> wide(block.begin(), block.end());   // floats travel exactly as doubles
  const std::vector<double> all = world().allgather(std::span<const double>(wide));
  if (all.size() != size_t(ctx.data.train_total) * size_t(dim))
    throw std::logic_error("gather_train_blocks: the ranks' blocks do not make the training set");
  return {all.begin(), all.end()};
}

RunContext::RunContext(const CommonOptions& o, bool load_data, TrainSplit split) : opt(o) {
  if (world().rank() > 0) {
    scratch_out = make_scratch_out(world().rank());
    opt.out = scratch_out;
    opt.quiet = true;
  }
  DeviceKind kind = parse_device(o.device);
  check_cpu_isa_env();
  cpu_isa = cpu::cpu_isa_name(cpu::active_cpu_isa());
  const cpu::ConvPrecision precision = parse_precision(o);
  require_range("--threads", o.threads, 0, 1024);
  if (o.train_limit == 0 || o.train_limit < -1) throw UserError("--train-limit: must be a positive count or -1 for all");
  if (o.test_limit == 0 || o.test_limit < -1) throw UserError("--test-limit: must be a positive count or -1 for all");
  if (o.threads > 0) {
    omp_set_num_threads(o.threads);
    openblas_set_num_threads(o.threads);
  }
  if (load_data) {
    const TrainShard shard = train_shard(split);
    data = load_dataset_dir(o.data, o.train_limit, o.test_limit, shard);
    require_nonempty_splits(data);
    train_labels = all_train_labels(data, shard);
  }
  ensure_output_dir(opt.out, "--out");
  std::string lock_notice;
  out_lock = std::make_unique<OutLock>(opt.out, "--out", &lock_notice);
  if (!lock_notice.empty()) say(lock_notice);
  const std::vector<std::string> stale = remove_stale_temporaries(opt.out);
  if (!stale.empty())
    say("--out " + opt.out + ": removed " + std::to_string(stale.size()) +
        " partial file(s) an interrupted run left (e.g. " + stale.front() + ")");
  outputs = std::make_unique<OutputSet>(opt.out);
  std::string notice;
  backend = make_backend(kind, &notice);
  if (!notice.empty()) say(notice);
  if (precision == cpu::ConvPrecision::kBf16 && !backend->memory_is_host())   // bf16 is the cpu backend's
    throw UserError("--precision bf16: runs on the cpu device only, and --device auto chose " + backend->name() +
                    "; use --device cpu or --precision fp32");
  cpu::set_conv_precision(precision);
}

RunContext::~RunContext() {
  if (!scratch_out.empty()) {
    outputs.reset();
    out_lock.reset();
    discard_scratch_out();
    return;
  }
  if (!outputs || std::uncaught_exceptions() > 0) return;
  try {
    outputs->complete();
  } catch (const std::exception&) {
    // Only the hidden copy of the previous outputs stays behind; the next run replaces it.
  }
}

std::string RunContext::out_path(const std::string& file) const { return (std::filesystem::path(opt.out) / file).string(); }

double RunContext::seconds_since_start() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void RunContext::write_metrics(nlohmann::json m) const {
  m["seconds_total"] = seconds_since_start();
  write_json_atomic(out_path("metrics.json"), m);
}

void RunContext::say(const std::string& line) const {
  if (!opt.quiet) std::cerr << line << '\n';
}


}  // namespace zs::driver
