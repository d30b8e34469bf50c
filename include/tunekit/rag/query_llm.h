// Retrieval helpers that ask a generative model: rephrasings of a question for multi-query
// retrieval (Retriever::retrieve_multi fuses their hits), and a listwise rerank of candidate chunks
// by the model's relevance judgement. The model's replies are free text: the parsers below take
// what they can and fall back to the unchanged question / candidate order on empty or malformed
// replies, so a weak model costs quality, never a failure.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tunekit/infer/generate.h"
#include "tunekit/rag/store.h"
#include "tunekit/tokenizer/chat_template.h"

namespace tunekit::rag {

// The model to ask. chat: its chat template (the prompt becomes one user turn); null: the prompt
// is given raw, with BOS. generate: sampling, token limit (the defaults: greedy, 256 tokens).
struct LlmHelper {
  const Model& model;
  const Tokenizer& tokenizer;
  const ChatTemplate* chat = nullptr;
  GenerateOptions generate = greedy(256);

  static GenerateOptions greedy(int64_t max_tokens);
  std::string ask(const std::string& prompt) const;  // the model's reply
  std::vector<int32_t> prompt_tokens(const std::string& prompt) const;  // what ask() feeds the model
  bool fits(const std::string& prompt) const;  // prompt + generate.max_tokens within the model's context
};

// The instruction asking for n rephrasings, one per line.
std::string rephrase_prompt(std::string_view question, int64_t n);
// The reply's lines with list markers ("1.", "2)", "-", "*", "•") and surrounding quotes removed;
// blank lines, lines of one character, repeats and the question itself (ignoring case) dropped;
// at most n.
std::vector<std::string> parse_rephrasings(std::string_view reply, std::string_view question, int64_t n);
// {question, up to n rephrasings}: what retrieve_multi takes.
std::vector<std::string> rephrase_queries(const LlmHelper& llm, std::string_view question, int64_t n);

// The instruction listing the passages as [1] .. [n] and asking for their numbers, most relevant
// first. Passages are cut to at most max_chars_each bytes (on a UTF-8 character boundary).
std::string rerank_prompt(std::string_view question, const std::vector<std::string>& passages, size_t max_chars_each = 600);
// The 0-based order the reply gives: numbers 1..n_passages in the order they appear (others,
// negative ones and repeats ignored), then the passages it did not name in their original order.
struct ParsedRanking {
  std::vector<int64_t> order;  // a permutation of 0..n_passages-1
  int64_t n_named = 0;         // how many the reply itself ranked (0: the original order kept)
};
ParsedRanking parse_ranking(std::string_view reply, int64_t n_passages);

// The candidates (best first, e.g. from Retriever) reordered by the model; the first k. Scores
// become 1 / rank in the new order. Passages are shortened to fit the model's context; where they
// cannot fit, the retrieved order is kept (n_named = 0).
struct RerankResult {
  std::vector<Hit> hits;
  int64_t n_named = 0;  // candidates the model ranked; 0 means its reply gave no usable order
};
RerankResult rerank(const LlmHelper& llm, const KnowledgeBase& kb, std::string_view question,
                    const std::vector<Hit>& candidates, int64_t k);

}  // namespace tunekit::rag
