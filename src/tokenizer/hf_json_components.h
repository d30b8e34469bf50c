// Builders for the pipeline stages of an HF tokenizer.json ("normalizer", "pre_tokenizer",
// "decoder", "post_processor"), one per stage, each accepting the types that real files use.
// They throw Error naming the stage and the problem; the loader adds the file name.
#pragma once
#include <nlohmann/json.hpp>

#include "tokenizer/decoder.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/vocab.h"

namespace tunekit::hf_json {

// An integer field, checked to be an integer in [lo, hi] before conversion (a float or a huge
// number must not reach a narrowing cast). what names it in the error.
int64_t integer(const nlohmann::json& value, const std::string& what, int64_t lo, int64_t hi);
// spec[key] as a count (0..2^31), or fallback where the key is missing or null.
size_t count_or(const nlohmann::json& spec, const char* key, size_t fallback);

void add_normalizer(const nlohmann::json& spec, Normalizer& out);
void add_pre_tokenizer(const nlohmann::json& spec, PreTokenizer& out);
void add_decoder(const nlohmann::json& spec, Decoder& out);
// The ids a post-processor puts before and after a single sequence.
void add_post_processor(const nlohmann::json& spec, const Vocab& vocab, std::vector<int32_t>& prefix,
                        std::vector<int32_t>& suffix);

}  // namespace tunekit::hf_json
