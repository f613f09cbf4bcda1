// See mpi_communicator.h. Compiled only when MPI is in the build; mpi_stub.cpp otherwise.
#include "runtime/dist/mpi_communicator.h"

#include <mpi.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "runtime/dist/nccl_reducer.h"

namespace zs {
namespace {

// Set by bind_local_gpu when a node has more ranks than GPUs (they share them round-robin).
bool g_ranks_share_gpus = false;

template <class T> MPI_Datatype mpi_type();
template <> MPI_Datatype mpi_type<double>() { return MPI_DOUBLE; }
template <> MPI_Datatype mpi_type<float>() { return MPI_FLOAT; }
template <> MPI_Datatype mpi_type<int64_t>() { return MPI_INT64_T; }
template <> MPI_Datatype mpi_type<int32_t>() { return MPI_INT32_T; }

// Accumulator of a reduction: double for floating point (rounded once), exact int64 for counts.
template <class T> using Acc = std::conditional_t<std::is_floating_point_v<T>, double, T>;

void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) throw std::runtime_error(std::string("MPI: ") + what + " failed (code " + std::to_string(rc) + ")");
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised) {
      int provided = 0;
      check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  ~MpiCommunicator() override {
    nccl_.reset();
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return nccl_ ? "mpi+nccl" : "mpi"; }

  void allreduce_sum(std::span<double> v) override { reduce(v); }
  void allreduce_sum(std::span<float> v) override { reduce(v); }
  void allreduce_sum(std::span<int64_t> v) override { reduce(v); }

  // NCCL when every rank runs on cuda on a GPU of its own (agreed over MPI once: a mix of devices
  // stages through the host everywhere, since all ranks must take the same path). Ranks that share
  // a GPU (more ranks than GPUs on a node: NCCL refuses two ranks on one device) or ZS_NCCL=off
  // reduce through the host as well.
  void allreduce_sum_device(Backend& be, float* values, size_t count, double weight) override {
    if (use_nccl_ < 0) {
      const char* off = std::getenv("ZS_NCCL");
      const bool can = be.name() == "cuda" && nccl_in_build() && !g_ranks_share_gpus && !(off && std::string(off) == "off");
      std::vector<int64_t> on_cuda{can ? 1 : 0};
      allreduce_sum(std::span<int64_t>(on_cuda));
      use_nccl_ = on_cuda[0] == size_ ? 1 : 0;
      if (use_nccl_)
        nccl_ = make_nccl_reducer(rank_, size_, [this](void* id, size_t bytes) { broadcast(id, bytes, 0); });
    }
    if (use_nccl_) {
      be.synchronize();   // NCCL runs on its own stream: the values must be complete
      nccl_->allreduce_sum(values, count, weight);
      return;
    }
    Communicator::allreduce_sum_device(be, values, count, weight);
  }

  std::vector<double> allgather(std::span<const double> local) override { return gather(local); }
  std::vector<int32_t> allgather(std::span<const int32_t> local) override { return gather(local); }

  void broadcast(void* data, size_t bytes, int root) override {
    for (size_t done = 0; done < bytes;) {   // MPI counts are int
      const int chunk = static_cast<int>(std::min<size_t>(bytes - done, size_t(1) << 30));
      check(MPI_Bcast(static_cast<char*>(data) + done, chunk, MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
      done += size_t(chunk);
    }
  }
  void barrier() override { check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }
  [[noreturn]] void abort(int code) override {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);
  }

 private:
  // Segment q of a buffer of n elements: [n q / R, n (q + 1) / R).
  size_t edge(size_t n, int q) const { return n * size_t(q) / size_t(size_); }

  template <class T>
  void reduce(std::span<T> v) {
    const size_t n = v.size();
    if (n > size_t(INT32_MAX)) throw std::runtime_error("MPI: a reduction of more than 2^31 elements");
    const size_t mine = edge(n, rank_ + 1) - edge(n, rank_);
    std::vector<int> send_counts(size_), send_offsets(size_), recv_counts(size_), recv_offsets(size_);
    for (int q = 0; q < size_; ++q) {
      send_counts[q] = int(edge(n, q + 1) - edge(n, q));
      send_offsets[q] = int(edge(n, q));
      recv_counts[q] = int(mine);
      recv_offsets[q] = int(mine * size_t(q));
    }
    // Every rank's copy of my segment, rank after rank.
    std::vector<T> parts(mine * size_t(size_));
    check(MPI_Alltoallv(v.data(), send_counts.data(), send_offsets.data(), mpi_type<T>(), parts.data(),
                        recv_counts.data(), recv_offsets.data(), mpi_type<T>(), MPI_COMM_WORLD),
          "MPI_Alltoallv");
    std::vector<T> segment(mine);
    for (size_t e = 0; e < mine; ++e) {
      Acc<T> s = 0;
      for (int q = 0; q < size_; ++q) s += static_cast<Acc<T>>(parts[size_t(q) * mine + e]);   // rank order
      segment[e] = static_cast<T>(s);
    }
    check(MPI_Allgatherv(segment.data(), int(mine), mpi_type<T>(), v.data(), send_counts.data(), send_offsets.data(),
                         mpi_type<T>(), MPI_COMM_WORLD),
          "MPI_Allgatherv");
  }

  template <class T>
  std::vector<T> gather(std::span<const T> local) {
    const int mine = static_cast<int>(local.size());
    std::vector<int> counts(size_), offsets(size_);
    check(MPI_Allgather(&mine, 1, MPI_INT, counts.data(), 1, MPI_INT, MPI_COMM_WORLD), "MPI_Allgather");
    int64_t total = 0;
    for (int q = 0; q < size_; ++q) {
      if (total > INT32_MAX) throw std::runtime_error("MPI: an allgather of more than 2^31 elements");
      offsets[q] = int(total);
      total += counts[q];
    }
    std::vector<T> all(static_cast<size_t>(total));
    check(MPI_Allgatherv(local.data(), mine, mpi_type<T>(), all.data(), counts.data(), offsets.data(), mpi_type<T>(),
                         MPI_COMM_WORLD),
          "MPI_Allgatherv");
    return all;
  }

  int rank_ = 0, size_ = 1;
  int use_nccl_ = -1;   // -1: not decided yet
  std::unique_ptr<NcclReducer> nccl_;
};

}  // namespace

bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"})
    if (std::getenv(v)) return true;
  return false;
}

void bind_local_gpu() {
  const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_RANK");
  if (!local || std::getenv("CUDA_VISIBLE_DEVICES")) return;
  std::error_code ec;
  int gpus = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/driver/nvidia/gpus", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++gpus;
  if (gpus < 1) return;
  const char* local_size = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  g_ranks_share_gpus = local_size && std::atoi(local_size) > gpus;
  setenv("CUDA_VISIBLE_DEVICES", std::to_string(std::atoi(local) % gpus).c_str(), 1);
}

std::unique_ptr<Communicator> make_mpi_communicator() { return std::make_unique<MpiCommunicator>(); }

bool mpi_in_build() { return true; }

}  // namespace zs
