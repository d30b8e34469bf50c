// The vocabulary in a GGUF (tokenizer.ggml.*) -> PipelineTokenizer, following llama.cpp's
// llama-vocab: "llama" = SentencePiece score merges with byte tokens, "gpt2" = byte-level BPE with
// the pre-tokenizer regexes named by tokenizer.ggml.pre, "bert" = WordPiece with "▁"-prefixed
// word starts. Control, user-defined and unknown tokens are matched in the text before the model.
#include "tokenizer/bpe_model.h"
#include "tokenizer/pipeline_tokenizer.h"
#include "tokenizer/score_merge_model.h"
#include "tokenizer/wordpiece_model.h"
#include "tunekit/error.h"
#include "tunekit/io/gguf.h"

namespace tunekit {

namespace {

const char* const kSpace = "\u2581";

// llama.cpp's regexes per tokenizer.ggml.pre, applied in order (each splits the previous pieces).
std::vector<std::string> pre_regexes(const std::string& pre) {
  const std::string gpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
  if (pre == "gpt-2" || pre == "gpt2" || pre == "phi-2" || pre == "jina-es" || pre == "jina-de" || pre == "mpt" ||
      pre == "olmo" || pre == "jais")
    return {gpt2};
  if (pre == "llama3" || pre == "llama-bpe" || pre == "llama-v3" || pre == "smaug-bpe" || pre == "falcon3")
    return {pre_tokenizer_regex::llama3};
  if (pre == "qwen2" || pre == "deepseek-r1-qwen" || pre == "stablelm2" || pre == "hunyuan")
    return {pre_tokenizer_regex::qwen2};
  if (pre == "starcoder" || pre == "refact" || pre == "command-r" || pre == "smollm" || pre == "codeshell" ||
      pre == "exaone" || pre == "minerva-7b")
    return {R"(\p{N})", gpt2};
  if (pre == "default")
    return {R"([\p{P}\$\+<=>\^~\|]+)", gpt2, R"(\p{N}+)", "[0-9][0-9][0-9]"};
  fail("tokenizer.ggml.pre '", pre, "' is not supported (known: default, gpt-2, llama3/llama-bpe, qwen2, ",
       "starcoder, smollm, ...)");
}

TokenKind kind_of(int64_t type) {
  switch (type) {
    case 2: return TokenKind::Unknown;
    case 3: return TokenKind::Control;
    case 4: return TokenKind::UserDefined;
    case 6: return TokenKind::Byte;
    default: return TokenKind::Normal;  // 1 normal, 5 unused
  }
}

class GgufVocabReader {
 public:
  explicit GgufVocabReader(const GgufFile& g) : g_(g) {}

  int32_t token_id(const std::string& key, int32_t fallback, int32_t n_tokens) const {
    const int64_t id = g_.get_int(key, fallback);
    check(id == -1 || (id >= 0 && id < n_tokens), key, " is ", id, ", outside the vocabulary (", n_tokens,
          " tokens)");
    return static_cast<int32_t>(id);
  }
  bool flag(const std::string& key, bool fallback) const { return g_.has(key) ? g_.get_bool(key) : fallback; }

