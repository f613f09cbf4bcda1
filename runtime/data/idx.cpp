// IDX reading and writing; see idx.h for the format and the checks.
//
// zlib's gz* functions read gzip and raw files alike (a file without the gzip magic is passed
// through), so one code path serves both. Data are read in bounded chunks and buffers grow with
// what was actually read, so a corrupt header claiming billions of images costs nothing before
// the "truncated" error.
#include "runtime/data/idx.h"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "runtime/core/error.h"
#include "runtime/io/input_file.h"

namespace zs {
namespace {

namespace fs = std::filesystem;

constexpr const char* kRefetchHint = "re-run tools/fetch_data (or re-download the file)";
constexpr const char* kWhereToGetData =
    "run tools/fetch_data or pass --data DIR holding the four MNIST IDX files";
constexpr size_t kReadChunk = size_t(1) << 20;   // keeps gzread's int-sized counts far from overflow
constexpr unsigned kGzBufferBytes = 1u << 18;
constexpr size_t kImagesHeaderBytes = 16;
constexpr size_t kLabelsHeaderBytes = 8;
constexpr uint64_t kDeflateMaxRatio = 1032;  // deflate's maximum compression ratio

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

std::string bytes_text(uint64_t n) { return std::to_string(n) + (n == 1 ? " byte" : " bytes"); }

uint32_t big_endian_u32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

void put_big_endian_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(uint8_t(v >> shift));
}

// Owns a gzFile opened for reading; every failure becomes a UserError naming the file.
class GzReader {
 public:
  explicit GzReader(const std::string& path) : path_(path) {
    // The gate refuses folders, FIFOs, devices, broken links and loops before any read.
    InputFile file(path, "IDX file", kWhereToGetData);
    starts_as_gzip_ = file.size() >= 2 && starts_with_gzip_magic(file.fd());
    file_size_ = file.size();
    errno = 0;
    file_ = gzdopen(file.fd(), "rb");
    if (!file_)
      throw UserError(path + ": cannot open (" + (errno ? std::strerror(errno) : "out of memory") + ")");
    file.release();  // gzclose closes it now
    gzbuffer(file_, kGzBufferBytes);   // fewer read() calls than zlib's 8 KiB default
  }
  ~GzReader() { gzclose(file_); }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  // Reads up to n bytes into dst; fewer only at the end of the data.
  size_t read(uint8_t* dst, size_t n) {
    size_t done = 0;
    while (done < n) {
      const unsigned want = unsigned(std::min(n - done, kReadChunk));
      const int got = gzread(file_, dst + done, want);
      if (got < 0) throw UserError(path_ + ": unreadable (" + zlib_message() + "); " + kRefetchHint);
      done += size_t(got);
      if (unsigned(got) < want) break;
    }
    return done;
  }

  // Appends up to n bytes to out, growing it only by what was read.
  size_t append(std::vector<uint8_t>& out, size_t n) {
    size_t done = 0;
    while (done < n) {
      const size_t want = std::min(n - done, kReadChunk);
      const size_t old = out.size();
      out.resize(old + want);
      const size_t got = read(out.data() + old, want);
      out.resize(old + got);
      done += got;
      if (got < want) break;
    }
    return done;
  }

  // Skips up to n bytes (fewer only at the end of the data); returns how many. A raw file seeks,
  // a gzip stream is inflated (and so still checked) without keeping what it skips.
  uint64_t skip(uint64_t n) {
    if (!starts_as_gzip_) {
      const z_off_t at = gztell(file_);
      const uint64_t left = file_size_ > uint64_t(at) ? file_size_ - uint64_t(at) : 0;
      const uint64_t step = std::min(n, left);
      if (gzseek(file_, z_off_t(step), SEEK_CUR) < 0)
        throw UserError(path_ + ": unreadable (" + zlib_message() + "); " + kRefetchHint);
      return step;
    }
    std::vector<uint8_t> scratch(size_t(std::min<uint64_t>(n, kReadChunk)));
    uint64_t done = 0;
    while (done < n) {
      const size_t got = read(scratch.data(), size_t(std::min<uint64_t>(n - done, scratch.size())));
      done += got;
      if (got == 0) break;
    }
    return done;
  }

  // Bytes left before the end of the data (consumes them).
  uint64_t count_remaining() {
    std::vector<uint8_t> scratch(kReadChunk);
    uint64_t total = 0;
    for (size_t got; (got = read(scratch.data(), scratch.size())) > 0;) total += got;
    return total;
  }

  // The most data bytes the file can possibly hold: its size raw, deflate's best ratio (1032:1) gzipped.
  uint64_t max_data_bytes() const { return starts_as_gzip_ ? file_size_ * kDeflateMaxRatio : file_size_; }

