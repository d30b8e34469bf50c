// HF tokenizer.json -> PipelineTokenizer: the vocabulary, the model (BPE or WordPiece), added
// tokens and the roles of BOS/EOS; hf_json_components.cpp builds the other stages.
#include "tokenizer/bpe_model.h"
#include "tokenizer/hf_json_components.h"
#include "tokenizer/loaders.h"
#include "tokenizer/pipeline_tokenizer.h"
#include "tokenizer/wordpiece_model.h"
#include "tunekit/error.h"
#include "tunekit/io/file_util.h"

namespace tunekit {

using nlohmann::json;

namespace {

// model.vocab and the added tokens, with ids checked to be dense enough to allocate.
void fill_vocab(const json& doc, Vocab& vocab) {
  const json& entries = doc.at("model").at("vocab");
  const json& added = doc.contains("added_tokens") ? doc["added_tokens"] : json::array();
  check(entries.is_object(), "model.vocab: expected an object of token -> id");
  const int64_t limit = static_cast<int64_t>(entries.size() + added.size());
  for (const auto& [text, id_json] : entries.items()) {
    const int64_t id = hf_json::integer(id_json, "model.vocab: the id of token '" + text + "'", 0, limit - 1);
    vocab.set(static_cast<int32_t>(id), text);
  }
  for (const json& a : added) {
    const int64_t id = hf_json::integer(a.at("id"), "added_tokens: an id", 0, limit - 1);
    const std::string text = a.at("content").get<std::string>();
    const TokenKind kind = a.value("special", false) ? TokenKind::Control : TokenKind::UserDefined;
    if (id < vocab.size() && vocab.text(static_cast<int32_t>(id)) == text)
      vocab.set_kind(static_cast<int32_t>(id), kind);
    else
      vocab.set(static_cast<int32_t>(id), text, kind);
  }
  for (int32_t id = 0; id < vocab.size(); ++id)
    check(!vocab.text(id).empty(), "model.vocab: no token has id ", id, " (ids must be 0..n-1)");
}

void add_merges(const json& merges, BpeModel& model) {
  check(merges.is_array(), "model.merges: expected an array");
  for (const json& m : merges) {
    std::string left, right;
    if (m.is_string()) {
      const std::string s = m.get<std::string>();
      const size_t space = s.find(' ', 1);
      check(space != std::string::npos, "model.merges: '", s, "' is not 'left right'");
      left = s.substr(0, space);
      right = s.substr(space + 1);
    } else {
      check(m.is_array() && m.size() == 2, "model.merges: expected \"a b\" or [a, b], got ", m.dump());
      left = m[0].get<std::string>();
      right = m[1].get<std::string>();
    }
    check(model.add_merge(left, right), "model.merges: merge '", left, " ", right, "' uses a token that is not in ",
          "the vocabulary");
  }
}

std::unique_ptr<TokenModel> make_model(const json& spec, std::shared_ptr<Vocab> vocab) {
  const std::string type = spec.value("type", std::string(spec.contains("merges") ? "BPE" : "WordPiece"));
  const json& unk = spec.contains("unk_token") ? spec["unk_token"] : json();
  if (unk.is_string()) {
    vocab->unk = vocab->find(unk.get<std::string>());
    check(vocab->unk >= 0, "model.unk_token '", unk.get<std::string>(), "' is not in the vocabulary");
    if (vocab->kind(vocab->unk) == TokenKind::Normal) vocab->set_kind(vocab->unk, TokenKind::Unknown);
  }
  auto string_or_empty = [&](const char* key) {
    return spec.contains(key) && spec[key].is_string() ? spec[key].get<std::string>() : std::string();
  };
  if (type == "BPE") {
    check(!spec.contains("dropout") || spec["dropout"].is_null() || spec["dropout"].get<double>() == 0.0,
          "model: BPE dropout is not supported (it makes encoding random)");
    BpeOptions o;
    o.byte_fallback = spec.value("byte_fallback", false);
    o.fuse_unk = spec.value("fuse_unk", false);
    o.ignore_merges = spec.value("ignore_merges", false);
    o.continuing_subword_prefix = string_or_empty("continuing_subword_prefix");
    o.end_of_word_suffix = string_or_empty("end_of_word_suffix");
    vocab->index_byte_tokens();
    auto model = std::make_unique<BpeModel>(vocab, o);
    add_merges(spec.at("merges"), *model);
    return model;
  }
  if (type == "WordPiece") {
    WordPieceOptions o;
    o.continuing_prefix = spec.value("continuing_subword_prefix", std::string("##"));
    o.max_chars = hf_json::count_or(spec, "max_input_chars_per_word", 100);
    return std::make_unique<WordPieceModel>(vocab, o);
  }
  fail("model: type '", type, "' is not supported (BPE and WordPiece are); hint: for a Unigram model load the ",
       "SentencePiece tokenizer.model");
}

// Whether any stage in spec (recursing into Sequences) has the given type.
bool has_type(const json& spec, const std::string& type) {
  if (spec.is_object()) {
    if (spec.value("type", std::string()) == type) return true;
    for (const auto& [key, value] : spec.items())
      if (value.is_structured() && has_type(value, type)) return true;
  } else if (spec.is_array()) {
    for (const json& v : spec)
      if (has_type(v, type)) return true;
  }
  return false;
}

// llama.cpp's tokenizer.ggml.pre for a byte-level pre-tokenizer: the regex presets it knows.
std::string gguf_pre_name(const json& pre) {
  const std::string text = pre.dump();
  if (text.find(json(pre_tokenizer_regex::llama3).dump()) != std::string::npos) return "llama-bpe";
  if (text.find(json(pre_tokenizer_regex::qwen2).dump()) != std::string::npos) return "qwen2";
  if (has_type(pre, "Digits")) return "starcoder";
  if (has_type(pre, "ByteLevel") && pre.dump().find("\"use_regex\":false") == std::string::npos) return "gpt-2";
  return "default";
}

// How write_gguf spells this tokenizer: WordPiece as "bert" (phantom-space tokens), byte-level BPE
// as "gpt2" with its merges, other BPE as SentencePiece "llama" with scores that rank the merges.
GgufVocab gguf_form(const json& doc, const Vocab& vocab) {
  GgufVocab g;
  const json& model = doc.at("model");
  if (!model.contains("merges")) {
    g.model = "bert";
    g.tokens = phantom_space_tokens(vocab);
    return g;
  }
  std::vector<std::pair<std::string, std::string>> merges;
  for (const json& m : model["merges"]) {
    if (m.is_array()) {
      merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      const std::string s = m.get<std::string>();
      merges.emplace_back(s.substr(0, s.find(' ', 1)), s.substr(s.find(' ', 1) + 1));
    }
  }
  const json pre = doc.value("pre_tokenizer", json());
  if (has_type(pre, "ByteLevel") || has_type(doc.value("decoder", json()), "ByteLevel")) {
    g.model = "gpt2";
    g.pre = gguf_pre_name(pre);
    for (const auto& [l, r] : merges) g.merges.push_back(l + " " + r);
    return g;
  }
  g.model = "llama";
  g.add_space_prefix = has_type(doc.value("normalizer", json()), "Prepend") || has_type(pre, "Metaspace");
  g.scores.assign(vocab.size(), 0.0f);
  for (size_t rank = merges.size(); rank-- > 0;)
    g.scores[vocab.find(merges[rank].first + merges[rank].second)] = -static_cast<float>(rank) - 1.0f;
  return g;
}

// A token named in tokenizer_config.json: a string or {"content": ...}; -1 where absent or unknown.
int32_t config_token(const json& config, const char* key, const Vocab& vocab) {
  if (!config.is_object() || !config.contains(key)) return -1;
  const json& t = config[key];
  if (t.is_string()) return vocab.find(t.get<std::string>());
  if (t.is_object() && t.contains("content") && t["content"].is_string())
    return vocab.find(t["content"].get<std::string>());
  return -1;
}

int32_t first_special(const Vocab& vocab, std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (const int32_t id = vocab.find(n); id >= 0 && vocab.is_special(id)) return id;
  return -1;
}

// BOS/EOS: the config's names, else what the post-processor adds, else the usual names.
void assign_roles(const json& config, TokenizerParts& parts) {
  Vocab& v = *parts.vocab;
  v.bos = config_token(config, "bos_token", v);
  v.eos = config_token(config, "eos_token", v);
  v.pad = config_token(config, "pad_token", v);
  if (v.bos < 0 && !parts.prefix_ids.empty()) v.bos = parts.prefix_ids.front();
  if (v.eos < 0 && !parts.suffix_ids.empty()) v.eos = parts.suffix_ids.back();
  if (v.bos < 0) v.bos = first_special(v, {"<s>", "<|begin_of_text|>", "<bos>", "<|startoftext|>"});
  if (v.eos < 0) v.eos = first_special(v, {"</s>", "<|end_of_text|>", "<|endoftext|>", "<eos>"});
}

}  // namespace

std::unique_ptr<Tokenizer> parse_hf_json(std::string_view json_text, const std::string& name, const json& config) {
  try {
    const json doc = json::parse(json_text);
    check(doc.is_object() && doc.contains("model"), "not a tokenizer.json (no \"model\" object)");
    TokenizerParts parts;
    fill_vocab(doc, *parts.vocab);
    parts.model = make_model(doc["model"], parts.vocab);
    if (doc.contains("added_tokens")) {
      for (const json& a : doc["added_tokens"]) {
        const auto id = static_cast<int32_t>(a.at("id").get<int64_t>());  // checked by fill_vocab
        parts.added.add({a.at("content").get<std::string>(), id, a.value("lstrip", false), a.value("rstrip", false)});
      }
    }
    hf_json::add_normalizer(doc.value("normalizer", json()), parts.normalizer);
    hf_json::add_pre_tokenizer(doc.value("pre_tokenizer", json()), parts.pre_tokenizer);
    hf_json::add_post_processor(doc.value("post_processor", json()), *parts.vocab, parts.prefix_ids, parts.suffix_ids);
    hf_json::add_decoder(doc.value("decoder", json()), parts.decoder);
    assign_roles(config, parts);
    parts.gguf = gguf_form(doc, *parts.vocab);
    return std::make_unique<PipelineTokenizer>(std::move(parts));
  } catch (const json::exception& e) {
    fail(name, ": invalid tokenizer.json: ", e.what());
  } catch (const Error& e) {
    fail(name, ": ", e.what());
  }
}

std::unique_ptr<Tokenizer> load_hf_json_file(const std::filesystem::path& path) {
  json config;
  const auto config_path = path.parent_path() / "tokenizer_config.json";
  if (std::filesystem::exists(config_path)) config = read_json_file(config_path);
  return parse_hf_json(read_text_file(path), path.string(), config);
}

std::unique_ptr<Tokenizer> parse_tokenizer_json(std::string_view json_text, const std::string& name) {
  return parse_hf_json(json_text, name, json());
}

}  // namespace tunekit
