// Safetensors writer and validating reader; see safetensors.h for the layout.
#include "runtime/io/safetensors.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <system_error>

#include <nlohmann/json.hpp>

#include "runtime/core/error.h"
#include "runtime/io/input_file.h"

namespace zs {
namespace fs = std::filesystem;

// Tensor data is copied byte for byte, so host order must equal the file's little-endian order.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

namespace {

constexpr const char* kMetadataKey = "__metadata__";
constexpr std::size_t kLengthPrefixBytes = 8;
constexpr std::size_t kHeaderAlignment = 8;

// Element count of a shape, or nullopt-like -1 when a dimension is negative or the product
// overflows (only possible in a corrupt header).
int64_t element_count(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return -1;
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / 4 / d) return -1;
    n *= d;
  }
  return n;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

// Every corruption message has the same shape, so the user always learns file, problem and fix.
struct CorruptCheckpoint {
  std::string file;
  std::string fix;
  [[noreturn]] void operator()(const std::string& problem) const {
    throw UserError("checkpoint " + file + " is corrupt: " + problem + "; " + fix);
  }
};

std::vector<char> read_whole_file(const fs::path& path, std::string_view option_name) {
  // Refuses folders, FIFOs, devices and broken links before reading; reads exactly the file's size.
  InputFile file(path, "checkpoint", "pass a model.safetensors file to " + std::string(option_name));
  return file.read_all();
}

struct TensorEntry {
  std::string name;
  uint64_t begin = 0, end = 0;
};

// Parses one header entry, checking everything that can be checked without its neighbours.
TensorEntry parse_entry(const std::string& name, const nlohmann::json& info, uint64_t data_size,
                        NamedTensor& out, const CorruptCheckpoint& corrupt) {
  const std::string who = "tensor '" + name + "'";
  if (!info.is_object()) corrupt(who + " has a header entry that is not a JSON object");

  auto dtype = info.find("dtype");
  if (dtype == info.end() || !dtype->is_string()) corrupt(who + " has no \"dtype\" string");
  if (*dtype != "F32")
    corrupt(who + " has dtype " + dtype->get<std::string>() + ", but only F32 is supported");

  auto shape = info.find("shape");
  if (shape == info.end() || !shape->is_array()) corrupt(who + " has no \"shape\" array");
  for (const auto& d : *shape) {
    if (!d.is_number_unsigned()) corrupt(who + " has a shape entry that is not a non-negative integer");
    out.shape.push_back(static_cast<int64_t>(std::min<uint64_t>(d.get<uint64_t>(), INT64_MAX)));
  }
  int64_t count = element_count(out.shape);
  if (count < 0) corrupt(who + " has an impossibly large shape " + shape_text(out.shape));

  auto offsets = info.find("data_offsets");
  if (offsets == info.end() || !offsets->is_array() || offsets->size() != 2 ||
      !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned())
    corrupt(who + " has no \"data_offsets\" pair of non-negative integers");
  TensorEntry entry{name, (*offsets)[0].get<uint64_t>(), (*offsets)[1].get<uint64_t>()};
  const std::string range = "[" + std::to_string(entry.begin) + "," + std::to_string(entry.end) + "]";
  if (entry.begin > entry.end) corrupt(who + " has data_offsets " + range + " that end before they begin");
  if (entry.end > data_size)
    corrupt(who + " has data_offsets " + range + " beyond the " + std::to_string(data_size) +
            " bytes of tensor data");
  uint64_t needed = static_cast<uint64_t>(count) * sizeof(float);
  if (entry.end - entry.begin != needed)
    corrupt(who + " has shape " + shape_text(out.shape) + " (" + std::to_string(needed) +
            " bytes of F32) but data_offsets " + range + " span " +
            std::to_string(entry.end - entry.begin) + " bytes");
  return entry;
}

// The tensors must tile the data region exactly: no overlap, no hole, nothing after the last.
void check_tiling(std::vector<TensorEntry> entries, uint64_t data_size,
                  const CorruptCheckpoint& corrupt) {
  std::sort(entries.begin(), entries.end(), [](const TensorEntry& a, const TensorEntry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t covered = 0;
  const TensorEntry* previous = nullptr;
  for (const TensorEntry& e : entries) {
    if (e.begin < covered)
      corrupt("tensors '" + previous->name + "' and '" + e.name + "' overlap in the data");
    if (e.begin > covered)
      corrupt("data bytes [" + std::to_string(covered) + "," + std::to_string(e.begin) +
              ") belong to no tensor");
    covered = e.end;
    previous = &e;
  }
  if (covered < data_size)
    corrupt(std::to_string(data_size - covered) + " trailing bytes after the last tensor");
}

}  // namespace

void save_safetensors(const fs::path& path, const std::map<std::string, NamedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata,
                      AtomicWriteOptions options) {
  // ordered_json keeps insertion order: metadata first, then tensors by name, like the reference.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (name.empty() || name == kMetadataKey)
      throw std::invalid_argument("save_safetensors: invalid tensor name '" + name + "'");
    int64_t count = element_count(tensor.shape);
    if (count < 0 || static_cast<uint64_t>(count) != tensor.data.size())
      throw std::invalid_argument("save_safetensors: tensor '" + name + "' has shape " +
                                  shape_text(tensor.shape) + " but " +
                                  std::to_string(tensor.data.size()) + " elements");
    uint64_t bytes = tensor.data.size() * sizeof(float);
    header[name] = {{"dtype", "F32"}, {"shape", tensor.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string header_text = header.dump();
  header_text.append((kHeaderAlignment - header_text.size() % kHeaderAlignment) % kHeaderAlignment, ' ');

  unsigned char prefix[kLengthPrefixBytes];
  uint64_t header_size = header_text.size();
  for (std::size_t i = 0; i < kLengthPrefixBytes; ++i) prefix[i] = static_cast<unsigned char>(header_size >> (8 * i));

  AtomicFileWriter writer(path, options);
  writer.write(prefix, sizeof prefix);
  writer.write(header_text);
  for (const auto& [name, tensor] : tensors) writer.write(tensor.data.data(), tensor.data.size() * sizeof(float));
  writer.commit();
}

SafetensorsFile load_safetensors(const fs::path& path, std::string_view option_name) {
  const CorruptCheckpoint corrupt{path.string(), "delete it or pass another " + std::string(option_name) + " file"};
  const std::vector<char> bytes = read_whole_file(path, option_name);

  if (bytes.size() < kLengthPrefixBytes)
    corrupt("the file is " + std::to_string(bytes.size()) + " bytes, too short for the 8-byte header length");
  uint64_t header_size = 0;
  for (std::size_t i = 0; i < kLengthPrefixBytes; ++i)
    header_size |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  const uint64_t after_prefix = bytes.size() - kLengthPrefixBytes;
  if (header_size > after_prefix)
    corrupt("the header length " + std::to_string(header_size) + " runs past the end of the file (" +
            std::to_string(bytes.size()) + " bytes)");
  if (header_size == 0) corrupt("the header is empty");

  const char* header_begin = bytes.data() + kLengthPrefixBytes;
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(header_begin, header_begin + header_size);
  } catch (const nlohmann::json::exception& e) {
    // parse_error, and out_of_range for a number too large for a double (e.g. 2e777777). Drop
    // nlohmann's "[json.exception.parse_error.101] " tag; keep the position and reason.
    std::string what = e.what();
    auto tag_end = what.find("] ");
    corrupt("the header is not valid JSON (" + (tag_end == std::string::npos ? what : what.substr(tag_end + 2)) + ")");
  }
  if (!header.is_object()) corrupt("the header is not a JSON object");

  SafetensorsFile result;
  const uint64_t data_size = after_prefix - header_size;
  const char* data = header_begin + header_size;
  std::vector<TensorEntry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == kMetadataKey) {
      if (!value.is_object()) corrupt("\"__metadata__\" is not a JSON object");
      for (const auto& [mkey, mvalue] : value.items()) {
        if (!mvalue.is_string()) corrupt("metadata entry '" + mkey + "' is not a string");
        result.metadata[mkey] = mvalue.get<std::string>();
      }
      continue;
    }
    NamedTensor& tensor = result.tensors[key];
    entries.push_back(parse_entry(key, value, data_size, tensor, corrupt));
  }
  check_tiling(entries, data_size, corrupt);

  for (const TensorEntry& e : entries) {
    NamedTensor& tensor = result.tensors[e.name];
    tensor.data.resize((e.end - e.begin) / sizeof(float));
    if (e.end > e.begin) std::memcpy(tensor.data.data(), data + e.begin, e.end - e.begin);  // Empty: data() may be null.
  }
  return result;
}

}  // namespace zs
