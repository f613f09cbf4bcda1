// IDX reader and writer (runtime/data/idx.h): round trips through raw and gzip files, and one
// test per kind of bad input, each checking that the UserError names the file, the problem and
// the fix. Fixtures are generated in a temporary folder per test; nothing binary is committed.
// The last tests load the real data of tools/fetch_data when it has been run (else they warn).
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include "runtime/core/error.h"
#include "runtime/data/idx.h"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

// A fresh folder under the system temp dir, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> serial{0};
    path_ = fs::temp_directory_path() / ("zs_test_idx_" + std::to_string(getpid()) + "_" + std::to_string(serial++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// `count` 28x28 images whose pixels encode (image, position), labels cycling 0-9.
zs::ImageSet make_set(int count) {
  zs::ImageSet set;
  set.count = count;
  set.rows = set.cols = 28;
  set.pixels.resize(size_t(count) * 784);
  for (size_t i = 0; i < set.pixels.size(); ++i) set.pixels[i] = uint8_t((i * 7 + i / 784) % 256);
  for (int i = 0; i < count; ++i) set.labels.push_back(uint8_t(i % 10));
  return set;
}

void write_raw(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  REQUIRE(out.good());
}

std::vector<uint8_t> read_raw(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void set_u32_be(std::vector<uint8_t>& bytes, size_t at, uint32_t v) {
  for (int k = 0; k < 4; ++k) bytes[at + size_t(k)] = uint8_t(v >> (24 - 8 * k));
}

// Runs f, which must throw zs::UserError, and returns its message.
std::string user_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const zs::UserError& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL("expected zs::UserError, got another exception: " << e.what());
  }
  FAIL("expected zs::UserError, nothing was thrown");
  return {};
}

// Writes a good 7-image pair in `dir` (raw or .gz) and returns {images, labels} paths.
std::pair<std::string, std::string> write_pair(const TempDir& dir, const zs::ImageSet& set, bool gz,
                                               const std::string& prefix = "train") {
  const std::string ext = gz ? ".gz" : "";
  auto images = dir.file(prefix + "-images-idx3-ubyte" + ext);
  auto labels = dir.file(prefix + "-labels-idx1-ubyte" + ext);
  zs::save_idx_pair(images, labels, set);
  return {images, labels};
}

void require_same(const zs::ImageSet& got, const zs::ImageSet& want) {
  REQUIRE(got.count == want.count);
  REQUIRE(got.rows == 28);
  REQUIRE(got.cols == 28);
  REQUIRE(got.pixels == want.pixels);
  REQUIRE(got.labels == want.labels);
}

}  // namespace

TEST_CASE("idx: raw and gzip files round-trip exactly", "[idx]") {
  TempDir dir;
  const auto set = make_set(7);
  for (bool gz : {false, true}) {
    INFO("gzip " << gz);
    const auto [images, labels] = write_pair(dir, set, gz);
    const auto bytes = read_raw(images);
    if (gz) {
      REQUIRE((bytes.at(0) == 0x1f && bytes.at(1) == 0x8b));   // really compressed
    } else {
      REQUIRE(bytes.size() == 16 + 7 * 784);
      REQUIRE(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 8) ==
              std::vector<uint8_t>{0, 0, 8, 3, 0, 0, 0, 7});   // magic 2051, count 7, big-endian
    }
    require_same(zs::load_idx_pair(images, labels), set);
  }
  // No temporary file is left behind by the writer.
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    CHECK_THAT(entry.path().string(), !Contains(".tmp"));
    ++files;
  }
  REQUIRE(files == 4);
}