  // True when the file starts with the gzip magic (so a short read means a cut gzip stream).
  bool is_gzip() const { return starts_as_gzip_; }

  // True when the data ended because the gzip stream itself is cut off.
  bool gzip_cut_off() {
    int err = Z_OK;
    gzerror(file_, &err);
    return err == Z_BUF_ERROR;
  }

 private:
  std::string zlib_message() {
    int err = Z_OK;
    const char* msg = gzerror(file_, &err);
    if (err == Z_ERRNO) return std::strerror(errno);
    std::string text = msg && *msg ? msg : "zlib error " + std::to_string(err);
    // zlib prefixes its name of the file ("<fd:N>" when opened by descriptor); our message names it.
    if (text.starts_with(path_ + ": ")) text.erase(0, path_.size() + 2);
    if (text.starts_with("<fd:")) {
      if (const auto end = text.find(">: "); end != std::string::npos) text.erase(0, end + 3);
    }
    return text;
  }

  static bool starts_with_gzip_magic(int fd) {
    unsigned char magic[2] = {0, 0};
    return ::pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  }

  std::string path_;
  gzFile file_ = nullptr;
  bool starts_as_gzip_ = false;
  uint64_t file_size_ = 0;
};

// Reads the header of an IDX file; checks the magic first so that a wrong file type is
// reported as such even when it is shorter than a header.
std::vector<uint8_t> read_header(GzReader& in, const std::string& path, uint32_t magic, size_t header_bytes) {
  const bool want_images = magic == kIdxImagesMagic;
  const char* kind = want_images ? "images" : "labels";
  std::vector<uint8_t> header(header_bytes);
  const size_t got = in.read(header.data(), header_bytes);
  if (got < 4 && in.is_gzip() && in.gzip_cut_off())
    throw UserError(path + ": truncated gzip file: the compressed stream ends before the IDX header (" +
                    bytes_text(got) + " of it could be decompressed); " + kRefetchHint);
  if (got < 4)
    throw UserError(path + ": only " + bytes_text(got) + ", too short to be an IDX " + kind + " file; " +
                    kRefetchHint);
  const uint32_t found = big_endian_u32(header.data());
  if (found != magic) {
    std::string what = "not an IDX " + std::string(kind) + " file: magic number " + std::to_string(found) + " (" +
                       hex32(found) + "), expected " + std::to_string(magic) + " (" + hex32(magic) + ")";
    const uint32_t other = want_images ? kIdxLabelsMagic : kIdxImagesMagic;
    if (found == other) {
      what += std::string("; it is an IDX ") + (want_images ? "labels" : "images") +
              " file: check which path is the images and which the labels";
    } else if (found == __builtin_bswap32(magic)) {
      what += "; its header is little-endian, IDX headers are big-endian: rewrite it";
    } else {
      what += std::string("; the file is corrupt or not MNIST data: ") + kRefetchHint;
    }
    throw UserError(path + ": " + what);
  }
  if (got < header_bytes)
    throw UserError(path + ": truncated: the " + std::to_string(header_bytes) + "-byte header holds only " +
                    bytes_text(got) + "; " + kRefetchHint);
  return header;
}

// Checks that `n` items were declared, reads exactly `bytes` of payload and that nothing follows;
// keeps bytes [keep_begin, keep_end) of the payload in `out` (the rest is read and checked only).
void read_payload(GzReader& in, const std::string& path, std::vector<uint8_t>& out, uint64_t bytes,
                  const std::string& declared, uint64_t keep_begin, uint64_t keep_end) {
  out.clear();
  if (in.is_gzip() && bytes > in.max_data_bytes())  // refused before inflating anything
    throw UserError(path + ": truncated: header says " + declared + " (" + std::to_string(bytes) +
                    " bytes), more than the whole file can hold; " + kRefetchHint);
  uint64_t got = in.skip(keep_begin);
  if (got == keep_begin) got += in.append(out, size_t(keep_end - keep_begin));
  if (got == keep_end) got += in.skip(bytes - keep_end);
  if (got < bytes) {
    const std::string cut = in.gzip_cut_off() ? " (the gzip stream is cut off)" : "";
    throw UserError(path + ": truncated: header says " + declared + " (" + std::to_string(bytes) +
                    " bytes) but only " + bytes_text(got) + " follow the header" + cut + "; " + kRefetchHint);
  }
  const uint64_t extra = in.count_remaining();
  if (extra == 0 && in.is_gzip() && in.gzip_cut_off())  // all data, but no CRC: cannot be trusted
    throw UserError(path + ": truncated gzip file: it ends without the gzip trailer (checksum and length), so "
                    "its data cannot be verified; " + kRefetchHint);
  if (extra > 0)
    throw UserError(path + ": " + bytes_text(extra) + " after the " + declared +
                    " its header declares: the file is corrupt or not what its header says; " + kRefetchHint);
}

int checked_count(uint32_t count, const std::string& path, const char* what) {
  if (count > uint32_t(INT_MAX))
    throw UserError(path + ": header says " + std::to_string(count) + " " + what +
                    ", more than this reader accepts; " + kRefetchHint);
  return int(count);
}

void read_images(const std::string& path, ImageSet& set, const RowSelection& select) {
  GzReader in(path);
  const auto header = read_header(in, path, kIdxImagesMagic, kImagesHeaderBytes);
  const uint32_t count = big_endian_u32(&header[4]);
  const uint32_t rows = big_endian_u32(&header[8]);
  const uint32_t cols = big_endian_u32(&header[12]);
  if (rows != uint32_t(kMnistSide) || cols != uint32_t(kMnistSide))
    throw UserError(path + ": images are " + std::to_string(rows) + "x" + std::to_string(cols) +
                    " pixels, but zspace needs 28x28 MNIST-format images; pass --data a folder of MNIST or "
                    "Fashion-MNIST IDX files");
  const Shard kept = select(checked_count(count, path, "images"));
  set.count = int(kept.rows());
  set.rows = int(rows);
  set.cols = int(cols);
  const uint64_t image_bytes = uint64_t(rows) * cols;
  read_payload(in, path, set.pixels, uint64_t(count) * image_bytes,
               std::to_string(count) + " images of " + std::to_string(rows) + "x" + std::to_string(cols) + " pixels",
               uint64_t(kept.begin) * image_bytes, uint64_t(kept.end) * image_bytes);
}

void read_labels(const std::string& path, std::vector<uint8_t>& labels, const RowSelection& select) {
  GzReader in(path);
  const auto header = read_header(in, path, kIdxLabelsMagic, kLabelsHeaderBytes);
  const uint32_t count = big_endian_u32(&header[4]);
  const Shard kept = select(checked_count(count, path, "labels"));
  // All of them are read and checked (a byte a sample), so every rank refuses the same bad file.
  read_payload(in, path, labels, count, std::to_string(count) + " labels", 0, count);
  const auto bad = std::find_if(labels.begin(), labels.end(), [](uint8_t v) { return v > 9; });
  if (bad != labels.end())
    throw UserError(path + ": label " + std::to_string(*bad) + " of sample " + std::to_string(bad - labels.begin()) +
                    " is outside 0-9; the file is corrupt or not MNIST labels: " + kRefetchHint);
  labels.erase(labels.begin() + kept.end, labels.end());
  labels.erase(labels.begin(), labels.begin() + kept.begin);
}

void check_limit(int limit, const char* option) {
  if (limit == -1 || limit >= 1) return;
  throw UserError(std::string(option) + " must be a positive number of samples (or -1 for all), got " +
                  std::to_string(limit));
}

}  // namespace

