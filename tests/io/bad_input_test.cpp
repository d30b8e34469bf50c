// Malformed files: truncated, oversized headers, wrong offsets and random bytes. Every one must be
// rejected with a tunekit::Error whose message names the file (never a crash, a hang or another
// exception type). Run under -DTUNEKIT_SANITIZE=ON to also catch out-of-bounds reads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>

#include <sys/stat.h>

#include "test_paths.h"
#include "tunekit/error.h"
#include "tunekit/io/atomic_file.h"
#include "tunekit/io/gguf.h"
#include "tunekit/io/llama2c.h"
#include "tunekit/io/safetensors.h"

using namespace tunekit;

namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

template <class T>
void put(std::string& s, size_t at, T v) {
  std::memcpy(s.data() + at, &v, sizeof(T));
}

enum class Outcome { Ok, Error };

// Parses bytes as kind ("gguf", "st" or "l2c"); returns Ok or Error, failing the test when an
// Error's message lacks the file name or anything other than Error is thrown.
Outcome parse(const std::string& kind, const std::string& bytes, const std::string& name) {
  auto file = MappedFile::from_bytes(name, bytes.data(), bytes.size());
  try {
    if (kind == "gguf") {
      GgufFile g = GgufFile::from_file(file);
      for (const auto& t : g.tensor_names()) (void)g.tensor(t).nbytes();
    } else if (kind == "st") {
      TensorFile f = parse_safetensors(file);
    } else {
      Llama2cCheckpoint c = parse_llama2c(file);
    }
    return Outcome::Ok;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << "message lacks the file name: " << e.what();
    return Outcome::Error;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "non-Error exception for " << name << ": " << e.what();
    return Outcome::Error;
  }
}

// A valid GGUF with metadata of several types and tensors; the last tensor ends the file exactly.
std::string valid_gguf(const std::filesystem::path& dir) {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.block_count", 1);
  w.set_f32("llama.rope.freq_base", 10000.0f);
  w.set_string_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "a"});
  w.set_i32_array("tokenizer.ggml.token_type", {2, 3, 1});
  w.set_bool("tokenizer.ggml.add_bos_token", true);
  Tensor a = Tensor::zeros(DType::F16, {2, 3});
  Tensor q = Tensor::zeros(DType::Q8_0, {1, 32});
  Tensor f = Tensor::zeros(DType::F32, {8});  // 32 bytes: no padding after it
  w.add_tensor("a", a);
  w.add_tensor("q", q);
  w.add_tensor("f", f);
  w.write(dir / "valid.gguf");
  return slurp(dir / "valid.gguf");
}

std::string valid_st(const std::filesystem::path& dir) {
  write_safetensors(dir / "valid.safetensors",
                    {{"a", Tensor::zeros(DType::F32, {2, 2})}, {"b", Tensor::zeros(DType::BF16, {3})},
                     {"c", Tensor::zeros(DType::I32, {2})}},
                    {{"format", "pt"}});
  return slurp(dir / "valid.safetensors");
}

std::string st_with_header(const std::string& header, size_t data_bytes) {
  std::string out(8, '\0');
  put<uint64_t>(out, 0, header.size());
  return out + header + std::string(data_bytes, '\0');
}

// Writes bytes to dir/name and checks that opening it from disk throws an Error naming it.
void expect_file_error(const std::string& kind, const std::filesystem::path& dir, const std::string& name,
                       const std::string& bytes) {
  SCOPED_TRACE(name);
  write_file_atomic(dir / name, bytes);
  try {
    if (kind == "gguf") GgufFile::open(dir / name);
    else if (kind == "st") read_safetensors(dir / name);
    else read_llama2c(dir / name);
    ADD_FAILURE() << name << " was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
  }
}

}  // namespace

TEST(BadInput, TruncatedGgufAtEveryLength) {
  auto dir = test::temp_dir("bad_gguf_trunc");
  std::string good = valid_gguf(dir);
  ASSERT_EQ(parse("gguf", good, "valid.gguf"), Outcome::Ok);
  for (size_t n = 0; n < good.size(); ++n)
    EXPECT_EQ(parse("gguf", good.substr(0, n), "trunc.gguf"), Outcome::Error) << "prefix of " << n << " bytes";
  expect_file_error("gguf", dir, "truncated.gguf", good.substr(0, good.size() - 1));
  expect_file_error("gguf", dir, "empty.gguf", "");
}

TEST(BadInput, TruncatedSafetensorsAtEveryLength) {
  auto dir = test::temp_dir("bad_st_trunc");
  std::string good = valid_st(dir);
  ASSERT_EQ(parse("st", good, "valid.safetensors"), Outcome::Ok);
  for (size_t n = 0; n < good.size(); ++n)
    EXPECT_EQ(parse("st", good.substr(0, n), "trunc.safetensors"), Outcome::Error) << "prefix of " << n << " bytes";
  expect_file_error("st", dir, "truncated.safetensors", good.substr(0, good.size() - 3));
  expect_file_error("st", dir, "empty.safetensors", "");
}

