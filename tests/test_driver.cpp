// train_mnist end to end, as a user runs it: outputs and their contents, bad input of every kind
// (exit 2, one message naming the problem, nothing half-written), and resume.
#include <catch2/catch.hpp>

#include "driver_harness.h"
#include "runtime/io/npy.h"
#include "runtime/io/safetensors.h"

using namespace zs;
using namespace zs::testing;

TEST_CASE("ae trains on a tiny data set and writes every output", "[driver]") {
  fs::path out = fresh_dir("driver-ae");
  RunResult r = run_train_mnist_ok("ae " + common_args(out) + " --epochs 2 --batch 16 --z-dim 3 --lr 2e-3");
  for (auto f : {"metrics.json", "loss.csv", "loss.png", "reconstructions.png", "latent_train.npy", "latent_test.npy",
                 "latent_train_labels.npy", "latent_test_labels.npy", "model.safetensors"})
    CHECK(fs::exists(out / f));
  auto m = read_json(out / "metrics.json");
  CHECK(m["command"] == "ae");
  CHECK(m["device"] == "cpu");
  CHECK(m["z_dim"] == 3);
  CHECK(m["epochs"] == 2);
  REQUIRE(m["train_loss"].size() == 2);
  CHECK(m["train_loss"][1].get<double>() < m["train_loss"][0].get<double>());
  CHECK(m["test_loss"].get<double>() > 0);
  CHECK(m["images_per_second"].get<double>() > 0);
  CHECK(m["seconds_total"].get<double>() > 0);
  NpyMatrix z = load_npy_matrix(out / "latent_test.npy");
  CHECK(z.rows == 40);
  CHECK(z.cols == 3);
  CHECK(load_npy_vector(out / "latent_train_labels.npy").size() == 96);
  auto ck = load_safetensors(out / "model.safetensors");
  CHECK(ck.tensors.at("encoder.dense.weight").shape == std::vector<int64_t>{6272, 3});
  CHECK(ck.metadata.at("epochs_done") == "2");
  // No temporary files left behind.
  for (auto& e : fs::directory_iterator(out)) CHECK(e.path().filename().string().find(".tmp") == std::string::npos);
}

TEST_CASE("resume continues bit-exactly where training stopped", "[driver]") {
  fs::path straight = fresh_dir("driver-straight"), first = fresh_dir("driver-first"), second = fresh_dir("driver-second");
  std::string opts = " --batch 32 --z-dim 4 --lr 1e-3 --seed 9";
  REQUIRE(run_train_mnist("ae " + common_args(straight) + opts + " --epochs 2").exit_code == 0);
  REQUIRE(run_train_mnist("ae " + common_args(first) + opts + " --epochs 1").exit_code == 0);
  RunResult r = run_train_mnist_ok("ae " + common_args(second) + opts + " --epochs 1 --resume " +
                                   (first / "model.safetensors").string());
  auto a = load_safetensors(straight / "model.safetensors");
  auto b = load_safetensors(second / "model.safetensors");
  CHECK(b.metadata.at("epochs_done") == "2");
  REQUIRE(a.tensors.size() == b.tensors.size());
  for (auto& [name, t] : a.tensors) {
    INFO(name);
    CHECK(t.data == b.tensors.at(name).data);
  }
  CHECK(read_json(second / "metrics.json")["first_epoch"] == 2);
}

