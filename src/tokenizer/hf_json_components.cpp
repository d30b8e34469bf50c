#include "tokenizer/hf_json_components.h"

#include "tunekit/error.h"

namespace tunekit::hf_json {

using nlohmann::json;

namespace {

std::string type_of(const json& spec, const char* stage) {
  check(spec.is_object() && spec.contains("type") && spec["type"].is_string(), stage, ": expected an object with a ",
        "\"type\"");
  return spec["type"].get<std::string>();
}

// A {"String": s} or {"Regex": r} pattern; sets is_regex.
std::string pattern_of(const json& spec, bool* is_regex) {
  const json& p = spec.at("pattern");
  *is_regex = p.contains("Regex");
  return p.at(*is_regex ? "Regex" : "String").get<std::string>();
}

// Metaspace's prepend_scheme, or the older add_prefix_space flag.
std::string prepend_scheme_of(const json& spec) {
  if (spec.contains("prepend_scheme")) return spec["prepend_scheme"].get<std::string>();
  return spec.value("add_prefix_space", true) ? "always" : "never";
}

int32_t special_id(const Vocab& vocab, const std::string& text) {
  const int32_t id = vocab.find(text);
  check(id >= 0, "post_processor: special token '", text, "' is not in the vocabulary");
  return id;
}

}  // namespace

int64_t integer(const json& value, const std::string& what, int64_t lo, int64_t hi) {
  check(value.is_number_integer(), what, ": expected an integer, got ", value.dump());
  const bool in_range = value.is_number_unsigned() ? value.get<uint64_t>() <= static_cast<uint64_t>(hi)
                                                   : value.get<int64_t>() >= lo && value.get<int64_t>() <= hi;
  check(in_range, what, " is ", value.dump(), " (expected ", lo, "..", hi, ")");
  return value.get<int64_t>();
}

size_t count_or(const json& spec, const char* key, size_t fallback) {
  if (!spec.contains(key) || spec[key].is_null()) return fallback;
  return static_cast<size_t>(integer(spec[key], key, 0, INT32_MAX));
}

void add_normalizer(const json& spec, Normalizer& out) {
  if (spec.is_null()) return;
  const std::string type = type_of(spec, "normalizer");
  if (type == "Sequence") {
    for (const json& s : spec.at("normalizers")) add_normalizer(s, out);
  } else if (type == "Prepend") {
    out.add(normalizers::prepend(spec.at("prepend").get<std::string>()));
  } else if (type == "Replace") {
    bool is_regex = false;
    const std::string pattern = pattern_of(spec, &is_regex);
    out.add(normalizers::replace(pattern, is_regex, spec.at("content").get<std::string>()));
  } else if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
    const unicode::Form form = type == "NFC"   ? unicode::Form::NFC
                               : type == "NFD" ? unicode::Form::NFD
                               : type == "NFKC" ? unicode::Form::NFKC
                                                : unicode::Form::NFKD;
    out.add(normalizers::unicode_form(form));
  } else if (type == "Lowercase") {
    out.add(normalizers::lowercase());
  } else if (type == "StripAccents") {
    out.add(normalizers::strip_accents());
  } else if (type == "Strip") {
    out.add(normalizers::strip(spec.value("strip_left", true), spec.value("strip_right", true)));
  } else if (type == "BertNormalizer") {
    BertNormalizeOptions o;
    o.clean_text = spec.value("clean_text", true);
    o.handle_chinese_chars = spec.value("handle_chinese_chars", true);
    o.lowercase = spec.value("lowercase", true);
    const json& strip = spec.contains("strip_accents") ? spec["strip_accents"] : json();
    o.strip_accents = strip.is_boolean() ? strip.get<bool>() : o.lowercase;
    out.add(normalizers::bert(o));
  } else if (type == "Precompiled") {
    fail("normalizer: type Precompiled (a SentencePiece charsmap) is not supported; hint: load the model's ",
         "tokenizer.model instead");
  } else {
    fail("normalizer: type '", type, "' is not supported");
  }
}

