// train_mnist tsne and --tsne N, through the real binary: the outputs and metrics the driver
// contract promises, the same map on cpu and emu (exact method), and every bad input of the issue
// refused with exit 2, one line naming the problem, nothing written.
#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>
#include <limits>
#include <random>

#include "driver_harness.h"
#include "runtime/io/npy.h"

using namespace zs::testing;

namespace {

// Latent-like 4-D features in 10 separated classes (class c around 12 * (c % 4, c / 4 % 4, 0, 0)).
fs::path latent_features(const std::string& name, int train, int test) {
  fs::path dir = fresh_dir(name);
  std::mt19937 g(5);
  std::normal_distribution<float> noise(0.f, 0.7f);
  for (auto [split, count] : {std::pair{std::string("train"), train}, std::pair{std::string("test"), test}}) {
    std::vector<float> x(size_t(count) * 4);
    std::vector<int32_t> labels(static_cast<size_t>(count));
    for (int i = 0; i < count; ++i) {
      const int c = i % 10;
      labels[size_t(i)] = c;
      const float centre[4] = {12.f * float(c % 4), 12.f * float(c / 4 % 4), 0.f, 0.f};
      for (int j = 0; j < 4; ++j) x[size_t(i) * 4 + size_t(j)] = centre[j] + noise(g);
    }
    zs::save_npy_matrix(dir / ("z_" + split + ".npy"), x, count, 4);
    zs::save_npy_vector(dir / ("z_" + split + "_labels.npy"), std::span<const int32_t>(labels));
  }
  return dir / "z_train.npy";
}

}  // namespace

TEST_CASE("tsne on pixels writes the embedding, labels, map and metrics", "[driver][tsne]") {
  const fs::path out = fresh_dir("driver-tsne-pixels");
  const RunResult r = run_train_mnist_ok("tsne " + common_args(out) + " --n 80 --perplexity 10 --iters 300");
  const zs::NpyMatrix y = zs::load_npy_matrix(out / "tsne.npy");
  CHECK(y.rows == 80);
  CHECK(y.cols == 2);
  for (float v : y.data) CHECK(std::isfinite(v));
  const std::vector<int64_t> labels = zs::load_npy_vector(out / "tsne_labels.npy");
  REQUIRE(labels.size() == 80);
  for (int64_t l : labels) CHECK((l >= 0 && l <= 9));
  CHECK(is_png(out / "tsne.png"));
  const nlohmann::json m = read_json(out / "metrics.json");
  CHECK(m["command"] == "tsne");
  CHECK(m["n"] == 80);
  CHECK(m["input_dim"] == 784);
  CHECK(m["perplexity"] == 10.0);
  CHECK(m["method"] == "barnes_hut");   // auto on cpu
  CHECK(m["device"] == "cpu");
  CHECK(m["split"] == "train");
  CHECK(m["n_iter"] == 299);
  CHECK(m["kl_divergence"].get<double>() > 0);
  for (const char* k : {"seconds_knn", "seconds_p", "seconds_optimize"}) CHECK(m[k].get<double>() >= 0);
  CHECK(m["trustworthiness_points"] == 80);
  CHECK(m["trustworthiness_5"].get<double>() > 0.5);
  CHECK(m["trustworthiness_5"].get<double>() <= 1.0);
}

TEST_CASE("tsne on latent files separates their classes and takes all rows by default", "[driver][tsne]") {
  const fs::path features = latent_features("driver-tsne-latents", 150, 70);
  const fs::path out = fresh_dir("driver-tsne-latents-out");
  const RunResult r = run_train_mnist_ok("tsne --out " + out.string() + " --device cpu --quiet --features " +
                                      features.string() + " --split test --iters 400");
  const nlohmann::json m = read_json(out / "metrics.json");
  CHECK(m["n"] == 70);   // every test row
  CHECK(m["input_dim"] == 4);
  CHECK(m["split"] == "test");
  CHECK(m["trustworthiness_5"].get<double>() > 0.9);
  const zs::NpyMatrix y = zs::load_npy_matrix(out / "tsne.npy");
  const std::vector<int64_t> labels = zs::load_npy_vector(out / "tsne_labels.npy");
  // Separated classes: each point's nearest embedded neighbour has its label.
  int64_t same = 0;
  for (int64_t i = 0; i < 70; ++i) {
    int64_t best = -1;
    double best_d = INFINITY;
    for (int64_t j = 0; j < 70; ++j) {
      if (j == i) continue;
      const double dx = y.data[size_t(2 * i)] - y.data[size_t(2 * j)],
                   dy = y.data[size_t(2 * i + 1)] - y.data[size_t(2 * j + 1)];
      if (dx * dx + dy * dy < best_d) best_d = dx * dx + dy * dy, best = j;
    }
    same += labels[size_t(best)] == labels[size_t(i)];
  }
  CHECK(same == 70);
}

