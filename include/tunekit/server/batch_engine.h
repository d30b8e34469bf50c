// The continuous-batching engine: requests join and leave the running batch at every step; each
// step runs one forward pass over every running request's next tokens (one decode token, or a
// chunk of its prompt: chunked prefill), each row with its own LoRA adapter (unmerged, S-LoRA
// style), over a paged KV cache whose full prompt blocks are shared between requests with the
// same prefix. When blocks run out, the newest request is pre-empted (its blocks freed) and later
// recomputed; the server never fails for lack of KV memory unless one request alone cannot fit.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "tunekit/server/engine.h"

namespace tunekit::server {

struct BatchEngineOptions {
  int64_t max_batch_tokens = 256;  // tokens per forward pass: decode rows first, then prefill chunks
  int64_t max_running = 64;        // requests in the running batch at once
  int64_t kv_block_size = 16;      // positions per KV-cache block
  size_t kv_memory_bytes = size_t(512) << 20;  // the KV pool's size (k and v, every layer)
  bool prefix_sharing = true;      // share full blocks of identical prompt prefixes
};

class BatchEngine final : public Engine {
 public:
  // model and tokenizer must outlive the engine. Throws Error when the options do not fit
  // (e.g. a pool smaller than one request of the model's context).
  BatchEngine(const Model& model, const Tokenizer& tokenizer, BatchEngineOptions options = {});
  ~BatchEngine() override;
  std::future<GenerateResult> submit(EngineRequest request) override;
  void shutdown() override;
  EngineStats stats() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tunekit::server
