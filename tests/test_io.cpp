// Tests for runtime/io: atomic writes, output folders, safetensors and NPY (round trips, every
// corruption case, and interoperability with Python/numpy when /usr/bin/python3 has numpy).
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "runtime/core/error.h"
#include "runtime/io/atomic_file.h"
#include "runtime/io/npy.h"
#include "runtime/io/safetensors.h"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

// A fresh folder per test, removed afterwards.
struct TempDir {
  fs::path path;
  TempDir() {
    static int serial = 0;
    path = fs::temp_directory_path() /
           ("zs_test_io_" + std::to_string(::getpid()) + "_" + std::to_string(serial++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path operator/(const std::string& name) const { return path / name; }
};

std::vector<char> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string read_text(const fs::path& p) {
  auto b = read_bytes(p);
  return {b.begin(), b.end()};
}

void write_raw(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::vector<std::string> entries_of(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// First differing element, for a readable failure.
std::string first_bit_mismatch(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return "sizes " + std::to_string(a.size()) + " vs " + std::to_string(b.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::bit_cast<uint32_t>(a[i]) != std::bit_cast<uint32_t>(b[i]))
      return "index " + std::to_string(i) + ": " + std::to_string(a[i]) + " vs " + std::to_string(b[i]);
  return "none";
}

const char* const kPython = "/usr/bin/python3";

bool python_has_numpy() {
  static const bool ok = std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
  return ok;
}

// Runs `script` with arguments; returns its combined output, FAILs (with the output) on error.
std::string run_python(const TempDir& dir, const std::string& script, const std::string& args) {
  fs::path script_path = dir / "check.py", log_path = dir / "python.log";
  write_raw(script_path, script);
  std::string cmd = std::string(kPython) + " " + script_path.string() + " " + args + " > " + log_path.string() + " 2>&1";
  int rc = std::system(cmd.c_str());
  std::string log = read_text(log_path);
  INFO("python output:\n" << log);
  REQUIRE(rc == 0);
  return log;
}

// Values with awkward bit patterns: a round trip must keep every bit.
std::vector<float> awkward_floats(std::size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.f, 3.f);
  std::vector<float> v(n);
  for (auto& x : v) x = normal(rng);
  const float specials[] = {-0.0f, std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::max(),
                            std::bit_cast<float>(0x7fc01234u) /* NaN with a payload */};
  for (std::size_t i = 0; i < std::size(specials) && i < n; ++i) v[i * 3 % n] = specials[i];
  return v;
}

}  // namespace

// ====================================================================== atomic files

TEST_CASE("write_text_atomic creates the file and leaves no temporary behind", "[io][atomic]") {
  TempDir dir;
  zs::write_text_atomic(dir / "a.txt", "hello\n");
  CHECK(read_text(dir / "a.txt") == "hello\n");
  CHECK(entries_of(dir.path) == std::vector<std::string>{"a.txt"});

  zs::write_text_atomic(dir / "durable.txt", "x", {.durable = true});
  CHECK(read_text(dir / "durable.txt") == "x");
  CHECK(entries_of(dir.path) == std::vector<std::string>{"a.txt", "durable.txt"});
}

TEST_CASE("atomic write replaces the target by rename, never in place", "[io][atomic]") {
  TempDir dir;
  const fs::path target = dir / "metrics.json";
  zs::write_text_atomic(target, "old contents");
  struct stat before {};
  REQUIRE(::stat(target.c_str(), &before) == 0);
  // A reader that opened the old file keeps seeing complete old contents.
  std::ifstream reader(target, std::ios::binary);

  zs::write_text_atomic(target, "new");
  struct stat after {};
  REQUIRE(::stat(target.c_str(), &after) == 0);
  CHECK(before.st_ino != after.st_ino);  // A new inode: the old file was replaced, not truncated.
  CHECK(read_text(target) == "new");
  std::string old_view((std::istreambuf_iterator<char>(reader)), std::istreambuf_iterator<char>());
  CHECK(old_view == "old contents");
  CHECK(entries_of(dir.path) == std::vector<std::string>{"metrics.json"});
}

TEST_CASE("an uncommitted AtomicFileWriter leaves the old target and no temporary", "[io][atomic]") {
  TempDir dir;
  const fs::path target = dir / "model.bin";
  zs::write_text_atomic(target, "previous");
  {
    zs::AtomicFileWriter writer(target);
    writer.write("partial");
    CHECK(fs::exists(writer.temp_path()));
    CHECK(writer.temp_path().parent_path() == target.parent_path());  // Same folder: rename is atomic.
  }  // Destroyed without commit(), as when an exception unwinds.
  CHECK(read_text(target) == "previous");
  CHECK(entries_of(dir.path) == std::vector<std::string>{"model.bin"});
}

TEST_CASE("AtomicFileWriter rejects use after commit", "[io][atomic]") {
  TempDir dir;
  zs::AtomicFileWriter writer(dir / "f");
  writer.write("abc");
  writer.commit();
  CHECK_THROWS_AS(writer.write("more"), std::logic_error);
  CHECK_THROWS_AS(writer.commit(), std::logic_error);
  CHECK(read_text(dir / "f") == "abc");
}

TEST_CASE("atomic write into a missing folder is a UserError naming the file", "[io][atomic]") {
  TempDir dir;
  const fs::path target = dir / "no_such_folder" / "x.txt";
  CHECK_THROWS_MATCHES(zs::write_text_atomic(target, "x"), zs::UserError,
                       Catch::Matchers::Predicate<zs::UserError>([&](const zs::UserError& e) {
                         std::string m = e.what();
                         return m.find(target.string()) != std::string::npos &&
                                m.find("No such file or directory") != std::string::npos;
                       }, "message names the file and the reason"));
}

TEST_CASE("atomic write onto a folder fails cleanly", "[io][atomic]") {
  TempDir dir;
  fs::create_directories(dir / "taken");
  CHECK_THROWS_WITH(zs::write_text_atomic(dir / "taken", "x"),
                    "cannot write " + (dir / "taken").string() +
                        ": rename failed: Is a directory; check that the path is not a folder and that its folder is writable");
  CHECK(entries_of(dir.path) == std::vector<std::string>{"taken"});
}

TEST_CASE("write_bytes_atomic and write_json_atomic", "[io][atomic]") {
  TempDir dir;
  const std::vector<std::byte> bytes = {std::byte{0}, std::byte{0xff}, std::byte{0x10}};
  zs::write_bytes_atomic(dir / "b.bin", bytes);
  auto back = read_bytes(dir / "b.bin");
  REQUIRE(back.size() == 3);
  CHECK(std::memcmp(back.data(), bytes.data(), 3) == 0);

  nlohmann::json j = {{"loss", {0.5, 0.25}}, {"name", "ae"}};
  zs::write_json_atomic(dir / "m.json", j);
  const std::string text = read_text(dir / "m.json");
  CHECK(text == j.dump(2) + "\n");
  CHECK_THAT(text, Contains("\n  \"loss\": [\n    0.5,"));  // 2-space indentation.
  CHECK(nlohmann::json::parse(text) == j);
}

TEST_CASE("ensure_output_dir creates nested folders and checks writability", "[io][atomic]") {
  TempDir dir;
  const fs::path out = dir / "a" / "b" / "c";
  zs::ensure_output_dir(out);
  CHECK(fs::is_directory(out));
  CHECK(entries_of(out).empty());  // The write probe is cleaned up.
  zs::ensure_output_dir(out);      // Existing folder: fine.

  SECTION("a file where the folder should be") {
    zs::write_text_atomic(dir / "file", "x");
    CHECK_THROWS_WITH(zs::ensure_output_dir(dir / "file"),
                      "--out " + (dir / "file").string() + ": exists and is not a directory; choose a folder path");
  }
  SECTION("a folder below a regular file cannot be created") {
    zs::write_text_atomic(dir / "file", "x");
    CHECK_THROWS_WITH(zs::ensure_output_dir(dir / "file" / "sub", "--out"),
                      "--out " + (dir / "file" / "sub").string() +
                          ": cannot create directory: Not a directory; choose a writable folder");
  }
  SECTION("permission denied (not testable as root)") {
    if (::geteuid() == 0) {
      WARN("skipped: running as root, permissions are not enforced");
    } else {
      fs::create_directories(dir / "locked");
      fs::permissions(dir / "locked", fs::perms::owner_read | fs::perms::owner_exec);
      CHECK_THROWS_WITH(zs::ensure_output_dir(dir / "locked" / "x"),
                        "--out " + (dir / "locked" / "x").string() +
                            ": cannot create directory: Permission denied; choose a writable folder");
      CHECK_THROWS_WITH(zs::ensure_output_dir(dir / "locked"), Contains("cannot write into directory: Permission denied"));
      fs::permissions(dir / "locked", fs::perms::owner_all);
    }
  }
}

// ====================================================================== safetensors

namespace {

std::map<std::string, zs::NamedTensor> sample_tensors() {
  std::map<std::string, zs::NamedTensor> t;
  t["encoder.conv1.weight"] = {{32, 1, 3, 3}, awkward_floats(32 * 9, 1)};
  t["encoder.conv1.bias"] = {{32}, awkward_floats(32, 2)};
  t["dense.weight"] = {{7, 5}, awkward_floats(35, 3)};
  t["empty"] = {{0, 4}, {}};
  t["scalar"] = {{}, {3.5f}};
  return t;
}

const std::map<std::string, std::string> kMetadata = {{"format", "pt"}, {"model", "conv-ae"}, {"note", "µ ünïcode"}};

// A file from a raw header and data, for corruption tests.
std::string safetensors_bytes(const std::string& header, const std::string& data, std::optional<uint64_t> length = {}) {
  uint64_t n = length.value_or(header.size());
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return bytes + header + data;
}

void require_corrupt(const fs::path& file, const std::string& problem) {
  INFO("file " << file << ", expected problem: " << problem);
  try {
    zs::load_safetensors(file);
    FAIL("load_safetensors accepted a corrupt file");
  } catch (const zs::UserError& e) {
    const std::string m = e.what();
    INFO("message: " << m);
    CHECK_THAT(m, Contains("checkpoint " + file.string() + " is corrupt: "));
    CHECK_THAT(m, Contains(problem));
    CHECK_THAT(m, Contains("; delete it or pass another --resume file"));
  }
}

}  // namespace

TEST_CASE("safetensors round trip is bit-exact", "[io][safetensors]") {
  TempDir dir;
  const auto tensors = sample_tensors();
  zs::save_safetensors(dir / "ckpt.safetensors", tensors, kMetadata);
  CHECK(entries_of(dir.path) == std::vector<std::string>{"ckpt.safetensors"});

  const zs::SafetensorsFile back = zs::load_safetensors(dir / "ckpt.safetensors");
  CHECK(back.metadata == kMetadata);
  REQUIRE(back.tensors.size() == tensors.size());
  for (const auto& [name, t] : tensors) {
    INFO("tensor " << name);
    REQUIRE(back.tensors.count(name) == 1);
    CHECK(back.tensors.at(name).shape == t.shape);
    INFO("first mismatch: " << first_bit_mismatch(back.tensors.at(name).data, t.data));
    CHECK(same_bits(back.tensors.at(name).data, t.data));
  }
}

TEST_CASE("safetensors layout follows the reference writer", "[io][safetensors]") {
  TempDir dir;
  zs::save_safetensors(dir / "c.safetensors", sample_tensors(), kMetadata);
  const auto bytes = read_bytes(dir / "c.safetensors");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  REQUIRE(8 + n <= bytes.size());
  CHECK(n % 8 == 0);
  const std::string header(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  CHECK(header.front() == '{');
  CHECK(header.find_last_not_of(' ') == header.rfind('}'));  // Padding is spaces only.
  CHECK(header.rfind("{\"__metadata__\":{", 0) == 0);        // Compact JSON, metadata first.

  // Data stored in name order and contiguous.
  auto h = nlohmann::json::parse(header);
  uint64_t expected_begin = 0;
  for (const auto& name : {"dense.weight", "empty", "encoder.conv1.bias", "encoder.conv1.weight", "scalar"}) {
    INFO("tensor " << name);
    CHECK(h[name]["dtype"] == "F32");
    CHECK(h[name]["data_offsets"][0].get<uint64_t>() == expected_begin);
    expected_begin = h[name]["data_offsets"][1].get<uint64_t>();
  }
  CHECK(8 + n + expected_begin == bytes.size());
  CHECK(h["scalar"]["shape"] == nlohmann::json::array());

  // Without metadata the key is omitted, as in the reference.
  zs::save_safetensors(dir / "nometa.safetensors", {{"w", {{2}, {1.f, 2.f}}}});
  const std::string text = read_text(dir / "nometa.safetensors");
  CHECK(text.find("__metadata__") == std::string::npos);
}

TEST_CASE("save_safetensors rejects inconsistent tensors", "[io][safetensors]") {
  TempDir dir;
  CHECK_THROWS_AS(zs::save_safetensors(dir / "x", {{"w", {{2, 3}, {1.f}}}}), std::invalid_argument);
  CHECK_THROWS_AS(zs::save_safetensors(dir / "x", {{"__metadata__", {{1}, {1.f}}}}), std::invalid_argument);
  CHECK_THROWS_AS(zs::save_safetensors(dir / "x", {{"", {{1}, {1.f}}}}), std::invalid_argument);
  CHECK(entries_of(dir.path).empty());
}

TEST_CASE("safetensors corruption is a UserError naming file and problem", "[io][safetensors]") {
  TempDir dir;
  const fs::path f = dir / "bad.safetensors";
  const std::string four_floats(16, '\x01');
  const std::string tensor_a = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";

  SECTION("file shorter than the length prefix") {
    write_raw(f, "abc");
    require_corrupt(f, "the file is 3 bytes, too short for the 8-byte header length");
  }
  SECTION("header length beyond the file") {
    write_raw(f, safetensors_bytes("{}", "", 1000));
    require_corrupt(f, "the header length 1000 runs past the end of the file (10 bytes)");
  }
  SECTION("huge header length does not allocate or crash") {
    write_raw(f, safetensors_bytes("{}", "", std::numeric_limits<uint64_t>::max()));
    require_corrupt(f, "runs past the end of the file");
  }
  SECTION("empty header") {
    write_raw(f, safetensors_bytes("", ""));
    require_corrupt(f, "the header is empty");
  }
  SECTION("bad JSON") {
    write_raw(f, safetensors_bytes(R"({"a":{"dtype":"F32",)", four_floats));
    require_corrupt(f, "the header is not valid JSON (parse error at");
  }
  SECTION("a number too large for a double (found by the fuzzer)") {
    write_raw(f, safetensors_bytes(R"({"a":2e777777})", ""));
    require_corrupt(f, "the header is not valid JSON (");
  }
  SECTION("header not an object") {
    write_raw(f, safetensors_bytes("[1,2,3] ", ""));
    require_corrupt(f, "the header is not a JSON object");
  }
  SECTION("unsupported dtype") {
    write_raw(f, safetensors_bytes(R"({"a":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}})", std::string(8, '\0')));
    require_corrupt(f, "tensor 'a' has dtype F16, but only F32 is supported");
  }
  SECTION("unknown dtype") {
    write_raw(f, safetensors_bytes(R"({"a":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0')));
    require_corrupt(f, "tensor 'a' has dtype Q7, but only F32 is supported");
  }
  SECTION("missing dtype") {
    write_raw(f, safetensors_bytes(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0')));
    require_corrupt(f, "tensor 'a' has no \"dtype\" string");
  }
  SECTION("negative shape") {
    write_raw(f, safetensors_bytes(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", std::string(8, '\0')));
    require_corrupt(f, "tensor 'a' has a shape entry that is not a non-negative integer");
  }
  SECTION("shape does not match the offsets") {
    write_raw(f, safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,16]}})", four_floats));
    require_corrupt(f, "tensor 'a' has shape [2,3] (24 bytes of F32) but data_offsets [0,16] span 16 bytes");
  }
  SECTION("overflowing shape") {
    write_raw(f, safetensors_bytes(
                     R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}})", four_floats));
    require_corrupt(f, "tensor 'a' has an impossibly large shape");
  }
  SECTION("offsets out of range") {
    write_raw(f, safetensors_bytes(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})", four_floats));
    require_corrupt(f, "tensor 'a' has data_offsets [8,24] beyond the 16 bytes of tensor data");
  }
  SECTION("offsets reversed") {
    write_raw(f, safetensors_bytes(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", four_floats));
    require_corrupt(f, "tensor 'a' has data_offsets [8,0] that end before they begin");
  }
  SECTION("malformed offsets") {
    write_raw(f, safetensors_bytes(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0]}})", four_floats));
    require_corrupt(f, "tensor 'a' has no \"data_offsets\" pair of non-negative integers");
  }
  SECTION("overlapping tensors") {
    write_raw(f, safetensors_bytes("{" + tensor_a + R"(,"b":{"dtype":"F32","shape":[3],"data_offsets":[4,16]}})",
                                   four_floats));
    require_corrupt(f, "tensors 'a' and 'b' overlap in the data");
  }
  SECTION("a hole between tensors") {
    write_raw(f, safetensors_bytes("{" + tensor_a + R"(,"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}})",
                                   four_floats));
    require_corrupt(f, "data bytes [8,12) belong to no tensor");
  }
  SECTION("trailing bytes") {
    write_raw(f, safetensors_bytes("{" + tensor_a + "}", four_floats));
    require_corrupt(f, "8 trailing bytes after the last tensor");
  }
  SECTION("metadata value not a string") {
    write_raw(f, safetensors_bytes(R"({"__metadata__":{"epoch":3},)" + tensor_a + "}", std::string(8, '\0')));
    require_corrupt(f, "metadata entry 'epoch' is not a string");
  }
  SECTION("tensor entry not an object") {
    write_raw(f, safetensors_bytes(R"({"a":[1,2]})", ""));
    require_corrupt(f, "tensor 'a' has a header entry that is not a JSON object");
  }
}

TEST_CASE("missing checkpoint is a UserError pointing at the option", "[io][safetensors]") {
  TempDir dir;
  CHECK_THROWS_WITH(zs::load_safetensors(dir / "nope.safetensors"),
                    "checkpoint " + (dir / "nope.safetensors").string() +
                        ": no such file; pass a model.safetensors file to --resume");
}

TEST_CASE("every truncation and byte flip of a checkpoint is handled cleanly", "[io][safetensors]") {
  TempDir dir;
  const fs::path good = dir / "good.safetensors", cut = dir / "cut.safetensors";
  zs::save_safetensors(good, {{"w", {{3, 2}, awkward_floats(6, 4)}}, {"b", {{2}, {1.f, 2.f}}}}, {{"k", "v"}});
  const auto bytes = read_bytes(good);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    write_raw(cut, std::string(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n)));
    INFO("truncated to " << n << " of " << bytes.size() << " bytes");
    CHECK_THROWS_AS(zs::load_safetensors(cut), zs::UserError);
  }
  // Flipping any single header byte must either load (e.g. a changed metadata letter) or fail
  // with a UserError: never crash, never another exception type.
  uint64_t header_end = 8;
  for (int i = 0; i < 8; ++i) header_end += static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  int rejected = 0;
  for (std::size_t i = 0; i < header_end; ++i) {
    std::string flipped(bytes.begin(), bytes.end());
    flipped[i] = static_cast<char>(flipped[i] ^ 0x5a);
    write_raw(cut, flipped);
    INFO("byte " << i << " flipped");
    try {
      zs::load_safetensors(cut);
    } catch (const zs::UserError&) {
      ++rejected;
    }
  }
  CHECK(rejected > static_cast<int>(header_end) / 2);
}

TEST_CASE("safetensors files interoperate with a Python reader and writer", "[io][safetensors][python]") {
  if (!python_has_numpy()) {
    WARN("skipped: /usr/bin/python3 with numpy not available");
    return;
  }
  TempDir dir;
  const auto tensors = sample_tensors();
  zs::save_safetensors(dir / "ours.safetensors", tensors, kMetadata);
  // The `safetensors` module is not installed here, so the script implements the published
  // format with struct + json + numpy: it checks our file strictly, then writes every tensor
  // back under "copy.<name>" in the reference writer's layout, for us to read.
  const std::string script = R"PY(
import json, struct, sys
import numpy as np
src, dst = sys.argv[1], sys.argv[2]
raw = open(src, 'rb').read()
(n,) = struct.unpack('<Q', raw[:8])
assert (8 + n) % 8 == 0, 'header not padded to a multiple of 8'
header = json.loads(raw[8:8 + n].decode('utf-8'))
meta = header.pop('__metadata__', {})
assert meta == {'format': 'pt', 'model': 'conv-ae', 'note': 'µ ünïcode'}, meta
data = raw[8 + n:]
offset, tensors = 0, {}
for name in sorted(header):
    info = header[name]
    assert info['dtype'] == 'F32', info
    begin, end = info['data_offsets']
    assert begin == offset, (name, begin, offset)
    arr = np.frombuffer(data[begin:end], dtype='<f4').reshape(info['shape'])
    tensors['copy.' + name] = arr
    offset = end
assert offset == len(data), 'trailing bytes'
assert tensors['copy.scalar'].shape == () and tensors['copy.scalar'] == np.float32(3.5)
assert tensors['copy.encoder.conv1.weight'].shape == (32, 1, 3, 3)
assert tensors['copy.empty'].shape == (0, 4)

out = {'__metadata__': dict(meta, writer='python')}
blobs, offset = [], 0
for name in sorted(tensors):
    blob = np.ascontiguousarray(tensors[name], dtype='<f4').tobytes()
    out[name] = {'dtype': 'F32', 'shape': list(tensors[name].shape), 'data_offsets': [offset, offset + len(blob)]}
    blobs.append(blob)
    offset += len(blob)
h = json.dumps(out, separators=(',', ':')).encode('utf-8')
h += b' ' * ((8 - len(h) % 8) % 8)
open(dst, 'wb').write(struct.pack('<Q', len(h)) + h + b''.join(blobs))
print('ok', len(tensors), 'tensors')
)PY";
  run_python(dir, script, (dir / "ours.safetensors").string() + " " + (dir / "theirs.safetensors").string());

