// Folding a LoRA adapter into its base: W' = W + scale · B·A for every adapted linear layer.
#pragma once
#include <optional>

#include "tunekit/models/lora.h"
#include "tunekit/models/model.h"

namespace tunekit {

struct MergeOptions {
  // Storage type of the merged weights; default: each base weight's own dtype (a bf16 base stays
  // bf16, a q8_0 base is re-quantized). F32 keeps the sum unrounded, e.g. before save_hf(..., f16).
  std::optional<DType> dtype;
};

// A model whose adapted weights are W + scale·B·A (sum formed in double, rounded once to the
// output dtype); every other tensor is shared with base, not copied. Validates the adapter first.
Model merge_adapter(const Model& base, const LoraAdapter& adapter, const MergeOptions& options = {});

}  // namespace tunekit
