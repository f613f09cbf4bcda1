// Regression tests of issue 16 (a hostile audit of train_mnist): each case below failed before its
// fix. Bad input of any kind: exit 2, one line naming the problem, nothing written in --out.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <limits>
#include <thread>

#include "driver_harness.h"
#include "runtime/io/safetensors.h"

using namespace zs;
using namespace zs::testing;

namespace {

std::string quiet_args(const fs::path& data, const fs::path& out) {
  return "--data " + data.string() + " --out " + out.string() + " --device cpu --threads 2 --quiet";
}

// Where require_clean_failure expects nothing to appear.
fs::path never_out(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("zs-test-never-rel-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(p);
  return p;
}

// A checkpoint of a short ae run (z_dim 2), made once per process.
const fs::path& good_checkpoint() {
  static fs::path path = [] {
    fs::path out = fresh_dir("rel-good-ck");
    RunResult r = run_train_mnist("ae " + common_args(out) + " --epochs 1 --batch 32 --z-dim 2");
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return out / "model.safetensors";
  }();
  return path;
}

// Writes a copy of the good checkpoint changed by `mutate` and returns its path.
template <class Mutate>
fs::path mutated_checkpoint(const std::string& name, Mutate mutate) {
  SafetensorsFile f = load_safetensors(good_checkpoint());
  mutate(f);
  fs::path p = fresh_dir("rel-ck-" + name) / "model.safetensors";
  save_safetensors(p, f.tensors, f.metadata);
  return p;
}

std::string ae_resume(const fs::path& out, const fs::path& checkpoint) {
  return "ae --data " + tiny_data().string() + " --out " + out.string() +
         " --device cpu --quiet --epochs 1 --batch 32 --z-dim 2 --resume " + checkpoint.string();
}

// A data folder whose training (or test) split is a valid IDX pair of 0 images.
fs::path data_with_empty_split(bool empty_train) {
  fs::path dir = synthetic_mnist_dir(empty_train ? "rel-empty-train" : "rel-empty-test", 20, 10);
  ImageSet empty;
  empty.rows = empty.cols = 28;
  if (empty_train) {
    fs::remove(dir / "train-images-idx3-ubyte.gz");
    fs::remove(dir / "train-labels-idx1-ubyte.gz");
    save_idx_pair((dir / "train-images-idx3-ubyte").string(), (dir / "train-labels-idx1-ubyte").string(), empty);
  } else {
    save_idx_pair((dir / "t10k-images-idx3-ubyte").string(), (dir / "t10k-labels-idx1-ubyte").string(), empty);
  }
  return dir;
}

std::vector<std::string> hidden_temporaries(const fs::path& dir) {
  std::vector<std::string> found;
  for (auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(".tmp") != std::string::npos) found.push_back(e.path().filename().string());
  return found;
}

}  // namespace

TEST_CASE("1: batches smaller than the figures' image counts train and write metrics.json", "[driver][reliability]") {
  // Before: the reconstructions (10 images) and the vae manifold rows (15 codes) ran one forward
  // over more images than the model was planned for: exit 1 after training, no metrics.json.
  for (const std::string cmd : {"ae --batch 9", "ae --batch 1 --train-limit 8", "vae --z-dim 2 --batch 14"}) {
    fs::path out = fresh_dir("rel-small-batch");
    RunResult r = run_train_mnist(cmd + " " + common_args(out) + " --epochs 1 --test-limit 12");
    INFO(cmd << "\n" << r.err);
    CHECK(r.exit_code == 0);
    CHECK(fs::exists(out / "metrics.json"));
    CHECK(fs::exists(out / "reconstructions.png"));
  }
}

TEST_CASE("2: --resume of a folder, a FIFO or a device is refused before reading", "[driver][reliability]") {
  fs::path out = never_out("resume-kind");
  fs::path dir = fresh_dir("rel-resume-kind");
  fs::path fifo = dir / "fifo.safetensors";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  require_clean_failure(ae_resume(out, dir), "is a folder", out);
  require_clean_failure(ae_resume(out, fifo), "FIFO", out);  // before: blocked forever on the open
  require_clean_failure(ae_resume(out, "/dev/zero"), "is a device", out);
}

TEST_CASE("3: non-finite weights or Adam state in a checkpoint are bad input", "[driver][reliability]") {
  fs::path out = never_out("nan-ck");
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  auto set_first = [](const std::string& name, float v) {
    return [name, v](SafetensorsFile& f) { f.tensors.at(name).data[0] = v; };
  };
  require_clean_failure(ae_resume(out, mutated_checkpoint("nan-w", set_first("encoder.conv1.weight", nan))),
                        "encoder.conv1.weight", out);
  require_clean_failure(ae_resume(out, mutated_checkpoint("inf-b", set_first("decoder.dense.bias", -inf))),
                        "decoder.dense.bias", out);
  require_clean_failure(ae_resume(out, mutated_checkpoint("nan-m", set_first("adam.m.encoder.dense.weight", nan))),
                        "adam.m.encoder.dense.weight", out);
  // Adam's second moment is a running mean of squares: negative is impossible.
  require_clean_failure(ae_resume(out, mutated_checkpoint("neg-v", set_first("adam.v.encoder.dense.bias", -1.f))),
                        ">= 0", out);
}

TEST_CASE("4: an empty training or test set is refused before training, by name", "[driver][reliability]") {
  fs::path out = never_out("empty-split");
  for (bool empty_train : {true, false}) {
    fs::path data = data_with_empty_split(empty_train);
    const std::string split = empty_train ? "training set" : "test set";
    require_clean_failure("ae " + quiet_args(data, out) + " --epochs 1", split, out);
    require_clean_failure("vae " + quiet_args(data, out) + " --epochs 1", split, out);
    require_clean_failure("kmeans " + quiet_args(data, out) + " --k 2", split, out);  // before: "use at most 0"
    require_clean_failure("elbow " + quiet_args(data, out), split, out);
    require_clean_failure("ae-kmeans " + quiet_args(data, out) + " --epochs 1", split, out);
  }
}

TEST_CASE("5: checkpoint counters outside their ranges are refused", "[driver][reliability]") {
  fs::path out = never_out("counters");
  auto with_meta = [](const std::string& key, const std::string& value) {
    return [key, value](SafetensorsFile& f) { f.metadata[key] = value; };
  };
  for (const char* v : {"2147483647", "99999999999999999999", "-1", "1e3", " 3", "0x10", ""})
    require_clean_failure(ae_resume(out, mutated_checkpoint("epochs", with_meta("epochs_done", v))), "epochs_done", out);
  for (const char* v : {"9223372036854775807", "-5", "12abc"})
    require_clean_failure(ae_resume(out, mutated_checkpoint("steps", with_meta("adam_step", v))), "adam_step", out);
}

TEST_CASE("6: --seed must be a 64-bit unsigned integer, recorded as given", "[driver][reliability]") {
  fs::path out = never_out("seed");
  for (const char* s : {"-1", "99999999999999999999999", "18446744073709551616", "1.5", "0x10", "nan"})
    require_clean_failure("ae " + quiet_args(tiny_data(), out) + " --epochs 1 --seed " + s, "--seed", out);
  fs::path ok = fresh_dir("rel-seed-max");
  RunResult r = run_train_mnist("kmeans " + common_args(ok) + " --k 3 --seed 18446744073709551615");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(read_json(ok / "metrics.json")["seed"].get<uint64_t>() == std::numeric_limits<uint64_t>::max());
}

TEST_CASE("7: SIGTERM stops training at a step boundary, keeps the checkpoint, leaves no temporary", "[driver][reliability]") {
  fs::path out = fresh_dir("rel-sigterm");
  // A stale temporary of a dead process (what a SIGKILL leaves) is removed by the next run.
  { std::ofstream(out / ".metrics.json.tmp-999999999-0") << "partial"; }
  const std::string cmd = train_mnist_path() + " ae " + common_args(out) + " --epochs 200 --batch 8 > /dev/null 2> " +
                          (out.parent_path() / ("rel-sigterm-err-" + std::to_string(::getpid()))).string();
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Wait for the first checkpoint, then interrupt.
  for (int i = 0; i < 600 && !fs::exists(out / "model.safetensors"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  REQUIRE(fs::exists(out / "model.safetensors"));
  ::kill(child, SIGTERM);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  fs::path err_file = out.parent_path() / ("rel-sigterm-err-" + std::to_string(::getpid()));
  std::ifstream in(err_file);
  std::string err((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  fs::remove(err_file);
  INFO(err);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 128 + SIGTERM);
  CHECK(err.find("resume with --resume " + (out / "model.safetensors").string()) != std::string::npos);
  CHECK(hidden_temporaries(out).empty());
  CHECK_FALSE(fs::exists(out / ".train_mnist.lock"));
  SafetensorsFile ck = load_safetensors(out / "model.safetensors");  // complete and loadable
  CHECK(std::stoi(ck.metadata.at("epochs_done")) >= 1);
}

TEST_CASE("8: --out is locked by a live run; a dead run's lock is taken over", "[driver][reliability]") {
  fs::path out = fresh_dir("rel-lock");
  const fs::path lock = out / ".train_mnist.lock";
  {
    int fd = ::open(lock.c_str(), O_RDWR | O_CREAT, 0644);
    REQUIRE(fd >= 0);
    REQUIRE(::flock(fd, LOCK_EX | LOCK_NB) == 0);
    const std::string pid = std::to_string(::getpid()) + "\n";
    REQUIRE(::write(fd, pid.data(), pid.size()) == ssize_t(pid.size()));
    RunResult r = run_train_mnist("kmeans " + common_args(out) + " --k 3");
    INFO(r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("in use by another train_mnist run (process " + std::to_string(::getpid()) + ")") != std::string::npos);
    CHECK_FALSE(fs::exists(out / "metrics.json"));
    ::close(fd);  // the "owner" dies: its lock file stays, unlocked
  }
  RunResult r = run_train_mnist("kmeans --data " + tiny_data().string() + " --out " + out.string() +
                                " --device cpu --threads 2 --k 3");
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("took over the lock of process " + std::to_string(::getpid())) != std::string::npos);
  CHECK(fs::exists(out / "metrics.json"));
  CHECK_FALSE(fs::exists(lock));  // released at the end of the run
}

TEST_CASE("9: vae and z_dim 2 runs are bit-identical across --threads", "[driver][reliability]") {
  for (const std::string cmd : {"vae --z-dim 2", "ae --z-dim 2"}) {
    fs::path one = fresh_dir("rel-threads-1"), two = fresh_dir("rel-threads-3");
    const std::string args = " --data " + tiny_data().string() + " --device cpu --quiet --epochs 2 --batch 32";
    REQUIRE(run_train_mnist(cmd + args + " --threads 1 --out " + one.string()).exit_code == 0);
    REQUIRE(run_train_mnist(cmd + args + " --threads 3 --out " + two.string()).exit_code == 0);
    SafetensorsFile a = load_safetensors(one / "model.safetensors"), b = load_safetensors(two / "model.safetensors");
    for (const auto& [name, t] : a.tensors) {
      INFO(cmd << ": " << name);
      CHECK(t.data == b.tensors.at(name).data);
    }
  }
}

TEST_CASE("10: each message names the real problem", "[driver][reliability]") {
  fs::path out = never_out("messages");
  auto data_with = [](const std::string& name, auto replace) {
    fs::path d = synthetic_mnist_dir("rel-msg-" + name, 20, 10);
    fs::remove(d / "t10k-images-idx3-ubyte");
    replace(d / "t10k-images-idx3-ubyte");
    return d;
  };
  fs::path folder = data_with("folder", [](const fs::path& p) { fs::create_directory(p); });
  require_clean_failure("ae " + quiet_args(folder, out), "is a folder", out);
  fs::path fifo = data_with("fifo", [](const fs::path& p) { REQUIRE(::mkfifo(p.c_str(), 0600) == 0); });
  require_clean_failure("ae " + quiet_args(fifo, out), "FIFO", out);
  fs::path loop = data_with("loop", [](const fs::path& p) { fs::create_symlink(p.filename(), p); });
  require_clean_failure("ae " + quiet_args(loop, out), "symlink loop", out);

  // A gzip file cut inside its 10-byte gzip header.
  fs::path cut = synthetic_mnist_dir("rel-msg-gzcut", 20, 10);
  fs::resize_file(cut / "train-images-idx3-ubyte.gz", 5);
  require_clean_failure("ae " + quiet_args(cut, out), "truncated gzip", out);

  require_clean_failure("kmeans " + quiet_args(tiny_data(), out) + " --features /nonexistent/zs-run",
                        "--features /nonexistent/zs-run: no such file or folder", out);

  fs::path bare = mutated_checkpoint("no-meta", [](SafetensorsFile& f) { f.metadata.clear(); });
  require_clean_failure(ae_resume(out, bare), "no train_mnist metadata", out);
}

TEST_CASE("11: ambiguous data folders and unknown checkpoint tensors are refused", "[driver][reliability]") {
  fs::path out = never_out("lenient");
  fs::path both = synthetic_mnist_dir("rel-both", 20, 10);  // train .gz; add a raw train file beside it
  ImageSet other = synthetic_set(30, 7);
  save_idx_pair((both / "train-images-idx3-ubyte").string(), (both / "train-labels-idx1-ubyte").string(), other);
  require_clean_failure("ae " + quiet_args(both, out), "ambiguous", out);

  fs::path extra = mutated_checkpoint("extra", [](SafetensorsFile& f) {
    f.tensors["encoder.conv9.weight"] = NamedTensor{{2}, {1.f, 2.f}};
  });
  require_clean_failure(ae_resume(out, extra), "encoder.conv9.weight", out);
}
