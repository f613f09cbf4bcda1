#include "tools/train_mnist/replicate_plan.h"

#include <algorithm>
#include <cmath>

namespace zs::driver {
namespace {

std::vector<Budget> budgets() {
  Budget smoke;
  smoke.name = "smoke";
  smoke.train_limit = 300;
  smoke.test_limit = 100;
  smoke.ae_epochs = smoke.ae25_epochs = 1;
  smoke.ae25_train_limit = 300;
  smoke.tsne_latents = 100;
  smoke.tsne_pixels = 150;
  smoke.kmeans_n_init = 1;
  smoke.elbow_n_init = 1, smoke.elbow_k_step = 9, smoke.elbow_k_max = 20;
  smoke.time_n_init = 1, smoke.time_max_iter = 5, smoke.time_k_large = 50;
  smoke.shortened = "300 training / 100 test images, 1 epoch, n_init 1, 100-point maps: checks that every step runs, "
                    "its numbers mean nothing";

  Budget quick;
  quick.name = "quick";
  quick.ae_epochs = quick.ae25_epochs = 8;
  quick.ae25_train_limit = -1;
  quick.tsne_latents = 3000;
  quick.tsne_pixels = 4000;
  quick.kmeans_n_init = 3;
  quick.elbow_n_init = 3, quick.elbow_k_step = 16;
  quick.shortened = "8 epochs instead of 40; MiniBatchKMeans n_init 3 instead of 100 (elbow: 3 instead of 50, every "
                    "16th k); t-SNE maps of 3,000 latents and 4,000 images instead of 15,000 and 10,000";

  Budget blog;
  blog.name = "blog";
  blog.shortened = "nothing: the blog's schedules (on the data given by --data)";
  return {smoke, quick, blog};
}

const char* kMiniBatch = "minibatch";

std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::string str(long long v) { return std::to_string(v); }

// Every run: the data, device, seed and threads of the replicate command, and the budget's limits.
std::vector<std::string> common(const ReplicateSettings& s, int train_limit) {
  std::vector<std::string> a = {"--data", s.data, "--device", s.device, "--seed", str((long long)s.seed), "--threads",
                                str(s.threads)};
  if (train_limit > 0) a = a + std::vector<std::string>{"--train-limit", str(train_limit)};
  if (s.budget.test_limit > 0) a = a + std::vector<std::string>{"--test-limit", str(s.budget.test_limit)};
  return a;
}

// The blog's MiniBatchKMeans: k 225, batch 200, max_iter 120, tol 1e-4.
std::vector<std::string> blog_minibatch(const ReplicateSettings& s, int k = 225) {
  return {"--algo", kMiniBatch, "--k", str(k), "--batch-size", "200", "--max-iter", "120", "--tol", "1e-4",
          "--n-init", str(s.budget.kmeans_n_init)};
}

}  // namespace

std::optional<Budget> find_budget(const std::string& name) {
  for (const Budget& b : budgets())
    if (b.name == name) return b;
  return std::nullopt;
}

const std::vector<StepSpec>& replicate_steps() {
  static const std::vector<StepSpec> steps = {
      {"ae16", "AE z = 16, BCE, Adam 5e-4, batch 128, 40 epochs",
       "reconstructions \"almost perfect\"; t-SNE of 15,000 training latents and of the test latents: ten separated "
       "digit islands"},
      {"ae2", "the same AE with z = 2",
       "test latents spread over about [-7, 7] x [-9, 6]; 0s and 6s widely spread; 3/5/8 and 4/7/9 overlap"},
      {"vae2", "VAE z = 2 (KL loss)",
       "latents confined to about [-4, 4]^2; generated digits; a VAE with a tiny KL weight behaves like an AE"},
      {"kmeans-raw", "MiniBatchKMeans k = 225, batch 200, max_iter 120, n_init 100, tol 1e-4, unscaled pixels",
       "train error 0.115, test error 0.112; ~15 of 225 clusters with > 40% error; confusion matrix with 4<->9 and "
       "3/5/8 as the main confusions"},
      {"kmeans-scalers", "the same with sklearn's Normalizer and StandardScaler",
       "Normalizer: train 0.085, test 0.083 (about 91.5% accuracy); StandardScaler about 1.5 points worse than "
       "unscaled"},
      {"elbow", "MiniBatchKMeans n_init 50, max_iter 100, 1 < k <= 250",
       "no pronounced elbow; k around 200 is safe; under 20 minutes on 3 cores"},
      {"kmeans-time", "KMeans (Lloyd) k = 25, n_init 10, max_iter 50, tol 1e-3 on 60,000 images",
       "42 s on 3 cores; k = 200: 214 s; MiniBatchKMeans more than 80x faster"},
      {"tsne-raw", "t-SNE of 10,000 random training images (784-D)",
       "major digit islands with mixed zones matching the confusion matrix"},
      {"ae25-kmeans",
       "AE z = 25, MSE loss, trained on 50,000 images for 40 epochs, then KMeans k = 225 on the latents",
       "test error 0.0574 unscaled, 0.054 normalized (about 94%); about 92% with only 100 clusters; the AE took "
       "~150 s on a GTX 960; t-SNE of the 25-D test latents separates better than raw pixels"},
  };
  return steps;
}

const StepSpec* find_step(const std::string& name) {
  for (const StepSpec& s : replicate_steps())
    if (s.name == name) return &s;
  return nullptr;
}

std::vector<RunSpec> plan_step(const std::string& step, const ReplicateSettings& s, const std::string& step_dir) {
  const Budget& b = s.budget;
  const auto base = common(s, b.train_limit);
  const auto epochs = [](int e) { return std::vector<std::string>{"--epochs", str(e)}; };
  if (step == "ae16")
    return {{"ae", std::vector<std::string>{"ae"} + base +
                       std::vector<std::string>{"--z-dim", "16", "--loss", "bce", "--lr", "5e-4", "--batch", "128",
                                                "--tsne", str(b.tsne_latents)} +
                       epochs(b.ae_epochs)}};
  if (step == "ae2")
    return {{"ae", std::vector<std::string>{"ae"} + base +
                       std::vector<std::string>{"--z-dim", "2", "--loss", "bce", "--lr", "5e-4", "--batch", "128"} +
                       epochs(b.ae_epochs)}};
  if (step == "vae2")
    return {{"vae", std::vector<std::string>{"vae"} + base + std::vector<std::string>{"--z-dim", "2"} + epochs(b.ae_epochs)},
            {"vae-tiny-kl", std::vector<std::string>{"vae"} + base +
                                std::vector<std::string>{"--z-dim", "2", "--kl-weight", "1e-4", "--sample-at-inference",
                                                         "off"} +
                                epochs(b.ae_epochs)}};
  if (step == "kmeans-raw")
    return {{"kmeans", std::vector<std::string>{"kmeans"} + base + blog_minibatch(s) +
                           std::vector<std::string>{"--scale", "none"}}};
  if (step == "kmeans-scalers")
    return {{"normalize", std::vector<std::string>{"kmeans"} + base + blog_minibatch(s) +
                              std::vector<std::string>{"--scale", "normalize"}},
            {"standardize", std::vector<std::string>{"kmeans"} + base + blog_minibatch(s) +
                                std::vector<std::string>{"--scale", "standardize"}}};
  if (step == "elbow") {
    const int k_max = std::min(b.elbow_k_max, s.train_images);
    return {{"elbow", std::vector<std::string>{"elbow"} + base +
                          std::vector<std::string>{"--algo", kMiniBatch, "--batch-size", "200", "--max-iter", "100",
                                                   "--n-init", str(b.elbow_n_init), "--k-min", "2", "--k-max",
                                                   str(k_max), "--k-step", str(b.elbow_k_step), "--scale", "none"}}};
  }
  if (step == "kmeans-time") {
    const auto lloyd = [&](int k) {
      return std::vector<std::string>{"kmeans"} + base +
             std::vector<std::string>{"--algo", "lloyd", "--k", str(k), "--n-init", str(b.time_n_init), "--max-iter",
                                      str(b.time_max_iter), "--tol", "1e-3", "--scale", "none"};
    };
    return {{"lloyd-k25", lloyd(25)},
            {"lloyd-k" + str(b.time_k_large), lloyd(b.time_k_large)},
            {"minibatch-k" + str(b.time_k_large),
             std::vector<std::string>{"kmeans"} + base +
                 std::vector<std::string>{"--algo", kMiniBatch, "--k", str(b.time_k_large), "--batch-size", "200",
                                          "--n-init", str(b.time_n_init), "--max-iter", str(b.time_max_iter),
                                          "--scale", "none"}}};
  }
  if (step == "tsne-raw")
    return {{"tsne", std::vector<std::string>{"tsne"} + base +
                         std::vector<std::string>{"--features", "pixels", "--split", "train", "--n",
                                                  str(std::min(b.tsne_pixels, s.train_images))}}};
  if (step == "ae25-kmeans") {
    const int limit = b.ae25_train_limit > 0 ? b.ae25_train_limit : b.train_limit;
    // The latents' KMeans runs cluster the first run's training latents.
    const std::string latents = step_dir + "/ae-kmeans/latent_train.npy";
    return {{"ae-kmeans", std::vector<std::string>{"ae-kmeans"} + common(s, limit) +
                              std::vector<std::string>{"--z-dim", "25", "--loss", "mse", "--lr", "5e-4", "--batch",
                                                       "128", "--tsne", str(b.tsne_latents), "--scale", "none"} +
                              epochs(b.ae25_epochs) + blog_minibatch(s)},
            {"normalize", std::vector<std::string>{"kmeans", "--features", latents} +
                              common(s, -1) + blog_minibatch(s) + std::vector<std::string>{"--scale", "normalize"}},
            {"k100", std::vector<std::string>{"kmeans", "--features", latents} +
                         common(s, -1) + blog_minibatch(s, 100) + std::vector<std::string>{"--scale", "none"}}};
  }
  return {};
}

double estimated_seconds(const std::string& step, const ReplicateSettings& s) {
  // Rates measured on 2 cores of an AMD EPYC (Zen 4) with the cpu backend.
  constexpr double kTrainImagesPerSecond = 800, kMapSecondsPerPoint = 2e-3, kPixelMapSecondsPerPoint = 6e-3;
  // A Lloyd pass costs about kLloydSeconds per image x feature x cluster; the estimate assumes every
  // init runs all max_iter passes. MiniBatchKMeans (k ~ 225) runs only the best of its n_init
  // initialisations: a fit costs kMiniBatchSeconds per 8,000 images plus kMiniBatchInitSeconds per init.
  constexpr double kMiniBatchSeconds = 0.8, kMiniBatchInitSeconds = 0.05, kLloydSeconds = 7e-11;
  const Budget& b = s.budget;
  const double train = s.train_images, test = s.test_images;
  const double ae = b.ae_epochs * (train + test / 4) / kTrainImagesPerSecond + 2;
  const auto minibatch_fit = [&](int n_init) { return kMiniBatchSeconds * train / 8000 + kMiniBatchInitSeconds * n_init; };
  const double minibatch = minibatch_fit(b.kmeans_n_init) + 1;  // + loading, labels, figures
  if (step == "ae16") return ae + kMapSecondsPerPoint * (std::min<double>(b.tsne_latents, train) + std::min<double>(b.tsne_latents, test));
  if (step == "ae2") return ae;
  if (step == "vae2") return 2 * ae;
  if (step == "kmeans-raw") return minibatch;
  if (step == "kmeans-scalers") return 2 * minibatch;
  if (step == "elbow") {
    const double fits = std::floor((std::min(b.elbow_k_max, s.train_images) - 2) / double(b.elbow_k_step)) + 1;
    return fits * minibatch_fit(b.elbow_n_init);
  }
  if (step == "kmeans-time")
    return kLloydSeconds * train * 784 * b.time_n_init * b.time_max_iter * (25 + b.time_k_large) + minibatch;
  if (step == "tsne-raw") return kPixelMapSecondsPerPoint * std::min<double>(b.tsne_pixels, train);
  if (step == "ae25-kmeans") {
    const double images = b.ae25_train_limit > 0 ? std::min<double>(b.ae25_train_limit, train) : train;
    return b.ae25_epochs * (images + test / 4) / kTrainImagesPerSecond + 3 * minibatch +
           kMapSecondsPerPoint * (std::min<double>(b.tsne_latents, images) + std::min<double>(b.tsne_latents, test));
  }
  return 0;
}

}  // namespace zs::driver
