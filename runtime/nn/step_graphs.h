// Replays a model's whole training step as one captured graph where the backend supports it (cuda).
// The first step of a given batch size runs directly (it sizes workspaces and syncs counters, which a
// capture must not do), the second is captured, and every later one is a single replay.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <set>

#include "runtime/backend/backend.h"

namespace zs {

class StepGraphs {
 public:
  void run(Backend& be, int n, const std::function<void()>& work) {
    if (!be.supports_capture() || disabled_) return work();
    auto it = graphs_.find(n);
    if (it != graphs_.end()) return it->second->replay();
    if (seen_.insert(n).second) return work();
    auto graph = be.capture(work);
    if (!graph) {
      disabled_ = true;
      return work();
    }
    graph->replay();  // capturing records the work without running it
    graphs_.emplace(n, std::move(graph));
  }
  void clear() {
    graphs_.clear();
    seen_.clear();
  }

 private:
  std::map<int, std::unique_ptr<CapturedWork>> graphs_;
  std::set<int> seen_;
  bool disabled_ = false;
};

}  // namespace zs
