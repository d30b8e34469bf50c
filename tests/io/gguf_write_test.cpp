#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>

#include "test_paths.h"
#include "tunekit/error.h"
#include "tunekit/io/gguf.h"

using namespace tunekit;

namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

GgufValue scalar(GgufType t, std::variant<int64_t, uint64_t, double, bool, std::string> s) {
  GgufValue v;
  v.type = t;
  v.scalar = std::move(s);
  return v;
}

GgufValue int_array(GgufType et, std::vector<int64_t> xs) {
  GgufValue v;
  v.type = GgufType::ARRAY;
  v.array_type = et;
  v.ints = std::move(xs);
  return v;
}

}  // namespace

TEST(GgufWrite, MetadataOfEveryTypeRoundTrips) {
  auto dir = test::temp_dir("gguf_meta");
  GgufWriter w;
  w.set("k.u8", scalar(GgufType::U8, uint64_t(255)));
  w.set("k.i8", scalar(GgufType::I8, int64_t(-128)));
  w.set("k.u16", scalar(GgufType::U16, uint64_t(65535)));
  w.set("k.i16", scalar(GgufType::I16, int64_t(-32768)));
  w.set_u32("k.u32", 4000000000u);
  w.set_i32("k.i32", -2000000000);
  w.set_f32("k.f32", 0.1f);
  w.set_bool("k.bool", true);
  w.set_string("k.string", std::string("h\xc3\xa9llo\0world", 12));
  w.set_u64("k.u64", 18446744073709551615ull);
  w.set("k.i64", scalar(GgufType::I64, int64_t(-9000000000000000000LL)));
  w.set("k.f64", scalar(GgufType::F64, 0.1));
  w.set_string_array("a.string", {"", "a", "<0x00>", std::string("\0b", 2)});
  w.set_f32_array("a.f32", {-1.5f, 0.0f, 1e-30f, INFINITY});
  w.set_i32_array("a.i32", {INT32_MIN, -1, 0, INT32_MAX});
  w.set("a.u8", int_array(GgufType::U8, {0, 1, 255}));
  w.set("a.bool", int_array(GgufType::BOOL, {1, 0, 1}));
  w.set("a.u64", int_array(GgufType::U64, {0, -1}));  // bits of UINT64_MAX
  w.set("a.i64", int_array(GgufType::I64, {INT64_MIN, INT64_MAX}));
  GgufValue f64s;
  f64s.type = GgufType::ARRAY;
  f64s.array_type = GgufType::F64;
  f64s.floats = {0.1, -2.5e300};
  w.set("a.f64", f64s);
  w.set_i32_array("a.empty", {});
  w.set_u32("k.u32", 7);  // setting a key again replaces it in place
  w.write(dir / "meta.gguf");

  GgufFile g = GgufFile::open(dir / "meta.gguf");
  EXPECT_EQ(g.version(), 3u);
  std::vector<std::string> order = {"k.u8",   "k.i8",   "k.u16",    "k.i16", "k.u32", "k.i32",   "k.f32",
                                    "k.bool", "k.string", "k.u64",  "k.i64", "k.f64", "a.string", "a.f32",
                                    "a.i32",  "a.u8",   "a.bool",   "a.u64", "a.i64", "a.f64",   "a.empty"};
  EXPECT_EQ(g.keys_in_order(), order);
  EXPECT_EQ(g.value("k.u8").type, GgufType::U8);
  EXPECT_EQ(g.get_int("k.u8"), 255);
  EXPECT_EQ(g.get_int("k.i8"), -128);
  EXPECT_EQ(g.get_int("k.u16"), 65535);
  EXPECT_EQ(g.get_int("k.i16"), -32768);
  EXPECT_EQ(g.get_int("k.u32"), 7);
  EXPECT_EQ(g.value("k.u32").type, GgufType::U32);
  EXPECT_EQ(g.get_int("k.i32"), -2000000000);
  EXPECT_EQ(g.get_float("k.f32"), double(0.1f));
  EXPECT_EQ(g.value("k.f32").type, GgufType::F32);
  EXPECT_TRUE(g.get_bool("k.bool"));
  EXPECT_EQ(g.get_string("k.string"), std::string("h\xc3\xa9llo\0world", 12));
  EXPECT_EQ(std::get<uint64_t>(g.value("k.u64").scalar), 18446744073709551615ull);
  EXPECT_THROW(g.get_int("k.u64"), Error);  // does not fit int64
  EXPECT_EQ(g.get_int("k.i64"), -9000000000000000000LL);
  EXPECT_EQ(g.get_float("k.f64"), 0.1);
  EXPECT_EQ(g.get_string_array("a.string"), (std::vector<std::string>{"", "a", "<0x00>", std::string("\0b", 2)}));
  EXPECT_EQ(g.get_float_array("a.f32"), (std::vector<double>{-1.5, 0.0, double(1e-30f), INFINITY}));
  EXPECT_EQ(g.get_int_array("a.i32"), (std::vector<int64_t>{INT32_MIN, -1, 0, INT32_MAX}));
  EXPECT_EQ(g.get_int_array("a.u8"), (std::vector<int64_t>{0, 1, 255}));
  EXPECT_EQ(g.value("a.bool").array_type, GgufType::BOOL);
  EXPECT_EQ(g.get_int_array("a.bool"), (std::vector<int64_t>{1, 0, 1}));
  EXPECT_EQ(g.get_int_array("a.u64"), (std::vector<int64_t>{0, -1}));
  EXPECT_EQ(g.get_int_array("a.i64"), (std::vector<int64_t>{INT64_MIN, INT64_MAX}));
  EXPECT_EQ(g.get_float_array("a.f64"), (std::vector<double>{0.1, -2.5e300}));
  EXPECT_TRUE(g.get_int_array("a.empty").empty());
  EXPECT_EQ(g.value("a.empty").array_type, GgufType::I32);

  // Reading it back and writing every value again gives the same bytes.
  GgufWriter w2;
  for (const auto& k : g.keys_in_order()) w2.set(k, g.value(k));
  w2.write(dir / "again.gguf");
  EXPECT_EQ(slurp(dir / "meta.gguf"), slurp(dir / "again.gguf"));
}