  const auto back = zs::load_safetensors(dir / "theirs.safetensors");
  CHECK(back.metadata.at("writer") == "python");
  CHECK(back.metadata.at("note") == kMetadata.at("note"));
  REQUIRE(back.tensors.size() == tensors.size());
  for (const auto& [name, t] : tensors) {
    INFO("tensor copy." << name);
    const auto& copy = back.tensors.at("copy." + name);
    CHECK(copy.shape == t.shape);
    INFO("first mismatch: " << first_bit_mismatch(copy.data, t.data));
    CHECK(same_bits(copy.data, t.data));
  }
}

// ====================================================================== NPY

namespace {

// Exactly representable values, so Python can recompute them independently.
std::vector<float> npy_matrix_values(int rows, int cols) {
  std::vector<float> m(static_cast<std::size_t>(rows) * cols);
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) m[static_cast<std::size_t>(i) * cols + j] = static_cast<float>(i * 7 - j * 3) / 8.f;
  return m;
}

void require_invalid_npy(const fs::path& file, const std::string& problem, bool matrix = true) {
  INFO("file " << file << ", expected problem: " << problem);
  try {
    if (matrix) zs::load_npy_matrix(file);
    else zs::load_npy_vector(file);
    FAIL("the NPY reader accepted an invalid file");
  } catch (const zs::UserError& e) {
    const std::string m = e.what();
    INFO("message: " << m);
    CHECK_THAT(m, Contains("NPY file " + file.string() + " is invalid: "));
    CHECK_THAT(m, Contains(problem));
    CHECK_THAT(m, Contains("; regenerate it or pass another file"));
  }
}