TEST(BadInput, OversizedGgufCounts) {
  auto dir = test::temp_dir("bad_gguf_size");
  std::string good = valid_gguf(dir);
  std::string s = good;
  put<uint64_t>(s, 8, uint64_t(1) << 60);  // tensor count
  expect_file_error("gguf", dir, "many_tensors.gguf", s);
  s = good;
  put<uint64_t>(s, 16, ~uint64_t(0));  // metadata count
  expect_file_error("gguf", dir, "many_kv.gguf", s);
  s = good;
  put<uint64_t>(s, 24, uint64_t(1) << 62);  // first key's length
  expect_file_error("gguf", dir, "long_key.gguf", s);
  s = good;
  put<uint32_t>(s, 4, 1);
  expect_file_error("gguf", dir, "version1.gguf", s);
  s = good;
  put<uint32_t>(s, 4, 0x03000000);
  expect_file_error("gguf", dir, "bigendian.gguf", s);
  s = good;
  s[0] = 'X';
  expect_file_error("gguf", dir, "magic.gguf", s);

  // An array claiming 2^40 strings; a string claiming more bytes than the file has.
  GgufWriter w;
  w.set_string_array("k", {"x"});
  w.write(dir / "arr.gguf");
  std::string arr = slurp(dir / "arr.gguf");
  size_t count_at = 24 + 8 + 1 + 4 + 4;  // header, key "k", type, element type
  put<uint64_t>(arr, count_at, uint64_t(1) << 40);
  expect_file_error("gguf", dir, "long_array.gguf", arr);
  arr = slurp(dir / "arr.gguf");
  put<uint64_t>(arr, count_at + 8, uint64_t(1) << 40);
  expect_file_error("gguf", dir, "long_string.gguf", arr);
  arr = slurp(dir / "arr.gguf");
  put<uint32_t>(arr, count_at - 4, 9);  // array of arrays
  expect_file_error("gguf", dir, "nested.gguf", arr);
  arr = slurp(dir / "arr.gguf");
  put<uint32_t>(arr, count_at - 8, 13);  // unknown value type
  expect_file_error("gguf", dir, "badtype.gguf", arr);
}

TEST(BadInput, WrongGgufTensorInfo) {
  auto dir = test::temp_dir("bad_gguf_offsets");
  std::string good = valid_gguf(dir);
  GgufFile g = GgufFile::from_file(MappedFile::from_bytes("valid.gguf", good.data(), good.size()));
  // Locate tensor "f"'s info: name length 1, "f", n_dims, ne[0], type, offset (the last info).
  size_t info = good.rfind(std::string("\x01\0\0\0\0\0\0\0f", 9));
  ASSERT_NE(info, std::string::npos);
  size_t n_dims_at = info + 9, ne_at = n_dims_at + 4, type_at = ne_at + 8, offset_at = type_at + 4;
  uint64_t offset;
  std::memcpy(&offset, good.data() + offset_at, 8);
  std::string s = good;
  put<uint64_t>(s, offset_at, offset + 4);
  expect_file_error("gguf", dir, "unaligned.gguf", s);
  put<uint64_t>(s, offset_at, offset + 32);
  expect_file_error("gguf", dir, "past_end.gguf", s);
  put<uint64_t>(s, offset_at, ~uint64_t(0) - 31);
  expect_file_error("gguf", dir, "huge_offset.gguf", s);
  put<uint64_t>(s, offset_at, 0);
  expect_file_error("gguf", dir, "overlap.gguf", s);
  s = good;
  put<uint32_t>(s, n_dims_at, 5);
  expect_file_error("gguf", dir, "five_dims.gguf", s);
  s = good;
  put<uint64_t>(s, ne_at, ~uint64_t(0));
  expect_file_error("gguf", dir, "negative_dim.gguf", s);
  s = good;
  put<uint64_t>(s, ne_at, uint64_t(1) << 62);
  expect_file_error("gguf", dir, "huge_dim.gguf", s);
  s = good;
  put<uint32_t>(s, type_at, 3);  // Q4_1: not supported
  expect_file_error("gguf", dir, "q4_1.gguf", s);
  s = good;
  put<uint32_t>(s, type_at, 8);  // Q8_0 with 8 values per row
  expect_file_error("gguf", dir, "partial_block.gguf", s);
  s = good;
  s[info + 8] = 'a';  // duplicate tensor name
  expect_file_error("gguf", dir, "dup.gguf", s);

  // general.alignment of the wrong type, not a power of two, or over 1 MiB.
  GgufWriter w;
  w.set_u32("general.alignment", 32);
  w.add_tensor("t", Tensor::zeros(DType::F32, {8}));
  w.write(dir / "align.gguf");
  std::string al = slurp(dir / "align.gguf");
  size_t value_at = 24 + 8 + std::strlen("general.alignment") + 4;
  put<uint32_t>(al, value_at, 24);
  expect_file_error("gguf", dir, "align24.gguf", al);
  put<uint32_t>(al, value_at, 0);
  expect_file_error("gguf", dir, "align0.gguf", al);
  put<uint32_t>(al, value_at, uint32_t(1) << 30);  // a power of two, but a gigabyte of padding (a fuzzer's find)
  expect_file_error("gguf", dir, "align1g.gguf", al);
  put<uint32_t>(al, value_at - 4, 5);  // typed i32
  put<uint32_t>(al, value_at, 32);
  expect_file_error("gguf", dir, "align_i32.gguf", al);
}

