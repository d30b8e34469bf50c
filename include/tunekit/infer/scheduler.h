// Continuous batching over a paged KV cache. Each step() is one forward pass over the running
// requests: every decoding request's next token first, then chunks of prompts (chunked prefill)
// up to the step's token budget; waiting requests are admitted whenever the budget, the batch size
// and the KV blocks allow, so requests join and leave the batch at every step. Full prompt blocks
// are shared between requests with the same prefix and adapter. When a decoding request needs a
// block and none is left, the newest running request is pre-empted: its blocks are released and it
// waits to be recomputed (its sampled tokens are kept, so the output is the same).
#pragma once
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "tunekit/infer/block_pool.h"
#include "tunekit/infer/decoding.h"
#include "tunekit/models/forward.h"

namespace tunekit {

struct SchedulerOptions {
  int64_t max_batch_tokens = 256;  // rows of one forward pass
  int64_t max_running = 64;        // requests in the running batch
  int64_t kv_block_size = 16;      // positions per block
  int64_t kv_blocks = 0;           // blocks in the pool (> 0)
  bool prefix_sharing = true;
};

struct SchedulerCounters {
  int64_t prompt_tokens = 0, prefix_cached_tokens = 0, generated_tokens = 0, preemptions = 0, steps = 0;
};

class BatchScheduler {
 public:
  // model and tokenizer must outlive the scheduler. Allocates the KV pool.
  BatchScheduler(const Model& model, const Tokenizer& tokenizer, SchedulerOptions options);
  ~BatchScheduler();

  // Queues request `id`. options.adapter (if any) must stay alive until the request has ended.
  // Throws Error when it can never run: an empty or over-long prompt, a bad adapter, or more
  // positions than the whole KV pool holds.
  void add(uint64_t id, const std::vector<int32_t>& prompt, const GenerateOptions& options);
  // Ends request `id` now (running or waiting) with this finish reason; step() returns it.
  void cancel(uint64_t id, const char* reason);
  // One forward pass; returns the requests that ended in it (or were cancelled since the last step).
  std::vector<std::pair<uint64_t, GenerateResult>> step();
  // Ends every request with the error: used when a step threw. Returns their ids.
  std::vector<uint64_t> drop_all();

  bool idle() const { return running_.empty() && waiting_.empty(); }
  int64_t running() const { return int64_t(running_.size()); }
  int64_t waiting() const { return int64_t(waiting_.size()); }
  const BlockPool& pool() const { return pool_; }
  const SchedulerCounters& counters() const { return counters_; }
  int64_t block_size() const { return options_.kv_block_size; }

 private:
  struct Request;
  struct Chunk {
    Request* request;
    int64_t n;  // tokens of this step
  };
  int64_t blocks_for(int64_t n_positions) const;  // blocks that hold this many positions
  bool ensure_blocks(Request& r, int64_t n_positions);
  void release_blocks(Request& r);
  void share_prefix(Request& r);
  void publish_blocks(Request& r);
  void preempt(Request& r);
  Request* newest_running();
  bool is_running(const Request* r) const;
  std::vector<Chunk> plan();
  void finish(Request& r, std::vector<std::pair<uint64_t, GenerateResult>>& ended);

  const Model& model_;
  const Tokenizer& tokenizer_;
  SchedulerOptions options_;
  BlockPool pool_;
  KvBlocks cache_;
  Workspace ws_;
  std::vector<float> logits_;
  std::map<uint64_t, std::unique_ptr<Request>> requests_;  // every request not yet returned, by id (arrival order)
  std::deque<Request*> waiting_;
  std::vector<Request*> running_;  // in admission order
  std::map<const LoraAdapter*, uint64_t> adapter_keys_;  // prefix keys of the adapters in use
  uint64_t next_adapter_key_ = 1;
  SchedulerCounters counters_;
};

}  // namespace tunekit
