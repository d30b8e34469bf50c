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

  json config = json::object();
  if (fs::exists(dir / "tokenizer_config.json")) config = read_json_file(dir / "tokenizer_config.json");
  check(config.is_object(), (dir / "tokenizer_config.json").string(), ": expected a JSON object");
  auto token_name = [&](const char* key, const char* fallback) {
    const std::string name = config.contains(key) && config[key].is_string() ? config[key].get<std::string>() : fallback;
    check(vocab.contains(name), vocab_file.string(), ": the ", key, " '", name, "' is not in the vocabulary");
    return name;
  };
  const std::string unk = token_name("unk_token", "[UNK]"), cls = token_name("cls_token", "[CLS]"),
                    sep = token_name("sep_token", "[SEP]");
  const bool lowercase = config.value("do_lower_case", true);
  std::vector<std::string> specials{unk, cls, sep};
  for (const auto& [key, fallback] : {std::pair{"pad_token", "[PAD]"}, std::pair{"mask_token", "[MASK]"}}) {
    const std::string name = config.contains(key) && config[key].is_string() ? config[key].get<std::string>() : fallback;
    if (vocab.contains(name)) specials.push_back(name);  // optional: split out of the text where they appear
  }
  json added = json::array();
  for (const std::string& special : specials)
    added.push_back({{"id", vocab[special]}, {"content", special}, {"single_word", false}, {"lstrip", false},
                     {"rstrip", false}, {"normalized", false}, {"special", true}});
  const json& strip_accents = config.contains("strip_accents") ? config["strip_accents"] : json();
  return {
      {"version", "1.0"},
      {"added_tokens", added},
      {"normalizer",
       {{"type", "BertNormalizer"},
        {"clean_text", true},
        {"handle_chinese_chars", config.value("tokenize_chinese_chars", true)},
        {"strip_accents", strip_accents.is_boolean() ? strip_accents : json()},
        {"lowercase", lowercase}}},
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
  return parse_tokenizer_json(tokenizer_json_from_vocab(dir).dump(), (dir / "vocab.txt").string());
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
