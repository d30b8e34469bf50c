#include "tunekit/infer/block_pool.h"

#include "tunekit/error.h"

namespace tunekit {

BlockPool::BlockPool(int64_t n_blocks)
    : refs_(size_t(n_blocks), 0), hash_(size_t(n_blocks), 0), cached_at_(size_t(n_blocks), cached_.end()) {
  check(n_blocks > 0, "KV block pool: the number of blocks must be positive, got ", n_blocks);
  for (int64_t b = n_blocks - 1; b >= 0; --b) free_.push_back(int32_t(b));
}

void BlockPool::check_block(int32_t block, const char* what) const {
  check(block >= 0 && block < n_blocks(), "KV block pool: ", what, " of block ", block, ", outside [0, ", n_blocks(), ")");
}

std::optional<int32_t> BlockPool::allocate() {
  int32_t block;
  if (!free_.empty()) {
    block = free_.back();
    free_.pop_back();
  } else if (!cached_.empty()) {
    block = cached_.front();
    cached_.pop_front();
    cached_at_[size_t(block)] = cached_.end();
    by_hash_.erase(hash_[size_t(block)]);
    hash_[size_t(block)] = 0;
  } else {
    return std::nullopt;
  }
  refs_[size_t(block)] = 1;
  return block;
}

void BlockPool::release(int32_t block) {
  check_block(block, "release");
  int32_t& ref = refs_[size_t(block)];
  check(ref > 0, "KV block pool: block ", block, " released more often than it was taken");
  if (--ref > 0) return;
  if (hash_[size_t(block)] != 0) {
    cached_at_[size_t(block)] = cached_.insert(cached_.end(), block);
  } else {
    free_.push_back(block);
  }
}

std::optional<int32_t> BlockPool::find_shared(uint64_t hash) {
  auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return std::nullopt;
  const int32_t block = it->second;
  if (refs_[size_t(block)]++ == 0) {  // it was cached: take it off the eviction list
    cached_.erase(cached_at_[size_t(block)]);
    cached_at_[size_t(block)] = cached_.end();
  }
  return block;
}

void BlockPool::publish(int32_t block, uint64_t hash) {
  check_block(block, "publish");
  check(hash != 0 && refs_[size_t(block)] > 0, "KV block pool: publish needs a referenced block and a hash");
  if (hash_[size_t(block)] != 0 || by_hash_.count(hash)) return;
  by_hash_.emplace(hash, block);
  hash_[size_t(block)] = hash;
}

uint64_t prefix_block_hash(uint64_t parent, std::span<const int32_t> tokens) {
  // splitmix64 steps over the parent and each token: any change of order or content changes the hash.
  auto mix = [](uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  uint64_t h = mix(parent + 0x9e3779b97f4a7c15ULL);
  for (int32_t t : tokens) h = mix(h ^ (uint64_t(uint32_t(t)) + 0x9e3779b97f4a7c15ULL));
  return h == 0 ? 1 : h;
}

}  // namespace tunekit
