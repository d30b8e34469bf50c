// llama2.c checkpoints (Karpathy's legacy "version 0" .bin format, e.g. stories260K.bin):
//   7 x int32: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
//              (vocab_size < 0 means the classifier wcls is stored separately: untied)
//   then f32 tensors, in this order, with these (outermost-first) shapes:
//     token_embedding [vocab, dim], rms_att [L, dim], wq [L, dim, dim], wk [L, kv_dim, dim],
//     wv [L, kv_dim, dim], wo [L, dim, dim], rms_ffn [L, dim], w1 [L, hidden, dim],
//     w2 [L, dim, hidden], w3 [L, hidden, dim], rms_final [dim],
//     freq_cis_real [seq_len, head_size/2], freq_cis_imag [seq_len, head_size/2],
//     wcls [vocab, dim] (only when untied)
// with kv_dim = dim * n_kv_heads / n_heads and head_size = dim / n_heads. The file size must match
// the header exactly. Tensors are views into the memory-mapped file. Note llama2.c's RoPE rotates
// interleaved pairs (HF layout needs the wq/wk permutation of the HF Llama converter).
#pragma once
#include <filesystem>
#include <memory>

#include "tunekit/io/mapped_file.h"
#include "tunekit/tensor.h"

namespace tunekit {

struct Llama2cCheckpoint {
  int dim = 0, hidden_dim = 0, n_layers = 0, n_heads = 0, n_kv_heads = 0, vocab_size = 0, seq_len = 0;
  bool shared_classifier = true;  // header vocab_size > 0: wcls is token_embedding
  int head_size() const { return dim / n_heads; }
  int kv_dim() const { return dim / n_heads * n_kv_heads; }

  Tensor token_embedding;  // [vocab, dim]
  Tensor rms_att;          // [L, dim]
  Tensor wq;               // [L, dim, dim]
  Tensor wk;               // [L, kv_dim, dim]
  Tensor wv;               // [L, kv_dim, dim]
  Tensor wo;               // [L, dim, dim]
  Tensor rms_ffn;          // [L, dim]
  Tensor w1;               // [L, hidden, dim]   (gate)
  Tensor w2;               // [L, dim, hidden]   (down)
  Tensor w3;               // [L, hidden, dim]   (up)
  Tensor rms_final;        // [dim]
  Tensor freq_cis_real;    // [seq_len, head_size / 2]
  Tensor freq_cis_imag;    // [seq_len, head_size / 2]
  Tensor wcls;             // [vocab, dim]: its own tensor when untied, else the token_embedding view
};

// Throws Error("<path>: <problem>") on a malformed header or a size that does not match it.
Llama2cCheckpoint read_llama2c(const std::filesystem::path& path);
Llama2cCheckpoint parse_llama2c(std::shared_ptr<const MappedFile> file);

}  // namespace tunekit