TEST_CASE("idx: truncated files are rejected", "[idx]") {
  TempDir dir;
  const auto set = make_set(5);
  const auto [images, labels] = write_pair(dir, set, false);

  SECTION("raw images missing their last 10 bytes") {
    auto bytes = zs::idx_images_bytes(set);
    bytes.resize(bytes.size() - 10);
    write_raw(images, bytes);
    const auto msg = user_error_of([&] { zs::load_idx_pair(images, labels); });
    CHECK_THAT(msg, Contains(images) && Contains("truncated") && Contains("header says 5 images") &&
                        Contains("3920 bytes") && Contains("only 3910 bytes") && Contains("re-run tools/fetch_data"));
  }
  SECTION("gzip stream cut in the middle") {
    const auto gz_images = dir.file("cut-images-idx3-ubyte.gz");
    zs::write_file_atomically(gz_images, zs::idx_images_bytes(set));
    auto bytes = read_raw(gz_images);
    bytes.resize(bytes.size() / 2);
    write_raw(gz_images, bytes);
    const auto msg = user_error_of([&] { zs::load_idx_pair(gz_images, labels); });
    CHECK_THAT(msg, Contains(gz_images) && Contains("truncated") && Contains("re-run tools/fetch_data"));
  }
  SECTION("labels missing one label") {
    auto bytes = zs::idx_labels_bytes(set);
    bytes.pop_back();
    write_raw(labels, bytes);
    const auto msg = user_error_of([&] { zs::load_idx_pair(images, labels); });
    CHECK_THAT(msg, Contains(labels) && Contains("truncated") && Contains("header says 5 labels"));
  }
  SECTION("header cut short") {
    auto bytes = zs::idx_images_bytes(set);
    bytes.resize(10);
    write_raw(images, bytes);
    CHECK_THAT(user_error_of([&] { zs::load_idx_pair(images, labels); }),
               Contains(images) && Contains("16-byte header holds only 10 bytes"));
    bytes.resize(2);
    write_raw(images, bytes);
    CHECK_THAT(user_error_of([&] { zs::load_idx_pair(images, labels); }),
               Contains(images) && Contains("too short to be an IDX images file"));
    write_raw(images, {});
    CHECK_THAT(user_error_of([&] { zs::load_idx_pair(images, labels); }), Contains("only 0 bytes"));
  }
}

TEST_CASE("idx: bytes after the declared data are rejected", "[idx]") {
  TempDir dir;
  const auto set = make_set(4);
  const auto [images, labels] = write_pair(dir, set, false);
  SECTION("raw images + 3 bytes") {
    auto bytes = zs::idx_images_bytes(set);
    bytes.insert(bytes.end(), {1, 2, 3});
    write_raw(images, bytes);
    CHECK_THAT(user_error_of([&] { zs::load_idx_pair(images, labels); }),
               Contains(images) && Contains("3 bytes after the 4 images") && Contains("re-run tools/fetch_data"));
  }
  SECTION("gzip labels + 1 byte") {
    const auto gz_labels = dir.file("long-labels-idx1-ubyte.gz");
    auto bytes = zs::idx_labels_bytes(set);
    bytes.push_back(0);
    zs::write_file_atomically(gz_labels, bytes);
    CHECK_THAT(user_error_of([&] { zs::load_idx_pair(images, gz_labels); }),
               Contains(gz_labels) && Contains("1 byte after the 4 labels"));
  }
}

TEST_CASE("idx: wrong magic numbers are rejected with a hint", "[idx]") {
  TempDir dir;
  const auto set = make_set(3);
  const auto [images, labels] = write_pair(dir, set, true);

  SECTION("images and labels swapped") {
    const auto msg = user_error_of([&] { zs::load_idx_pair(labels, images); });
    CHECK_THAT(msg, Contains(labels) && Contains("magic number 2049") && Contains("expected 2051") &&
                        Contains("it is an IDX labels file"));
  }
  SECTION("arbitrary magic") {
    auto bytes = zs::idx_images_bytes(set);
    set_u32_be(bytes, 0, 0x12345678);
    zs::write_file_atomically(images, bytes);
    CHECK_THAT(user_error_of([&] { zs::load_idx_pair(images, labels); }),
               Contains(images) && Contains("0x12345678") && Contains("not MNIST data"));
  }
  SECTION("little-endian header") {
    auto bytes = zs::idx_labels_bytes(set);
    set_u32_be(bytes, 0, __builtin_bswap32(2049));
    zs::write_file_atomically(labels, bytes);
    CHECK_THAT(user_error_of([&] { zs::load_idx_pair(images, labels); }),
               Contains(labels) && Contains("little-endian"));
  }
  SECTION("a text file") {
    const auto text = dir.file("notes.txt");
    write_raw(text, {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '\n', '!', '!', '!', '!', '!'});
    CHECK_THAT(user_error_of([&] { zs::load_idx_pair(text, labels); }),
               Contains(text) && Contains("not an IDX images file"));
  }
}

