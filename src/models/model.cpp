#include "tunekit/models/model.h"

#include <cstring>
#include <random>

#include "assemble.h"
#include "tunekit/error.h"
#include "tunekit/ops/ops.h"
#include "weight_names.h"

namespace tunekit {

namespace {

struct GlobalSlot {
  const char* hf;
  const char* gguf;
  Tensor Model::*member;
};
constexpr GlobalSlot kEmbeddings{"model.embed_tokens.weight", "token_embd.weight", &Model::tok_embeddings};
constexpr GlobalSlot kNorm{"model.norm.weight", "output_norm.weight", &Model::norm};
constexpr GlobalSlot kLmHead{"lm_head.weight", "output.weight", &Model::lm_head};

void check_tensor(const Tensor& t, const std::vector<int64_t>& want, bool must_be_f32, const std::string& name,
                  const std::string& source) {
  check(!t.empty(), source, ": tensor '", name, "' is missing");
  Tensor shape_only;
  shape_only.shape = want;
  check(t.shape == want, source, ": tensor '", name, "' has shape ", t.shape_str(), ", expected ",
        shape_only.shape_str());
  check(!must_be_f32 || t.dtype == DType::F32, source, ": tensor '", name, "' must be f32, is ", dtype_name(t.dtype));
}

Tensor to_f32(const Tensor& t) { return t.empty() || t.dtype == DType::F32 ? t : ops::convert(t, DType::F32); }

}  // namespace

void Model::validate() const {
  const ModelConfig& c = config;
  c.validate(source);
  check(int64_t(layers.size()) == c.n_layer, source, ": ", layers.size(), " layers, config says ", c.n_layer);
  check_tensor(tok_embeddings, {c.n_vocab, c.d_model}, false, kEmbeddings.hf, source);
  check_tensor(norm, {c.d_model}, true, kNorm.hf, source);
  check_tensor(lm_head, {c.n_vocab, c.d_model}, false, kLmHead.hf, source);
  for (int l = 0; l < c.n_layer; ++l)
    for (const LayerSlot& s : layer_slots()) {
      if (s.is_bias && !c.qkv_bias) continue;
      check_tensor(layers[l].*s.member, expected_shape(c, s), s.is_vector, hf_layer_name(l, s), source);
    }
  check(int64_t(inv_freq.size()) == c.d_head / 2, source, ": RoPE table has ", inv_freq.size(), " frequencies, expected ",
        c.d_head / 2);
}

std::vector<std::pair<std::string, const Tensor*>> Model::named_weights() const {
  std::vector<std::pair<std::string, const Tensor*>> out;
  out.emplace_back(kEmbeddings.hf, &tok_embeddings);
  for (int l = 0; l < config.n_layer; ++l)
    for (const LayerSlot& s : layer_slots()) {
      if (s.is_bias && !config.qkv_bias) continue;
      out.emplace_back(hf_layer_name(l, s), &(layers[l].*s.member));
    }
  out.emplace_back(kNorm.hf, &norm);
  if (!config.tied_embeddings) out.emplace_back(kLmHead.hf, &lm_head);
  return out;
}

Model assemble_model(const ModelConfig& config, WeightNaming naming,
                     const std::function<Tensor(const std::string&)>& fetch, const std::string& source) {
  const bool hf = naming == WeightNaming::HuggingFace;
  Model m;
  m.config = config;
  m.source = source;
  m.tok_embeddings = fetch(hf ? kEmbeddings.hf : kEmbeddings.gguf);
  m.norm = to_f32(fetch(hf ? kNorm.hf : kNorm.gguf));
  m.lm_head = config.tied_embeddings ? m.tok_embeddings : fetch(hf ? kLmHead.hf : kLmHead.gguf);
  if (!config.tied_embeddings && m.lm_head.empty())
    fail(source, ": tensor '", hf ? kLmHead.hf : kLmHead.gguf, "' is missing (and the config does not tie embeddings)");
  m.layers.resize(config.n_layer);
  for (int l = 0; l < config.n_layer; ++l)
    for (const LayerSlot& s : layer_slots()) {
      if (s.is_bias && !config.qkv_bias) continue;
      const std::string name = hf ? hf_layer_name(l, s) : gguf_layer_name(l, s);
      Tensor t = fetch(name);
      check(!t.empty(), source, ": tensor '", name, "' is missing");
      m.layers[l].*s.member = s.is_vector ? to_f32(t) : t;
    }
  m.inv_freq = ops::rope_inv_freq(config.rope, config.d_head);
  m.validate();
  return m;
}

Model convert_weights(const Model& model, DType dtype) {
  Model m = model;
  auto conv = [&](const Tensor& t) { return t.dtype == dtype ? t : ops::convert(t, dtype); };
  m.tok_embeddings = conv(model.tok_embeddings);
  m.lm_head = model.config.tied_embeddings ? m.tok_embeddings : conv(model.lm_head);
  for (int l = 0; l < model.config.n_layer; ++l)
    for (const LayerSlot& s : layer_slots())
      if (!s.is_vector) m.layers[l].*s.member = conv(model.layers[l].*s.member);
  return m;
}

Model init_random_model(const ModelConfig& config, uint64_t seed) {
  config.validate("init config");
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  auto random = [&](std::vector<int64_t> shape) {
    Tensor t = Tensor::zeros(DType::F32, std::move(shape));
    float* p = t.as<float>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = normal(rng);
    return t;
  };
  auto ones = [&](int64_t n) {
    Tensor t = Tensor::zeros(DType::F32, {n});
    for (int64_t i = 0; i < n; ++i) t.as<float>()[i] = 1.0f;
    return t;
  };
  auto fetch = [&](const std::string& name) -> Tensor {
    if (name == kNorm.hf) return ones(config.d_model);
    if (name == kEmbeddings.hf || name == kLmHead.hf) return random({config.n_vocab, config.d_model});
    for (const LayerSlot& s : layer_slots())
      if (name.size() > std::strlen(s.hf) && name.ends_with(s.hf)) {
        auto shape = expected_shape(config, s);
        return s.is_vector && !s.is_bias ? ones(shape[0]) : random(shape);
      }
    fail("init: no rule for tensor '", name, "'");
  };
  return assemble_model(config, WeightNaming::HuggingFace, fetch, "random init");
}

}  // namespace tunekit
