// train_mnist kmeans, elbow and ae-kmeans end to end, as a user runs them (the real binary, see
// driver_harness.h): the outputs and their contents, --features on latents written by ae, and bad
// input of every kind (exit 2, one line naming the option or file, nothing written in --out).
// Data: the harness's synthetic digits (class d is a bright bar at its own position), which KMeans
// separates almost perfectly, so the errors asserted below are real checks, not smoke.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>

#include "driver_harness.h"
#include "runtime/io/npy.h"

using namespace zs;
using namespace zs::testing;

namespace {

std::vector<std::string> lines_of(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

int64_t sum_counts(const nlohmann::json& confusion) {
  int64_t s = 0;
  for (const auto& row : confusion["counts"])
    for (const auto& c : row) s += c.get<int64_t>();
  return s;
}

// An .npy file with any dtype and shape (the library writes only the valid ones): version 1.0,
// header padded so the data starts at a multiple of 64, `payload_bytes` zero bytes of data.
void write_raw_npy(const fs::path& p, const std::string& descr, const std::string& shape, size_t payload_bytes) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  while ((10 + dict.size() + 1) % 64 != 0) dict += ' ';
  dict += '\n';
  std::string bytes = "\x93NUMPY";
  bytes += '\x01';
  bytes += '\x00';
  bytes += char(dict.size() & 0xff);
  bytes += char(dict.size() >> 8);
  bytes += dict;
  bytes += std::string(payload_bytes, '\0');
  std::ofstream(p, std::ios::binary) << bytes;
}

// Latent-like features: class c sits at 10 * (c % 3, c / 3 % 3, c / 9) plus small noise, so KMeans
// with k = 10 recovers the classes exactly and the cluster classifier makes no error.
void write_blob_set(const fs::path& dir, const std::string& split, int count, uint32_t seed) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> noise(-0.5f, 0.5f);
  std::vector<float> x(size_t(count) * 3);
  std::vector<int32_t> labels(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    const int c = i % 10;
    labels[size_t(i)] = c;
    const float centre[3] = {10.0f * float(c % 3), 10.0f * float(c / 3 % 3), 10.0f * float(c / 9)};
    for (int j = 0; j < 3; ++j) x[size_t(i) * 3 + size_t(j)] = centre[j] + noise(g);
  }
  save_npy_matrix(dir / ("blobs_" + split + ".npy"), x, count, 3);
  save_npy_vector(dir / ("blobs_" + split + "_labels.npy"), std::span<const int32_t>(labels));
}

fs::path blob_features(const std::string& name) {
  fs::path dir = fresh_dir(name);
  write_blob_set(dir, "train", 60, 7);
  write_blob_set(dir, "test", 30, 8);
  return dir / "blobs_train.npy";
}

void check_kmeans_keys(const nlohmann::json& m, int k, int64_t train, int64_t test) {
  CHECK(m["k"] == k);
  CHECK(m["train_size"] == train);
  CHECK(m["test_size"] == test);
  CHECK(m["inertia"].get<double>() > 0);
  CHECK(m["n_iter"].get<int>() >= 1);
  CHECK(m["fit_seconds"].get<double>() >= 0);
  for (const char* e : {"train_error", "test_error"}) {
    CHECK(m[e].get<double>() >= 0);
    CHECK(m[e].get<double>() <= 1);
  }
  CHECK(sum_counts(m["confusion_train"]) == train);
  CHECK(sum_counts(m["confusion_test"]) == test);
  CHECK(m["confusion_test"]["error"].get<double>() == Approx(m["test_error"].get<double>()));
  REQUIRE(m["clusters"].size() == size_t(k));
  // clusters_over_40pct_error agrees with the per-cluster errors it summarises.
  int over = 0;
  for (const auto& c : m["clusters"]) over += !c["empty"].get<bool>() && c["error"].get<double>() > 0.4;
  CHECK(m["clusters_over_40pct_error"] == over);
  CHECK(m["clusters_error_above_40"] == over);
}

}  // namespace