void ImageSet::truncate(int n) {
  if (n < 0 || n >= count) return;
  count = n;
  pixels.resize(size_t(n) * size_t(pixels_per_image()));
  labels.resize(size_t(n));
}

ImageSet load_idx_pair(const std::string& images_path, const std::string& labels_path) {
  return load_idx_rows(images_path, labels_path, [](int count) { return Shard{0, count}; });
}

ImageSet load_idx_rows(const std::string& images_path, const std::string& labels_path, const RowSelection& select) {
  ImageSet set;
  int image_count = 0, label_count = 0;   // as the headers declare them, before the selection
  read_images(images_path, set, [&](int count) { return select(image_count = count); });
  read_labels(labels_path, set.labels, [&](int count) { return select(label_count = count); });
  if (label_count != image_count)
    throw UserError(images_path + " holds " + std::to_string(image_count) + " images but " + labels_path + " holds " +
                    std::to_string(label_count) +
                    " labels; the two files must come from the same set: " + kRefetchHint);
  return set;
}

std::string find_idx_file(const std::string& dir, const std::string& name) {
  // Kaggle's MNIST spells the names with a dot: train-images.idx3-ubyte.
  std::string dotted = name;
  if (const auto at = dotted.find("-idx"); at != std::string::npos) dotted[at] = '.';
  // Every spelling that exists in any form (file, folder, FIFO, broken link) counts: the reader's
  // gate then says what a non-file really is, instead of "not found".
  std::vector<std::string> present;
  for (const std::string& candidate : {name, name + ".gz", dotted, dotted + ".gz"}) {
    const fs::path p = fs::path(dir) / candidate;
    std::error_code ec;
    if (fs::symlink_status(p, ec).type() != fs::file_type::not_found && !ec) present.push_back(p.string());
  }
  if (present.empty()) throw UserError((fs::path(dir) / name).string() + "(.gz): not found; " + kWhereToGetData);
  if (present.size() > 1) {
    // Raw and .gz side by side may be two different data sets: guessing would train on one silently.
    std::string list;
    for (const auto& p : present) list += (list.empty() ? "" : " and ") + p;
    throw UserError(list + " both exist: it is ambiguous which one to read; keep only one of them in " + dir);
  }
  return present.front();
}

