// MNIST-format IDX files: reading (raw or gzip, validated) and writing.
//
// Format (big-endian header): images = magic 2051 (0x00000803: ubyte, 3 dims), count, rows, cols,
// then count*rows*cols pixel bytes, row-major; labels = magic 2049 (0x00000801: ubyte, 1 dim),
// count, then count label bytes. A folder holds the four standard names
//   train-images-idx3-ubyte  train-labels-idx1-ubyte  t10k-images-idx3-ubyte  t10k-labels-idx1-ubyte
// each raw or with .gz appended (Kaggle's dotted spelling, train-images.idx3-ubyte, is also found).
//
// Reading validates everything and throws zs::UserError naming the file, the problem and the fix:
// wrong magic, images that are not 28x28, a file shorter or longer than its header says, a label
// outside 0-9, image and label counts that disagree, a missing folder or file.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "runtime/core/shard.h"

namespace zs {

inline constexpr uint32_t kIdxImagesMagic = 2051;
inline constexpr uint32_t kIdxLabelsMagic = 2049;
inline constexpr int kMnistSide = 28;

// count images of rows x cols bytes (row-major, image after image) and their labels.
struct ImageSet {
  int count = 0, rows = 0, cols = 0;
  std::vector<uint8_t> pixels;   // count * rows * cols
  std::vector<uint8_t> labels;   // count, each 0-9

  int pixels_per_image() const { return rows * cols; }
  // Keep only the first n images (n >= count keeps all).
  void truncate(int n);
};

// Reads and validates an images file and its labels file (raw or gzip, detected by content).
ImageSet load_idx_pair(const std::string& images_path, const std::string& labels_path);

// The same, keeping only the samples [begin, end) that `select` returns for the count the headers
// declare: the whole files are still read and checked, but only those samples are stored (a raw
// file seeks past the others). The returned set's count is end - begin.
using RowSelection = std::function<Shard(int declared_count)>;
ImageSet load_idx_rows(const std::string& images_path, const std::string& labels_path, const RowSelection& select);

// Which part of the training set a process keeps: its contiguous shard_of(count, rank, ranks,
// align) (runtime/core/shard.h). Data-parallel runs (mpirun) give each rank its own; the
// default keeps everything.
struct TrainShard {
  int rank = 0, ranks = 1;
  int64_t align = 1;
};

struct Dataset {
  ImageSet train, test;   // train: this process's shard of the training set (all of it by default)
  Shard train_rows;       // which samples of the (limited) training set `train` holds
  int train_total = 0;    // the (limited) training set's size, on every rank
  std::string dir;
};

// Loads the four standard files of `dir`. A limit >= 1 keeps only the first `limit` samples of
// that split (after validating the whole file); -1 keeps all; 0 or < -1 is a UserError. Of the
// training set only `shard`'s part of those is kept.
Dataset load_dataset_dir(const std::string& dir, int train_limit = -1, int test_limit = -1,
                         const TrainShard& shard = {});

// The path of standard file `name` (e.g. "train-images-idx3-ubyte") in `dir`, raw or .gz;
// throws UserError when there is none.
std::string find_idx_file(const std::string& dir, const std::string& name);

// Encoded file contents (header + payload) of the images or labels of `set`.
std::vector<uint8_t> idx_images_bytes(const ImageSet& set);
std::vector<uint8_t> idx_labels_bytes(const ImageSet& set);

// Writes `bytes` to `path`, gzip-compressed when the path ends in ".gz", through a temporary
// file in the same folder renamed into place (never leaves a half-written file at `path`).
void write_file_atomically(const std::string& path, const std::vector<uint8_t>& bytes);

// Writes `set` as an images file and a labels file (each .gz or raw by its extension).
void save_idx_pair(const std::string& images_path, const std::string& labels_path, const ImageSet& set);

}  // namespace zs