TEST_CASE("idx: image and label counts must agree", "[idx]") {
  TempDir dir;
  const auto [images, labels] = write_pair(dir, make_set(6), false);
  zs::save_idx_pair(dir.file("other-images"), dir.file("other-labels"), make_set(5));
  const auto msg = user_error_of([&] { zs::load_idx_pair(images, dir.file("other-labels")); });
  CHECK_THAT(msg, Contains(images) && Contains("holds 6 images") && Contains(dir.file("other-labels")) &&
                      Contains("holds 5 labels") && Contains("same set"));
}

TEST_CASE("idx: images must be 28x28", "[idx]") {
  TempDir dir;
  auto set = make_set(2);
  const auto [images, labels] = write_pair(dir, set, false);
  for (auto [rows, cols] : {std::pair{32u, 32u}, std::pair{28u, 27u}, std::pair{0u, 28u}}) {
    auto bytes = zs::idx_images_bytes(set);
    set_u32_be(bytes, 8, rows);
    set_u32_be(bytes, 12, cols);
    write_raw(images, bytes);
    CHECK_THAT(user_error_of([&] { zs::load_idx_pair(images, labels); }),
               Contains(images) && Contains(std::to_string(rows) + "x" + std::to_string(cols)) &&
                   Contains("needs 28x28"));
  }
}

TEST_CASE("idx: labels must be 0-9", "[idx]") {
  TempDir dir;
  auto set = make_set(5);
  set.labels[3] = 10;
  const auto [images, labels] = write_pair(dir, set, true);
  CHECK_THAT(user_error_of([&] { zs::load_idx_pair(images, labels); }),
             Contains(labels) && Contains("label 10 of sample 3") && Contains("outside 0-9"));
  set.labels[3] = 9;   // 9 is the largest valid label
  zs::save_idx_pair(images, labels, set);
  REQUIRE(zs::load_idx_pair(images, labels).labels[3] == 9);
}

TEST_CASE("idx: a corrupt gzip stream is a user error", "[idx]") {
  TempDir dir;
  const auto set = make_set(3);
  const auto [images, labels] = write_pair(dir, set, true);
  auto bytes = read_raw(images);
  bytes[bytes.size() - 6] ^= 0xff;   // inside the CRC-32 trailer
  write_raw(images, bytes);
  CHECK_THAT(user_error_of([&] { zs::load_idx_pair(images, labels); }),
             Contains(images + ": unreadable (incorrect data check)") && Contains("re-run"));
}

TEST_CASE("idx: load_dataset_dir finds the four files and applies limits", "[idx]") {
  TempDir dir;
  const auto train = make_set(12);
  const auto test = make_set(5);
  write_pair(dir, train, true, "train");
  write_pair(dir, test, false, "t10k");

  SECTION("all samples") {
    const auto data = zs::load_dataset_dir(dir.path().string());
    require_same(data.train, train);
    require_same(data.test, test);
    REQUIRE(data.dir == dir.path().string());
  }
  SECTION("limits keep the first samples") {
    const auto data = zs::load_dataset_dir(dir.path().string(), 3, 100);
    REQUIRE(data.train.count == 3);
    REQUIRE(data.train.pixels == std::vector<uint8_t>(train.pixels.begin(), train.pixels.begin() + 3 * 784));
    REQUIRE(data.train.labels == std::vector<uint8_t>{0, 1, 2});
    require_same(data.test, test);   // a limit above the count keeps all
  }
  SECTION("invalid limits") {
    CHECK_THAT(user_error_of([&] { zs::load_dataset_dir(dir.path().string(), 0); }),
               Contains("--train-limit") && Contains("got 0"));
    CHECK_THAT(user_error_of([&] { zs::load_dataset_dir(dir.path().string(), -1, -5); }),
               Contains("--test-limit") && Contains("got -5"));
  }
  SECTION("Kaggle's dotted names are found too") {
    fs::rename(dir.file("t10k-images-idx3-ubyte"), dir.file("t10k-images.idx3-ubyte"));
    REQUIRE(zs::find_idx_file(dir.path().string(), "t10k-images-idx3-ubyte") == dir.file("t10k-images.idx3-ubyte"));
    require_same(zs::load_dataset_dir(dir.path().string()).test, test);
  }
}

