#include "rag/bert_weights.h"

#include "tunekit/error.h"
#include "tunekit/ops/ops.h"

namespace tunekit::rag {

namespace {

class Binder {
 public:
  Binder(const std::map<std::string, Tensor>& tensors, std::string origin)
      : tensors_(tensors), origin_(std::move(origin)) {
    prefix_ = tensors_.count("bert.embeddings.word_embeddings.weight") ? "bert." : "";
  }

  Tensor matrix(const std::string& name, int64_t rows, int64_t cols) const {  // [rows, cols]
    return checked(name, {rows, cols});
  }

  std::vector<float> vector(const std::string& name, int64_t n) const { return to_f32(checked(name, {n}), n); }

  std::vector<float> first_row(const std::string& name, int64_t rows, int64_t cols) const {
    return to_f32(checked(name, {rows, cols}), cols);
  }

  LayerNormWeights layer_norm(const std::string& name, int64_t n) const {
    const bool tf_names = !tensors_.count(prefix_ + name + ".weight") && tensors_.count(prefix_ + name + ".gamma");
    return {vector(name + (tf_names ? ".gamma" : ".weight"), n), vector(name + (tf_names ? ".beta" : ".bias"), n)};
  }

 private:
  // The tensor, required to hold floats of the given shape.
  const Tensor& checked(const std::string& name, const std::vector<int64_t>& shape) const {
    auto it = tensors_.find(prefix_ + name);
    if (it == tensors_.end())
      fail(origin_, ": tensor '", prefix_ + name, "' is missing; hint: the file must hold an HF BertModel ",
           "(tensor names like embeddings.word_embeddings.weight, optionally prefixed with \"bert.\")");
    const Tensor& t = it->second;
    check(t.dtype == DType::F32 || t.dtype == DType::F16 || t.dtype == DType::BF16, origin_, ": tensor '",
          prefix_ + name, "' has dtype ", dtype_name(t.dtype), " (f32, f16 or bf16 expected)");
    if (t.shape != shape) {
      std::string expected = "[";  // append(): GCC 12 warns falsely on string operator+ (PR 105651)
      for (size_t i = 0; i < shape.size(); ++i) expected.append(i ? ", " : "").append(std::to_string(shape[i]));
      fail(origin_, ": tensor '", prefix_ + name, "' is ", t.shape_str(), ", config.json implies ", expected, "]");
    }
    return t;
  }

  static std::vector<float> to_f32(const Tensor& t, int64_t n) {  // the first n values
    std::vector<float> out(static_cast<size_t>(n));
    ops::dequantize(t.data, t.dtype, n, out.data());
    return out;
  }

  const std::map<std::string, Tensor>& tensors_;
  std::string origin_;
  std::string prefix_;
};

}  // namespace

BertWeights bind_bert_weights(const std::map<std::string, Tensor>& tensors, const BertConfig& c,
                              const std::string& origin) {
  const Binder bind(tensors, origin);
  const int64_t D = c.d_model, F = c.d_ff;
  BertWeights w;
  w.word_emb = bind.matrix("embeddings.word_embeddings.weight", c.n_vocab, D);
  w.position_emb = bind.matrix("embeddings.position_embeddings.weight", c.n_position, D);
  w.token_type_0 = bind.first_row("embeddings.token_type_embeddings.weight", c.n_token_type, D);
  w.emb_norm = bind.layer_norm("embeddings.LayerNorm", D);
  for (int64_t i = 0; i < c.n_layer; ++i) {
    const std::string p = "encoder.layer." + std::to_string(i) + ".";
    BertLayerWeights l;
    l.q = bind.matrix(p + "attention.self.query.weight", D, D);
    l.k = bind.matrix(p + "attention.self.key.weight", D, D);
    l.v = bind.matrix(p + "attention.self.value.weight", D, D);
    l.q_bias = bind.vector(p + "attention.self.query.bias", D);
    l.k_bias = bind.vector(p + "attention.self.key.bias", D);
    l.v_bias = bind.vector(p + "attention.self.value.bias", D);
    l.attn_out = bind.matrix(p + "attention.output.dense.weight", D, D);
    l.attn_out_bias = bind.vector(p + "attention.output.dense.bias", D);
    l.attn_norm = bind.layer_norm(p + "attention.output.LayerNorm", D);
    l.ffn_up = bind.matrix(p + "intermediate.dense.weight", F, D);
    l.ffn_up_bias = bind.vector(p + "intermediate.dense.bias", F);
    l.ffn_down = bind.matrix(p + "output.dense.weight", D, F);
    l.ffn_down_bias = bind.vector(p + "output.dense.bias", D);
    l.ffn_norm = bind.layer_norm(p + "output.LayerNorm", D);
    w.layers.push_back(std::move(l));
  }
  return w;
}

}  // namespace tunekit::rag