TEST_CASE("kmeans on a small subset writes its metrics and figures", "[driver][kmeans]") {
  fs::path out = fresh_dir("driver-kmeans");
  RunResult r = run_train_mnist_ok("kmeans " + common_args(out) + " --k 20 --n-init 3 --train-limit 80 --test-limit 30");
  auto m = read_json(out / "metrics.json");
  CHECK(m["command"] == "kmeans");
  CHECK(m["algo"] == "lloyd");
  CHECK(m["n_init"] == 3);
  CHECK(m["features"] == "pixels");
  CHECK(m["feature_dim"] == 784);
  check_kmeans_keys(m, 20, 80, 30);
  // Ten well-separated bars and 20 clusters: every cluster is pure.
  CHECK(m["train_error"].get<double>() == 0.0);
  CHECK(m["test_error"].get<double>() <= 0.05);
  for (auto f : {"confusion_train.png", "confusion_test.png", "centers.png"}) CHECK(is_png(out / f));
  auto csv = lines_of(out / "clusters.csv");
  REQUIRE(csv.size() == 21);
  CHECK(csv[0] == "cluster,size,label,error,empty");
  for (auto& e : fs::directory_iterator(out)) CHECK(e.path().filename().string().find(".tmp") == std::string::npos);

  // The default k is the blog's 225: more than 96 samples, so it must be refused, naming --k.
  fs::path never = fs::temp_directory_path() / ("zs-test-never-kdefault-" + std::to_string(::getpid()));
  require_clean_failure("kmeans --data " + tiny_data().string() + " --out " + never.string() + " --quiet", "--k 225", never);
}

#ifdef ZSPACE_HAVE_EMU  // without the emulator, test_driver.cpp checks that --device emu fails cleanly
TEST_CASE("kmeans --device emu runs the KMeans kernels and matches the cpu run", "[driver][kmeans][emu]") {
  // The emulated kernels sum in the twin's order, so a small Lloyd fit gives the same clustering.
  const std::string args = " --k 10 --n-init 2 --max-iter 20 --train-limit 60 --test-limit 20";
  const fs::path cpu_out = fresh_dir("kmeans-cpu"), emu_out = fresh_dir("kmeans-emu");
  RunResult c = run_train_mnist("kmeans " + common_args(cpu_out) + args);
  std::string emu_args = common_args(emu_out);
  emu_args.replace(emu_args.find("--device cpu"), 12, "--device emu");
  RunResult e = run_train_mnist("kmeans " + emu_args + args);
  INFO("cpu stderr: " << c.err << "\nemu stderr: " << e.err);
  REQUIRE(c.exit_code == 0);
  REQUIRE(e.exit_code == 0);
  auto mc = read_json(cpu_out / "metrics.json"), me = read_json(emu_out / "metrics.json");
  CHECK(mc["device"] == "cpu");
  CHECK(me["device"] == "emu");
  CHECK(me["n_iter"] == mc["n_iter"]);
  CHECK(me["best_init"] == mc["best_init"]);
  CHECK(me["inertia"].get<double>() == Approx(mc["inertia"].get<double>()).epsilon(1e-6));
  CHECK(me["train_error"] == mc["train_error"]);
  CHECK(me["test_error"] == mc["test_error"]);
  CHECK(me["confusion_test"]["counts"] == mc["confusion_test"]["counts"]);
}
#endif

TEST_CASE("kmeans --algo minibatch records its own options", "[driver][kmeans]") {
  fs::path out = fresh_dir("driver-kmeans-mb");
  RunResult r = run_train_mnist_ok("kmeans " + common_args(out) + " --k 12 --algo minibatch --batch-size 32 --scale normalize");
  auto m = read_json(out / "metrics.json");
  CHECK(m["algo"] == "minibatch");
  CHECK(m["batch_size"] == 32);
  CHECK(m["n_init"] == 3);  // sklearn's minibatch default
  CHECK(m["scale"] == "normalize");
  check_kmeans_keys(m, 12, 96, 40);
  CHECK(!fs::exists(out / "centers.png"));  // normalized centres are not images
}

TEST_CASE("kmeans --features clusters .npy features with their labels", "[driver][kmeans][features]") {
  SECTION("planted blobs are classified without error") {
    fs::path features = blob_features("driver-blobs"), out = fresh_dir("driver-kmeans-blobs");
    RunResult r = run_train_mnist_ok("kmeans --out " + out.string() + " --device cpu --quiet --k 10 --scale none --features " +
                                  features.string());
    auto m = read_json(out / "metrics.json");
    CHECK(m["features"] == features.string());
    CHECK(m["feature_dim"] == 3);
    check_kmeans_keys(m, 10, 60, 30);
    CHECK(m["train_error"].get<double>() == 0.0);
    CHECK(m["test_error"].get<double>() == 0.0);
    CHECK(m["clusters_over_40pct_error"] == 0);
    CHECK(is_png(out / "confusion_test.png"));
    CHECK(!fs::exists(out / "centers.png"));
  }
  SECTION("the latents of an ae run, by file or by folder, with the subset limits") {
    fs::path ae = fresh_dir("driver-kmeans-ae");
    RunResult a = run_train_mnist_ok("ae " + common_args(ae) + " --epochs 1 --batch 32 --z-dim 4");
    fs::path out = fresh_dir("driver-kmeans-latents");
    RunResult r = run_train_mnist_ok("kmeans --out " + out.string() + " --device cpu --threads 2 --quiet --k 8 --scale standardize"
                                  " --features " + (ae / "latent_train.npy").string());
    auto m = read_json(out / "metrics.json");
    CHECK(m["feature_dim"] == 4);
    check_kmeans_keys(m, 8, 96, 40);

    fs::path out2 = fresh_dir("driver-kmeans-latents-dir");
    r = run_train_mnist("kmeans --out " + out2.string() + " --device cpu --quiet --k 5 --train-limit 50 --test-limit 20"
                        " --features " + ae.string());
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    m = read_json(out2 / "metrics.json");
    CHECK(m["features"] == (ae / "latent_train.npy").string());
    check_kmeans_keys(m, 5, 50, 20);
  }
}

