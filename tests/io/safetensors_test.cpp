#include "tunekit/io/safetensors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>

#include "test_paths.h"
#include "tunekit/error.h"
#include "tunekit/io/atomic_file.h"

using namespace tunekit;

namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A safetensors file from a header string and data bytes (no padding added).
std::string make_st(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

Tensor iota(DType dt, std::vector<int64_t> shape) {
  Tensor t = Tensor::zeros(dt, std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (dt == DType::F32) t.as<float>()[i] = float(i) * 0.25f - 1.0f;
    if (dt == DType::I32) t.as<int32_t>()[i] = int32_t(i * 1000 - 7);
    if (dt == DType::F16) t.as<uint16_t>()[i] = f32_to_f16(float(i) - 3.5f);
    if (dt == DType::BF16) t.as<uint16_t>()[i] = f32_to_bf16(float(i) * 3.0f);
  }
  return t;
}

void expect_same(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.dtype, b.dtype);
  EXPECT_EQ(a.shape, b.shape);
  ASSERT_EQ(a.nbytes(), b.nbytes());
  if (a.nbytes()) {
    EXPECT_EQ(std::memcmp(a.data, b.data, a.nbytes()), 0);
  }
}

}  // namespace

TEST(Safetensors, RoundTripEveryDtype) {
  auto dir = test::temp_dir("st_roundtrip");
  std::vector<std::pair<std::string, Tensor>> ts = {
      {"z.weight", iota(DType::F32, {3, 4})},  {"a.half", iota(DType::F16, {5})},  // 10 bytes: next is misaligned
      {"m.bf16", iota(DType::BF16, {2, 3})},   {"ids", iota(DType::I32, {7})},
      {"empty", iota(DType::F32, {0, 4})},     {"scalar", iota(DType::F32, {})},
  };
  write_safetensors(dir / "m.safetensors", ts, {{"format", "pt"}, {"b", "two"}});
  TensorFile f = read_safetensors(dir / "m.safetensors");
  EXPECT_EQ(f.metadata, (std::map<std::string, std::string>{{"format", "pt"}, {"b", "two"}}));
  ASSERT_EQ(f.tensors.size(), ts.size());
  for (const auto& [name, t] : ts) {
    SCOPED_TRACE(name);
    expect_same(f.get(name), t);
  }
  EXPECT_EQ(f.files, std::vector<std::filesystem::path>{dir / "m.safetensors"});
  try {
    f.get("nope");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("m.safetensors"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("nope"), std::string::npos);
  }

  // The raw layout: header length, compact JSON in the given order with __metadata__ first,
  // space padding to a multiple of 8, then the data back to back.
  std::string raw = slurp(dir / "m.safetensors");
  EXPECT_EQ(serialize_safetensors(ts, {{"format", "pt"}, {"b", "two"}}), raw);
  uint64_t n;
  std::memcpy(&n, raw.data(), 8);
  EXPECT_EQ((8 + n) % 8, 0u);
  std::string header = raw.substr(8, n);
  EXPECT_EQ(header.rfind("{\"__metadata__\":{\"b\":\"two\",\"format\":\"pt\"},\"z.weight\":{\"dtype\":\"F32\","
                         "\"shape\":[3,4],\"data_offsets\":[0,48]},\"a.half\":",
                         0),
            0u)
      << header;
  EXPECT_EQ(header.find_last_not_of(' '), header.find_last_of('}'));
  EXPECT_EQ(raw.size(), 8 + n + 48 + 10 + 12 + 28 + 0 + 4);
}

TEST(Safetensors, NoMetadataMeansNoMetadataKey) {
  auto dir = test::temp_dir("st_nometa");
  write_safetensors(dir / "x.safetensors", {{"w", iota(DType::F32, {2})}});
  std::string raw = slurp(dir / "x.safetensors");
  EXPECT_EQ(raw.find("__metadata__"), std::string::npos);
  EXPECT_TRUE(read_safetensors(dir / "x.safetensors").metadata.empty());
  EXPECT_THROW(write_safetensors(dir / "y.safetensors", {{"q", Tensor::zeros(DType::Q8_0, {32})}}), Error);
  EXPECT_THROW(write_safetensors(dir / "y.safetensors", {{"w", iota(DType::F32, {2})}, {"w", iota(DType::F32, {2})}}),
               Error);
  EXPECT_FALSE(std::filesystem::exists(dir / "y.safetensors"));
}

