#include "tunekit/infer/scheduler.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include "tunekit/error.h"

namespace tunekit {

struct BatchScheduler::Request {
  uint64_t id;
  const LoraAdapter* adapter;
  uint64_t prefix_key;  // the hash chain's start: which adapter's keys and values the blocks hold
  std::unique_ptr<SequenceDecoder> decoder;
  std::vector<int32_t> blocks;  // block table
  int64_t n_cached = 0;         // positions whose keys and values are in the cache
  int64_t n_published = 0;      // leading full blocks published for sharing
  uint64_t chain_hash = 0;      // prefix hash after the published blocks
  // When it was first admitted, and when its first token was sampled (re-admission after a
  // pre-emption keeps both).
  std::optional<std::chrono::steady_clock::time_point> admitted, first_token;

  int64_t n_tokens() const { return int64_t(decoder->tokens().size()); }
};

namespace {

double seconds_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

BatchScheduler::BatchScheduler(const Model& model, const Tokenizer& tokenizer, SchedulerOptions options)
    : model_(model), tokenizer_(tokenizer), options_(options), pool_(options.kv_blocks),
      cache_(model.config, options.kv_blocks, options.kv_block_size) {
  check(options.max_batch_tokens > 0 && options.max_running > 0, "scheduler: max batch tokens (",
        options.max_batch_tokens, ") and max running requests (", options.max_running, ") must be positive");
}

BatchScheduler::~BatchScheduler() = default;

void BatchScheduler::add(uint64_t id, const std::vector<int32_t>& prompt, const GenerateOptions& options) {
  const ModelConfig& c = model_.config;
  check(!requests_.count(id), "scheduler: request id ", id, " is already queued");
  if (options.adapter) options.adapter->validate(c, "adapter");
  options.sampling.validate();
  const int64_t n_prompt = int64_t(prompt.size());
  check(n_prompt <= c.n_ctx, "the prompt has ", n_prompt, " tokens, more than the model's context of ", c.n_ctx);
  const int64_t n_ctx = std::min<int64_t>(c.n_ctx, n_prompt + std::max<int64_t>(options.max_tokens, 1));
  const int64_t blocks_needed = blocks_for(n_ctx);
  check(blocks_needed <= pool_.n_blocks(), "the request needs ", n_ctx, " positions of KV cache, more than the whole pool of ",
        pool_.n_blocks() * options_.kv_block_size, " (raise the KV memory, or lower max_tokens)");
  auto r = std::make_unique<Request>();
  r->id = id;
  r->adapter = options.adapter;
  r->decoder = std::make_unique<SequenceDecoder>(tokenizer_, prompt, options, n_ctx);
  // An adapter's prefix key lives while requests use it, so a new adapter at a freed address never
  // meets the blocks of an old one. The base model's key (0) lives for ever.
  if (r->adapter) {
    auto [it, fresh] = adapter_keys_.try_emplace(r->adapter, 0);
    if (fresh) it->second = next_adapter_key_++;
    r->prefix_key = it->second;
  } else {
    r->prefix_key = 0;
  }
  r->chain_hash = r->prefix_key;
  waiting_.push_back(r.get());
  requests_.emplace(id, std::move(r));
}

void BatchScheduler::cancel(uint64_t id, const char* reason) {
  auto it = requests_.find(id);
  if (it != requests_.end() && !it->second->decoder->done()) it->second->decoder->cancel(reason);
}

int64_t BatchScheduler::blocks_for(int64_t n_positions) const {
  return (n_positions + options_.kv_block_size - 1) / options_.kv_block_size;
}

bool BatchScheduler::ensure_blocks(Request& r, int64_t n_positions) {
  const int64_t need = blocks_for(n_positions);
  while (int64_t(r.blocks.size()) < need) {
    std::optional<int32_t> b = pool_.allocate();
    if (!b) return false;
    r.blocks.push_back(*b);
  }
  return true;
}

void BatchScheduler::release_blocks(Request& r) {
  for (int32_t b : r.blocks) pool_.release(b);
  r.blocks.clear();
  r.n_cached = r.n_published = 0;
  r.chain_hash = r.prefix_key;
}

// Takes the leading full blocks of r's tokens from the pool's published prefixes (at least the
// last token is always computed: its logits are needed).
void BatchScheduler::share_prefix(Request& r) {
  if (!options_.prefix_sharing) return;
  const int64_t bs = options_.kv_block_size;
  const std::vector<int32_t>& tokens = r.decoder->tokens();
  uint64_t hash = r.prefix_key;
  while ((int64_t(r.blocks.size()) + 1) * bs <= r.n_tokens() - 1) {
    const int64_t first = int64_t(r.blocks.size()) * bs;
    const uint64_t next = prefix_block_hash(hash, {tokens.data() + first, size_t(bs)});
    std::optional<int32_t> b = pool_.find_shared(next);
    if (!b) break;
    r.blocks.push_back(*b);
    hash = next;
  }
  r.n_published = int64_t(r.blocks.size());
  r.n_cached = r.n_published * bs;
  r.chain_hash = hash;
}

// Publishes every block of r that the cache now holds in full.
void BatchScheduler::publish_blocks(Request& r) {
  if (!options_.prefix_sharing) return;
  const int64_t bs = options_.kv_block_size;
  const std::vector<int32_t>& tokens = r.decoder->tokens();
  while ((r.n_published + 1) * bs <= r.n_cached) {
    r.chain_hash = prefix_block_hash(r.chain_hash, {tokens.data() + r.n_published * bs, size_t(bs)});
    pool_.publish(r.blocks[size_t(r.n_published)], r.chain_hash);
    ++r.n_published;
  }
}

void BatchScheduler::preempt(Request& r) {
  release_blocks(r);
  running_.erase(std::find(running_.begin(), running_.end(), &r));
  waiting_.push_front(&r);
  ++counters_.preemptions;
}

BatchScheduler::Request* BatchScheduler::newest_running() {
  return running_.empty() ? nullptr : *std::max_element(running_.begin(), running_.end(), [](auto* a, auto* b) {
    return a->id < b->id;
  });
}

bool BatchScheduler::is_running(const Request* r) const {
  return std::find(running_.begin(), running_.end(), r) != running_.end();
}

std::vector<BatchScheduler::Chunk> BatchScheduler::plan() {
  std::vector<Chunk> chunks;
  // Decoding requests first, one token each; a missing block pre-empts the newest request.
  std::vector<Request*> decoding;
  for (Request* r : running_)
    if (r->n_tokens() - r->n_cached == 1) decoding.push_back(r);
  for (Request* r : decoding) {
    if (int64_t(chunks.size()) == options_.max_batch_tokens) break;
    if (!is_running(r)) continue;  // pre-empted for an earlier one
    while (!ensure_blocks(*r, r->n_cached + 1)) {
      Request* victim = newest_running();
      std::erase_if(chunks, [&](const Chunk& c) { return c.request == victim; });
      preempt(*victim);
      if (victim == r) break;
    }
    if (is_running(r)) chunks.push_back({r, 1});
  }
  // Then prompt chunks: of running requests, then of newly admitted ones, in arrival order.
  int64_t budget = options_.max_batch_tokens - int64_t(chunks.size());
  auto prefill = [&](Request& r) {
    const int64_t want = std::min(budget, r.n_tokens() - r.n_cached);
    ensure_blocks(r, r.n_cached + want);  // as many as the pool has
    const int64_t n = std::min(want, int64_t(r.blocks.size()) * options_.kv_block_size - r.n_cached);
    if (n <= 0) return;
    chunks.push_back({&r, n});
    budget -= n;
  };
  for (Request* r : running_)
    if (budget > 0 && r->n_tokens() - r->n_cached > 1) prefill(*r);
  while (budget > 0 && !waiting_.empty() && int64_t(running_.size()) < options_.max_running) {
    Request& r = *waiting_.front();
    const int64_t blocks_for_prompt = blocks_for(r.n_tokens());
    share_prefix(r);
    if (pool_.available() < blocks_for_prompt - int64_t(r.blocks.size())) {  // admit only what can finish its prompt
      release_blocks(r);
      break;
    }
    counters_.prefix_cached_tokens += r.n_cached;
    waiting_.pop_front();
    running_.push_back(&r);
    if (!r.admitted) r.admitted = std::chrono::steady_clock::now();
    prefill(r);
  }
  // Requests are running but none could get a block (all in prefill): make room and try again.
  if (chunks.empty() && running_.size() > 1) {
    preempt(*newest_running());
    return plan();
  }
  return chunks;
}

void BatchScheduler::finish(Request& r, std::vector<std::pair<uint64_t, GenerateResult>>& ended) {
  release_blocks(r);
  std::erase(running_, &r);
  std::erase(waiting_, &r);
  GenerateResult result = r.decoder->finish();
  const auto now = std::chrono::steady_clock::now();
  if (r.first_token) {
    result.prefill_seconds = seconds_between(*r.admitted, *r.first_token);
    result.decode_seconds = seconds_between(*r.first_token, now);
  }
  counters_.generated_tokens += int64_t(result.tokens.size());
  if (r.adapter && std::none_of(requests_.begin(), requests_.end(), [&](const auto& kv) {
        return kv.second.get() != &r && kv.second->adapter == r.adapter;
      }))
    adapter_keys_.erase(r.adapter);
  ended.emplace_back(r.id, std::move(result));
  requests_.erase(r.id);
}

std::vector<std::pair<uint64_t, GenerateResult>> BatchScheduler::step() {
  std::vector<std::pair<uint64_t, GenerateResult>> ended;
  std::vector<Request*> done;
  for (auto& [id, r] : requests_)
    if (r->decoder->done()) done.push_back(r.get());
  for (Request* r : done) finish(*r, ended);

  std::vector<Chunk> chunks = plan();
  if (chunks.empty()) return ended;
  // Requests with the same adapter side by side: one low-rank product per run of them.
  std::stable_sort(chunks.begin(), chunks.end(), [](const Chunk& a, const Chunk& b) {
    return a.request->prefix_key < b.request->prefix_key;
  });
  std::vector<SequenceStep> batch;
  int64_t n_logits = 0;
  for (const Chunk& c : chunks) {
    Request& r = *c.request;
    const bool last = r.n_cached + c.n == r.n_tokens();
    batch.push_back({{r.decoder->tokens().data() + r.n_cached, size_t(c.n)}, r.n_cached, r.blocks, r.adapter,
                     last ? 1 : 0});
    n_logits += last ? 1 : 0;
    if (r.n_tokens() - r.n_cached > 1) counters_.prompt_tokens += c.n;
  }
  const int64_t n_vocab = model_.config.n_vocab;
  if (logits_.size() < size_t(n_logits * n_vocab)) logits_.resize(size_t(n_logits * n_vocab));
  forward_batch(model_, batch, cache_, ws_, logits_.data());
  ++counters_.steps;

  int64_t row = 0;
  for (const Chunk& c : chunks) {
    Request& r = *c.request;
    r.n_cached += c.n;
    publish_blocks(r);
    if (r.n_cached != r.n_tokens()) continue;
    if (!r.first_token) r.first_token = std::chrono::steady_clock::now();
    r.decoder->next(logits_.data() + row * n_vocab, n_vocab);
    ++row;
    if (r.decoder->done()) finish(r, ended);
  }
  return ended;
}

std::vector<uint64_t> BatchScheduler::drop_all() {
  std::vector<uint64_t> ids;
  for (auto& [id, r] : requests_) {
    release_blocks(*r);
    ids.push_back(id);
  }
  requests_.clear();
  running_.clear();
  waiting_.clear();
  adapter_keys_.clear();
  return ids;
}

}  // namespace tunekit
