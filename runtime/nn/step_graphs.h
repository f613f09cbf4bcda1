// Replays a model's whole training step as one captured graph where the backend supports it (cuda,
// emu). The first step of a given batch size runs directly (it sizes the kernel workspaces, which a
// capture must not do), the second is captured, and every later one is a single replay.
// A graph holds the values it captured, the Adam hyperparameters among them: a step with other
// hyperparameters (a schedule, a resumed run with another --lr) captures that batch size again.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <set>

#include "runtime/backend/backend.h"

namespace zs {

class StepGraphs {
 public:
  void run(Backend& be, int n, const AdamHyper& h, const std::function<void()>& work) {
    if (!be.supports_capture() || disabled_) return work();
    auto it = graphs_.find(n);
    if (it != graphs_.end() && same(it->second.hyper, h)) return it->second.graph->replay();
    if (it != graphs_.end()) graphs_.erase(it);   // captured with other hyperparameters
    if (seen_.insert(n).second) return work();
    auto graph = be.capture(work);
    if (!graph) {
      disabled_ = true;
      return work();
    }
    graph->replay();  // capturing records the work without running it
    graphs_.emplace(n, Captured{std::move(graph), h});
  }
  void clear() {
    graphs_.clear();
    seen_.clear();
  }

 private:
  struct Captured {
    std::unique_ptr<CapturedWork> graph;
    AdamHyper hyper;
  };
  static bool same(const AdamHyper& a, const AdamHyper& b) {
    return a.lr == b.lr && a.beta1 == b.beta1 && a.beta2 == b.beta2 && a.eps == b.eps;
  }

  std::map<int, Captured> graphs_;
  std::set<int> seen_;
  bool disabled_ = false;
};

}  // namespace zs