TEST_CASE("bad options and bad data exit 2 with one message and write nothing", "[driver][errors]") {
  fs::path out = fs::temp_directory_path() / ("zs-test-never-" + std::to_string(::getpid()));
  fs::remove_all(out);
  std::string data = " --data " + tiny_data().string() + " --out " + out.string() + " --device cpu --quiet";
  require_clean_failure("ae" + data + " --epochs abc", "--epochs", out);
  require_clean_failure("ae" + data + " --epochs -1", "--epochs", out);
  require_clean_failure("ae" + data + " --batch 0", "--batch", out);
  require_clean_failure("ae" + data + " --z-dim 0", "--z-dim", out);
  require_clean_failure("ae" + data + " --lr -0.1", "--lr", out);
  require_clean_failure("ae" + data + " --lr nan", "--lr", out);
  require_clean_failure("ae" + data + " --loss hinge", "--loss", out);
  require_clean_failure("ae" + data + " --train-limit 0", "--train-limit", out);
  require_clean_failure("ae" + data + " --threads -2", "--threads", out);
  require_clean_failure("ae --data /nonexistent/zs --out " + out.string() + " --device cpu", "/nonexistent/zs", out);
  require_clean_failure("ae" + data + " --device tpu", "--device", out);
  require_clean_failure("ae" + data + " --resume /nonexistent/model.safetensors", "/nonexistent/model.safetensors", out);

  // A corrupt checkpoint.
  fs::path bad = fresh_dir("driver-badck") / "model.safetensors";
  { std::ofstream(bad) << "this is not a checkpoint"; }
  require_clean_failure("ae" + data + " --resume " + bad.string(), "corrupt", out);

  // A checkpoint written for another z_dim.
  fs::path ok_out = fresh_dir("driver-zdim");
  REQUIRE(run_train_mnist("ae " + common_args(ok_out) + " --epochs 1 --batch 32 --z-dim 2").exit_code == 0);
  require_clean_failure("ae" + data + " --z-dim 5 --resume " + (ok_out / "model.safetensors").string(), "z_dim", out);

  // An unwritable --out: a path below a regular file.
  fs::path file = fresh_dir("driver-file") / "plain";
  { std::ofstream(file) << "x"; }
  RunResult r = run_train_mnist("ae --data " + tiny_data().string() + " --out " + (file / "sub").string() + " --device cpu --quiet");
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--out") != std::string::npos);

  // Corrupt data: wrong magic, truncated file, count mismatch.
  fs::path broken = synthetic_mnist_dir("driver-broken", 20, 10);
  auto corrupt = [&](const std::string& file_name, auto mutate, const std::string& mention) {
    fs::path d = synthetic_mnist_dir("driver-broken-" + mention, 20, 10);
    fs::path f = d / file_name;
    std::string bytes;
    { std::ifstream in(f, std::ios::binary); std::stringstream ss; ss << in.rdbuf(); bytes = ss.str(); }
    mutate(bytes);
    { std::ofstream o(f, std::ios::binary | std::ios::trunc); o << bytes; }
    require_clean_failure("ae --data " + d.string() + " --out " + out.string() + " --device cpu --quiet", mention, out);
  };
  corrupt("t10k-images-idx3-ubyte", [](std::string& b) { b[3] = 0x04; }, "magic");
  corrupt("t10k-images-idx3-ubyte", [](std::string& b) { b.resize(b.size() - 100); }, "truncated");
  corrupt("t10k-labels-idx1-ubyte", [](std::string& b) { b[7] = 9; b.resize(b.size() - 1); }, "t10k");
}

#ifdef ZSPACE_HAVE_EMU
TEST_CASE("ae --device emu trains on a tiny subset and matches --device cpu", "[driver][emu]") {
  std::string opts = " --data " + tiny_data().string() + " --threads 2 --quiet --epochs 1 --batch 4 --z-dim 3"
                     " --train-limit 8 --test-limit 4 --seed 5";
  fs::path cpu = fresh_dir("driver-cpu"), emu = fresh_dir("driver-emu");
  RunResult rc = run_train_mnist("ae --device cpu --out " + cpu.string() + opts);
  RunResult re = run_train_mnist("ae --device emu --out " + emu.string() + opts);
  INFO(rc.err << re.err);
  REQUIRE(rc.exit_code == 0);
  REQUIRE(re.exit_code == 0);
  auto mc = read_json(cpu / "metrics.json"), me = read_json(emu / "metrics.json");
  CHECK(me["device"] == "emu");
  // Two Adam steps on float32: losses agree to float precision of a 784-pixel mean.
  double lc = mc["test_loss"], le = me["test_loss"];
  CHECK(std::abs(lc - le) <= 1e-5 + 1e-4 * std::abs(lc));
  NpyMatrix zc = load_npy_matrix(cpu / "latent_test.npy"), ze = load_npy_matrix(emu / "latent_test.npy");
  REQUIRE(zc.data.size() == ze.data.size());
  for (size_t i = 0; i < zc.data.size(); ++i) CHECK(std::abs(zc.data[i] - ze.data[i]) <= 1e-4f + 1e-3f * std::abs(zc.data[i]));
}
#else
TEST_CASE("ae --device emu fails cleanly in a build without the emulator", "[driver]") {
  fs::path never = fs::temp_directory_path() / ("zs-test-never-emu-" + std::to_string(::getpid()));
  require_clean_failure("ae --data " + tiny_data().string() + " --out " + never.string() + " --device emu --quiet",
                        "--device emu: the emulator is not in this build", never);
}
#endif

