// The feature matrices KMeans clusters (--features): the raw pixels of the data set, or latents
// written by `train_mnist ae` (or ae-kmeans) as .npy files.
//
// How a latent file names its companions (the names `ae` writes):
//   --features DIR                 means DIR/latent_train.npy
//   --features .../X_train.npy     training features (float32, N x D; X is any prefix, e.g. latent)
//              .../X_train_labels.npy   their labels (1-D uint8/int32/int64 in 0..9, N entries)
//              .../X_test.npy           test features (float32, M x D, same D)
//              .../X_test_labels.npy    their labels (M entries)
// The file name must end in "_train.npy" so that the test set can be found next to it.
// --train-limit / --test-limit keep the first rows, as for the pixels. Any problem (a missing file,
// a dtype other than float32, not 2-D, a row count that differs from the labels, a label outside
// 0..9, NaN or Inf) is a UserError naming --features, the file and the fix.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "runtime/cluster/matrix_view.h"
#include "runtime/data/idx.h"
#include "tools/train_mnist/common.h"

namespace zs::driver {

// Under mpirun a data-parallel command (TrainSplit::RankShard) holds only this rank's block of the
// training features (train, train_count), but the labels of the whole training set (train_labels);
// one process holds everything. The test set is whole on every rank.
struct FeatureSet {
  std::string source = "pixels";  // "pixels" or the training features file
  int dim = 0;
  int64_t train_count = 0, test_count = 0;
  std::vector<float> train, test;  // row-major, count x dim, not scaled yet
  std::vector<int32_t> train_labels, test_labels;

  bool is_pixels() const { return source == "pixels"; }
  int64_t train_total() const { return int64_t(train_labels.size()); }   // the whole training set's size
  MatrixView train_view() const { return {train.data(), train_count, dim}; }
  MatrixView test_view() const { return {test.data(), test_count, dim}; }
};

// Pixel bytes as floats 0..255 (the scaler maps them to what --scale asks for): ctx's training
// block and all of its labels.
FeatureSet pixel_features(const RunContext& ctx);

// Features computed elsewhere (latents of the `ae` run), with their labels (train: a block, or all).
FeatureSet features_from_arrays(std::string source, int dim, std::vector<float> train, std::vector<float> test,
                                const std::vector<uint8_t>& train_labels, const std::vector<uint8_t>& test_labels);

// Loads and checks a latent .npy set named as above; limits of -1 keep every row.
FeatureSet load_feature_files(const std::string& option_value, int train_limit, int test_limit);

// Registers --features (default pixels) on kmeans and elbow.
void add_features_option(CLI::App& cmd, std::string& value);

// Builds the run context and the features --features names. Latent files are read and checked
// before the context creates --out, so a bad file leaves nothing behind; pixels come with the data.
// With TrainSplit::RankShard under mpirun, the training features are this rank's block.
FeatureSet open_features(const std::string& value, const CommonOptions& common, std::unique_ptr<RunContext>& ctx,
                         TrainSplit split = TrainSplit::Whole);

}  // namespace zs::driver