TEST_CASE("elbow writes inertia per k as csv, png and json", "[driver][elbow]") {
  fs::path out = fresh_dir("driver-elbow");
  RunResult r = run_train_mnist_ok("elbow " + common_args(out) + " --k-min 2 --k-max 12 --k-step 5 --n-init 2");
  auto m = read_json(out / "metrics.json");
  CHECK(m["command"] == "elbow");
  CHECK(m["ks"] == std::vector<int>{2, 7, 12});
  REQUIRE(m["inertias"].size() == 3);
  REQUIRE(m["seconds"].size() == 3);
  CHECK(m["n_init"] == 2);
  CHECK(m["train_size"] == 96);
  // More clusters never fit worse here: the inertia falls with k.
  CHECK(m["inertias"][1].get<double>() < m["inertias"][0].get<double>());
  CHECK(m["inertias"][2].get<double>() < m["inertias"][1].get<double>());
  CHECK(is_png(out / "elbow.png"));
  auto csv = lines_of(out / "elbow.csv");
  REQUIRE(csv.size() == 4);
  CHECK(csv[0] == "k,inertia,seconds");
  CHECK(csv[1].rfind("2,", 0) == 0);
  CHECK(csv[3].rfind("12,", 0) == 0);
  // The csv holds the same inertias as the json.
  CHECK(std::stod(csv[2].substr(2)) == Approx(m["inertias"][1].get<double>()).epsilon(1e-8));

  // A step that does not land on k-max stops below it, like range(k_min, k_max + 1, k_step).
  fs::path out2 = fresh_dir("driver-elbow-2");
  r = run_train_mnist("elbow " + common_args(out2) + " --k-min 3 --k-max 10 --k-step 3 --n-init 1 --features " +
                      blob_features("driver-elbow-blobs").string());
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(read_json(out2 / "metrics.json")["ks"] == std::vector<int>{3, 6, 9});
}

TEST_CASE("ae-kmeans trains the autoencoder, then clusters its latents", "[driver][ae-kmeans]") {
  fs::path out = fresh_dir("driver-ae-kmeans");
  RunResult r = run_train_mnist_ok("ae-kmeans " + common_args(out) + " --epochs 1 --batch 32 --k 10 --n-init 2");
  for (auto f : {"loss.csv", "reconstructions.png", "latent_train.npy", "latent_test_labels.npy", "model.safetensors",
                 "clusters.csv", "confusion_train.png", "confusion_test.png"})
    CHECK(fs::exists(out / f));
  auto m = read_json(out / "metrics.json");
  CHECK(m["command"] == "ae-kmeans");
  const auto& ae = m["ae"];
  CHECK(ae["z_dim"] == 25);
  CHECK(ae["loss"] == "mse");
  CHECK(ae["train_loss"].size() == 1);
  CHECK(ae["test_loss"].get<double>() > 0);
  const auto& km = m["kmeans"];
  CHECK(km["feature_dim"] == 25);
  CHECK(km["scale"] == "none");
  CHECK(km["features"] == (out / "latent_train.npy").string());
  check_kmeans_keys(km, 10, 96, 40);
  CHECK(load_npy_matrix(out / "latent_train.npy").cols == 25);
  CHECK(m["seconds_total"].get<double>() > 0);
}