// A v1.0 file from a raw header dict and payload.
std::string npy_bytes(const std::string& dict, const std::string& payload, char major = 1) {
  std::string header = dict + "\n";
  std::string lead = std::string("\x93NUMPY", 6) + major + '\0';
  lead += static_cast<char>(header.size() & 0xff);
  lead += static_cast<char>(header.size() >> 8);
  return lead + header + payload;
}

}  // namespace

TEST_CASE("NPY round trip of float32 matrices and integer vectors", "[io][npy]") {
  TempDir dir;
  const auto m = awkward_floats(5 * 3, 9);
  zs::save_npy_matrix(dir / "m.npy", m, 5, 3);
  const zs::NpyMatrix back = zs::load_npy_matrix(dir / "m.npy");
  CHECK(back.rows == 5);
  CHECK(back.cols == 3);
  INFO("first mismatch: " << first_bit_mismatch(back.data, m));
  CHECK(same_bits(back.data, m));

  const std::vector<int32_t> i32 = {0, -1, 2147483647, -2147483647 - 1, 9};
  const std::vector<int64_t> i64 = {int64_t{1} << 40, -5, 0};
  const std::vector<uint8_t> u8 = {0, 255, 7};
  zs::save_npy_vector(dir / "i32.npy", i32);
  zs::save_npy_vector(dir / "i64.npy", i64);
  zs::save_npy_vector(dir / "u8.npy", u8);
  CHECK(zs::load_npy_vector(dir / "i32.npy") == std::vector<int64_t>(i32.begin(), i32.end()));
  CHECK(zs::load_npy_vector(dir / "i64.npy") == i64);
  CHECK(zs::load_npy_vector(dir / "u8.npy") == std::vector<int64_t>(u8.begin(), u8.end()));

  zs::save_npy_matrix(dir / "empty.npy", {}, 0, 784);
  CHECK(zs::load_npy_matrix(dir / "empty.npy").cols == 784);
  CHECK(entries_of(dir.path).size() == 5);  // No temporaries left.
  CHECK_THROWS_AS(zs::save_npy_matrix(dir / "bad.npy", m, 4, 3), std::invalid_argument);
}

