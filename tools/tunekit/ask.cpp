// tunekit ask: answer a question from a knowledge base with a model, citing the pages it used.
#include <cstdio>
#include <optional>

#include <nlohmann/json.hpp>

#include "tunekit/adapters/peft.h"
#include "tunekit/core/parallel.h"
#include "tunekit/error.h"
#include "tunekit/infer/model_files.h"
#include "tunekit/rag/answer.h"
#include "tunekit/tokenizer/chat_template.h"
#include "kb_open.h"
#include "verbs.h"

namespace tunekit::cli {

namespace {

struct AskArgs {
  std::string kb, model, adapter, tokenizer, question, mode = "hybrid", system, encoder;
  bool json = false, plain = false, quiet = false;
  int64_t k = 5, max_tokens = 0;
  int threads = 0;
  rag::AskOptions options;
};

nlohmann::json to_json(const rag::AskResult& r) {
  nlohmann::json sources = nlohmann::json::array();
  for (const rag::Citation& c : r.sources)
    sources.push_back({{"document", c.document}, {"page", c.page}, {"chunk_id", c.chunk_id}, {"score", c.score},
                       {"number", c.number}});
  return {{"answer", r.answer},
          {"grounded", r.grounded},
          {"sources", sources},
          {"retrieval_mode", r.retrieval_mode},
          {"queries", r.queries},
          {"warning", r.warning},
          {"finish_reason", r.finish_reason},
          {"prompt_tokens", r.prompt_tokens},
          {"answer_tokens", r.answer_tokens},
          {"timings", {{"retrieve_s", r.retrieve_seconds},
                       {"prefill_s", r.prefill_seconds},
                       {"decode_s", r.decode_seconds},
                       {"total_s", r.retrieve_seconds + r.prefill_seconds + r.decode_seconds}}}};
}

void run(AskArgs& a) {
  if (a.threads > 0) set_num_threads(a.threads);
  rag::AskOptions& o = a.options;
  o.retrieve.mode = rag::parse_retrieval_mode(a.mode);
  KbSearcher searcher(a.kb, o.retrieve.mode, a.encoder);  // the base, and its encoder + vectors unless bm25
  Model model = load_model(a.model);
  std::optional<LoraAdapter> adapter;
  if (!a.adapter.empty()) adapter = load_peft_adapter(a.adapter, model.config);
  auto tok = load_tokenizer_for_model(a.model, a.tokenizer.empty() ? std::nullopt
                                                                   : std::optional<std::filesystem::path>(a.tokenizer));
  std::optional<ChatTemplate> chat;
  if (!a.plain)
    chat = load_chat_template_for_model(a.model, a.tokenizer.empty() ? std::nullopt
                                                                   : std::optional<std::filesystem::path>(a.tokenizer));

  o.retrieve.k = a.k;
  o.retrieve.candidates = std::max<int64_t>(o.retrieve.candidates, a.k);
  o.prompt.context_tokens = model.config.n_ctx;
  o.prompt.max_sources = a.k;
  o.prompt.system_prompt = a.system;
  // Default answer length: 256 tokens, or a quarter of a small model's context.
  o.generate.max_tokens = a.max_tokens > 0 ? a.max_tokens : std::min<int64_t>(256, model.config.n_ctx / 4);
  o.generate.adapter = adapter ? &*adapter : nullptr;
  if (!a.json)
    o.generate.on_text = [](const std::string& s) {
      std::fwrite(s.data(), 1, s.size(), stdout);
      std::fflush(stdout);
      return true;
    };

  rag::AskResult r = rag::ask(model, *tok, chat ? &*chat : nullptr, searcher.kb(), searcher.retriever(),
                              searcher.encoder(), a.question, o);
  if (a.json) {
    std::printf("%s\n", to_json(r).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return;
  }
  if (!r.grounded) std::printf("%s", r.answer.c_str());
  std::printf("\n");
  if (!r.sources.empty()) {
    std::printf("\nSources:\n");
    for (const rag::Citation& c : r.sources) std::printf("  %s\n", rag::format_citation(c).c_str());
  }
  if (!r.warning.empty() && !searcher.warned()) std::fprintf(stderr, "tunekit: warning: %s\n", r.warning.c_str());
  if (!a.quiet)
    std::fprintf(stderr, "[%s retrieval %.0f ms, %lld prompt tokens, %lld answer tokens in %.2f s]\n",
                 r.retrieval_mode.c_str(), r.retrieve_seconds * 1e3, (long long)r.prompt_tokens,
                 (long long)r.answer_tokens, r.prefill_seconds + r.decode_seconds);
}

}  // namespace

void add_ask(CLI::App& app) {
  auto a = std::make_shared<AskArgs>();
  auto* cmd = app.add_subcommand("ask", "Answer a question from a knowledge base, citing document pages");
  cmd->add_option("question", a->question, "the question")->required();
  cmd->add_option("--kb", a->kb, "knowledge-base folder (made by `tunekit kb ingest`)")->required();
  cmd->add_option("--model,-m", a->model, "HF model folder, .gguf file or llama2.c .bin checkpoint")->required();
  cmd->add_option("--adapter,-a", a->adapter, "PEFT LoRA adapter folder to apply (unmerged)");
  cmd->add_option("--tokenizer,-t", a->tokenizer, "tokenizer (default: the model's own)");
  cmd->add_option("--mode", a->mode, "retrieval: bm25, dense or hybrid (hybrid falls back to bm25 without vectors)")
      ->capture_default_str();
  cmd->add_option("--encoder", a->encoder, "sentence-encoder folder (default: the one the base was embedded with)");
  cmd->add_option("--k", a->k, "sources to retrieve and put in the prompt")->check(CLI::Range(int64_t(1), int64_t(100)))
      ->capture_default_str();
  cmd->add_option("--max-tokens,-n", a->max_tokens, "most answer tokens (default: 256, or n_ctx/4 if smaller)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 20));
  cmd->add_option("--rephrasings", a->options.n_rephrasings,
                  "multi-query: the model writes N rephrasings; their hits are fused with the question's")
      ->check(CLI::Range(int64_t(0), int64_t(10)))->capture_default_str();
  cmd->add_option("--rerank", a->options.rerank_pool,
                  "let the model reorder the best N candidates before the --k kept (0 = off)")
      ->check(CLI::Range(int64_t(0), int64_t(50)))->capture_default_str();
  cmd->add_option("--system", a->system, "instructions instead of the default grounded-answer ones");
  cmd->add_option("--min-shared-words", a->options.min_shared_words,
                  "a chunk is relevant if it shares this many content words with the question")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  auto& s = a->options.generate.sampling;
  cmd->add_option("--temperature", s.temperature, "0 = greedy")->check(CLI::Range(0.0f, 100.0f))->capture_default_str();
  cmd->add_option("--seed", s.seed, "random seed")->capture_default_str();
  cmd->add_flag("--plain", a->plain, "a plain text prompt even where the model has a chat template");
  cmd->add_option("--threads", a->threads, "threads (default: one per core)")->check(CLI::NonNegativeNumber);
  cmd->add_flag("--json", a->json, "print one JSON object: answer, sources, timings");
  cmd->add_flag("--quiet,-q", a->quiet, "no timing line on stderr");
  cmd->callback([a] { run(*a); });
}

}  // namespace tunekit::cli
