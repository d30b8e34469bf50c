// tunekit convert: any supported model file to a Hugging Face folder or a GGUF file.
#include <cstdio>
#include <optional>

#include "tunekit/error.h"
#include "tunekit/infer/model_files.h"
#include "tunekit/io/gguf.h"
#include "tunekit/models/model.h"
#include "verbs.h"

namespace tunekit::cli {

namespace {

struct ConvertArgs {
  std::string model, tokenizer, out, format, dtype = "f32";
};

void run(const ConvertArgs& a) {
  const DType dtype = dtype_from_name(a.dtype);
  const std::string format = !a.format.empty() ? a.format : (a.out.ends_with(".gguf") ? "gguf" : "hf");
  std::optional<std::filesystem::path> tok_path;
  if (!a.tokenizer.empty()) tok_path = a.tokenizer;
  Model model = load_model(a.model);
  if (format == "hf") {
    check(!std::filesystem::exists(a.out) || std::filesystem::is_directory(a.out), a.out,
          ": exists and is not a folder (HF output is a folder)");
    save_hf(model, a.out, dtype);
    int n = copy_tokenizer_files(a.model, tok_path, a.out);
    std::fprintf(stderr, "wrote %s (config.json, model.safetensors in %s%s)\n", a.out.c_str(), dtype_name(dtype),
                 n ? ", tokenizer files" : "; no tokenizer files: pass --tokenizer to include them");
  } else {
    check(format == "gguf", "unknown --format '", format, "' (choose hf or gguf)");
    auto tok = load_tokenizer_for_model(a.model, tok_path);
    save_gguf(model, a.out, dtype, [&](GgufWriter& w) { write_gguf_vocab_for_model(*tok, w, model.config.n_vocab); });
    std::fprintf(stderr, "wrote %s (GGUF, %s, with tokenizer)\n", a.out.c_str(), dtype_name(dtype));
  }
}

}  // namespace

void add_convert(CLI::App& app) {
  auto a = std::make_shared<ConvertArgs>();
  auto* cmd = app.add_subcommand("convert", "Convert a model to a Hugging Face folder or a GGUF file");
  cmd->add_option("--model,-m", a->model, "HF model folder, .gguf file or llama2.c .bin checkpoint")->required();
  cmd->add_option("--tokenizer,-t", a->tokenizer, "tokenizer to include (default: the model's own)");
  cmd->add_option("--out,-o", a->out, "output folder (hf) or .gguf file")->required();
  cmd->add_option("--format", a->format, "hf or gguf (default: gguf when --out ends in .gguf)")
      ->check(CLI::IsMember({"hf", "gguf"}));
  cmd->add_option("--dtype", a->dtype, "weight type: f32, f16, bf16 (hf, gguf); q8_0, q4_0 (gguf)")
      ->check(CLI::IsMember({"f32", "f16", "bf16", "q8_0", "q4_0"}))
      ->capture_default_str();
  cmd->callback([a] { run(*a); });
}

}  // namespace tunekit::cli
