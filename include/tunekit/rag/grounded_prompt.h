// Grounded prompts: the retrieved chunks a question gets, numbered as sources, fitted into the
// model's context budget and wrapped in the model's chat template (or a plain text prompt for a
// model without one), plus the "is anything relevant?" test and the source list of an answer.
//
//   hits -> relevant_chunks (content-word overlap, dense similarity) -> fit to budget -> prompt text
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tunekit/rag/store.h"

namespace tunekit {
class Tokenizer;
class ChatTemplate;
}  // namespace tunekit

namespace tunekit::rag {

// The words of `text` that carry content: lower-cased alphanumeric runs of 2+ characters that are not
// English function words ("what", "the", "of", ...). Query words and chunk words are compared
// after a light suffix strip ("bones" ~ "bone", "fractured" ~ "fracture"), so inflections match.
std::vector<std::string> content_words(std::string_view text);

// How many distinct content words (after the suffix strip) the text has.
int64_t distinct_content_words(std::string_view text);
// How many of the question's distinct content words occur in the chunk's text.
int64_t shared_content_words(std::string_view question, std::string_view chunk_text);

struct PromptOptions {
  int64_t context_tokens = 2048;     // the model's context length
  int64_t answer_tokens = 256;       // reserved for the answer
  int64_t max_sources = 5;           // at most this many chunks
  std::string system_prompt;         // "" = the default instructions (kDefaultSystemPrompt)
};

extern const char* const kDefaultSystemPrompt;

struct GroundedPrompt {
  std::vector<int32_t> tokens;        // the prompt, tokenized, ready for generate()
  std::string text;                   // its text
  std::vector<ChunkRecord> sources;   // the chunks in it, as numbered in it ([1] is sources[0])
  int64_t n_truncated = 0;            // sources cut short to fit (at most the last one)
  int64_t n_left_out = 0;             // chunks given that found no room in the context
};

// Builds the prompt for `question` from `chunks` (best first): as many as fit in
// context_tokens - answer_tokens, each as "[n] (document, p. N) text"; the last one that does not
// fit whole is cut to what fits (if at least 32 tokens are left), the rest are left out. chat may be
// null: a plain "Sources: ... Question: ... Answer:" prompt. Throws Error when the question alone
// does not fit in the budget.
GroundedPrompt build_grounded_prompt(std::string_view question, const std::vector<ChunkRecord>& chunks,
                                     const Tokenizer& tok, const ChatTemplate* chat, const PromptOptions& options);

struct Citation {
  std::string document;
  int64_t page = 1;       // page_first of the chunk
  int64_t chunk_id = 0;
  double score = 0;       // the retrieval score
  int64_t number = 0;     // its [n] in the prompt
};

// The source numbers an answer cites as "[n]" or "[n, m, ...]" (1 <= n <= n_sources), in order of
// first mention, each once.
std::vector<int64_t> cited_numbers(std::string_view answer, size_t n_sources);

// The sources an answer rests on: those its text cites as [n] when it cites any, else all of the
// prompt's sources; one per (document, page), in order of first mention / rank.
std::vector<Citation> cited_sources(std::string_view answer, const std::vector<ChunkRecord>& sources,
                                    const std::vector<double>& scores);

// "[niddk-eating-and-diabetes.pdf, p. 8]"
std::string format_citation(const Citation& c);

}  // namespace tunekit::rag