TEST_CASE("kmeans, elbow and ae-kmeans refuse bad input with exit 2 and write nothing", "[driver][kmeans][errors]") {
  fs::path out = fs::temp_directory_path() / ("zs-test-never-kmeans-" + std::to_string(::getpid()));
  fs::remove_all(out);
  const std::string data = " --data " + tiny_data().string() + " --out " + out.string() + " --device cpu --quiet";
  require_clean_failure("kmeans" + data + " --k 0", "--k", out);
  require_clean_failure("kmeans" + data + " --k 97", "--k 97", out);  // 96 training samples
  require_clean_failure("kmeans" + data + " --k 5 --train-limit 4", "--k 5", out);
  require_clean_failure("kmeans" + data + " --k 5 --batch-size 0", "--batch-size", out);
  require_clean_failure("kmeans" + data + " --k 5 --algo minibatch --batch-size 0", "--batch-size", out);
  require_clean_failure("kmeans" + data + " --k 5 --algo elkan", "--algo", out);
  require_clean_failure("kmeans" + data + " --k 5 --scale log", "--scale", out);
  require_clean_failure("kmeans" + data + " --k 5 --init kmeans", "--init", out);
  require_clean_failure("kmeans" + data + " --k 5 --n-init 0", "--n-init", out);
  require_clean_failure("kmeans" + data + " --k 5 --tol -1", "--tol", out);
  require_clean_failure("kmeans" + data + " --k abc", "--k", out);

  require_clean_failure("elbow" + data + " --k-min 8 --k-max 4", "--k-min 8", out);
  require_clean_failure("elbow" + data + " --k-min 0 --k-max 4", "--k-min", out);
  require_clean_failure("elbow" + data + " --k-min 2 --k-max 4 --k-step 0", "--k-step", out);
  require_clean_failure("elbow" + data + " --k-min 2 --k-max 97", "--k-max 97", out);
  require_clean_failure("elbow" + data + " --k-min 2 --k-max 4 --batch-size 0", "--batch-size", out);

  require_clean_failure("ae-kmeans" + data + " --k 0", "--k", out);
  require_clean_failure("ae-kmeans" + data + " --k 97", "--k 97", out);
  require_clean_failure("ae-kmeans" + data + " --k 5 --epochs 0", "--epochs", out);
  require_clean_failure("ae-kmeans" + data + " --k 5 --batch-size 0", "--batch-size", out);

  // Bad feature files: each message names --features and the file.
  const fs::path good = blob_features("driver-features-good");
  const fs::path dir = good.parent_path();
  auto features = [&](const fs::path& f) { return "kmeans --out " + out.string() + " --quiet --k 3 --features " + f.string(); };
  auto copy_set = [&](const std::string& name) {
    fs::path d = fresh_dir(name);
    for (auto& e : fs::directory_iterator(dir)) fs::copy_file(e.path(), d / e.path().filename());
    return d;
  };
  require_clean_failure(features("/nonexistent/zs/latent_train.npy"), "/nonexistent/zs/latent_train.npy", out);
  require_clean_failure(features(dir / "blobs_test.npy"), "_train.npy", out);
  {  // labels with one entry too many: a row-count mismatch
    fs::path d = copy_set("driver-features-rows");
    save_npy_vector(d / "blobs_train_labels.npy", std::span<const int32_t>(std::vector<int32_t>(61, 1)));
    require_clean_failure(features(d / "blobs_train.npy"), "61", out);
  }
  {  // float64 features
    fs::path d = copy_set("driver-features-dtype");
    write_raw_npy(d / "blobs_train.npy", "<f8", "(60, 3)", 60 * 3 * 8);
    require_clean_failure(features(d / "blobs_train.npy"), "float32", out);
  }
  {  // 1-D features
    fs::path d = copy_set("driver-features-1d");
    write_raw_npy(d / "blobs_train.npy", "<f4", "(60,)", 60 * 4);
    require_clean_failure(features(d / "blobs_train.npy"), "2-D", out);
  }
  {  // missing labels
    fs::path d = copy_set("driver-features-nolabels");
    fs::remove(d / "blobs_test_labels.npy");
    require_clean_failure(features(d / "blobs_train.npy"), "blobs_test_labels.npy", out);
  }
  {  // a NaN
    fs::path d = copy_set("driver-features-nan");
    std::vector<float> x(60 * 3, 1.0f);
    x[100] = std::numeric_limits<float>::quiet_NaN();
    save_npy_matrix(d / "blobs_train.npy", x, 60, 3);
    require_clean_failure(features(d / "blobs_train.npy"), "row 33", out);
  }
  {  // test features with another width
    fs::path d = copy_set("driver-features-width");
    save_npy_matrix(d / "blobs_test.npy", std::vector<float>(30 * 2, 0.0f), 30, 2);
    require_clean_failure(features(d / "blobs_train.npy"), "columns", out);
  }
  {  // a label that is not a digit
    fs::path d = copy_set("driver-features-label");
    std::vector<int32_t> labels(30, 0);
    labels[4] = 12;
    save_npy_vector(d / "blobs_test_labels.npy", std::span<const int32_t>(labels));
    require_clean_failure(features(d / "blobs_train.npy"), "label 12", out);
  }
}
