#include "tools/train_mnist/features.h"

#include <cmath>
#include <filesystem>

#include "runtime/core/error.h"
#include "runtime/io/npy.h"

namespace zs::driver {
namespace fs = std::filesystem;

namespace {

constexpr int kClasses = 10;
const std::string kTrainSuffix = "_train.npy";

std::vector<int32_t> widen(const std::vector<uint8_t>& labels) { return {labels.begin(), labels.end()}; }

// The four files of a latent set, from the --features value.
struct FeatureFiles {
  fs::path train, train_labels, test, test_labels;
};

FeatureFiles companion_files(const std::string& value) {
  fs::path train = value;
  std::error_code ec;
  if (fs::symlink_status(train, ec).type() == fs::file_type::not_found)
    throw UserError("--features " + value + ": no such file or folder; pass pixels, a latent_train.npy written by "
                    "train_mnist ae, or the --out folder of that ae run");
  if (fs::is_directory(train, ec)) train /= "latent_train.npy";
  const std::string name = train.filename().string();
  if (name.size() <= kTrainSuffix.size() || name.compare(name.size() - kTrainSuffix.size(), kTrainSuffix.size(), kTrainSuffix) != 0)
    throw UserError("--features " + value + ": the file name must end in _train.npy (e.g. latent_train.npy written by "
                    "train_mnist ae) so that its labels and test set are found next to it; pass pixels, such a file or "
                    "the ae output folder");
  const std::string prefix = name.substr(0, name.size() - kTrainSuffix.size());
  const fs::path dir = train.parent_path();
  return {train, dir / (prefix + "_train_labels.npy"), dir / (prefix + "_test.npy"), dir / (prefix + "_test_labels.npy")};
}

// Reads a file of the set; names --features in every message and says which role the file has.
template <typename Load>
auto load_member(const fs::path& path, const std::string& role, Load load) {
  std::error_code ec;
  if (fs::symlink_status(path, ec).type() == fs::file_type::not_found)  // anything else: the reader says what it is
    throw UserError("--features: the " + role + " file " + path.string() + " is missing; train_mnist ae writes it next to "
                    "latent_train.npy (rerun ae with this --out, or pass --features pixels)");
  try {
    return load(path);
  } catch (const UserError& e) {
    throw UserError(std::string("--features: ") + e.what());
  }
}

std::vector<int32_t> load_labels(const fs::path& path, const std::string& role, int64_t rows, const fs::path& matrix) {
  const std::vector<int64_t> raw = load_member(path, role, [](const fs::path& p) { return load_npy_vector(p); });
  if (int64_t(raw.size()) != rows)
    throw UserError("--features: " + matrix.string() + " has " + std::to_string(rows) + " rows but its labels " +
                    path.string() + " have " + std::to_string(raw.size()) +
                    " entries; both must come from the same ae run (regenerate them together)");
  std::vector<int32_t> labels(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] < 0 || raw[i] >= kClasses)
      throw UserError("--features: " + path.string() + " has label " + std::to_string(raw[i]) + " at index " +
                      std::to_string(i) + "; labels must be digits 0..9");
    labels[i] = int32_t(raw[i]);
  }
  return labels;
}

NpyMatrix load_features(const fs::path& path, const std::string& role) {
  NpyMatrix m = load_member(path, role, [](const fs::path& p) { return load_npy_matrix(p); });
  if (m.rows < 1 || m.cols < 1)
    throw UserError("--features: " + path.string() + " has shape (" + std::to_string(m.rows) + ", " +
                    std::to_string(m.cols) + "); it needs at least one row and one feature column");
  for (size_t i = 0; i < m.data.size(); ++i)
    if (!std::isfinite(m.data[i]))
      throw UserError("--features: " + path.string() + " holds a non-finite value (" + std::to_string(m.data[i]) +
                      ") at row " + std::to_string(int64_t(i) / m.cols) + "; regenerate the latents (the ae run may have diverged)");
  return m;
}

