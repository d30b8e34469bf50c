// RAG chat (rag_chat.h): choosing the knowledge base, grounding the question, and the sources
// and citations of the answer.
#include "rag_chat.h"

#include <algorithm>

#include "openai_api.h"

namespace tunekit::server {

using nlohmann::json;

namespace {

const char* const kAliasMarker = "+kb:";

std::string page_span(const rag::ChunkRecord& c) {
  return c.page_last > c.page_first ? "pp. " + std::to_string(c.page_first) + "-" + std::to_string(c.page_last)
                                    : "p. " + std::to_string(c.page_first);
}

bool blank(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

}  // namespace

ModelAndKb select_knowledge_base(const std::string& model, const std::string& kb_field) {
  const size_t at = model.rfind(kAliasMarker);
  if (at == std::string::npos) return {model, kb_field};
  ModelAndKb out{model.substr(0, at), model.substr(at + std::string(kAliasMarker).size())};
  if (out.kb.empty())
    throw ApiError(400, "the model alias '" + model + "' names no knowledge base; write MODEL+kb:NAME",
                   "invalid_request_error", "model");
  if (!kb_field.empty() && kb_field != out.kb)
    throw ApiError(400, "the model alias '" + model + "' names the knowledge base '" + out.kb + "' but \"kb\" names '" +
                   kb_field + "'; name one", "invalid_request_error", "kb");
  return out;
}

std::string knowledge_base_alias(const std::string& model, const std::string& kb) { return model + kAliasMarker + kb; }

const ServedKnowledgeBase& find_knowledge_base(const ServedModel& served, const std::string& name) {
  auto it = served.knowledge_bases.find(name);
  if (it == served.knowledge_bases.end())
    throw ApiError(404, "the knowledge base '" + name + "' does not exist; GET /v1/knowledge_bases lists the served ones",
                   "invalid_request_error", "kb", "knowledge_base_not_found");
  return *it->second;
}

rag::GroundedQuestion ground_chat(const ServedKnowledgeBase& kb, const std::string& kb_name, const ServedModel& served,
                                  const std::vector<ChatMessage>& messages, int64_t max_tokens) {
  auto question = std::find_if(messages.rbegin(), messages.rend(), [](const ChatMessage& m) { return m.role == "user"; });
  if (question == messages.rend() || blank(question->content))
    throw ApiError(400, "a knowledge-base chat needs a user message with the question", "invalid_request_error",
                   "messages");
  const int64_t n_ctx = served.model->config.n_ctx;
  if (max_tokens >= n_ctx)
    throw ApiError(400, "max_tokens " + std::to_string(max_tokens) + " leaves no room for the question and its "
                   "sources in the model's context of " + std::to_string(n_ctx) + " tokens", "invalid_request_error",
                   "max_tokens", "context_length_exceeded");
  rag::AskOptions o;
  o.retrieve.mode = kb.mode();
  o.prompt.context_tokens = n_ctx;
  o.prompt.answer_tokens = max_tokens;
  o.prompt.max_sources = o.retrieve.k;
  o.generate.max_tokens = max_tokens;
  const ChatTemplate* chat = served.chat_template ? &*served.chat_template : nullptr;
  try {  // the prompt without sources: an Error when the question alone does not fit
    rag::build_grounded_prompt(question->content, {}, *served.tokenizer, chat, o.prompt);
  } catch (const Error& e) {
    throw ApiError(400, "knowledge base '" + kb_name + "': " + e.what(), "invalid_request_error", "messages",
                   "context_length_exceeded");
  }
  // Errors from here on are the server's (the store, the encoder): 500.
  rag::GroundedQuestion grounded = rag::ground_question(*served.model, *served.tokenizer, chat, kb.kb(), kb.retriever(),
                                                        kb.encoder(), question->content, o);
  if (grounded.prompt.sources.empty() && grounded.prompt.n_left_out > 0)  // relevant, but no room: not "nothing relevant"
    throw ApiError(400, "knowledge base '" + kb_name + "': relevant passages were found, but with max_tokens " +
                   std::to_string(max_tokens) + " none fits in the model's context of " + std::to_string(n_ctx) +
                   " tokens; ask for fewer max_tokens", "invalid_request_error", "max_tokens",
                   "context_length_exceeded");
  return grounded;
}

std::future<GenerateResult> answer_without_model(const std::function<bool(const std::string&)>& on_text) {
  GenerateResult result;
  result.text = rag::kNothingRelevantAnswer;
  result.finish_reason = "stop";
  if (on_text) on_text(result.text);
  std::promise<GenerateResult> done;
  done.set_value(std::move(result));
  return done.get_future();
}

json sources_json(const rag::GroundedQuestion& grounded) {
  json out = json::array();
  for (size_t i = 0; i < grounded.prompt.sources.size(); ++i) {
    const rag::ChunkRecord& c = grounded.prompt.sources[i];
    out.push_back({{"index", i + 1},
                   {"document", c.document},
                   {"page", c.page_first},
                   {"page_last", c.page_last},
                   {"chunk_id", c.id},
                   {"score", grounded.scores[i]},
                   {"text", c.text}});
  }
  return out;
}

std::string citation_footer(const rag::GroundedQuestion& grounded, const std::string& answer) {
  const std::vector<rag::ChunkRecord>& sources = grounded.prompt.sources;
  if (sources.empty() || !rag::cited_numbers(answer, sources.size()).empty()) return "";
  std::string out = blank(answer) ? "Sources:" : "\n\nSources:";
  for (size_t i = 0; i < sources.size(); ++i) {
    out += i == 0 ? " [" : "; [";
    out += std::to_string(i + 1) + "] " + sources[i].document + ", " + page_span(sources[i]);
  }
  return out;
}

json knowledge_bases_json(const ServedModel& served) {
  json data = json::array();
  for (const auto& [name, served_kb] : served.knowledge_bases)
    data.push_back({{"id", name},
                    {"object", "knowledge_base"},
                    {"documents", served_kb->kb().documents().size()},
                    {"chunks", served_kb->kb().chunk_count()},
                    {"retrieval", rag::retrieval_mode_name(served_kb->mode())}});
  return {{"object", "list"}, {"data", data}};
}

}  // namespace tunekit::server