TEST_CASE("vae trains on a tiny data set and reports its loss terms", "[driver][vae]") {
  fs::path out = fresh_dir("driver-vae");
  RunResult r = run_train_mnist_ok("vae " + common_args(out) + " --epochs 2 --batch 16 --z-dim 2 --kl-weight 0.5");
  for (auto f : {"metrics.json", "loss.csv", "loss.png", "reconstructions.png", "generated.png", "latent.png",
                 "manifold.png", "latent_test.npy", "model.safetensors"})
    CHECK(fs::exists(out / f));
  auto m = read_json(out / "metrics.json");
  CHECK(m["command"] == "vae");
  REQUIRE(m["train_loss"].size() == 2);
  // total = recon + beta * kl, per epoch.
  for (int e = 0; e < 2; ++e)
    CHECK(m["train_loss"][e].get<double>() ==
          Approx(m["train_recon"][e].get<double>() + 0.5 * m["train_kl"][e].get<double>()).epsilon(1e-6));
  CHECK(m["latent_stats"]["std"].size() == 2);
  auto ck = load_safetensors(out / "model.safetensors");
  CHECK(ck.tensors.at("encoder.mu_log_var.weight").shape == std::vector<int64_t>{6272, 4});
  fs::path never = fs::temp_directory_path() / ("zs-test-never-vae-" + std::to_string(::getpid()));
  require_clean_failure("vae --data " + tiny_data().string() + " --out " + never.string() + " --kl-weight -1", "--kl-weight", never);
  require_clean_failure("vae --data " + tiny_data().string() + " --out " + never.string() + " --z-dim 0", "--z-dim", never);
  require_clean_failure("vae --data " + tiny_data().string() + " --out " + never.string() + " --sample-at-inference maybe",
                        "--sample-at-inference", never);
}

TEST_CASE("a checkpoint from before the blog's decoder head resumes only with --decoder-head sigmoid", "[driver]") {
  fs::path legacy = fresh_dir("driver-legacy-head"), out = fresh_dir("driver-legacy-resume");
  const std::string opts = " --batch 32 --z-dim 3 --epochs 1";
  run_train_mnist_ok("ae " + common_args(legacy) + opts + " --decoder-head sigmoid");
  CHECK(read_json(legacy / "metrics.json")["decoder_head"] == "sigmoid");
  // What an older zspace wrote: the same checkpoint without the decoder_head entry.
  fs::path ck = legacy / "model.safetensors";
  SafetensorsFile f = load_safetensors(ck);
  REQUIRE(f.metadata.at("decoder_head") == "sigmoid");
  f.metadata.erase("decoder_head");
  save_safetensors(ck, f.tensors, f.metadata);

  fs::path never = fs::temp_directory_path() / ("zs-test-never-head-" + std::to_string(::getpid()));
  fs::remove_all(never);
  const std::string args = "ae --data " + tiny_data().string() + " --out " + never.string() +
                           " --device cpu --quiet --batch 32 --z-dim 3 --epochs 1 --resume " + ck.string();
  require_clean_failure(args, "--decoder-head sigmoid", never);
  require_clean_failure(args + " --decoder-head blorg", "--decoder-head", never);
  run_train_mnist_ok("ae " + common_args(out) + opts + " --decoder-head sigmoid --resume " + ck.string());
  CHECK(read_json(out / "metrics.json")["first_epoch"] == 2);  // 1-based: it continued after epoch 1
  CHECK(load_safetensors(out / "model.safetensors").metadata.at("decoder_head") == "sigmoid");
  // The default is the blog's head, and a blog-head checkpoint refuses the plain head by name.
  fs::path blog = fresh_dir("driver-blog-head");
  run_train_mnist_ok("ae " + common_args(blog) + opts);
  CHECK(read_json(blog / "metrics.json")["decoder_head"] == "blog");
  require_clean_failure("ae --data " + tiny_data().string() + " --out " + never.string() +
                            " --device cpu --quiet --batch 32 --z-dim 3 --epochs 1 --decoder-head sigmoid --resume " +
                            (blog / "model.safetensors").string(),
                        "--decoder-head blog", never);
}