TEST(BadInput, SafetensorsHeaders) {
  auto dir = test::temp_dir("bad_st_header");
  std::string good = valid_st(dir);
  std::string s = good;
  put<uint64_t>(s, 0, 100'000'001);
  expect_file_error("st", dir, "huge_header.safetensors", s);
  put<uint64_t>(s, 0, ~uint64_t(0));
  expect_file_error("st", dir, "max_header.safetensors", s);
  put<uint64_t>(s, 0, good.size() - 7);
  expect_file_error("st", dir, "past_end.safetensors", s);
  put<uint64_t>(s, 0, 0);
  expect_file_error("st", dir, "zero_header.safetensors", s);
  expect_file_error("st", dir, "not_json.safetensors", st_with_header("{\"a\": [1, 2", 0));
  expect_file_error("st", dir, "array.safetensors", st_with_header("[1, 2]", 0));
  expect_file_error("st", dir, "nul.safetensors", st_with_header(std::string("{\"a\"\0}", 6), 0));
  expect_file_error("st", dir, "meta_type.safetensors", st_with_header(R"({"__metadata__": {"a": 1}})", 0));
  expect_file_error("st", dir, "entry_type.safetensors", st_with_header(R"({"a": 5})", 0));
  expect_file_error("st", dir, "empty_name.safetensors",
                    st_with_header(R"({"": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", 4));
  expect_file_error("st", dir, "no_dtype.safetensors", st_with_header(R"({"a": {"shape": [1], "data_offsets": [0, 4]}})", 4));
  expect_file_error("st", dir, "dtype.safetensors",
                    st_with_header(R"({"a": {"dtype": "Q4", "shape": [1], "data_offsets": [0, 4]}})", 4));
  expect_file_error("st", dir, "neg_shape.safetensors",
                    st_with_header(R"({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", 4));
  expect_file_error("st", dir, "float_shape.safetensors",
                    st_with_header(R"({"a": {"dtype": "F32", "shape": [1.0], "data_offsets": [0, 4]}})", 4));
  expect_file_error("st", dir, "overflow.safetensors",
                    st_with_header(R"({"a": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 0]}})", 4));
  expect_file_error("st", dir, "three_offsets.safetensors",
                    st_with_header(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4, 8]}})", 8));
}

TEST(BadInput, SafetensorsOffsets) {
  auto dir = test::temp_dir("bad_st_offsets");
  auto entry = [](const char* name, const char* dtype, const char* shape, uint64_t b, uint64_t e) {
    std::ostringstream out;
    out << '"' << name << "\": {\"dtype\": \"" << dtype << "\", \"shape\": " << shape << ", \"data_offsets\": [" << b
        << ", " << e << "]}";
    return out.str();
  };
  auto obj = [](const std::vector<std::string>& entries) {
    std::string out = "{";
    for (size_t i = 0; i < entries.size(); ++i) {
      if (i) out += ", ";
      out += entries[i];
    }
    out += "}";
    return out;
  };
  expect_file_error("st", dir, "past_data.safetensors", st_with_header(obj({entry("a", "F32", "[2]", 0, 8)}), 4));
  expect_file_error("st", dir, "size_mismatch.safetensors",
                    st_with_header(obj({entry("a", "F32", "[2]", 0, 12)}), 12));
  expect_file_error("st", dir, "reversed.safetensors", st_with_header(obj({entry("a", "F32", "[0]", 8, 0)}), 8));
  expect_file_error("st", dir, "overlap.safetensors",
                    st_with_header(obj({entry("a", "F32", "[2]", 0, 8), entry("b", "F32", "[2]", 4, 12)}), 12));
  expect_file_error("st", dir, "huge_offset.safetensors",
                    st_with_header(obj({entry("a", "F32", "[0]", ~uint64_t(0), ~uint64_t(0))}), 4));
  // Gaps and trailing bytes no tensor covers are accepted (as the Python library does).
  std::string gap = st_with_header(obj({entry("a", "F32", "[1]", 4, 8)}), 16);
  EXPECT_EQ(parse("st", gap, "gap.safetensors"), Outcome::Ok);
  // A misaligned F32 tensor (header length not a multiple of 4) is copied, not handed out misaligned.
  std::string odd = st_with_header(obj({entry("a", "F32", "[1]", 1, 5)}), 5);
  put<float>(odd, odd.size() - 4, 2.5f);
  TensorFile f = parse_safetensors(MappedFile::from_bytes("odd.safetensors", odd.data(), odd.size()));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(f.get("a").data) % 4, 0u);
  EXPECT_EQ(f.get("a").as<float>()[0], 2.5f);
}

