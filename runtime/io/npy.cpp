// NPY writer and validating reader; see npy.h for the format choices.
#include "runtime/io/npy.h"

#include <bit>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>

#include "runtime/core/error.h"
#include "runtime/io/input_file.h"

namespace zs {
namespace fs = std::filesystem;

// Data is copied byte for byte, so host order must equal the '<' (little-endian) dtypes.
static_assert(std::endian::native == std::endian::little, "NPY I/O assumes a little-endian host");

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicBytes = 6;
constexpr std::size_t kDataAlignment = 64;  // numpy >= 1.21 aligns the data to 64 bytes.

// ---------------------------------------------------------------- writing

std::string shape_tuple(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

void write_npy(const fs::path& path, const char* descr, const std::vector<int64_t>& shape,
               const void* data, std::size_t bytes, AtomicWriteOptions options) {
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " +
                       shape_tuple(shape) + ", }";
  // Preamble: magic (6) + version (2) + u16 header length (2). Pad so the data is aligned and
  // the header ends with '\n', as numpy does.
  const std::size_t preamble = kMagicBytes + 2 + 2;
  const std::size_t unpadded = preamble + header.size() + 1;
  header.append((kDataAlignment - unpadded % kDataAlignment) % kDataAlignment, ' ');
  header.push_back('\n');
  const uint16_t header_len = static_cast<uint16_t>(header.size());  // < 200 bytes for 1-2 dims.

  const unsigned char lead[preamble] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                                        static_cast<unsigned char>(header_len & 0xff),
                                        static_cast<unsigned char>(header_len >> 8)};
  AtomicFileWriter writer(path, options);
  writer.write(lead, sizeof lead);
  writer.write(header);
  writer.write(data, bytes);
  writer.commit();
}

template <class T>
void write_vector(const fs::path& path, const char* descr, std::span<const T> values, AtomicWriteOptions options) {
  write_npy(path, descr, {static_cast<int64_t>(values.size())}, values.data(), values.size_bytes(), options);
}

// ---------------------------------------------------------------- reading

struct InvalidNpy {
  std::string file;
  [[noreturn]] void operator()(const std::string& problem) const {
    throw UserError("NPY file " + file + " is invalid: " + problem + "; regenerate it or pass another file");
  }
};

struct NpyHeader {
  std::string descr;
  bool fortran_order = true;
  std::vector<int64_t> shape;
  uint64_t data_offset = 0;  // Bytes before the array data.
};

// Parses the Python dict literal numpy writes, e.g.
//   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
// Accepts either quote style, any spacing and key order; rejects anything else.
class HeaderDictParser {
 public:
  HeaderDictParser(const std::string& text, const InvalidNpy& invalid) : s_(text), invalid_(invalid) {}

  NpyHeader parse() {
    NpyHeader h;
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    while (!peek('}')) {
      std::string key = quoted();
      expect(':');
      if (key == "descr") {
        h.descr = quoted();
        have_descr = true;
      } else if (key == "fortran_order") {
        h.fortran_order = boolean();
        have_order = true;
      } else if (key == "shape") {
        h.shape = tuple();
        have_shape = true;
      } else {
        invalid_("the header has an unexpected key '" + key + "'");
      }
      if (!peek('}')) expect(',');
    }
    expect('}');
    skip_space();
    if (pos_ != s_.size()) invalid_("the header has text after its closing '}'");
    if (!have_descr || !have_order || !have_shape)
      invalid_("the header lacks one of 'descr', 'fortran_order', 'shape'");
    return h;
  }