TEST_CASE("idx: missing folder, missing file and dangling link name the path and the fix", "[idx]") {
  TempDir dir;
  const std::string fix = "run tools/fetch_data or pass --data DIR holding the four MNIST IDX files";
  SECTION("missing folder") {
    const auto missing = dir.file("no-such-folder");
    CHECK_THAT(user_error_of([&] { zs::load_dataset_dir(missing); }),
               Contains(missing) && Contains("no such folder") && Contains(fix));
  }
  SECTION("a file instead of a folder") {
    write_raw(dir.file("plain"), {1});
    CHECK_THAT(user_error_of([&] { zs::load_dataset_dir(dir.file("plain")); }), Contains("is not a folder"));
  }
  SECTION("each of the four files missing in turn") {
    const std::vector<std::string> names = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                            "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
    for (const auto& absent : names) {
      INFO("missing " << absent);
      TempDir d;
      write_pair(d, make_set(2), false, "train");
      write_pair(d, make_set(2), true, "t10k");
      for (const char* ext : {"", ".gz"}) fs::remove(d.file(absent + ext));
      CHECK_THAT(user_error_of([&] { zs::load_dataset_dir(d.path().string()); }),
                 Contains(d.file(absent) + "(.gz): not found") && Contains(fix));
    }
  }
  SECTION("dangling symlink") {
    write_pair(dir, make_set(2), false, "train");
    write_pair(dir, make_set(2), false, "t10k");
    fs::remove(dir.file("t10k-labels-idx1-ubyte"));
    fs::create_symlink(dir.file("gone"), dir.file("t10k-labels-idx1-ubyte.gz"));
    CHECK_THAT(user_error_of([&] { zs::load_dataset_dir(dir.path().string()); }),
               Contains("t10k-labels-idx1-ubyte.gz") && Contains("dangling symlink"));
  }
  SECTION("load_idx_pair on a missing path") {
    const auto missing = dir.file("nope-images");
    CHECK_THAT(user_error_of([&] { zs::load_idx_pair(missing, missing); }),
               Contains(missing) && Contains("no such file"));
  }
}

TEST_CASE("idx: writing into a missing folder fails cleanly", "[idx]") {
  TempDir dir;
  const auto target = dir.file("absent/train-images-idx3-ubyte.gz");
  CHECK_THAT(user_error_of([&] { zs::write_file_atomically(target, {1, 2, 3}); }),
             Contains(target) && Contains("cannot write"));
  REQUIRE_FALSE(fs::exists(dir.file("absent")));
}

// ---- the real data, when tools/fetch_data has been run ----

namespace {

// <repo>/data/<name>: from ZS_TEST_DATA (= <repo>/tests/data, set by ctest), else from this
// file's own path (CMake compiles it by its absolute path).
std::string fetched_data_dir(const std::string& name) {
  const char* test_data = std::getenv("ZS_TEST_DATA");
  const fs::path repo = test_data ? fs::path(test_data).parent_path().parent_path()
                                  : fs::path(__FILE__).parent_path().parent_path();
  return (repo / "data" / name).string();
}

std::vector<int> label_histogram(const zs::ImageSet& set) {
  std::vector<int> h(10, 0);
  for (uint8_t l : set.labels) ++h[l];
  return h;
}

double mean_intensity(const zs::ImageSet& set) {
  return std::accumulate(set.pixels.begin(), set.pixels.end(), 0.0) / 255.0 / double(set.pixels.size());
}

}  // namespace

TEST_CASE("idx: the MNIST of tools/fetch_data loads and looks like MNIST", "[idx][fetched]") {
  const auto dir = fetched_data_dir("mnist");
  if (!fs::is_directory(dir)) {
    WARN("skipped: " << dir << " is absent (run tools/fetch_data)");
    return;
  }
  const auto data = zs::load_dataset_dir(dir);
  INFO(dir << ": " << data.train.count << " train, " << data.test.count << " test");
  REQUIRE(data.train.count >= 1000);
  REQUIRE(data.test.count >= 1000);
  for (const auto* set : {&data.train, &data.test}) {
    for (int count : label_histogram(*set)) REQUIRE(count > set->count / 20);   // every digit is well represented
    // MNIST's mean pixel is 0.1307 (over the 60,000 training images).
    REQUIRE(mean_intensity(*set) == Approx(0.1307).margin(0.01));
  }
  if (fs::exists(fs::path(dir) / "SOURCE.txt")) {   // the npm-derived subset of tools/fetch_data
    REQUIRE(data.train.count == 8000);
    REQUIRE(data.test.count == 2000);
  }
}

