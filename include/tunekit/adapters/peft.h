// PEFT LoRA folders (adapter_config.json + adapter_model.safetensors), as Hugging Face PEFT 0.x
// writes and reads them: the format adapters are shared in.
#pragma once
#include <filesystem>

#include "tunekit/models/config.h"
#include "tunekit/models/lora.h"

namespace tunekit {

// Writes dir/adapter_config.json and dir/adapter_model.safetensors (f32 factors named
// "base_model.model.model.layers.{l}.self_attn.q_proj.lora_A.weight" [r, d_in] / "...lora_B.weight"
// [d_out, r]). The adapter is validated against the model first. Both files are built in memory
// and written through temp files that are renamed only when both are complete; a folder this call
// created is removed again on error.
void save_peft_adapter(const LoraAdapter& adapter, const ModelConfig& model, const std::filesystem::path& dir);

// Reads a PEFT LoRA folder for this model. Accepts names with or without "base_model.model." and
// with PEFT's ".default" adapter infix, factors in f32/f16/bf16 (kept as f32). Throws Error naming
// the file and field for what tunekit does not support (DoRA, fan_in_fan_out, rank/alpha patterns,
// trained biases, modules_to_save, LoRA on embeddings or lm_head), for missing or unexpected
// tensors and for shapes that do not fit the model.
LoraAdapter load_peft_adapter(const std::filesystem::path& dir, const ModelConfig& model);

}  // namespace tunekit
