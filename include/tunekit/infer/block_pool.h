// The paged KV cache's block allocator: fixed-size blocks with reference counts. Full blocks of
// identical prefixes are shared through a chained content hash (a block's hash covers its tokens
// and its parent's hash, starting from a key of the adapter: vLLM's prefix caching). A released
// block that holds a published prefix stays cached, so a later request with the same prefix can
// reuse it, until its space is needed (least recently released first).
#pragma once
#include <cstdint>
#include <list>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

namespace tunekit {

class BlockPool {
 public:
  explicit BlockPool(int64_t n_blocks);

  int64_t n_blocks() const { return int64_t(refs_.size()); }
  int64_t available() const { return int64_t(free_.size() + cached_.size()); }  // what allocate() can hand out
  int64_t used() const { return n_blocks() - available(); }                     // blocks with a reference

  // A block with reference count 1 (a free one, else the least recently released cached one, whose
  // prefix is forgotten); nullopt when every block is referenced.
  std::optional<int32_t> allocate();
  // Drops one reference; at zero a published block is kept cached, any other becomes free.
  void release(int32_t block);
  // The published block with this prefix hash, with one more reference; nullopt when none.
  std::optional<int32_t> find_shared(uint64_t hash);
  // The block's content is final and is the prefix `hash`: later find_shared(hash) may return it.
  // When another block already holds that prefix, this one stays private.
  void publish(int32_t block, uint64_t hash);

 private:
  void check_block(int32_t block, const char* what) const;

  std::vector<int32_t> refs_;                 // [n_blocks]
  std::vector<uint64_t> hash_;                // [n_blocks] the published prefix hash, 0 = none
  std::vector<int32_t> free_;                 // a stack, lowest id on top (consecutive allocations)
  std::list<int32_t> cached_;                 // unreferenced published blocks, least recently released first
  std::vector<std::list<int32_t>::iterator> cached_at_;  // [n_blocks] position in cached_ when there
  std::unordered_map<uint64_t, int32_t> by_hash_;
};

// The hash of a full block of tokens following the prefix `parent` (never 0).
uint64_t prefix_block_hash(uint64_t parent, std::span<const int32_t> tokens);

}  // namespace tunekit
