// llama.cpp's LoRA adapter GGUF (what convert_lora_to_gguf.py writes and llama-cli --lora loads).
#pragma once
#include <filesystem>

#include "tunekit/models/config.h"
#include "tunekit/models/lora.h"

namespace tunekit {

// Writes path (atomically): general.type = "adapter", general.architecture = model.gguf_arch(),
// adapter.type = "lora", adapter.lora.alpha = scale · r (llama.cpp scales by alpha / r, so rsLoRA
// adapters keep their scale), and f32 tensors "blk.{l}.attn_q.weight.lora_a" = A [r, d_in] and
// ".lora_b" = B [d_out, r]. For the "llama" architecture the rows of q/k's B are permuted as the
// base GGUF's q/k rows are (save_gguf), so the adapter applies to that file's weights.
void save_lora_gguf(const LoraAdapter& adapter, const ModelConfig& model, const std::filesystem::path& path);

}  // namespace tunekit
