// Shared by the loaders: builds a Model from a tensor lookup by HF or GGUF names.
#pragma once
#include <functional>
#include <string>

#include "tunekit/models/model.h"

namespace tunekit {

enum class WeightNaming { HuggingFace, Gguf };

// fetch(name) returns the tensor of that name, or an empty Tensor when there is none. Norms and
// biases are converted to f32; everything else keeps its storage dtype. Throws Error naming the
// missing or misshapen tensor and source.
Model assemble_model(const ModelConfig& config, WeightNaming naming,
                     const std::function<Tensor(const std::string&)>& fetch, const std::string& source);

}  // namespace tunekit