TEST(Safetensors, ShardedIndexAndFolders) {
  auto dir = test::temp_dir("st_sharded");
  Tensor a = iota(DType::F32, {4, 2}), b = iota(DType::BF16, {3}), c = iota(DType::F16, {2, 2});
  write_safetensors(dir / "model-00001-of-00002.safetensors", {{"a", a}, {"b", b}}, {{"format", "pt"}});
  write_safetensors(dir / "model-00002-of-00002.safetensors", {{"c", c}});
  write_file_atomic(dir / "model.safetensors.index.json",
                    R"({"metadata": {"total_size": 34}, "weight_map": {"a": "model-00001-of-00002.safetensors",
                       "c": "model-00002-of-00002.safetensors", "b": "model-00001-of-00002.safetensors"}})");
  for (const auto& p : {dir / "model.safetensors.index.json", dir}) {
    TensorFile f = read_safetensors(p);
    ASSERT_EQ(f.tensors.size(), 3u);
    expect_same(f.get("a"), a);
    expect_same(f.get("b"), b);
    expect_same(f.get("c"), c);
    EXPECT_EQ(f.metadata.at("format"), "pt");
    EXPECT_EQ(f.files.size(), 2u);
  }

  // An index naming a tensor its shard lacks, or a shard outside the folder, is an error.
  auto bad = test::temp_dir("st_sharded_bad");
  std::filesystem::copy(dir / "model-00001-of-00002.safetensors", bad / "model-00001-of-00002.safetensors");
  write_file_atomic(bad / "model.safetensors.index.json",
                    R"({"weight_map": {"a": "model-00001-of-00002.safetensors", "x": "model-00001-of-00002.safetensors"}})");
  try {
    read_safetensors(bad);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'x'"), std::string::npos) << e.what();
  }
  write_file_atomic(bad / "model.safetensors.index.json", R"({"weight_map": {"a": "../etc/passwd"}})");
  EXPECT_THROW(read_safetensors(bad / "model.safetensors.index.json"), Error);
  write_file_atomic(bad / "model.safetensors.index.json", R"({"weight_map": {"a": "missing.safetensors"}})");
  EXPECT_THROW(read_safetensors(bad), Error);

  // A folder with one plain file.
  auto single = test::temp_dir("st_single");
  write_safetensors(single / "model.safetensors", {{"a", a}});
  expect_same(read_safetensors(single).get("a"), a);
  EXPECT_THROW(read_safetensors(test::temp_dir("st_empty")), Error);
}

TEST(Safetensors, UnloadedDtypesAreValidatedAndListed) {
  auto dir = test::temp_dir("st_i64");
  std::string header =
      R"({"pos":{"dtype":"I64","shape":[3],"data_offsets":[0,24]},"w":{"dtype":"F32","shape":[2],"data_offsets":[24,32]}})";
  write_file_atomic(dir / "m.safetensors", make_st(header, std::string(32, '\0')));
  TensorFile f = read_safetensors(dir / "m.safetensors");
  EXPECT_TRUE(f.has("w"));
  EXPECT_FALSE(f.has("pos"));
  EXPECT_EQ(f.skipped.at("pos"), "I64");
  try {
    f.get("pos");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("I64"), std::string::npos) << e.what();
  }
  std::string wrong = R"({"pos":{"dtype":"I64","shape":[3],"data_offsets":[0,12]}})";
  write_file_atomic(dir / "bad.safetensors", make_st(wrong, std::string(12, '\0')));
  EXPECT_THROW(read_safetensors(dir / "bad.safetensors"), Error);
}

TEST(Safetensors, RealPeftAdapter) {
  const char* rel = "adapters/peft-lora-qwen2.5-0.5b-instruct-r8-qv/adapter_model.safetensors";
  TUNEKIT_REQUIRE_SHARED(rel);
  TensorFile f = read_safetensors(test::shared_dir() / rel);
  EXPECT_EQ(f.tensors.size(), 24u * 2 * 2);  // 24 layers x {q_proj, v_proj} x {A, B}
  const Tensor& a = f.get("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight");
  EXPECT_EQ(a.dtype, DType::F32);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{8, 896}));
  EXPECT_EQ(f.get("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight").shape,
            (std::vector<int64_t>{896, 8}));
  EXPECT_EQ(f.get("base_model.model.model.layers.23.self_attn.v_proj.lora_B.weight").shape,
            (std::vector<int64_t>{128, 8}));  // 2 kv heads x 64
  // lora_A is initialised randomly and trained: finite, not all zero.
  double sum = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    ASSERT_TRUE(std::isfinite(a.as<float>()[i]));
    sum += std::abs(a.as<float>()[i]);
  }
  EXPECT_GT(sum, 0.0);
  // The folder form finds adapter_model.safetensors.
  EXPECT_EQ(read_safetensors((test::shared_dir() / rel).parent_path()).tensors.size(), f.tensors.size());
}