TEST(BadInput, RandomMutationsNeverCrash) {
  auto dir = test::temp_dir("bad_random");
  const std::string gguf = valid_gguf(dir), st = valid_st(dir);
  std::mt19937_64 rng(12345);
  int accepted[2] = {0, 0};
  for (int round = 0; round < 4000; ++round) {
    bool is_gguf = round % 2 == 0;
    std::string s = is_gguf ? gguf : st;
    int edits = 1 + int(rng() % 8);
    for (int e = 0; e < edits; ++e) {
      size_t at = rng() % s.size();
      static const char kBoundary[] = {0, 1, 0x7f, char(0x80), char(0xff)};
      switch (rng() % 4) {
        case 0: s[at] = char(rng()); break;                       // random byte
        case 1: s[at] ^= char(1u << (rng() % 8)); break;          // bit flip
        case 2: s[at] = kBoundary[rng() % 5]; break;              // boundary values
        case 3: s.resize(std::max<size_t>(at, 1)); break;         // truncation
      }
    }
    if (parse(is_gguf ? "gguf" : "st", s, is_gguf ? "mutant.gguf" : "mutant.safetensors") == Outcome::Ok)
      ++accepted[is_gguf ? 0 : 1];
  }
  // Pure noise, with and without a GGUF magic.
  for (int round = 0; round < 500; ++round) {
    std::string s(size_t(rng() % 200), '\0');
    for (char& c : s) c = char(rng());
    if (round % 2 && s.size() >= 4) std::memcpy(s.data(), "GGUF", 4);
    parse("gguf", s, "noise.gguf");
    parse("st", s, "noise.safetensors");
    parse("l2c", s, "noise.bin");
  }
  // Some mutations (inside tensor data or padding) keep a file valid; most do not.
  EXPECT_GT(accepted[0], 0);
  EXPECT_LT(accepted[0], 2000);
  EXPECT_LT(accepted[1], 2000);
}

TEST(BadInput, RealFilesTruncated) {
  const char* vocab = "tokenizers/llama.cpp-vocab-tests/ggml-vocab-llama-spm.gguf";
  const char* adapter = "adapters/peft-lora-qwen2.5-0.5b-instruct-r8-qv/adapter_model.safetensors";
  const char* model = "models/stories260K/stories260K.bin";
  TUNEKIT_REQUIRE_SHARED(vocab);
  TUNEKIT_REQUIRE_SHARED(adapter);
  TUNEKIT_REQUIRE_SHARED(model);
  auto dir = test::temp_dir("bad_real");
  std::string v = slurp(test::shared_dir() / vocab);
  for (size_t n : {size_t(0), size_t(3), size_t(23), size_t(1000), v.size() / 2, v.size() - 1})
    EXPECT_EQ(parse("gguf", v.substr(0, n), "vocab.gguf"), Outcome::Error) << n;
  std::string a = slurp(test::shared_dir() / adapter);
  for (size_t n : {size_t(7), size_t(100), a.size() / 2, a.size() - 1})
    EXPECT_EQ(parse("st", a.substr(0, n), "adapter.safetensors"), Outcome::Error) << n;
  std::string m = slurp(test::shared_dir() / model);
  for (size_t n : {size_t(27), size_t(28), m.size() - 4})
    EXPECT_EQ(parse("l2c", m.substr(0, n), "model.bin"), Outcome::Error) << n;
  EXPECT_EQ(parse("l2c", m + "xxxx", "model.bin"), Outcome::Error);
}

TEST(BadInput, NotARegularFile) {
  auto dir = test::temp_dir("bad_not_file");
  ASSERT_EQ(::mkfifo((dir / "pipe.gguf").c_str(), 0644), 0);
  for (const char* name : {"pipe.gguf", "no-such.gguf"}) {
    try {
      GgufFile::open(dir / name);
      ADD_FAILURE() << name;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(read_safetensors(dir / "pipe.gguf"), Error);  // a FIFO must not block the reader
  EXPECT_THROW(GgufFile::open(dir), Error);                   // a folder
}
