// RAG chat: a chat completion that names a knowledge base (an extra "kb" field, or the model alias
// "MODEL+kb:NAME") is answered from it. The last user message is the question; the rag layer
// retrieves it (the base's retriever: hybrid, or BM25), keeps the relevant chunks and builds the
// grounded prompt (numbered sources [1], [2] ..., in the model's chat template or a plain prompt
// for a model without one); the engine generates from it like any chat request.
//
//   request -> select_knowledge_base -> ground_chat -> prompt tokens -> Engine -> text
//           -> text + citation_footer (when it cites nothing), with "sources" (sources_json)
//
// When nothing relevant is retrieved the model is not run: the answer is the rag layer's
// kNothingRelevantAnswer with no sources.
#pragma once
#include <functional>
#include <future>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tunekit/rag/answer.h"
#include "tunekit/server/server.h"

namespace tunekit::server {

struct ModelAndKb {
  std::string model;  // the base or adapter name ("" = the base)
  std::string kb;     // "" = no knowledge base
};

// Splits "MODEL+kb:NAME" into both; otherwise the model as it is and the "kb" field. An alias and
// a "kb" field that name different knowledge bases are an ApiError (400).
ModelAndKb select_knowledge_base(const std::string& model, const std::string& kb_field);
// "MODEL+kb:NAME": the model name that selects knowledge base `kb` for chat with `model`.
std::string knowledge_base_alias(const std::string& model, const std::string& kb);

// The served knowledge base of that name; ApiError 404 when there is none.
const ServedKnowledgeBase& find_knowledge_base(const ServedModel& served, const std::string& name);

// Retrieves and builds the grounded prompt for the last user message, leaving max_tokens of the
// model's context for the answer. prompt.sources empty: nothing relevant. ApiError 400 for a
// request without a user message or one whose question and answer leave no room in the context.
rag::GroundedQuestion ground_chat(const ServedKnowledgeBase& kb, const std::string& kb_name, const ServedModel& served,
                                  const std::vector<ChatMessage>& messages, int64_t max_tokens);

// The answer when nothing relevant was retrieved, as a finished generation (no model run); its
// text also goes to on_text when set, as a streamed generation's would.
std::future<GenerateResult> answer_without_model(const std::function<bool(const std::string&)>& on_text);

// [{"index": n, "document", "page", "page_last", "chunk_id", "score", "text"}], n as in the prompt's [n].
nlohmann::json sources_json(const rag::GroundedQuestion& grounded);

// What is appended to an answer that cites no source as [n], so that every answer cites:
// "\n\nSources: [1] a.pdf, p. 8; [2] a.pdf, pp. 12-13". "" when the answer cites or there are no sources.
std::string citation_footer(const rag::GroundedQuestion& grounded, const std::string& answer);

// GET /v1/knowledge_bases: {"object": "list", "data": [{"id", "object": "knowledge_base", "documents",
// "chunks", "retrieval"}]}.
nlohmann::json knowledge_bases_json(const ServedModel& served);

}  // namespace tunekit::server
