// The twin's kNN lists, distances and conditional P of a point set: the setup the t-SNE kernel
// tests (cpu, emu, cuda) share before the op they test.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/cpu/tsne.h"

namespace zs_test {

struct TwinKnnP {
  std::vector<int32_t> idx;
  std::vector<float> dist, cond;
};

inline TwinKnnP twin_knn_p(const std::vector<float>& x, int64_t n, int d, int k, float perplexity) {
  TwinKnnP t{std::vector<int32_t>(size_t(n) * size_t(k)), std::vector<float>(size_t(n) * size_t(k)),
             std::vector<float>(size_t(n) * size_t(k))};
  zs::cpu::tsne_knn(t.idx.data(), t.dist.data(), x.data(), n, d, k);
  zs::cpu::tsne_conditional_p(t.cond.data(), t.dist.data(), n, k, perplexity);
  return t;
}

}  // namespace zs_test