 private:
  const GgufFile& g_;
};

void build_spm(const GgufFile& g, const GgufVocabReader& r, TokenizerParts& parts) {
  const int32_t n = parts.vocab->size();
  std::vector<float> scores(n, 0.0f);
  if (g.has("tokenizer.ggml.scores")) {
    const auto& s = g.get_float_array("tokenizer.ggml.scores");
    check(s.size() == static_cast<size_t>(n), "tokenizer.ggml.scores has ", s.size(), " entries for ", n, " tokens");
    for (int32_t i = 0; i < n; ++i) scores[i] = static_cast<float>(s[i]);
  }
  const bool space_prefix = r.flag("tokenizer.ggml.add_space_prefix", true);
  parts.gguf.scores = scores;
  parts.gguf.add_space_prefix = space_prefix;
  parts.normalizer.add(normalizers::replace(" ", false, kSpace));
  if (space_prefix) parts.normalizer.add(normalizers::prepend(kSpace));
  parts.model = std::make_unique<ScoreMergeModel>(parts.vocab, std::move(scores));
  parts.decoder.add(decoders::replace(kSpace, " "));
  parts.decoder.add(decoders::byte_fallback());
  parts.decoder.add(decoders::fuse());
  if (space_prefix) parts.decoder.add(decoders::strip(" ", 1, 0));
}

void build_bpe(const GgufFile& g, TokenizerParts& parts) {
  const std::string pre = g.get_string("tokenizer.ggml.pre", "default");
  for (const std::string& re : pre_regexes(pre))
    parts.pre_tokenizer.add(pre_tokenizers::split(re, true, SplitBehavior::Isolated, false));
  parts.pre_tokenizer.add(pre_tokenizers::byte_level(false, false));
  BpeOptions o;
  o.ignore_merges = pre == "llama3" || pre == "llama-bpe" || pre == "llama-v3";
  auto model = std::make_unique<BpeModel>(parts.vocab, o);
  parts.gguf.pre = pre;
  parts.gguf.merges = g.get_string_array("tokenizer.ggml.merges");
  for (const std::string& m : parts.gguf.merges) {
    const size_t space = m.find(' ', 1);
    check(space != std::string::npos, "tokenizer.ggml.merges: '", m, "' is not 'left right'");
    model->add_merge(m.substr(0, space), m.substr(space + 1));  // llama.cpp skips merges it cannot use
  }
  parts.model = std::move(model);
  parts.decoder.add(decoders::byte_level());
}

void build_wordpiece(TokenizerParts& parts) {
  parts.normalizer.add(normalizers::bert({}));
  parts.pre_tokenizer.add(pre_tokenizers::bert());
  parts.model = std::make_unique<WordPieceModel>(parts.vocab, WordPieceOptions{kSpace, "", 0});
  parts.decoder.add(decoders::replace(kSpace, " "));
  parts.decoder.add(decoders::clean_up_spaces());  // as HF's WordPiece decoder does
  parts.decoder.add(decoders::fuse());
  parts.decoder.add(decoders::strip(" ", 1, 0));
}

std::unique_ptr<Tokenizer> build(const GgufFile& g) {
  const std::string model = g.get_string("tokenizer.ggml.model");
  const auto& tokens = g.get_string_array("tokenizer.ggml.tokens");
  check(!tokens.empty() && tokens.size() < (1u << 31), "tokenizer.ggml.tokens has ", tokens.size(), " entries");
  const int32_t n = static_cast<int32_t>(tokens.size());
  std::vector<int64_t> types(n, 1);
  if (g.has("tokenizer.ggml.token_type")) {
    types = g.get_int_array("tokenizer.ggml.token_type");
    check(types.size() == tokens.size(), "tokenizer.ggml.token_type has ", types.size(), " entries for ", n,
          " tokens");
  }
  TokenizerParts parts;
  Vocab& v = *parts.vocab;
  for (int32_t id = 0; id < n; ++id) v.set(id, tokens[id], kind_of(types[id]));
  v.index_byte_tokens();
  for (int32_t id = 0; id < n; ++id)
    if (types[id] == 2 || types[id] == 3 || types[id] == 4) parts.added.add({tokens[id], id});

  const GgufVocabReader r(g);
  const bool bert = model == "bert";
  v.unk = r.token_id("tokenizer.ggml.unknown_token_id", -1, n);
  v.pad = r.token_id("tokenizer.ggml.padding_token_id", -1, n);
  v.bos = r.token_id(bert ? "tokenizer.ggml.cls_token_id" : "tokenizer.ggml.bos_token_id", -1, n);
  v.eos = r.token_id("tokenizer.ggml.eos_token_id", -1, n);
  if (bert) {
    // llama.cpp spells the key "seperator"; accept the correct spelling as well.
    const int32_t sep = r.token_id("tokenizer.ggml.seperator_token_id", -1, n);
    v.eos = sep >= 0 ? sep : r.token_id("tokenizer.ggml.separator_token_id", v.eos, n);
    if (v.bos < 0) v.bos = r.token_id("tokenizer.ggml.bos_token_id", -1, n);
  }
  if (v.unk >= 0 && v.kind(v.unk) == TokenKind::Normal) v.set_kind(v.unk, TokenKind::Unknown);

  parts.gguf.model = model;
  bool add_bos = false, add_eos = false;
  if (model == "llama") {
    build_spm(g, r, parts);
    add_bos = true;
  } else if (model == "gpt2") {
    build_bpe(g, parts);
  } else if (bert) {
    build_wordpiece(parts);
    add_bos = add_eos = true;
  } else {
    fail("tokenizer.ggml.model '", model, "' is not supported (llama, gpt2 and bert are)");
  }
  if (r.flag("tokenizer.ggml.add_bos_token", add_bos) && v.bos >= 0) parts.prefix_ids.push_back(v.bos);
  if (r.flag("tokenizer.ggml.add_eos_token", add_eos) && v.eos >= 0) parts.suffix_ids.push_back(v.eos);
  return std::make_unique<PipelineTokenizer>(std::move(parts));
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const GgufFile& gguf) {
  try {
    return build(gguf);
  } catch (const Error& e) {
    fail(gguf.path().string(), ": ", e.what());
  }
}

}  // namespace tunekit
