#include "tokenizer/bpe_model.h"

#include <queue>

#include "tokenizer/utf8.h"

namespace tunekit {

namespace {

constexpr size_t kCacheWordBytes = 64;    // longer words are not worth caching
constexpr size_t kCacheEntries = 1 << 18;  // cleared when full

uint64_t pair_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

struct Candidate {
  int32_t rank;
  int32_t pos;  // index of the left symbol
  int32_t left_id, right_id;
  bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
};

}  // namespace

BpeModel::BpeModel(std::shared_ptr<const Vocab> vocab, BpeOptions options)
    : vocab_(std::move(vocab)), options_(std::move(options)), boundaries_(*vocab_) {}

bool BpeModel::add_merge(std::string_view left, std::string_view right) {
  const int32_t l = vocab_->find(left), r = vocab_->find(right);
  const int32_t id = vocab_->find(std::string(left) + std::string(right));
  if (l < 0 || r < 0 || id < 0) return false;
  merges_.emplace(pair_key(l, r), Merge{n_merges_++, id});
  return true;
}

const BpeModel::Merge* BpeModel::find_merge(int32_t left, int32_t right) const {
  auto it = merges_.find(pair_key(left, right));
  return it == merges_.end() ? nullptr : &it->second;
}

void BpeModel::initial_symbols(std::string_view word, std::vector<int32_t>& ids) const {
  const Vocab& v = *vocab_;
  bool pending_unk = false;
  std::string piece;
  for (size_t pos = 0; pos < word.size();) {
    const size_t len = utf8::char_len(word, pos);
    piece.clear();
    if (pos > 0) piece += options_.continuing_subword_prefix;
    piece.append(word.substr(pos, len));
    if (pos + len == word.size()) piece += options_.end_of_word_suffix;
    pos += len;

    int32_t id = v.find(piece);
    if (id >= 0) {
      if (pending_unk) ids.push_back(v.unk);
      pending_unk = false;
      ids.push_back(id);
      continue;
    }
    bool have_bytes = options_.byte_fallback;
    for (unsigned char b : piece) have_bytes = have_bytes && v.byte_token(b) >= 0;
    if (have_bytes) {
      if (pending_unk) ids.push_back(v.unk);
      pending_unk = false;
      for (unsigned char b : piece) ids.push_back(v.byte_token(b));
      continue;
    }
    if (v.unk < 0) continue;  // no UNK token: the character is dropped, as HF and llama.cpp do
    if (pending_unk && !options_.fuse_unk) ids.push_back(v.unk);
    pending_unk = true;
  }
  if (pending_unk) ids.push_back(v.unk);
}

void BpeModel::merge_all(std::vector<int32_t>& ids) const {
  const int32_t n = static_cast<int32_t>(ids.size());
  if (n < 2) return;
  std::vector<int32_t> prev(n), next(n);
  std::vector<bool> alive(n, true);
  for (int32_t i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  auto consider = [&](int32_t left) {
    const int32_t right = left >= 0 ? next[left] : -1;
    if (right < 0) return;
    if (const Merge* m = find_merge(ids[left], ids[right])) queue.push({m->rank, left, ids[left], ids[right]});
  };
  for (int32_t i = 0; i + 1 < n; ++i) consider(i);

  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    const int32_t right = next[c.pos];
    // Skip pairs that an earlier merge has changed.
    if (!alive[c.pos] || right < 0 || ids[c.pos] != c.left_id || ids[right] != c.right_id) continue;
    ids[c.pos] = find_merge(c.left_id, c.right_id)->id;
    alive[right] = false;
    next[c.pos] = next[right];
    if (next[right] >= 0) prev[next[right]] = c.pos;
    consider(prev[c.pos]);
    consider(c.pos);
  }
  std::vector<int32_t> merged;
  for (int32_t i = 0; i >= 0; i = next[i]) merged.push_back(ids[i]);
  ids = std::move(merged);
}

void BpeModel::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (options_.ignore_merges) {
    if (const int32_t id = vocab_->find(word); id >= 0) {
      out.push_back(id);
      return;
    }
  }
  // Prefixes and suffixes make a symbol depend on its place in the word, so such words stay whole.
  const bool cuttable = options_.continuing_subword_prefix.empty() && options_.end_of_word_suffix.empty();
  if (word.size() <= kCacheWordBytes || !cuttable) {
    encode_chunk(word, out);
    return;
  }
  for (std::string_view chunk : boundaries_.chunks(word)) encode_chunk(chunk, out);
}

void BpeModel::encode_chunk(std::string_view word, std::vector<int32_t>& out) const {
  const bool cacheable = word.size() <= kCacheWordBytes;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (auto it = cache_.find(word); it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> ids;
  initial_symbols(word, ids);
  merge_all(ids);
  out.insert(out.end(), ids.begin(), ids.end());
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.size() >= kCacheEntries) cache_.clear();
    cache_.emplace(std::string(word), std::move(ids));
  }
}

}  // namespace tunekit