TEST_CASE("NPY header matches numpy's own layout", "[io][npy]") {
  TempDir dir;
  zs::save_npy_matrix(dir / "m.npy", npy_matrix_values(4, 3), 4, 3);
  zs::save_npy_vector(dir / "v.npy", std::vector<uint8_t>{1, 2, 3});
  const std::string m = read_text(dir / "m.npy"), v = read_text(dir / "v.npy");
  CHECK(m.substr(0, 8) == std::string("\x93NUMPY\x01\x00", 8));
  const std::size_t header_len = static_cast<unsigned char>(m[8]) | (static_cast<unsigned char>(m[9]) << 8);
  CHECK((10 + header_len) % 64 == 0);
  CHECK(m[10 + header_len - 1] == '\n');
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), }";
  CHECK(m.substr(10, dict.size()) == dict);
  CHECK(m.substr(10 + dict.size(), header_len - dict.size() - 1).find_first_not_of(' ') == std::string::npos);
  CHECK(m.size() == 10 + header_len + 4 * 3 * 4);
  CHECK_THAT(v, Contains("{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }"));
}

TEST_CASE("invalid NPY files are UserErrors naming file and problem", "[io][npy]") {
  TempDir dir;
  const fs::path f = dir / "bad.npy";
  const std::string dict_f4 = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }";
  const std::string four_floats(16, '\0');

  SECTION("too short") {
    write_raw(f, "\x93NU");
    require_invalid_npy(f, "the file is 3 bytes, too short for an NPY preamble");
  }
  SECTION("bad magic") {
    write_raw(f, "PK\x03\x04 this is a zip file");
    require_invalid_npy(f, "it does not start with the NPY magic");
  }
  SECTION("unsupported version") {
    write_raw(f, npy_bytes(dict_f4, four_floats, 9));
    require_invalid_npy(f, "unsupported format version 9.0");
  }
  SECTION("header length beyond the file") {
    std::string bytes = npy_bytes(dict_f4, "");
    bytes[8] = '\xff', bytes[9] = '\x7f';
    write_raw(f, bytes);
    require_invalid_npy(f, "the header length 32767 runs past the end of the file");
  }
  SECTION("header is not a dict") {
    write_raw(f, npy_bytes("[1, 2, 3]", four_floats));
    require_invalid_npy(f, "the header dict is malformed");
  }
  SECTION("header has an unknown key") {
    write_raw(f, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), 'x': 1}", four_floats));
    require_invalid_npy(f, "the header has an unexpected key 'x'");
  }
  SECTION("header lacks a key") {
    write_raw(f, npy_bytes("{'descr': '<f4', 'shape': (2, 2)}", four_floats));
    require_invalid_npy(f, "the header lacks one of 'descr', 'fortran_order', 'shape'");
  }
  SECTION("wrong dtype for a matrix") {
    write_raw(f, npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 1), }", four_floats));
    require_invalid_npy(f, "dtype '<f8' is not float32 ('<f4')");
  }
  SECTION("wrong dtype for labels") {
    write_raw(f, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", four_floats));
    require_invalid_npy(f, "dtype '<f4' is not one of the integer types", false);
  }
  SECTION("Fortran order") {
    write_raw(f, npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", four_floats));
    require_invalid_npy(f, "the array is stored in Fortran order");
  }
  SECTION("wrong rank") {
    write_raw(f, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", four_floats));
    require_invalid_npy(f, "shape (4,) is not 2-D");
    write_raw(f, npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2), }", four_floats));
    require_invalid_npy(f, "shape (2, 2) is not 1-D", false);
  }
  SECTION("bad shape") {
    write_raw(f, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 2), }", four_floats));
    require_invalid_npy(f, "the shape is not a tuple of non-negative integers");
  }
  SECTION("truncated data") {
    write_raw(f, npy_bytes(dict_f4, four_floats.substr(0, 12)));
    require_invalid_npy(f, "the data is truncated: shape (2, 2) needs");
  }
  SECTION("trailing bytes") {
    write_raw(f, npy_bytes(dict_f4, four_floats + "xyz"));
    require_invalid_npy(f, "3 trailing bytes after the data of shape (2, 2)");
  }
  SECTION("every truncation of a valid file") {
    zs::save_npy_matrix(dir / "good.npy", npy_matrix_values(3, 2), 3, 2);
    const std::string good = read_text(dir / "good.npy");
    for (std::size_t n = 0; n < good.size(); ++n) {
      write_raw(f, good.substr(0, n));
      INFO("truncated to " << n << " bytes");
      CHECK_THROWS_AS(zs::load_npy_matrix(f), zs::UserError);
    }
  }
  SECTION("missing file") {
    CHECK_THROWS_WITH(zs::load_npy_matrix(dir / "none.npy"),
                      "NPY file " + (dir / "none.npy").string() + ": no such file; check the path or pass another file");
  }
}

