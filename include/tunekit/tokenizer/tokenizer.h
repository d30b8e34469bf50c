// Tokenizer: text <-> token ids. One interface over every vocabulary format we read:
// HF tokenizer.json (byte-level BPE, SentencePiece-style BPE with byte fallback, WordPiece),
// SentencePiece .model (libsentencepiece), llama2.c tokenizer.bin, and the vocabulary in a GGUF.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tunekit {

class GgufFile;
class GgufWriter;

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // add_special: prepend BOS / append EOS (or CLS/SEP for WordPiece) as the tokenizer's own
  // post-processor would; false gives llama.cpp's test convention (no BOS/EOS).
  virtual std::vector<int32_t> encode(std::string_view text, bool add_special) const = 0;
  // Text of ids; special tokens (BOS/EOS/...) are dropped unless keep_special.
  virtual std::string decode(const std::vector<int32_t>& ids, bool keep_special = false) const = 0;

  virtual int32_t vocab_size() const = 0;
  virtual int32_t bos_id() const = 0;  // -1 where there is none
  virtual int32_t eos_id() const = 0;  // -1 where there is none
  // Ids that end generation: EOS plus end-of-turn tokens (<|eot_id|>, <|im_end|>, <|end|>, ...).
  virtual std::vector<int32_t> stop_ids() const = 0;
  virtual std::string id_to_token(int32_t id) const = 0;  // the raw vocabulary entry
  virtual std::string bos_token() const = 0;              // "" where there is none (for chat templates)
  virtual std::string eos_token() const = 0;
  // Writes the vocabulary as llama.cpp's tokenizer.ggml.* metadata (model, pre, tokens, scores or
  // merges, token types, role ids, add_bos/add_eos), so load_tokenizer(GgufFile) encodes the same.
  virtual void write_gguf(GgufWriter& out) const = 0;
};

// Picks the format from the path: a folder (tokenizer.json, else tokenizer.model, else a llama2.c
// tokenizer.bin), *.json, *.model, *.gguf, or a llama2.c tokenizer .bin. Throws Error naming the
// file and the problem.
std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& path);
std::unique_ptr<Tokenizer> load_tokenizer(const GgufFile& gguf);
// An HF tokenizer.json given as text (name is used in error messages); BOS/EOS come from its
// post-processor or the usual token names, as there is no tokenizer_config.json beside it.
std::unique_ptr<Tokenizer> parse_tokenizer_json(std::string_view json_text, const std::string& name = "tokenizer.json");

// tok.write_gguf(out) for a model whose embedding has n_vocab rows. llama.cpp requires the two to
// agree: a smaller vocabulary is padded with unused "[PAD<id>]" tokens (as llama.cpp's converter
// does); a larger one is an Error, since its extra ids would index past the embedding.
void write_gguf_vocab_for_model(const Tokenizer& tok, GgufWriter& out, int64_t n_vocab);

// Streaming decode: feed ids one at a time, get the text that became complete (whole UTF-8
// characters only, SentencePiece leading-space rules applied as decode() would).
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok) : tok_(tok) {}
  // Ids already in the text before the first push (their bytes are never returned): what follows is
  // decoded as the continuation of their last few (the window's context).
  void prime(std::span<const int32_t> context);
  std::string push(int32_t id);
  std::string flush();  // whatever is left at the end
  // The bytes id adds to decode() of the ids pushed so far (a token may end mid-character), without
  // pushing it.
  std::string peek(int32_t id) const;

 private:
  const Tokenizer& tok_;
  std::vector<int32_t> ids_;  // the recent ids decoded together (a window, not the whole history)
  size_t emitted_ = 0;        // bytes of decode(ids_) already returned
  size_t decoded_ = 0;        // bytes of decode(ids_), complete characters or not
};

}  // namespace tunekit
