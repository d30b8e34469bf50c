#include "rag/encoder_text.h"

#include <cctype>
#include <fstream>

#include "tunekit/error.h"
#include "tunekit/io/file_util.h"

namespace tunekit::rag {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kBgeQueryInstruction = "Represent this sentence for searching relevant passages: ";

// The tokenizer.json that HF's BertTokenizerFast builds from vocab.txt and tokenizer_config.json.
json tokenizer_json_from_vocab(const fs::path& dir) {
  const fs::path vocab_file = dir / "vocab.txt";
  std::ifstream in(vocab_file, std::ios::binary);
  check(in.good(), vocab_file.string(), ": cannot open");
  json vocab = json::object();
  int64_t id = 0;
  for (std::string line; std::getline(in, line); ++id) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    vocab[line] = id;
  }
  check(id > 0, vocab_file.string(), ": empty vocabulary");

  const fs::path config_file = dir / "tokenizer_config.json";
  json config = json::object();
  if (fs::exists(config_file)) config = read_json_file(config_file);
  check(config.is_object(), config_file.string(), ": expected a JSON object");
  auto token_name = [&](const char* key, const char* fallback) {
    return config.contains(key) && config[key].is_string() ? config[key].get<std::string>() : std::string(fallback);
  };
  auto flag = [&](const char* key, bool fallback) {
    if (!config.contains(key) || config[key].is_null()) return fallback;
    check(config[key].is_boolean(), config_file.string(), ": \"", key, "\" must be true or false");
    return config[key].get<bool>();
  };
  const std::string unk = token_name("unk_token", "[UNK]"), cls = token_name("cls_token", "[CLS]"),
                    sep = token_name("sep_token", "[SEP]");
  for (const std::string& required : {unk, cls, sep})
    check(vocab.contains(required), vocab_file.string(), ": the special token '", required,
          "' is not in the vocabulary");
  std::vector<std::string> specials{unk, cls, sep};
  for (const std::string& optional : {token_name("pad_token", "[PAD]"), token_name("mask_token", "[MASK]")})
    if (vocab.contains(optional)) specials.push_back(optional);  // split out of the text where they appear
  json added = json::array();
  for (const std::string& special : specials)
    added.push_back({{"id", vocab[special]},
                     {"content", special},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  const json& strip_accents = config.contains("strip_accents") ? config["strip_accents"] : json();
  return {
      {"version", "1.0"},
      {"added_tokens", added},
      {"normalizer",
       {{"type", "BertNormalizer"},
        {"clean_text", true},
        {"handle_chinese_chars", flag("tokenize_chinese_chars", true)},
        {"strip_accents", strip_accents.is_boolean() ? strip_accents : json()},
        {"lowercase", flag("do_lower_case", true)}}},
      {"pre_tokenizer", {{"type", "BertPreTokenizer"}}},
      {"post_processor", {{"type", "BertProcessing"}, {"sep", {sep, vocab[sep]}}, {"cls", {cls, vocab[cls]}}}},
      {"decoder", {{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}}},
      {"model",
       {{"type", "WordPiece"},
        {"unk_token", unk},
        {"continuing_subword_prefix", "##"},
        {"max_input_chars_per_word", 100},
        {"vocab", vocab}}},
  };
}

// The parts of a folder name separated by '-', '_', '.', ' ', lower-cased.
std::vector<std::string> name_parts(const std::string& name) {
  std::vector<std::string> parts(1);
  for (char ch : name) {
    if (ch == '-' || ch == '_' || ch == '.' || ch == ' ')
      parts.emplace_back();
    else
      parts.back() += char(std::tolower(static_cast<unsigned char>(ch)));
  }
  return parts;
}

}  // namespace

std::unique_ptr<Tokenizer> load_encoder_tokenizer(const fs::path& dir) {
  if (fs::exists(dir / "tokenizer.json")) return load_tokenizer(dir / "tokenizer.json");
  check(fs::exists(dir / "vocab.txt"), dir.string(), ": no tokenizer.json or vocab.txt; hint: download the ",
        "encoder's tokenizer files with its weights");
  std::string json_text;
  try {
    json_text = tokenizer_json_from_vocab(dir).dump();
  } catch (const nlohmann::json::exception& e) {  // e.g. a vocabulary entry that is not UTF-8
    fail((dir / "vocab.txt").string(), ": cannot be read as a WordPiece vocabulary (", e.what(), ")");
  }
  return parse_tokenizer_json(json_text, (dir / "vocab.txt").string());
}

std::vector<int32_t> encode_truncated(const Tokenizer& tokenizer, std::string_view text, int64_t max_tokens) {
  std::vector<int32_t> ids = tokenizer.encode(text, /*add_special=*/true);  // [CLS] pieces [SEP]
  check(max_tokens >= 2, "encode_truncated: max_tokens ", max_tokens, " leaves no room for [CLS] and [SEP]");
  if (int64_t(ids.size()) > max_tokens) {
    const int32_t sep = ids.back();
    ids.resize(size_t(max_tokens - 1));
    ids.push_back(sep);
  }
  return ids;
}

TextPrefixes text_prefixes(const std::string& style, const std::string& folder_name) {
  if (style == "auto") {
    for (const std::string& part : name_parts(folder_name)) {
      if (part == "e5") return text_prefixes("e5", folder_name);
      if (part.rfind("bge", 0) == 0) return text_prefixes("bge", folder_name);
    }
    return {};
  }
  if (style == "none") return {};
  if (style == "e5") return {"query: ", "passage: "};
  if (style == "bge") return {kBgeQueryInstruction, ""};
  fail("encoder: unknown prefix style '", style, "' (choose auto, none, e5 or bge)");
}

}  // namespace tunekit::rag