TEST_CASE("NPY files interoperate with numpy.load and numpy.save", "[io][npy][python]") {
  if (!python_has_numpy()) {
    WARN("skipped: /usr/bin/python3 with numpy not available");
    return;
  }
  TempDir dir;
  const int rows = 37, cols = 5;
  zs::save_npy_matrix(dir / "matrix.npy", npy_matrix_values(rows, cols), rows, cols);
  std::vector<uint8_t> u8(rows);
  std::vector<int32_t> i32(rows);
  std::vector<int64_t> i64(rows);
  for (int i = 0; i < rows; ++i) {
    u8[i] = static_cast<uint8_t>(i % 10);
    i32[i] = i * 1000 - 5;
    i64[i] = i * (int64_t{1} << 40) - 7;
  }
  zs::save_npy_vector(dir / "u8.npy", u8);
  zs::save_npy_vector(dir / "i32.npy", i32);
  zs::save_npy_vector(dir / "i64.npy", i64);

  // numpy loads ours and checks every value, then saves its own files for us to read.
  const std::string script = R"PY(
import sys
import numpy as np
d = sys.argv[1]
rows, cols = 37, 5
i = np.arange(rows).reshape(-1, 1); j = np.arange(cols).reshape(1, -1)
m = np.load(d + '/matrix.npy')
assert m.dtype == np.float32 and m.shape == (rows, cols), (m.dtype, m.shape)
assert np.array_equal(m, ((i * 7 - j * 3) / 8).astype(np.float32))
r = np.arange(rows)
for name, dtype, want in [('u8', np.uint8, r % 10), ('i32', np.int32, r * 1000 - 5), ('i64', np.int64, r * 2**40 - 7)]:
    a = np.load(d + '/' + name + '.npy')
    assert a.dtype == dtype and a.shape == (rows,), (name, a.dtype, a.shape)
    assert np.array_equal(a, want), name
np.save(d + '/np_matrix.npy', m * 2)
np.save(d + '/np_labels_i8.npy', (r * 2**40 - 7).astype(np.int64))
np.save(d + '/np_labels_u8.npy', (r % 10).astype(np.uint8))
np.save(d + '/np_labels_i4.npy', (r * 1000 - 5).astype(np.int32))
np.save(d + '/np_fortran.npy', np.asfortranarray(m))
np.save(d + '/np_float64.npy', m.astype(np.float64))
print('ok')
)PY";
  run_python(dir, script, dir.path.string());

  const zs::NpyMatrix m2 = zs::load_npy_matrix(dir / "np_matrix.npy");
  REQUIRE(m2.rows == rows);
  REQUIRE(m2.cols == cols);
  auto expected = npy_matrix_values(rows, cols);
  for (auto& v : expected) v *= 2;
  INFO("first mismatch: " << first_bit_mismatch(m2.data, expected));
  CHECK(same_bits(m2.data, expected));
  CHECK(zs::load_npy_vector(dir / "np_labels_i8.npy") == i64);
  CHECK(zs::load_npy_vector(dir / "np_labels_u8.npy") == std::vector<int64_t>(u8.begin(), u8.end()));
  CHECK(zs::load_npy_vector(dir / "np_labels_i4.npy") == std::vector<int64_t>(i32.begin(), i32.end()));
  require_invalid_npy(dir / "np_fortran.npy", "the array is stored in Fortran order");
  require_invalid_npy(dir / "np_float64.npy", "dtype '<f8' is not float32");
}

