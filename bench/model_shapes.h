// Real model shapes the benchmarks build random models of (../shared/README.md lists them; speed
// does not depend on the weights' values).
#pragma once
#include "tunekit/models/config.h"

namespace tunekit::bench {

// SmolLM2-135M: hidden 576, inter 1536, 30 layers, 9 heads, 3 kv heads (d_head 64), vocab 49152,
// rope theta 100000, tied embeddings, rms eps 1e-5.
inline ModelConfig smollm2_135m_config() {
  ModelConfig c;
  c.arch = "llama";
  c.n_vocab = 49152;
  c.d_model = 576;
  c.d_ff = 1536;
  c.n_layer = 30;
  c.n_head = 9;
  c.n_head_kv = 3;
  c.d_head = 64;
  c.rope.theta = 100000.0;
  c.rms_eps = 1e-5;
  c.tied_embeddings = true;
  return c;
}

}  // namespace tunekit::bench
