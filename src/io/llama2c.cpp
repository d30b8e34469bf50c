#include "tunekit/io/llama2c.h"

#include "io/io_util.h"

namespace tunekit {

Llama2cCheckpoint read_llama2c(const std::filesystem::path& path) { return parse_llama2c(MappedFile::open(path)); }

Llama2cCheckpoint parse_llama2c(std::shared_ptr<const MappedFile> file) {
  const std::string name = file->path().string();
  io_detail::ByteReader r(*file);
  if (file->size() >= 4) {
    uint32_t magic;
    std::memcpy(&magic, file->data(), 4);
    if (magic == 0x616b3432)  // "ak42": llama2.c's newer export versions
      fail(name, ": a llama2.c version-1/2 export (magic \"ak42\"); only the legacy format is supported "
                 "(export with --version 0)");
  }
  if (file->size() < 28) fail(name, ": not a llama2.c checkpoint (", file->size(), " bytes, shorter than its 28-byte header)");
  int32_t h[7];
  for (int32_t& x : h) x = r.read<int32_t>("header");
  Llama2cCheckpoint c;
  c.dim = h[0];
  c.hidden_dim = h[1];
  c.n_layers = h[2];
  c.n_heads = h[3];
  c.n_kv_heads = h[4];
  c.shared_classifier = h[5] > 0;
  c.vocab_size = h[5] == INT32_MIN ? 0 : (h[5] < 0 ? -h[5] : h[5]);
  c.seq_len = h[6];
  auto bad = [&](const std::string& why) {
    fail(name, ": not a valid llama2.c checkpoint (", why, "; header: dim ", h[0], ", hidden_dim ", h[1],
         ", n_layers ", h[2], ", n_heads ", h[3], ", n_kv_heads ", h[4], ", vocab_size ", h[5], ", seq_len ", h[6], ")");
  };
  if (c.dim <= 0 || c.hidden_dim <= 0 || c.n_layers <= 0 || c.n_heads <= 0 || c.n_kv_heads <= 0 ||
      c.vocab_size <= 0 || c.seq_len <= 0)
    bad("a size is not positive");
  if (c.dim % c.n_heads != 0) bad("dim is not a multiple of n_heads");
  if (c.n_kv_heads > c.n_heads || c.n_heads % c.n_kv_heads != 0) bad("n_heads is not a multiple of n_kv_heads");
  if (c.head_size() % 2 != 0) bad("head size dim / n_heads is odd");

  const uint64_t D = uint64_t(c.dim), H = uint64_t(c.hidden_dim), L = uint64_t(c.n_layers), V = uint64_t(c.vocab_size),
                 S = uint64_t(c.seq_len), KV = uint64_t(c.kv_dim()), HS2 = uint64_t(c.head_size() / 2);
  // All factors are < 2^31, so each product of two fits; products of three are checked.
  struct Part {
    Tensor* t;
    std::vector<int64_t> shape;
  };
  std::vector<Part> parts = {
      {&c.token_embedding, {int64_t(V), int64_t(D)}},
      {&c.rms_att, {int64_t(L), int64_t(D)}},
      {&c.wq, {int64_t(L), int64_t(D), int64_t(D)}},
      {&c.wk, {int64_t(L), int64_t(KV), int64_t(D)}},
      {&c.wv, {int64_t(L), int64_t(KV), int64_t(D)}},
      {&c.wo, {int64_t(L), int64_t(D), int64_t(D)}},
      {&c.rms_ffn, {int64_t(L), int64_t(D)}},
      {&c.w1, {int64_t(L), int64_t(H), int64_t(D)}},
      {&c.w2, {int64_t(L), int64_t(D), int64_t(H)}},
      {&c.w3, {int64_t(L), int64_t(H), int64_t(D)}},
      {&c.rms_final, {int64_t(D)}},
      {&c.freq_cis_real, {int64_t(S), int64_t(HS2)}},
      {&c.freq_cis_imag, {int64_t(S), int64_t(HS2)}},
  };
  if (!c.shared_classifier) parts.push_back({&c.wcls, {int64_t(V), int64_t(D)}});
  uint64_t expected = 28;
  std::vector<uint64_t> bytes;
  for (const Part& p : parts) {
    uint64_t n, b;
    if (!io_detail::checked_numel(p.shape, n) || !io_detail::checked_mul(n, 4, b) ||
        !io_detail::checked_add(expected, b, expected))
      bad("the sizes overflow");
    bytes.push_back(b);
  }
  if (expected != file->size())
    fail(name, ": is ", file->size(), " bytes, but a llama2.c checkpoint with dim ", c.dim, ", hidden_dim ",
         c.hidden_dim, ", n_layers ", c.n_layers, ", n_heads ", c.n_heads, ", n_kv_heads ", c.n_kv_heads,
         ", vocab_size ", h[5], ", seq_len ", c.seq_len, " is ", expected,
         " bytes (not a legacy llama2.c checkpoint, or truncated)");
  for (size_t i = 0; i < parts.size(); ++i) {
    const uint8_t* p = r.take(bytes[i], "tensor");
    *parts[i].t = io_detail::tensor_in_file(DType::F32, parts[i].shape, p, size_t(bytes[i]), file);
  }
  if (c.shared_classifier) c.wcls = c.token_embedding;
  return c;
}

}  // namespace tunekit
