// tunekit generate: load a model (HF folder, GGUF, llama2.c) and generate text, streamed.
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tunekit/adapters/peft.h"
#include "tunekit/core/parallel.h"
#include "tunekit/error.h"
#include "tunekit/infer/generate.h"
#include "tunekit/infer/model_files.h"
#include "tunekit/tokenizer/chat_template.h"
#include "verbs.h"

namespace tunekit::cli {

namespace {

struct GenerateArgs {
  std::string model, tokenizer, prompt, system, quantize, adapter;
  bool chat = false, json = false, quiet = false;
  int64_t max_tokens = 256;
  int threads = 0;
  std::vector<std::string> logit_bias;  // "ID=BIAS"
  GenerateOptions options;
};

// "ID=BIAS" -> (ID, BIAS), ID below n_vocab.
std::pair<int32_t, float> parse_logit_bias(const std::string& item, int64_t n_vocab) {
  const size_t eq = item.find('=');
  size_t id_end = 0, bias_end = 0;
  long long id = -1;
  float bias = 0;
  try {
    id = std::stoll(item.substr(0, eq), &id_end);
    bias = std::stof(item.substr(eq + 1), &bias_end);
  } catch (const std::exception&) {
  }
  check(eq != std::string::npos && id_end == eq && bias_end == item.size() - eq - 1 && id >= 0, "--logit-bias '",
        item, "': expected TOKEN_ID=BIAS, e.g. 13=-100");
  check(id < n_vocab, "--logit-bias '", item, "': token id ", id, " is not below the vocabulary size ", n_vocab);
  return {int32_t(id), bias};
}

std::string chat_prompt(const GenerateArgs& a, const Tokenizer& tok) {
  std::optional<ChatTemplate> chat = load_chat_template_for_model(
      a.model, a.tokenizer.empty() ? std::nullopt : std::optional<std::filesystem::path>(a.tokenizer));
  check(chat.has_value(), a.tokenizer.empty() ? a.model : a.tokenizer, ": no chat template found (looked for "
        "chat_template.jinja, tokenizer_config.json and GGUF metadata); drop --chat to use the raw prompt");
  std::vector<ChatMessage> messages;
  if (!a.system.empty()) messages.push_back({"system", a.system});
  messages.push_back({"user", a.prompt});
  return chat->apply(messages, true, tok.bos_token(), tok.eos_token());
}

void run(GenerateArgs& a) {
  if (a.threads > 0) set_num_threads(a.threads);
  Model model = load_model(a.model);
  if (!a.quantize.empty()) model = convert_weights(model, dtype_from_name(a.quantize));
  std::optional<LoraAdapter> adapter;  // applied unmerged at every adapted matmul
  if (!a.adapter.empty()) adapter = load_peft_adapter(a.adapter, model.config);
  a.options.adapter = adapter ? &*adapter : nullptr;
  for (const std::string& item : a.logit_bias)
    a.options.sampling.logit_bias.push_back(parse_logit_bias(item, model.config.n_vocab));
  a.options.sampling.validate();
  auto tok = load_tokenizer_for_model(a.model, a.tokenizer.empty() ? std::nullopt
                                                                   : std::optional<std::filesystem::path>(a.tokenizer));
  // A chat rendering carries its own special tokens (HF's apply_chat_template does not add more).
  std::vector<int32_t> prompt = a.chat ? tok->encode(chat_prompt(a, *tok), false) : tok->encode(a.prompt, true);
  a.options.continues_prompt = !a.chat;  // a raw prompt's continuation; a chat answer stands on its own
  a.options.max_tokens = a.max_tokens;
  if (!a.json)
    a.options.on_text = [](const std::string& s) {
      std::fwrite(s.data(), 1, s.size(), stdout);
      std::fflush(stdout);
      return true;
    };
  GenerateResult r = generate(model, *tok, prompt, a.options);
  double decode_tps = r.decode_seconds > 0 ? double(r.tokens.size()) / r.decode_seconds : 0;
  double prefill_tps = r.prefill_seconds > 0 ? double(r.n_prompt) / r.prefill_seconds : 0;
  if (a.json) {
    nlohmann::json j = {{"text", r.text},
                        {"tokens", r.tokens},
                        {"prompt_tokens", r.n_prompt},
                        {"finish_reason", r.finish_reason},
                        {"prefill_tokens_per_s", prefill_tps},
                        {"decode_tokens_per_s", decode_tps}};
    // Text cut mid-character (a token limit inside a UTF-8 sequence) shows as U+FFFD.
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    std::printf("\n");
  }
  if (!a.quiet)
    std::fprintf(stderr, "[%lld prompt tokens at %.1f tok/s, %zu generated at %.1f tok/s, finish: %s]\n",
                 (long long)r.n_prompt, prefill_tps, r.tokens.size(), decode_tps, r.finish_reason.c_str());
}

}  // namespace

void add_generate(CLI::App& app) {
  auto a = std::make_shared<GenerateArgs>();
  auto* cmd = app.add_subcommand("generate", "Generate text from a prompt (streamed to stdout)");
  cmd->add_option("--model,-m", a->model, "HF model folder, .gguf file or llama2.c .bin checkpoint")->required();
  cmd->add_option("--adapter,-a", a->adapter, "PEFT LoRA adapter folder to apply (unmerged) on top of the model");
  cmd->add_option("--tokenizer,-t", a->tokenizer,
                  "tokenizer.json, tokenizer.model, llama2.c tokenizer .bin or .gguf (default: the model's own)");
  cmd->add_option("--prompt,-p", a->prompt, "the prompt text (\"\" starts from BOS alone)")->required();
  cmd->add_flag("--chat", a->chat, "wrap the prompt in the model's chat template as a user turn");
  cmd->add_option("--system", a->system, "system message for --chat");
  cmd->add_option("--max-tokens,-n", a->max_tokens, "most tokens to generate")->check(CLI::Range(int64_t(0), int64_t(1) << 30));
  auto& s = a->options.sampling;
  cmd->add_option("--temperature", s.temperature, "0 = greedy")->check(CLI::Range(0.0f, 100.0f))->capture_default_str();
  cmd->add_option("--top-k", s.top_k, "keep the k most likely tokens (0 = off)")->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--top-p", s.top_p, "nucleus sampling mass (1 = off)")->check(CLI::Range(0.0f, 1.0f))->capture_default_str();
  cmd->add_option("--min-p", s.min_p, "drop tokens below min-p x the top probability (0 = off)")->check(CLI::Range(0.0f, 1.0f))->capture_default_str();
  cmd->add_option("--repeat-penalty", s.repetition_penalty, "penalty on recent tokens (1 = off)")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--repeat-last-n", s.repeat_last_n, "how many recent tokens the penalty sees")->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--frequency-penalty", s.frequency_penalty, "OpenAI's: minus this per earlier occurrence in the output")->check(CLI::Range(-2.0f, 2.0f))->capture_default_str();
  cmd->add_option("--presence-penalty", s.presence_penalty, "OpenAI's: minus this once a token is in the output")->check(CLI::Range(-2.0f, 2.0f))->capture_default_str();
  cmd->add_option("--logit-bias", a->logit_bias, "TOKEN_ID=BIAS added to that token's logit, -100..100 (repeatable; -100 bans it)");
  cmd->add_option("--seed", s.seed, "random seed (same seed, same text)")->capture_default_str();
  cmd->add_option("--stop", a->options.stop, "stop string (repeatable)");
  cmd->add_flag("!--no-eos-stop", a->options.stop_at_eos, "keep going past EOS / end-of-turn tokens");
  cmd->add_option("--quantize", a->quantize, "convert weights at load: f16, bf16, q8_0, q4_0, q4_k, q6_k, nf4");
  cmd->add_option("--threads", a->threads, "threads (default: one per core)")->check(CLI::NonNegativeNumber);
  cmd->add_flag("--json", a->json, "print one JSON object (text, token ids, timings) instead of streaming");
  cmd->add_flag("--quiet,-q", a->quiet, "no timing line on stderr");
  cmd->callback([a] { run(*a); });
}

}  // namespace tunekit::cli