 private:
  void skip_space() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool peek(char c) {
    skip_space();
    return pos_ < s_.size() && s_[pos_] == c;
  }
  void expect(char c) {
    if (!peek(c)) invalid_(std::string("the header dict is malformed (expected '") + c + "' at offset " + std::to_string(pos_) + ")");
    ++pos_;
  }
  std::string quoted() {
    skip_space();
    if (pos_ >= s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"')) expect('\'');
    char q = s_[pos_++];
    std::size_t end = s_.find(q, pos_);
    if (end == std::string::npos) invalid_("the header dict has an unterminated string");
    std::string value = s_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return value;
  }
  bool boolean() {
    skip_space();
    for (auto [word, value] : {std::pair{"True", true}, std::pair{"False", false}}) {
      if (s_.compare(pos_, std::strlen(word), word) == 0) {
        pos_ += std::strlen(word);
        return value;
      }
    }
    invalid_("'fortran_order' is not True or False");
  }
  std::vector<int64_t> tuple() {
    std::vector<int64_t> dims;
    expect('(');
    while (!peek(')')) {
      skip_space();
      std::size_t start = pos_;
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
      if (pos_ == start || pos_ - start > 15) invalid_("the shape is not a tuple of non-negative integers");
      dims.push_back(std::stoll(s_.substr(start, pos_ - start)));
      if (!peek(')')) expect(',');
    }
    expect(')');
    return dims;
  }

  const std::string& s_;
  const InvalidNpy& invalid_;
  std::size_t pos_ = 0;
};

// The whole file in memory (feature matrices are tens of MB at most), read through the gate that
// refuses folders, FIFOs, devices and broken links; every read below is bounded by its size.
class NpyBytes {
 public:
  explicit NpyBytes(const fs::path& path)
      : bytes_(InputFile(path, "NPY file", "check the path or pass another file").read_all()) {}
  uint64_t size() const { return bytes_.size(); }
  bool read(char* dst, std::streamsize n) {
    if (n < 0 || uint64_t(n) > bytes_.size() - pos_) return false;
    if (n > 0) std::memcpy(dst, bytes_.data() + pos_, size_t(n));
    pos_ += size_t(n);
    return true;
  }