TEST_CASE("tsne --device emu gives the cpu map with the exact method", "[driver][tsne][emu]") {
  const fs::path features = latent_features("driver-tsne-emu", 60, 20);
  auto run = [&](const std::string& device) {
    const fs::path out = fresh_dir("driver-tsne-out-" + device);
    const RunResult r = run_train_mnist_ok("tsne --out " + out.string() + " --quiet --method exact --iters 260 --n 50 " +
                                        "--perplexity 8 --device " + device + " --features " + features.string());
    return zs::load_npy_matrix(out / "tsne.npy").data;
  };
  CHECK(run("emu") == run("cpu"));
}

TEST_CASE("ae --tsne N writes the train and test maps after training", "[driver][tsne][ae]") {
  const fs::path out = fresh_dir("driver-ae-tsne");
  const RunResult r =
      run_train_mnist("ae " + common_args(out) + " --epochs 1 --batch 32 --z-dim 4 --tsne 35");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(is_png(out / "tsne_train.png"));
  CHECK(is_png(out / "tsne_test.png"));
  const nlohmann::json m = read_json(out / "tsne_maps.json");
  CHECK(m["train"]["n"] == 35);
  CHECK(m["test"]["n"] == 35);
  CHECK(m["train"]["input_dim"] == 4);
}

TEST_CASE("tsne refuses bad input with exit 2 and writes nothing", "[driver][tsne][errors]") {
  fs::path out = fs::temp_directory_path() / ("zs-test-never-tsne-" + std::to_string(::getpid()));
  fs::remove_all(out);
  const std::string data = " --data " + tiny_data().string() + " --out " + out.string() + " --device cpu --quiet";
  require_clean_failure("tsne" + data + " --n 50 --perplexity 50", "--perplexity", out);   // perplexity >= n
  require_clean_failure("tsne" + data + " --n 1", "--n", out);                              // fewer than 2 rows
  require_clean_failure("tsne" + data + " --train-limit 1", "at least 2", out);
  require_clean_failure("tsne" + data + " --n 97", "--n 97", out);                          // 96 training images
  require_clean_failure("tsne" + data + " --split test --n 41", "--n 41", out);             // 40 test images
  require_clean_failure("tsne" + data + " --split validation", "--split", out);
  require_clean_failure("tsne" + data + " --perplexity 0", "--perplexity", out);
  require_clean_failure("tsne" + data + " --method fft", "--method", out);
  require_clean_failure("tsne" + data + " --init spectral", "--init", out);
  require_clean_failure("tsne" + data + " --iters 0", "--iters", out);
  require_clean_failure("tsne --data " + tiny_data().string() + " --out " + out.string() +
                            " --device emu --quiet --method barnes_hut --n 40",
                        "barnes_hut", out);
  const fs::path good = latent_features("driver-tsne-bad", 40, 20);
  auto features = [&](const fs::path& f) { return "tsne --out " + out.string() + " --quiet --features " + f.string(); };
  {  // NaN and Inf features
    for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
      fs::path d = fresh_dir("driver-tsne-nan");
      for (auto& e : fs::directory_iterator(good.parent_path())) fs::copy_file(e.path(), d / e.path().filename());
      std::vector<float> x(40 * 4, 1.0f);
      x[17] = bad;
      zs::save_npy_matrix(d / "z_train.npy", x, 40, 4);
      require_clean_failure(features(d / "z_train.npy"), "z_train.npy", out);
    }
  }
  {  // a features file of the wrong shape (1-D)
    fs::path d = fresh_dir("driver-tsne-shape");
    for (auto& e : fs::directory_iterator(good.parent_path())) fs::copy_file(e.path(), d / e.path().filename());
    zs::save_npy_vector(d / "z_train.npy", std::span<const int32_t>(std::vector<int32_t>(40, 1)));
    require_clean_failure(features(d / "z_train.npy"), "z_train.npy", out);
  }
  require_clean_failure(features(good) + " --n 41", "--n 41", out);
}