TEST(GgufWrite, OutOfRangeValuesAreRejected) {
  auto dir = test::temp_dir("gguf_range");
  GgufWriter w;
  w.set("k.u8", scalar(GgufType::U8, int64_t(256)));
  EXPECT_THROW(w.write(dir / "x.gguf"), Error);
  GgufWriter w2;
  w2.set("k", scalar(GgufType::U32, std::string("not a number")));
  EXPECT_THROW(w2.write(dir / "x.gguf"), Error);
  EXPECT_FALSE(std::filesystem::exists(dir / "x.gguf"));
  EXPECT_TRUE(std::filesystem::is_empty(dir));  // no temp file left behind
}

TEST(GgufWrite, TensorsRoundTripWithLlamaCppLayout) {
  auto dir = test::temp_dir("gguf_tensors");
  Tensor a = Tensor::zeros(DType::F32, {3, 5});
  for (int i = 0; i < 15; ++i) a.as<float>()[i] = float(i) - 7.25f;
  Tensor b = Tensor::zeros(DType::F16, {2, 3, 4});
  for (int i = 0; i < 24; ++i) b.as<uint16_t>()[i] = f32_to_f16(float(i) * 0.5f);
  Tensor q = Tensor::zeros(DType::Q8_0, {2, 64});  // 4 blocks of 34 bytes
  auto* qb = static_cast<uint8_t*>(q.data);
  for (size_t i = 0; i < q.nbytes(); ++i) qb[i] = uint8_t(i * 7 + 3);
  Tensor v = Tensor::zeros(DType::F32, {7});

  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.add_tensor("token_embd.weight", a);
  w.add_tensor("blk.0.attn_q.weight", b);
  w.add_tensor("blk.0.ffn_down.weight", q);
  w.add_tensor("output_norm.weight", v);
  EXPECT_THROW(w.add_tensor("token_embd.weight", a), Error);
  EXPECT_THROW(w.add_tensor(std::string(64, 'x'), a), Error);  // llama.cpp's name limit
  EXPECT_THROW(w.add_tensor("nf4", Tensor::zeros(DType::NF4, {64})), Error);
  EXPECT_THROW(w.add_tensor("rank5", Tensor::zeros(DType::F32, {1, 1, 1, 1, 1})), Error);
  w.write(dir / "t.gguf");

  GgufFile g = GgufFile::open(dir / "t.gguf");
  EXPECT_EQ(g.tensor_names(),
            (std::vector<std::string>{"token_embd.weight", "blk.0.attn_q.weight", "blk.0.ffn_down.weight",
                                      "output_norm.weight"}));
  EXPECT_EQ(g.data_offset() % 32, 0u);
  const Tensor& ra = g.tensor("token_embd.weight");
  EXPECT_EQ(ra.dtype, DType::F32);
  EXPECT_EQ(ra.shape, (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(std::memcmp(ra.data, a.data, a.nbytes()), 0);
  const Tensor& rb = g.tensor("blk.0.attn_q.weight");
  EXPECT_EQ(rb.dtype, DType::F16);
  EXPECT_EQ(rb.shape, (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(std::memcmp(rb.data, b.data, b.nbytes()), 0);
  const Tensor& rq = g.tensor("blk.0.ffn_down.weight");
  EXPECT_EQ(rq.dtype, DType::Q8_0);
  EXPECT_EQ(rq.shape, (std::vector<int64_t>{2, 64}));
  EXPECT_EQ(std::memcmp(rq.data, q.data, q.nbytes()), 0);
  EXPECT_EQ(g.tensor("output_norm.weight").shape, (std::vector<int64_t>{7}));
  EXPECT_THROW(g.tensor("missing"), Error);

  // Independent check of the raw layout (as llama.cpp's gguf.cpp reads it): the first tensor info
  // follows the single KV pair; ne is innermost-first; offsets are packed at 32-byte alignment.
  std::string raw = slurp(dir / "t.gguf");
  auto u32 = [&](size_t at) { uint32_t x; std::memcpy(&x, raw.data() + at, 4); return x; };
  auto u64 = [&](size_t at) { uint64_t x; std::memcpy(&x, raw.data() + at, 8); return x; };
  EXPECT_EQ(w.serialize(), raw);  // the in-memory form is the file, byte for byte
  EXPECT_EQ(raw.substr(0, 4), "GGUF");
  EXPECT_EQ(u32(4), 3u);
  EXPECT_EQ(u64(8), 4u);   // tensors
  EXPECT_EQ(u64(16), 1u);  // kv pairs
  size_t p = 24 + 8 + std::strlen("general.architecture") + 4 + 8 + 5;
  EXPECT_EQ(u64(p), std::strlen("token_embd.weight"));
  p += 8 + std::strlen("token_embd.weight");
  EXPECT_EQ(u32(p), 2u);       // n_dims
  EXPECT_EQ(u64(p + 4), 5u);   // ne[0] = innermost
  EXPECT_EQ(u64(p + 12), 3u);  // ne[1]
  EXPECT_EQ(u32(p + 20), 0u);  // GGML_TYPE_F32
  EXPECT_EQ(u64(p + 24), 0u);  // offset
  p += 32 + 8 + std::strlen("blk.0.attn_q.weight");
  EXPECT_EQ(u32(p), 3u);
  EXPECT_EQ(u64(p + 4), 4u);
  EXPECT_EQ(u64(p + 20), 2u);
  EXPECT_EQ(u32(p + 28), 1u);   // GGML_TYPE_F16
  EXPECT_EQ(u64(p + 32), 64u);  // 60 bytes of f32 padded to 64
  p += 40 + 8 + std::strlen("blk.0.ffn_down.weight");
  EXPECT_EQ(u32(p + 20), 8u);    // GGML_TYPE_Q8_0
  EXPECT_EQ(u64(p + 24), 128u);  // 64 + 48 bytes of f16 padded to 64
  EXPECT_EQ(raw.size() % 32, 0u);
  EXPECT_EQ(raw.size(), g.data_offset() + 128 + 160 + 32);  // 136 bytes of q8_0 padded to 160
}

TEST(GgufWrite, RealVocabMetadataRewritesIdentically) {
  const char* rel = "tokenizers/llama.cpp-vocab-tests";
  TUNEKIT_REQUIRE_SHARED(rel);
  auto dir = test::temp_dir("gguf_vocab");
  for (const char* name : {"ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf", "ggml-vocab-bert-bge.gguf"}) {
    SCOPED_TRACE(name);
    auto src = test::shared_dir() / rel / name;
    GgufFile g = GgufFile::open(src);
    GgufWriter w;
    for (const auto& k : g.keys_in_order()) w.set(k, g.value(k));
    w.write(dir / name);
    GgufFile back = GgufFile::open(dir / name);
    ASSERT_EQ(back.keys_in_order(), g.keys_in_order());
    for (const auto& k : g.keys_in_order()) {
      const GgufValue& x = g.value(k);
      const GgufValue& y = back.value(k);
      EXPECT_EQ(x.type, y.type) << k;
      EXPECT_EQ(x.array_type, y.array_type) << k;
      EXPECT_EQ(x.scalar, y.scalar) << k;
      EXPECT_EQ(x.ints, y.ints) << k;
      EXPECT_EQ(x.floats, y.floats) << k;
      EXPECT_EQ(x.strings, y.strings) << k;
    }
    // Byte for byte: the original (written without a data section) is a prefix of ours, which
    // only adds the zero padding that starts the (empty) data section.
    std::string orig = slurp(src), ours = slurp(dir / name);
    ASSERT_GE(ours.size(), orig.size());
    EXPECT_LT(ours.size() - orig.size(), 32u);
    EXPECT_TRUE(ours.compare(0, orig.size(), orig) == 0);
    EXPECT_EQ(ours.find_first_not_of('\0', orig.size()), std::string::npos);
  }
}

TEST(GgufWrite, ZeroDimTensorIsOneValue) {
  // ggml has no 0-dim tensors: we write one as ne = {1}, and read n_dims = 0 (which llama.cpp
  // pads with 1s) as shape [1], so a read-write-read round trip is stable (found by fuzz_gguf).
  auto dir = test::temp_dir("gguf_scalar");
  Tensor s = Tensor::zeros(DType::F32, {});
  s.as<float>()[0] = 4.5f;
  GgufWriter w;
  w.add_tensor("scalar", s);
  std::string bytes = w.serialize();
  GgufFile g = GgufFile::from_file(MappedFile::from_bytes("scalar.gguf", bytes.data(), bytes.size()));
  EXPECT_EQ(g.tensor("scalar").shape, (std::vector<int64_t>{1}));
  EXPECT_EQ(g.tensor("scalar").as<float>()[0], 4.5f);
  // The same file with n_dims = 0 and no ne.
  size_t n_dims_at = 24 + 8 + 6;
  std::string zero = bytes.substr(0, n_dims_at) + std::string(4, '\0') + bytes.substr(n_dims_at + 12);
  zero.insert(zero.size() - 32, 8, '\0');  // keep the data section where it was (header is 8 bytes shorter)
  GgufFile z = GgufFile::from_file(MappedFile::from_bytes("zero.gguf", zero.data(), zero.size()));
  EXPECT_EQ(z.tensor("scalar").shape, (std::vector<int64_t>{1}));
  EXPECT_EQ(z.tensor("scalar").as<float>()[0], 4.5f);
}

TEST(GgufWrite, AlignmentOverOneMibIsRefused) {
  GgufWriter w;
  w.set_u32("general.alignment", uint32_t(kGgufMaxAlignment) * 2);
  w.add_tensor("t", Tensor::zeros(DType::F32, {8}));
  EXPECT_THROW(w.serialize(), Error);
  w.set_u32("general.alignment", uint32_t(kGgufMaxAlignment));
  EXPECT_GE(w.serialize().size(), kGgufMaxAlignment);  // the largest allowed still pads the data section
}

// With general.alignment 2 the writer packs tensors 2 bytes apart, so of two f32 tensors whose
// data offsets differ by 14 bytes one sits at an address that is not a multiple of 4 (found by
// fuzz_gguf: its round trip was refused). Both read back whole, and as aligned floats.
TEST(GgufWrite, SmallAlignmentRoundTripsWithMisalignedFloats) {
  GgufWriter w;
  w.set_u32("general.alignment", 2);
  Tensor a = Tensor::zeros(DType::F32, {3}), half = Tensor::zeros(DType::F16, {1}), c = Tensor::zeros(DType::F32, {2});
  for (int i = 0; i < 3; ++i) a.as<float>()[i] = 1.5f + float(i);
  for (int i = 0; i < 2; ++i) c.as<float>()[i] = -2.25f * float(i + 1);
  w.add_tensor("a", a);        // data offset 0 (12 bytes)
  w.add_tensor("half", half);  // offset 12 (2 bytes)
  w.add_tensor("c", c);        // offset 14
  const std::string bytes = w.serialize();
  const GgufFile g = GgufFile::from_file(MappedFile::from_bytes("align2.gguf", bytes.data(), bytes.size()));
  EXPECT_EQ(g.alignment(), 2u);
  for (const auto& [name, want] : {std::pair<const char*, const Tensor*>{"a", &a}, {"c", &c}}) {
    const Tensor& t = g.tensor(name);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % alignof(float), 0u) << name;
    ASSERT_EQ(t.shape, want->shape) << name;
    for (int64_t i = 0; i < t.numel(); ++i) EXPECT_EQ(t.as<float>()[i], want->as<float>()[i]) << name << " " << i;
  }
}