Dataset load_dataset_dir(const std::string& dir, int train_limit, int test_limit, const TrainShard& shard) {
  check_limit(train_limit, "--train-limit");
  check_limit(test_limit, "--test-limit");
  std::error_code ec;
  if (!fs::exists(dir, ec)) throw UserError(dir + ": no such folder; " + kWhereToGetData);
  if (!fs::is_directory(dir, ec)) throw UserError(dir + ": is not a folder; " + kWhereToGetData);
  // Locate all four before reading any, so a missing file is reported at once.
  const std::string train_images = find_idx_file(dir, "train-images-idx3-ubyte");
  const std::string train_labels = find_idx_file(dir, "train-labels-idx1-ubyte");
  const std::string test_images = find_idx_file(dir, "t10k-images-idx3-ubyte");
  const std::string test_labels = find_idx_file(dir, "t10k-labels-idx1-ubyte");
  Dataset data;
  data.dir = dir;
  // The first `limit` samples (all with -1), and of the training set this process's shard of them.
  const auto first = [](int limit, int count) { return limit < 0 ? count : std::min(limit, count); };
  data.train = load_idx_rows(train_images, train_labels, [&](int count) {
    data.train_total = first(train_limit, count);
    data.train_rows = shard_of(data.train_total, shard.rank, shard.ranks, shard.align);
    return data.train_rows;
  });
  data.test = load_idx_pair(test_images, test_labels);
  data.test.truncate(test_limit);
  return data;
}

std::vector<uint8_t> idx_images_bytes(const ImageSet& set) {
  std::vector<uint8_t> out;
  out.reserve(kImagesHeaderBytes + set.pixels.size());
  put_big_endian_u32(out, kIdxImagesMagic);
  put_big_endian_u32(out, uint32_t(set.count));
  put_big_endian_u32(out, uint32_t(set.rows));
  put_big_endian_u32(out, uint32_t(set.cols));
  out.insert(out.end(), set.pixels.begin(), set.pixels.end());
  return out;
}

std::vector<uint8_t> idx_labels_bytes(const ImageSet& set) {
  std::vector<uint8_t> out;
  out.reserve(kLabelsHeaderBytes + set.labels.size());
  put_big_endian_u32(out, kIdxLabelsMagic);
  put_big_endian_u32(out, uint32_t(set.labels.size()));
  out.insert(out.end(), set.labels.begin(), set.labels.end());
  return out;
}

void write_file_atomically(const std::string& path, const std::vector<uint8_t>& bytes) {
  static std::atomic<unsigned> serial{0};
  const std::string tmp = path + ".tmp." + std::to_string(getpid()) + "." + std::to_string(serial++);
  const bool compress = path.size() >= 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  auto fail = [&](const std::string& why) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    return UserError(path + ": cannot write (" + why + "); check that the folder exists and is writable");
  };
  errno = 0;
  // "T" asks zlib for a plain (transparent) file, so both cases share the code below.
  gzFile out = gzopen(tmp.c_str(), compress ? "wb6" : "wbT");
  if (!out) throw fail(errno ? std::strerror(errno) : "out of memory");
  size_t done = 0;
  while (done < bytes.size()) {
    const unsigned want = unsigned(std::min(bytes.size() - done, kReadChunk));
    if (gzwrite(out, bytes.data() + done, want) != int(want)) {
      int err = Z_OK;
      std::string why = gzerror(out, &err);
      if (err == Z_ERRNO) why = std::strerror(errno);
      gzclose(out);
      throw fail(why);
    }
    done += want;
  }
  if (gzclose(out) != Z_OK) throw fail(errno ? std::strerror(errno) : "close failed");
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw fail(ec.message());
}

void save_idx_pair(const std::string& images_path, const std::string& labels_path, const ImageSet& set) {
  write_file_atomically(images_path, idx_images_bytes(set));
  write_file_atomically(labels_path, idx_labels_bytes(set));
}

}  // namespace zs