 private:
  std::vector<char> bytes_;
  std::size_t pos_ = 0;
};

NpyHeader read_header(NpyBytes& in, uint64_t file_size, const InvalidNpy& invalid) {
  unsigned char lead[kMagicBytes + 2];
  if (file_size < sizeof lead || !in.read(reinterpret_cast<char*>(lead), sizeof lead))
    invalid("the file is " + std::to_string(file_size) + " bytes, too short for an NPY preamble");
  if (std::memcmp(lead, kMagic, kMagicBytes) != 0) invalid("it does not start with the NPY magic \"\\x93NUMPY\"");
  const int major = lead[kMagicBytes];
  // Version 1 stores the header length in 2 bytes, versions 2 and 3 in 4 (3 only changes the
  // header's text encoding to UTF-8, irrelevant for the ASCII keys we read).
  if (major < 1 || major > 3) invalid("unsupported format version " + std::to_string(major) + "." + std::to_string(lead[kMagicBytes + 1]));
  const std::size_t len_bytes = major == 1 ? 2 : 4;
  unsigned char len_le[4] = {0, 0, 0, 0};
  if (!in.read(reinterpret_cast<char*>(len_le), static_cast<std::streamsize>(len_bytes)))
    invalid("the file ends inside the header length");
  uint64_t header_len = len_le[0] | (len_le[1] << 8) | (uint64_t{len_le[2]} << 16) | (uint64_t{len_le[3]} << 24);
  const uint64_t header_start = sizeof lead + len_bytes;
  if (header_start + header_len > file_size)
    invalid("the header length " + std::to_string(header_len) + " runs past the end of the file (" +
            std::to_string(file_size) + " bytes)");
  std::string text(header_len, '\0');
  if (!in.read(text.data(), static_cast<std::streamsize>(header_len))) invalid("the header could not be read");

  NpyHeader h = HeaderDictParser(text, invalid).parse();
  h.data_offset = header_start + header_len;
  if (h.fortran_order) invalid("the array is stored in Fortran order; save it with fortran_order=False (C order)");
  return h;
}

// Returns the element count after checking the file holds exactly that many items.
uint64_t check_payload(const NpyHeader& h, std::size_t item_size, uint64_t file_size, const InvalidNpy& invalid) {
  uint64_t count = 1;
  for (int64_t d : h.shape) {
    if (d != 0 && count > std::numeric_limits<uint64_t>::max() / 16 / static_cast<uint64_t>(d))
      invalid("the shape " + shape_tuple(h.shape) + " is impossibly large");
    count *= static_cast<uint64_t>(d);
  }
  const uint64_t expected = h.data_offset + count * item_size;
  if (file_size < expected)
    invalid("the data is truncated: shape " + shape_tuple(h.shape) + " needs " + std::to_string(expected) +
            " bytes, the file has " + std::to_string(file_size));
  if (file_size > expected)
    invalid(std::to_string(file_size - expected) + " trailing bytes after the data of shape " + shape_tuple(h.shape));
  return count;
}

template <class T>
void read_into(NpyBytes& in, std::vector<int64_t>& out, uint64_t count, const InvalidNpy& invalid) {
  std::vector<T> raw(count);
  if (!in.read(reinterpret_cast<char*>(raw.data()), static_cast<std::streamsize>(count * sizeof(T))))
    invalid("the data could not be read");
  out.assign(raw.begin(), raw.end());
}

}  // namespace

void save_npy_matrix(const fs::path& path, std::span<const float> data, int64_t rows, int64_t cols,
                     AtomicWriteOptions options) {
  if (rows < 0 || cols < 0 || static_cast<uint64_t>(rows) * static_cast<uint64_t>(cols) != data.size())
    throw std::invalid_argument("save_npy_matrix: " + std::to_string(data.size()) + " values for shape (" +
                                std::to_string(rows) + ", " + std::to_string(cols) + ")");
  write_npy(path, "<f4", {rows, cols}, data.data(), data.size_bytes(), options);
}

void save_npy_vector(const fs::path& path, std::span<const int32_t> values, AtomicWriteOptions options) {
  write_vector(path, "<i4", values, options);
}
void save_npy_vector(const fs::path& path, std::span<const int64_t> values, AtomicWriteOptions options) {
  write_vector(path, "<i8", values, options);
}
void save_npy_vector(const fs::path& path, std::span<const uint8_t> values, AtomicWriteOptions options) {
  write_vector(path, "|u1", values, options);
}

NpyMatrix load_npy_matrix(const fs::path& path) {
  const InvalidNpy invalid{path.string()};
  NpyBytes in(path);
  const uint64_t file_size = in.size();
  NpyHeader h = read_header(in, file_size, invalid);
  if (h.descr != "<f4") invalid("dtype '" + h.descr + "' is not float32 ('<f4'); convert with .astype(numpy.float32)");
  if (h.shape.size() != 2) invalid("shape " + shape_tuple(h.shape) + " is not 2-D (samples x features)");
  uint64_t count = check_payload(h, sizeof(float), file_size, invalid);

  NpyMatrix m{h.shape[0], h.shape[1], std::vector<float>(count)};
  if (!in.read(reinterpret_cast<char*>(m.data.data()), static_cast<std::streamsize>(count * sizeof(float))))
    invalid("the data could not be read");
  return m;
}

std::vector<int64_t> load_npy_vector(const fs::path& path) {
  const InvalidNpy invalid{path.string()};
  NpyBytes in(path);
  const uint64_t file_size = in.size();
  NpyHeader h = read_header(in, file_size, invalid);
  std::size_t item_size = 0;
  if (h.descr == "|u1" || h.descr == "<u1") item_size = 1;
  else if (h.descr == "<i4") item_size = 4;
  else if (h.descr == "<i8") item_size = 8;
  else invalid("dtype '" + h.descr + "' is not one of the integer types '|u1', '<i4', '<i8'");
  if (h.shape.size() != 1) invalid("shape " + shape_tuple(h.shape) + " is not 1-D (one label per sample)");
  uint64_t count = check_payload(h, item_size, file_size, invalid);

  std::vector<int64_t> values;
  if (item_size == 1) read_into<uint8_t>(in, values, count, invalid);
  else if (item_size == 4) read_into<int32_t>(in, values, count, invalid);
  else read_into<int64_t>(in, values, count, invalid);
  return values;
}

}  // namespace zs
