// PEFT adapter folders for the server tests: random LoRAs with non-zero B (so each one changes the
// text) written by the library's PEFT writer.
#pragma once
#include <filesystem>

#include "tunekit/adapters/lora_init.h"
#include "tunekit/adapters/peft.h"

namespace tunekit::test {

inline LoraAdapter write_random_adapter(const ModelConfig& model, const std::filesystem::path& dir, uint64_t seed) {
  LoraConfig lora;
  lora.targets = {"all-linear"};
  lora.b_std = 0.5;
  LoraAdapter adapter = init_lora(model, lora, seed);
  save_peft_adapter(adapter, model, dir);
  return adapter;
}

}  // namespace tunekit::test
