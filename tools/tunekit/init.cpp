// tunekit init: a randomly initialised model of any supported shape, as an HF folder.
#include <cstdio>

#include "tunekit/error.h"
#include "tunekit/io/file_util.h"
#include "tunekit/models/model.h"
#include "verbs.h"

namespace tunekit::cli {

namespace {

struct InitArgs {
  std::string config, out, dtype = "f32";
  uint64_t seed = 0;
};

void run(const InitArgs& a) {
  ModelConfig config = ModelConfig::from_hf_json(read_json_file(a.config), a.config);
  Model model = init_random_model(config, a.seed);
  model.source = a.out;
  save_hf(model, a.out, dtype_from_name(a.dtype));
  std::fprintf(stderr, "wrote %s: %s, %lld layers, d_model %lld, vocab %lld (random weights, seed %llu)\n",
               a.out.c_str(), config.arch.c_str(), (long long)config.n_layer, (long long)config.d_model,
               (long long)config.n_vocab, (unsigned long long)a.seed);
}

}  // namespace

void add_init(CLI::App& app) {
  auto a = std::make_shared<InitArgs>();
  auto* cmd = app.add_subcommand("init", "Write a randomly initialised model of a given shape (HF folder)");
  cmd->add_option("--config,-c", a->config, "an HF config.json (Llama, Mistral or Qwen2)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--out,-o", a->out, "output folder")->required();
  cmd->add_option("--seed", a->seed, "random seed")->capture_default_str();
  cmd->add_option("--dtype", a->dtype, "f32, f16 or bf16")->check(CLI::IsMember({"f32", "f16", "bf16"}))->capture_default_str();
  cmd->callback([a] { run(*a); });
}

}  // namespace tunekit::cli