TEST_CASE("idx: the Fashion-MNIST of tools/fetch_data loads in full", "[idx][fetched]") {
  const auto dir = fetched_data_dir("fashion-mnist");
  if (!fs::is_directory(dir)) {
    WARN("skipped: " << dir << " is absent (run tools/fetch_data)");
    return;
  }
  const auto data = zs::load_dataset_dir(dir);
  REQUIRE(data.train.count == 60000);
  REQUIRE(data.test.count == 10000);
  REQUIRE(label_histogram(data.train) == std::vector<int>(10, 6000));   // Fashion-MNIST is exactly balanced
  REQUIRE(label_histogram(data.test) == std::vector<int>(10, 1000));
  REQUIRE(mean_intensity(data.train) == Approx(0.2860).margin(0.002));
}

TEST_CASE("idx: a rank's shard of the training set holds its block only, and the blocks make the whole", "[idx]") {
  const auto train = make_set(37);
  const auto test = make_set(5);
  for (bool gz : {false, true}) {   // a raw file seeks past the other blocks, a gzip one inflates them
    INFO("gzip " << gz);
    TempDir dir;
    write_pair(dir, train, gz, "train");
    write_pair(dir, test, false, "t10k");
    for (int ranks : {1, 2, 3, 5}) {
      INFO(ranks << " ranks");
      std::vector<uint8_t> pixels, labels;
      for (int r = 0; r < ranks; ++r) {
        const zs::TrainShard shard{r, ranks, 4};
        const auto data = zs::load_dataset_dir(dir.path().string(), 30, -1, shard);   // the first 30, split
        const zs::Shard expect = zs::shard_of(30, r, ranks, 4);
        REQUIRE(data.train_total == 30);
        REQUIRE(data.train_rows.begin == expect.begin);
        REQUIRE(data.train_rows.end == expect.end);
        REQUIRE(data.train.count == expect.rows());
        REQUIRE(data.train.pixels.size() == size_t(expect.rows()) * 784);
        REQUIRE(data.train.labels.size() == size_t(expect.rows()));
        require_same(data.test, test);   // the test set is whole on every rank
        pixels.insert(pixels.end(), data.train.pixels.begin(), data.train.pixels.end());
        labels.insert(labels.end(), data.train.labels.begin(), data.train.labels.end());
      }
      REQUIRE(pixels == std::vector<uint8_t>(train.pixels.begin(), train.pixels.begin() + 30 * 784));
      REQUIRE(labels == std::vector<uint8_t>(train.labels.begin(), train.labels.begin() + 30));
    }
  }
}

TEST_CASE("idx: every rank's shard still checks the whole file", "[idx]") {
  const auto train = make_set(20);
  for (bool gz : {false, true}) {
    INFO("gzip " << gz);
    {   // cut at the end: rank 0 keeps rows 0-9, far from the cut, and still reports it
      TempDir dir;
      write_pair(dir, make_set(3), false, "t10k");
      const auto [images, labels] = write_pair(dir, train, gz, "train");
      auto bytes = read_raw(images);
      bytes.resize(bytes.size() - (gz ? bytes.size() / 3 : 100));
      write_raw(images, bytes);
      CHECK_THAT(user_error_of([&] { zs::load_dataset_dir(dir.path().string(), -1, -1, {0, 2, 1}); }),
                 Contains(images) && Contains("truncated"));
    }
    {   // a bad label in the other rank's block; the message names the sample's index in the file
      TempDir dir;
      write_pair(dir, make_set(3), false, "t10k");
      auto bad = train;
      bad.labels[15] = 12;
      write_pair(dir, bad, gz, "train");
      CHECK_THAT(user_error_of([&] { zs::load_dataset_dir(dir.path().string(), -1, -1, {0, 2, 1}); }),
                 Contains("label 12 of sample 15"));
      CHECK_THAT(user_error_of([&] { zs::load_dataset_dir(dir.path().string(), -1, -1, {1, 2, 1}); }),
                 Contains("label 12 of sample 15"));
    }
  }
}
