// `train_mnist replicate`: the blog series as a list of steps, each a few train_mnist runs.
//
// A step (ae16, ae2, vae2, kmeans-raw, kmeans-scalers, elbow, kmeans-time, tsne-raw, ae25-kmeans)
// holds the blog's setup and result as the posts state them, and its runs: the commands a user would
// type, with the settings of a budget:
//   smoke  every step on 300 training / 100 test images and tiny schedules: checks the pipeline (CI);
//   quick  the default digits, with shortened schedules (about 15 minutes on a 2-core laptop);
//   blog   the blog's schedules (40 epochs, n_init 100, 15,000-point maps, ...): for a GPU or a long
//          CPU run on the full MNIST.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace zs::driver {

struct Budget {
  std::string name;
  int train_limit = -1, test_limit = -1;  // -1: every image of --data
  int ae_epochs = 40;                     // ae16, ae2, vae2
  int ae25_epochs = 40;
  int ae25_train_limit = 50000;           // the blog trained the clustering AE on 50,000 images
  int tsne_latents = 15000;               // --tsne N: the training-latent map (the test map takes up to N)
  int tsne_pixels = 10000;
  int kmeans_n_init = 100;                // the MiniBatchKMeans runs (kmeans-raw, -scalers, ae25-kmeans)
  int elbow_n_init = 50, elbow_k_step = 1, elbow_k_max = 250;
  int time_n_init = 10, time_max_iter = 50, time_k_large = 200;
  std::string shortened;                  // what this budget changes from the blog, in words
};

// smoke, quick or blog; nullopt for another name.
std::optional<Budget> find_budget(const std::string& name);

// What the replicate command was asked for, as every run inherits it.
struct ReplicateSettings {
  Budget budget;
  std::string data, device;
  unsigned long long seed = 42;
  int threads = 0;
  int train_images = 0, test_images = 0;  // in --data, after the budget's limits
};

struct RunSpec {
  std::string name;               // its folder in the step's folder
  std::vector<std::string> args;  // train_mnist's arguments, without --out
};

struct StepSpec {
  std::string name;
  std::string blog_setup;   // what the blog did
  std::string blog_result;  // what the blog reports
};

// The steps in the blog's order.
const std::vector<StepSpec>& replicate_steps();
const StepSpec* find_step(const std::string& name);

// The runs of `step` with these settings; a run's --out is <step_dir>/<run name> (a later run may
// read an earlier one's outputs).
std::vector<RunSpec> plan_step(const std::string& step, const ReplicateSettings& s, const std::string& step_dir);

// A rough duration of the step on 2 cores of a current x86 CPU without a GPU (the progress line's
// ETA scales it by how fast the finished steps went).
double estimated_seconds(const std::string& step, const ReplicateSettings& s);

}  // namespace zs::driver