// Keeps the first `limit` rows (-1: all).
void keep_first(NpyMatrix& m, std::vector<int32_t>& labels, int limit) {
  if (limit < 0 || limit >= m.rows) return;
  m.rows = limit;
  m.data.resize(size_t(limit) * size_t(m.cols));
  labels.resize(size_t(limit));
}

}  // namespace

FeatureSet pixel_features(const RunContext& ctx) {
  const Dataset& data = ctx.data;
  FeatureSet f;
  f.dim = data.train.pixels_per_image();
  f.train_count = data.train.count;
  f.test_count = data.test.count;
  f.train.assign(data.train.pixels.begin(), data.train.pixels.end());
  f.test.assign(data.test.pixels.begin(), data.test.pixels.end());
  f.train_labels = widen(ctx.train_labels);
  f.test_labels = widen(data.test.labels);
  return f;
}

FeatureSet features_from_arrays(std::string source, int dim, std::vector<float> train, std::vector<float> test,
                                const std::vector<uint8_t>& train_labels, const std::vector<uint8_t>& test_labels) {
  FeatureSet f;
  f.source = std::move(source);
  f.dim = dim;
  f.train_count = int64_t(train.size()) / dim;
  f.test_count = int64_t(test.size()) / dim;
  f.train = std::move(train);
  f.test = std::move(test);
  f.train_labels = widen(train_labels);
  f.test_labels = widen(test_labels);
  return f;
}

FeatureSet load_feature_files(const std::string& option_value, int train_limit, int test_limit) {
  const FeatureFiles files = companion_files(option_value);
  NpyMatrix train = load_features(files.train, "training features");
  std::vector<int32_t> train_labels = load_labels(files.train_labels, "training labels", train.rows, files.train);
  NpyMatrix test = load_features(files.test, "test features");
  std::vector<int32_t> test_labels = load_labels(files.test_labels, "test labels", test.rows, files.test);
  if (test.cols != train.cols)
    throw UserError("--features: " + files.test.string() + " has " + std::to_string(test.cols) + " columns but " +
                    files.train.string() + " has " + std::to_string(train.cols) +
                    "; both must come from the same ae run (regenerate them together)");
  keep_first(train, train_labels, train_limit);
  keep_first(test, test_labels, test_limit);

  FeatureSet f;
  f.source = files.train.string();
  f.dim = int(train.cols);
  f.train_count = train.rows;
  f.test_count = test.rows;
  f.train = std::move(train.data);
  f.test = std::move(test.data);
  f.train_labels = std::move(train_labels);
  f.test_labels = std::move(test_labels);
  return f;
}

void add_features_option(CLI::App& cmd, std::string& value) {
  cmd.add_option("--features", value,
                 "pixels, or latents written by train_mnist ae: its latent_train.npy (or its --out folder); the "
                 "labels and the test set are read from the files next to it (X_train_labels.npy, X_test.npy, "
                 "X_test_labels.npy)")
      ->capture_default_str();
}

// Keeps this rank's block of training features every rank read whole (latent files are small next
// to the images they encode; the labels stay whole).
void keep_rank_block(FeatureSet& f) {
  Communicator& comm = world();
  if (!distributed(&comm)) return;
  const Shard block = shard_of(f.train_count, comm.rank(), comm.size(), kRankShardAlign);
  require_nonempty_block(block.rows(), f.train_count);
  f.train.erase(f.train.begin() + block.end * f.dim, f.train.end());
  f.train.erase(f.train.begin(), f.train.begin() + block.begin * f.dim);
  f.train_count = block.rows();
}

FeatureSet open_features(const std::string& value, const CommonOptions& common, std::unique_ptr<RunContext>& ctx,
                         TrainSplit split) {
  const bool pixels = value == "pixels";
  FeatureSet f;
  if (!pixels) f = load_feature_files(value, common.train_limit, common.test_limit);
  ctx = std::make_unique<RunContext>(common, /*load_data=*/pixels, split);
  if (pixels) return pixel_features(*ctx);
  if (split == TrainSplit::RankShard) keep_rank_block(f);
  return f;
}

}  // namespace zs::driver
