// Answering from the knowledge base: retrieve, keep the hits that are relevant, build a grounded
// prompt within the model's context, generate, and list the sources the answer rests on.
//
//   question -> Retriever (one or several phrasings) -> relevant chunks -> GroundedPrompt -> generate
//            -> answer + Citations ("[document, p. N]")
//
// When no retrieved chunk is relevant, the answer says so and the model is not run: an answer with
// no sources would be invented.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "tunekit/infer/generate.h"
#include "tunekit/rag/grounded_prompt.h"
#include "tunekit/rag/retriever.h"

namespace tunekit::rag {

struct AskOptions {
  RetrieveOptions retrieve;  // k = candidate chunks looked at
  PromptOptions prompt;      // context_tokens: the model's; answer_tokens = generate.max_tokens
  GenerateOptions generate;  // sampling, stop strings, adapter, on_text (streaming)
  // A retrieved chunk counts as relevant when it shares at least max(min_shared_words,
  // ceil(min_shared_fraction x the question's distinct content words)) content words with the
  // question (grounded_prompt.h content_words)...
  int64_t min_shared_words = 1;
  double min_shared_fraction = 1.0 / 3;
  // ...or, with a dense retriever, when its cosine similarity to the question is at least this.
  double min_similarity = 0.5;
  // Multi-query retrieval: the model writes this many rephrasings of the question, and the hits of
  // all of them are fused by reciprocal rank (query_llm.h rephrase_queries).
  int64_t n_rephrasings = 0;
  // Rerank: retrieve rerank_pool candidates, let the model order them (query_llm.h rerank), keep
  // retrieve.k. 0 = off.
  int64_t rerank_pool = 0;
};

extern const char* const kNothingRelevantAnswer;

struct AskResult {
  std::string answer;
  bool grounded = false;               // false: nothing relevant was retrieved; the model did not run
  std::vector<Citation> sources;       // what the answer cites (or every source in its prompt); the
                                       // page is the one of the chunk's span sharing most words with the question
  std::vector<std::string> queries;    // the question, then the model's rephrasings
  std::vector<Hit> retrieved;          // every hit retrieval returned (after reranking), best first
  std::string retrieval_mode;          // the mode used ("bm25" where hybrid fell back)
  std::string warning;                 // e.g. the fallback's reason
  int64_t prompt_tokens = 0, answer_tokens = 0, n_sources_truncated = 0;
  std::string finish_reason;           // generate's, or "no_context"
  double retrieve_seconds = 0, prefill_seconds = 0, decode_seconds = 0;
};

// What ask does before generating, for callers that generate elsewhere (the server's engine):
// retrieval (with the options' rephrasings and reranking), the relevance filter and the grounded
// prompt. prompt.sources empty: nothing relevant (or nothing fitted beside the question, which
// warning then says); answer kNothingRelevantAnswer without running the model.
struct GroundedQuestion {
  GroundedPrompt prompt;
  std::vector<double> scores;        // the retrieval score of each of prompt.sources
  std::vector<std::string> queries;  // the question, then the model's rephrasings
  std::vector<Hit> retrieved;        // every hit retrieval returned (after reranking), best first
  std::string retrieval_mode;        // the mode used ("bm25" where hybrid fell back)
  std::string warning;
  double retrieve_seconds = 0;
};

GroundedQuestion ground_question(const Model& model, const Tokenizer& tok, const ChatTemplate* chat,
                                 const KnowledgeBase& kb, const Retriever& retriever, const SentenceEncoder* encoder,
                                 std::string_view question, const AskOptions& options);

AskResult ask(const Model& model, const Tokenizer& tok, const ChatTemplate* chat, const KnowledgeBase& kb,
              const Retriever& retriever, const SentenceEncoder* encoder, std::string_view question,
              const AskOptions& options);

}  // namespace tunekit::rag
