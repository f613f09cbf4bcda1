#include "runtime/simt/launch.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "runtime/simt/activity.h"
#include "runtime/simt/block_scheduler.h"
#include "runtime/simt/cuda_api.h"
#include "runtime/simt/device_queue.h"

namespace zs::simt {
namespace {

// Hardware limits the emulated device enforces at launch (as CUDA does).
constexpr unsigned kMaxThreadsPerBlock = 1024;
constexpr unsigned kMaxBlockDim[3] = {1024, 1024, 64};
constexpr unsigned kMaxGridDim[3] = {0x7fffffffu, 65535u, 65535u};

cudaError_t validate(const LaunchRequest& r) {
  const dim3 g = r.grid, b = r.block;
  if (!g.x || !g.y || !g.z || !b.x || !b.y || !b.z) return cudaErrorInvalidConfiguration;
  if (b.x > kMaxBlockDim[0] || b.y > kMaxBlockDim[1] || b.z > kMaxBlockDim[2]) return cudaErrorInvalidConfiguration;
  if (uint64_t(b.x) * b.y * b.z > kMaxThreadsPerBlock) return cudaErrorInvalidConfiguration;
  if (g.x > kMaxGridDim[0] || g.y > kMaxGridDim[1] || g.z > kMaxGridDim[2]) return cudaErrorInvalidConfiguration;
  if (r.dynamic_smem > dynamic_smem_limit(r.kernel)) return cudaErrorInvalidValue;
  return cudaSuccess;
}

// Each OS thread runs its blocks on its own scheduler (and so its own fiber stacks and its
// own copy of the `static thread_local` STATIC_SHARED variables).
BlockScheduler& this_thread_scheduler() {
  thread_local BlockScheduler scheduler;
  return scheduler;
}

// Persistent OS threads that run the blocks of one grid at a time; the launching thread works
// too, so with one thread nothing is handed over at all.
class WorkerPool {
 public:
  static WorkerPool& instance() {
    static WorkerPool pool;
    return pool;
  }

  ~WorkerPool() {
    {
      std::lock_guard lock(mutex_);
      shutting_down_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : workers_) t.join();
  }

  // Calls body(i) for every i in [0, count) on up to `threads` OS threads; rethrows the first
  // exception (and stops handing out further items).
  void run(int threads, uint64_t count, const std::function<void(uint64_t)>& body) {
    std::lock_guard one_grid_at_a_time(launch_mutex_);
    const uint64_t helpers = std::min<uint64_t>(uint64_t(std::max(threads, 1)) - 1, count > 0 ? count - 1 : 0);
    if (helpers == 0) {
      for (uint64_t i = 0; i < count; ++i) body(i);
      return;
    }
    {
      std::lock_guard lock(mutex_);
      while (workers_.size() < helpers) workers_.emplace_back([this, id = workers_.size()] { worker_loop(id); });
      body_ = &body;
      count_ = count;
      next_.store(0);
      stop_.store(false);
      error_ = nullptr;
      participants_ = helpers;
      unfinished_ = helpers;
      ++generation_;
    }
    wake_.notify_all();
    work();
    std::unique_lock lock(mutex_);
    done_.wait(lock, [this] { return unfinished_ == 0; });
    body_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  WorkerPool() = default;

  void work() {
    for (;;) {
      if (stop_.load(std::memory_order_relaxed)) return;
      uint64_t i = next_.fetch_add(1);
      if (i >= count_) return;
      try {
        (*body_)(i);
      } catch (...) {
        std::lock_guard lock(mutex_);
        if (!error_) error_ = std::current_exception();
        stop_.store(true);
      }
    }
  }

  void worker_loop(std::size_t id) {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return shutting_down_ || generation_ != seen; });
        if (shutting_down_) return;
        seen = generation_;
        if (id >= participants_) continue;
      }
      work();
      std::lock_guard lock(mutex_);
      if (--unfinished_ == 0) done_.notify_all();
    }
  }

  std::mutex launch_mutex_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  const std::function<void(uint64_t)>* body_ = nullptr;
  uint64_t count_ = 0;
  std::atomic<uint64_t> next_{0};
  std::atomic<bool> stop_{false};
  std::exception_ptr error_;
  uint64_t participants_ = 0, unfinished_ = 0, generation_ = 0;
  bool shutting_down_ = false;
};

// Runs the whole grid now, with the settings the launch was issued under.
void run_grid(const LaunchRequest& request, const Settings& settings, void (*body)(const void* closure),
              const void* closure) {
  GridLaunch launch;
  launch.grid = request.grid;
  launch.block = request.block;
  launch.dynamic_smem = request.dynamic_smem;
  launch.body = KernelBody{body, closure};
  launch.kernel_name = request.kernel_name;
  launch.launch_site = request.site;
  launch.settings = settings;

  const dim3 g = request.grid;
  const uint64_t blocks = uint64_t(g.x) * g.y * g.z;
  // Random order: dispatch i runs block (stride * i + offset) mod blocks, a bijection because
  // the stride is coprime with the block count; no table, whatever the grid size.
  uint64_t stride = 1, offset = 0;
  if (launch.settings.order == Order::Random && blocks > 1) {
    uint64_t state = launch.settings.seed ^ 0x5851F42D4C957F2Dull;
    auto next = [&] { return state = state * 6364136223846793005ull + 1442695040888963407ull, state >> 11; };
    offset = next() % blocks;
    do stride = 1 + next() % (blocks - 1);
    while (std::gcd(stride, blocks) != 1);
  }
  const Activity outer = current_activity();
  auto run_block = [&](uint64_t dispatch) {
    uint64_t linear = launch.settings.order == Order::Reverse
                          ? blocks - 1 - dispatch
                          : uint64_t((unsigned __int128)stride * dispatch % blocks + offset) % blocks;
    uint3 block_idx{unsigned(linear % g.x), unsigned(linear / g.x % g.y), unsigned(linear / (uint64_t(g.x) * g.y))};
    // The block's own index seeds its thread order, so results never depend on which OS
    // thread ran it.
    ScopedActivity activity(outer);   // fault reports on helper OS threads name the kernel too
    this_thread_scheduler().run(launch, block_idx, linear);
  };
  WorkerPool::instance().run(launch.settings.threads, blocks, run_block);
}

}  // namespace

void enqueue_launch(const LaunchRequest& request, void (*body)(const void* closure),
                    std::shared_ptr<const void> closure) {
  if (BlockScheduler::running_here_owns(reinterpret_cast<const void*>(stack_address())))
    throw std::logic_error(std::string("zs::simt: kernel ") + request.kernel_name + " launched from device code at " +
                           request.site.file + ":" + std::to_string(request.site.line) +
                           " (dynamic parallelism is not emulated)");
  if (cudaError_t e = validate(request); e != cudaSuccess) {
    set_last_error(e);
    return;
  }
  DeviceWork work("kernel", request.kernel_name, request.site,
                  [request, body, closure = std::move(closure)](const Settings& s) {
                    run_grid(request, s, body, closure.get());
                  });
  if (cudaError_t e = queue::submit(request.stream, std::move(work)); e != cudaSuccess) set_last_error(e);
}

}  // namespace zs::simt