void add_pre_tokenizer(const json& spec, PreTokenizer& out) {
  if (spec.is_null()) return;
  const std::string type = type_of(spec, "pre_tokenizer");
  if (type == "Sequence") {
    for (const json& s : spec.at("pretokenizers")) add_pre_tokenizer(s, out);
  } else if (type == "ByteLevel") {
    out.add(pre_tokenizers::byte_level(spec.value("add_prefix_space", true), spec.value("use_regex", true)));
  } else if (type == "Split") {
    bool is_regex = false;
    const std::string pattern = pattern_of(spec, &is_regex);
    out.add(pre_tokenizers::split(pattern, is_regex, split_behavior_from_name(spec.at("behavior").get<std::string>()),
                                  spec.value("invert", false)));
  } else if (type == "Digits") {
    out.add(pre_tokenizers::digits(spec.value("individual_digits", false)));
  } else if (type == "Whitespace") {
    out.add(pre_tokenizers::whitespace());
  } else if (type == "WhitespaceSplit") {
    out.add(pre_tokenizers::whitespace_split());
  } else if (type == "BertPreTokenizer") {
    out.add(pre_tokenizers::bert());
  } else if (type == "Punctuation") {
    out.add(pre_tokenizers::punctuation(split_behavior_from_name(spec.value("behavior", std::string("Isolated")))));
  } else if (type == "Metaspace") {
    out.add(pre_tokenizers::metaspace(spec.value("replacement", std::string("\u2581")), prepend_scheme_of(spec),
                                      spec.value("split", true)));
  } else {
    fail("pre_tokenizer: type '", type, "' is not supported");
  }
}

void add_decoder(const json& spec, Decoder& out) {
  if (spec.is_null()) return;
  const std::string type = type_of(spec, "decoder");
  if (type == "Sequence") {
    for (const json& s : spec.at("decoders")) add_decoder(s, out);
  } else if (type == "ByteLevel") {
    out.add(decoders::byte_level());
  } else if (type == "Metaspace") {
    out.add(decoders::metaspace(spec.value("replacement", std::string("\u2581")), prepend_scheme_of(spec) != "never"));
  } else if (type == "WordPiece") {
    out.add(decoders::wordpiece(spec.value("prefix", std::string("##")), spec.value("cleanup", true)));
  } else if (type == "Replace") {
    bool is_regex = false;
    const std::string pattern = pattern_of(spec, &is_regex);
    check(!is_regex, "decoder: Replace with a Regex pattern is not supported");
    out.add(decoders::replace(pattern, spec.at("content").get<std::string>()));
  } else if (type == "ByteFallback") {
    out.add(decoders::byte_fallback());
  } else if (type == "Fuse") {
    out.add(decoders::fuse());
  } else if (type == "Strip") {
    out.add(decoders::strip(spec.value("content", std::string(" ")), count_or(spec, "start", 0),
                            count_or(spec, "stop", 0)));
  } else if (type == "BPEDecoder") {
    out.add(decoders::bpe_suffix(spec.value("suffix", std::string("</w>"))));
  } else {
    fail("decoder: type '", type, "' is not supported");
  }
}

void add_post_processor(const json& spec, const Vocab& vocab, std::vector<int32_t>& prefix,
                        std::vector<int32_t>& suffix) {
  if (spec.is_null()) return;
  const std::string type = type_of(spec, "post_processor");
  if (type == "Sequence") {
    for (const json& s : spec.at("processors")) add_post_processor(s, vocab, prefix, suffix);
  } else if (type == "TemplateProcessing") {
    bool after_sequence = false;
    for (const json& item : spec.at("single")) {
      if (item.contains("Sequence")) {
        after_sequence = true;
        continue;
      }
      const std::string name = item.at("SpecialToken").at("id").get<std::string>();
      const json& special = spec.at("special_tokens").at(name);
      for (const json& id : special.at("ids")) {
        const auto v = static_cast<int32_t>(
            integer(id, "post_processor: special token '" + name + "' id", 0, vocab.size() - 1));
        (after_sequence ? suffix : prefix).push_back(v);
      }
    }
  } else if (type == "BertProcessing" || type == "RobertaProcessing") {
    prefix.push_back(special_id(vocab, spec.at("cls").at(0).get<std::string>()));
    suffix.push_back(special_id(vocab, spec.at("sep").at(0).get<std::string>()));
  } else if (type != "ByteLevel") {
    fail("post_processor: type '", type, "' is not supported");
  }
}

}  // namespace tunekit::hf_json
