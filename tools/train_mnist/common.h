// What every train_mnist command shares: the common options of the driver contract (--data, --out,
// --device, --seed, --threads, --train-limit, --test-limit, --quiet), their validation, and the
// run context built from them (backend, output folder, data set).
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "runtime/backend/backend.h"
#include "runtime/dist/communicator.h"
#include "runtime/data/idx.h"
#include "runtime/io/out_lock.h"
#include "runtime/io/output_set.h"

namespace zs::driver {

inline constexpr int kPixels = 28 * 28;  // one MNIST image

struct CommonOptions {
  std::string data = "data/mnist";
  std::string out = "out";
  std::string device = "auto";
  uint64_t seed = 42;
  int threads = 0;        // 0 = all hardware threads
  int train_limit = -1;   // -1 = all
  int test_limit = -1;
  bool quiet = false;
  std::string precision = "fp32";  // fp32|bf16: the CPU convolutions' GEMM inputs (ae, vae, ae-kmeans)
};

void add_common_options(CLI::App& cmd, CommonOptions& o);

// Registers the subcommand `name` with the common options: `opts` gets the (shared) options the
// parser fills, and the subcommand's callback runs `run` on them. Returns the subcommand, for the
// command's own options. Options must have a CommonOptions `common`.
template <class Options>
CLI::App* add_command(CLI::App& app, const std::string& name, const std::string& help, std::shared_ptr<Options>& opts,
                      void (*run)(const Options&)) {
  opts = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(name, help);
  add_common_options(*cmd, opts->common);
  cmd->callback([opts, run] { run(*opts); });
  return cmd;
}
// --precision fp32|bf16, for the commands that train an autoencoder.
void add_precision_option(CLI::App& cmd, CommonOptions& o);

// Validates the common options, prepares and locks --out (removing temporaries killed runs left), sets the thread count, creates the backend and
// loads the data set. Throws UserError on any problem.
// The processes of this run (runtime/dist): MPI's world under mpirun (main sets it), else the
// single-process communicator.
Communicator& world();
void set_world(Communicator* comm);
// Removes this rank's scratch --out (see RunContext), e.g. before a failing rank aborts the job.
void discard_scratch_out();
// Removes the scratch --out folders of ranks whose process is gone (a killed rank cannot).
void remove_dead_scratch_outs();

// How a command under mpirun splits the training set (the test set is whole on every rank).
enum class TrainSplit {
  Whole,      // every rank loads all of it (tsne, replicate)
  RankShard,  // each rank loads only its block: shard_of(count, rank, ranks, kRankShardAlign)
};
// The data-parallel commands' blocks: multiples of 1024 rows, so that the CPU KMeans pass's sum
// blocks stay whole (runtime/cluster/kmeans_dist.h) and one loaded block serves ae-kmeans's
// training and its clustering.
inline constexpr int64_t kRankShardAlign = 1024;

// Under mpirun every rank runs the same command; rank 0 alone owns --out (lock, outputs,
// checkpoints, progress). The other ranks run with a private scratch folder as their --out, removed
// when the run ends, and --quiet, so that no code path needs a rank test to stay out of --out.
struct RunContext {
  CommonOptions opt;
  std::unique_ptr<Backend> backend;
  Dataset data;   // data.train: this rank's block under mpirun with TrainSplit::RankShard
  std::vector<uint8_t> train_labels;   // the labels of the whole (limited) training set, on every rank
  std::string cpu_isa;  // the CPU path the CPU twin runs (kernels/cpu/cpu_isa.h): metrics.json's cpu_isa
  std::unique_ptr<OutLock> out_lock;  // held for the whole run: one run per --out
  std::unique_ptr<OutputSet> outputs; // this run's files replace the previous run's as a set
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  std::string scratch_out;            // ranks > 0: their private --out, removed at the end

  explicit RunContext(const CommonOptions& o, bool load_data = true, TrainSplit split = TrainSplit::Whole);
  // A run that ends without an exception is complete: the previous run's set is dropped.
  ~RunContext();
  std::string out_path(const std::string& file) const;
  double seconds_since_start() const;
  // OUT/metrics.json = m with seconds_total, the run's time so far.
  void write_metrics(nlohmann::json m) const;
  void say(const std::string& line) const;  // one line on stderr unless --quiet
};

// Throws UserError when this rank's block of the `total` training samples is empty, naming the
// largest rank count that gives every rank a block.
void require_nonempty_block(int64_t block_rows, int64_t total);

// The rows of every rank's block of the training set (TrainSplit::RankShard), `dim` floats each,
// concatenated in rank order on every rank: the whole set's rows, as one process computes them
// (latents are small; the images are never gathered). One process: `block` itself.
std::vector<float> gather_train_blocks(const std::vector<float>& block, int dim, const RunContext& ctx);

// What --version prints: the version, and the CPU path (kernels/cpu/cpu_isa.h) with what the CPU
// offers. Throws UserError when ZS_CPU_ISA is bad.
std::string version_text();
// Throws UserError naming the split when the training or the test set holds no image: every command
// needs both (training, then evaluation), so an empty one is refused before anything runs.
void require_nonempty_splits(const Dataset& data);

// Throws UserError "--name: must be ..." unless lo <= v <= hi.
void require_range(const std::string& option, double v, double lo, double hi);

}  // namespace zs::driver
