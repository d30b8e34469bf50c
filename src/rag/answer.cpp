// Answering from the knowledge base (rag/answer.h).
#include "tunekit/rag/answer.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "tunekit/error.h"
#include "tunekit/rag/query_llm.h"

namespace tunekit::rag {

const char* const kNothingRelevantAnswer =
    "The knowledge base has nothing relevant to this question, so it cannot be answered from the documents.";

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Cosine similarity of the question to each chunk (unit vectors: a dot product). [chunks.size()]
std::vector<double> similarities(const SentenceEncoder& encoder, std::string_view question,
                                 const std::vector<ChunkRecord>& chunks) {
  if (chunks.empty()) return {};
  std::vector<std::string> texts;
  for (const ChunkRecord& c : chunks) texts.push_back(c.text);
  const std::vector<float> q = encoder.encode({std::string(question)}, EncodeRole::Query);  // [1, d]
  const std::vector<float> p = encoder.encode(texts, EncodeRole::Passage);                // [n, d]
  const int64_t d = encoder.dim();
  std::vector<double> out(chunks.size());
  for (size_t i = 0; i < chunks.size(); ++i) {
    double dot = 0;
    for (int64_t j = 0; j < d; ++j) dot += double(q[size_t(j)]) * p[i * size_t(d) + size_t(j)];
    out[i] = dot;
  }
  return out;
}

// The page of a chunk's span that shares the most content words with the question (the first on a
// tie): a chunk over pages 1-8 whose answer stands on page 8 is cited as p. 8.
int64_t best_page(const KnowledgeBase& kb, const ChunkRecord& c, std::string_view question) {
  int64_t best = c.page_first, best_shared = -1;
  for (int64_t p = c.page_first; p <= c.page_last; ++p) {
    std::optional<PageRecord> page = kb.page(c.document, p);
    if (!page) continue;
    const int64_t shared = shared_content_words(question, page->text);
    if (shared > best_shared) best = p, best_shared = shared;
  }
  return best;
}

}  // namespace

GroundedQuestion ground_question(const Model& model, const Tokenizer& tok, const ChatTemplate* chat,
                                 const KnowledgeBase& kb, const Retriever& retriever, const SentenceEncoder* encoder,
                                 std::string_view question, const AskOptions& options) {
  check(question.find_first_not_of(" \t\r\n") != std::string_view::npos, "ask: the question is empty");
  GroundedQuestion out;
  const auto t0 = std::chrono::steady_clock::now();
  LlmHelper llm{model, tok, chat};
  llm.generate.adapter = options.generate.adapter;
  out.queries = options.n_rephrasings > 0 ? rephrase_queries(llm, question, options.n_rephrasings)
                                          : std::vector<std::string>{std::string(question)};
  RetrieveOptions ro = options.retrieve;
  if (options.rerank_pool > ro.k) ro.k = options.rerank_pool, ro.candidates = std::max(ro.candidates, ro.k);
  RetrievalResult r = out.queries.size() > 1 ? retriever.retrieve_multi(out.queries, ro) : retriever.retrieve(question, ro);
  if (options.rerank_pool > 0) r.hits = rerank(llm, kb, question, r.hits, options.retrieve.k).hits;
  out.retrieved = r.hits;
  out.retrieval_mode = retrieval_mode_name(r.mode_used);
  out.warning = r.warning;

  std::vector<int64_t> ids;
  for (const Hit& h : r.hits) ids.push_back(h.chunk_id);
  std::vector<ChunkRecord> chunks = kb.chunks(ids);
  const std::vector<double> cosine = encoder ? similarities(*encoder, question, chunks) : std::vector<double>{};
  const int64_t words_needed =
      std::max(options.min_shared_words,
               int64_t(std::ceil(options.min_shared_fraction * double(distinct_content_words(question)) - 1e-9)));
  std::vector<ChunkRecord> relevant;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const bool by_words = shared_content_words(question, chunks[i].text) >= words_needed;
    const bool by_meaning = !cosine.empty() && cosine[i] >= options.min_similarity;
    if (!by_words && !by_meaning) continue;
    relevant.push_back(chunks[i]);
    auto hit = std::find_if(r.hits.begin(), r.hits.end(), [&](const Hit& h) { return h.chunk_id == chunks[i].id; });
    out.scores.push_back(hit->score);
  }
  out.retrieve_seconds = seconds_since(t0);
  if (relevant.empty()) return out;

  PromptOptions po = options.prompt;
  po.answer_tokens = options.generate.max_tokens;
  out.prompt = build_grounded_prompt(question, relevant, tok, chat, po);
  out.scores.resize(out.prompt.sources.size());
  if (out.prompt.sources.empty())  // nothing fitted beside the question
    out.warning = "no source fits in the context beside the question and the answer's " +
                  std::to_string(po.answer_tokens) + " tokens; lower --max-tokens";
  return out;
}

AskResult ask(const Model& model, const Tokenizer& tok, const ChatTemplate* chat, const KnowledgeBase& kb,
              const Retriever& retriever, const SentenceEncoder* encoder, std::string_view question,
              const AskOptions& options) {
  GroundedQuestion q = ground_question(model, tok, chat, kb, retriever, encoder, question, options);
  AskResult out;
  out.queries = std::move(q.queries);
  out.retrieved = std::move(q.retrieved);
  out.retrieval_mode = std::move(q.retrieval_mode);
  out.warning = std::move(q.warning);
  out.retrieve_seconds = q.retrieve_seconds;
  const GroundedPrompt& prompt = q.prompt;
  check(!(prompt.sources.empty() && prompt.n_left_out > 0), "ask: relevant passages were found, but none fits in the ",
        options.prompt.context_tokens, "-token context beside an answer of ", options.generate.max_tokens,
        " tokens: lower --max-tokens");
  if (prompt.sources.empty()) {
    out.answer = kNothingRelevantAnswer;
    out.finish_reason = "no_context";
    return out;
  }
  GenerateResult g = generate(model, tok, prompt.tokens, options.generate);
  out.answer = g.text;
  out.grounded = true;
  out.sources = cited_sources(g.text, prompt.sources, q.scores);
  for (Citation& c : out.sources) {
    auto chunk = std::find_if(prompt.sources.begin(), prompt.sources.end(),
                              [&](const ChunkRecord& r) { return r.id == c.chunk_id; });
    c.page = best_page(kb, *chunk, question);
  }
  out.prompt_tokens = g.n_prompt;
  out.answer_tokens = int64_t(g.tokens.size());
  out.n_sources_truncated = prompt.n_truncated;
  out.finish_reason = g.finish_reason;
  out.prefill_seconds = g.prefill_seconds;
  out.decode_seconds = g.decode_seconds;
  return out;
}

}  // namespace tunekit::rag