// Issue 16: every reader goes through one gate (runtime/io/input_file.h) that refuses what is not a
// regular file BEFORE reading, naming what it really is (before: "Is a directory" from deep inside a
// stream as an internal error, a FIFO blocking forever, a device read without end).
TEST_CASE("readers refuse folders, FIFOs, devices, symlink loops and dangling links by name", "[io][reliability]") {
  TempDir dir;
  const fs::path folder = dir / "folder", fifo = dir / "fifo", loop = dir / "loop", dangling = dir / "dangling";
  fs::create_directory(folder);
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  fs::create_symlink("loop", loop);
  fs::create_symlink("/nonexistent/zs-target", dangling);
  const std::vector<std::pair<fs::path, std::string>> cases = {
      {folder, "is a folder"}, {fifo, "is a FIFO"}, {"/dev/zero", "is a device"},
      {loop, "is a symlink loop"}, {dangling, "is a dangling symlink"}, {dir / "absent", "no such file"}};
  for (const auto& [path, what] : cases) {
    INFO(path);
    for (auto load : {+[](const fs::path& p) { (void)zs::load_safetensors(p); },
                      +[](const fs::path& p) { (void)zs::load_npy_matrix(p); },
                      +[](const fs::path& p) { (void)zs::load_npy_vector(p); }}) {
      try {
        load(path);
        FAIL("no error");
      } catch (const zs::UserError& e) {
        const std::string msg = e.what();
        CHECK_THAT(msg, Catch::Contains(path.string() + ": " + what));
      }
    }
  }
}

TEST_CASE("remove_stale_temporaries removes other processes' temporaries only", "[io][reliability]") {
  TempDir dir;
  for (const char* name : {".model.safetensors.tmp-999999999-0", ".metrics.json.tmp-1-12", "keep.tmp-5-1",
                           ".notes.tmp-abc-1", ".x.tmp-7-", "metrics.json"})
    std::ofstream(dir / name) << "x";
  const std::string mine = ".loss.csv.tmp-" + std::to_string(::getpid()) + "-0";
  std::ofstream(dir / mine) << "x";
  auto removed = zs::remove_stale_temporaries(dir.path);
  std::sort(removed.begin(), removed.end());
  CHECK(removed == std::vector<std::string>{".metrics.json.tmp-1-12", ".model.safetensors.tmp-999999999-0"});
  for (const char* kept : {"keep.tmp-5-1", ".notes.tmp-abc-1", ".x.tmp-7-", "metrics.json"}) CHECK(fs::exists(dir / kept));
  CHECK(fs::exists(dir / mine));
}
