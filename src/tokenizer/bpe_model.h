// BpeModel: byte-pair encoding by merge rank (HF tokenizers' BPE and llama.cpp's gpt2 vocab).
// A word starts as one symbol per UTF-8 character (byte fallback or UNK where the vocabulary has no
// such character); the adjacent pair with the lowest merge rank (leftmost on ties) merges until no
// pair has a rank. Symbols live in a linked list with a priority queue of candidate pairs, so a
// word of n characters costs O(n log n); long words are cut where no merge can cross
// (MergeBoundaries) and results for short pieces are cached.
#pragma once
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "tokenizer/merge_boundaries.h"
#include "tokenizer/token_model.h"
#include "tokenizer/vocab.h"

namespace tunekit {

struct BpeOptions {
  bool byte_fallback = false;  // characters not in the vocabulary become <0xNN> tokens
  bool fuse_unk = false;       // consecutive unknown characters give one UNK
  bool ignore_merges = false;  // a word that is itself a token is emitted whole (Llama-3)
  std::string continuing_subword_prefix;
  std::string end_of_word_suffix;
};

class BpeModel : public TokenModel {
 public:
  BpeModel(std::shared_ptr<const Vocab> vocab, BpeOptions options);
  // Adds the next merge (rank = merges added so far). Returns false, adding nothing, when left,
  // right or their concatenation is not a token.
  bool add_merge(std::string_view left, std::string_view right);
  void encode_word(std::string_view word, std::vector<int32_t>& out) const override;

 private:
  struct Merge {
    int32_t rank;
    int32_t id;
  };
  void encode_chunk(std::string_view chunk, std::vector<int32_t>& out) const;
  void initial_symbols(std::string_view word, std::vector<int32_t>& ids) const;
  void merge_all(std::vector<int32_t>& ids) const;
  const Merge* find_merge(int32_t left, int32_t right) const;

  std::shared_ptr<const Vocab> vocab_;
  BpeOptions options_;
  MergeBoundaries boundaries_;
  std::unordered_map<uint64_t, Merge> merges_;
  int32_t n_merges_ = 0;
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache_;
};

}  // namespace tunekit
