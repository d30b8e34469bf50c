// bench_encoder: the BERT sentence encoder's forward on a MiniLM-L6-shaped model with random weights
// (hidden 384, 6 layers, 12 heads, intermediate 1536, vocab 30522): batches of equal-length texts,
// embeddings through pooling and normalisation (tokenization excluded). One JSON object per line:
//   {"bench":"encoder", ..., "texts_per_s", "tokens_per_s", "gflops"}: best and median of reps
//   {"bench":"encoder_tokenize", ...}: the real all-MiniLM-L6-v2 WordPiece tokenizer on a real text cut
//       into 100-word chunks (encode_truncated, one thread), where ../shared is present
//   bench_encoder [--threads 0] [--batch 32] [--seq 128] [--reps 5] [--dtype f32|f16|bf16]
//                 [--tokenizer DIR] [--text FILE]
#include <CLI/CLI.hpp>
#include <filesystem>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench_util.h"
#include "rag/bert_forward.h"
#include "rag/encoder_text.h"
#include "tunekit/core/parallel.h"
#include "tunekit/io/file_util.h"
#include "tunekit/ops/ops.h"

namespace {

using namespace tunekit;

rag::BertConfig minilm_l6_shape() {
  rag::BertConfig c;
  c.n_vocab = 30522;
  c.d_model = 384;
  c.n_layer = 6;
  c.n_head = 12;
  c.d_ff = 1536;
  c.n_position = 512;
  c.n_token_type = 2;
  return c;
}

// Every BertModel tensor with N(0, 0.05) values (LayerNorm weights around 1), stored as dtype.
std::map<std::string, Tensor> random_bert_tensors(const rag::BertConfig& c, DType dtype) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  std::map<std::string, Tensor> tensors;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, float mean = 0.0f) {
    Tensor f32 = Tensor::zeros(DType::F32, shape);
    for (int64_t i = 0; i < f32.numel(); ++i) f32.as<float>()[i] = mean + normal(rng);
    tensors[name] = ops::convert(f32, dtype);
  };
  const int64_t D = c.d_model, F = c.d_ff;
  add("embeddings.word_embeddings.weight", {c.n_vocab, D});
  add("embeddings.position_embeddings.weight", {c.n_position, D});
  add("embeddings.token_type_embeddings.weight", {c.n_token_type, D});
  add("embeddings.LayerNorm.weight", {D}, 1.0f);
  add("embeddings.LayerNorm.bias", {D});
  for (int64_t i = 0; i < c.n_layer; ++i) {
    const std::string p = "encoder.layer." + std::to_string(i) + ".";
    for (const char* m :
         {"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"}) {
      add(p + m + ".weight", {D, D});
      add(p + m + ".bias", {D});
    }
    add(p + "intermediate.dense.weight", {F, D});
    add(p + "intermediate.dense.bias", {F});
    add(p + "output.dense.weight", {D, F});
    add(p + "output.dense.bias", {D});
    for (const char* norm : {"attention.output.LayerNorm", "output.LayerNorm"}) {
      add(p + norm + ".weight", {D}, 1.0f);
      add(p + norm + ".bias", {D});
    }
  }
  return tensors;
}

// Tokenizes the text in chunks of 100 words, as a knowledge base's passages, truncated to 256 tokens.
void bench_tokenize(const std::filesystem::path& tokenizer_dir, const std::filesystem::path& text_file) {
  if (!std::filesystem::exists(tokenizer_dir) || !std::filesystem::exists(text_file)) {
    std::cerr << "encoder_tokenize skipped: " << tokenizer_dir << " or " << text_file << " is absent\n";
    return;
  }
  const auto tokenizer = rag::load_encoder_tokenizer(tokenizer_dir);
  std::istringstream words(read_text_file(text_file));
  std::vector<std::string> chunks(1);
  int n_words = 0;
  for (std::string word; words >> word; ++n_words) {
    if (n_words > 0 && n_words % 100 == 0) chunks.emplace_back();
    chunks.back().append(word).append(" ");
  }
  int64_t tokens = 0;
  const double t0 = bench::now_seconds();
  for (const std::string& chunk : chunks) tokens += int64_t(rag::encode_truncated(*tokenizer, chunk, 256).size());
  const double seconds = bench::now_seconds() - t0;
  bench::print_json_line({{"bench", "encoder_tokenize"},
                          {"tokenizer", tokenizer_dir.filename().string()},
                          {"text", text_file.filename().string()},
                          {"chunks", chunks.size()},
                          {"tokens", tokens},
                          {"seconds", seconds},
                          {"texts_per_s", double(chunks.size()) / seconds},
                          {"tokens_per_s", double(tokens) / seconds}});
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_encoder: BERT sentence-encoder forward (MiniLM-L6 shape, random weights)"};
  int threads = 0, reps = 5;
  int64_t batch = 32, seq = 128;
  std::string dtype_name = "f32";
  app.add_option("--threads", threads, "threads (0: one per core)");
  app.add_option("--batch", batch, "texts per forward")->check(CLI::PositiveNumber);
  app.add_option("--seq", seq, "tokens per text, [CLS] and [SEP] included")->check(CLI::Range(2, 512));
  app.add_option("--reps", reps, "timed repetitions")->check(CLI::PositiveNumber);
  app.add_option("--dtype", dtype_name, "weight storage: f32, f16 or bf16");
  std::string tokenizer_dir = "../shared/tokenizers/all-MiniLM-L6-v2-no-weights";
  std::string text_file = "../shared/data/docs/grays-anatomy-1918-osteology.txt";
  app.add_option("--tokenizer", tokenizer_dir, "encoder folder whose tokenizer to time");
  app.add_option("--text", text_file, "text to tokenize in 100-word chunks");
  CLI11_PARSE(app, argc, argv);
  set_num_threads(threads);

  const rag::BertConfig config = minilm_l6_shape();
  const std::map<std::string, Tensor> tensors = random_bert_tensors(config, dtype_from_name(dtype_name));
  const rag::BertWeights weights = rag::bind_bert_weights(tensors, config, "random MiniLM-L6");

  std::mt19937 rng(11);
  std::uniform_int_distribution<int32_t> word(1000, int32_t(config.n_vocab) - 1);
  std::vector<int32_t> ids(size_t(batch * seq));
  std::vector<int64_t> seq_start(size_t(batch + 1));
  for (int64_t b = 0; b < batch; ++b) {
    seq_start[size_t(b)] = b * seq;
    ids[size_t(b * seq)] = 101;  // [CLS] ... [SEP]
    for (int64_t t = 1; t + 1 < seq; ++t) ids[size_t(b * seq + t)] = word(rng);
    ids[size_t(b * seq + seq - 1)] = 102;
  }
  seq_start[size_t(batch)] = batch * seq;
  std::vector<float> hidden(size_t(batch * seq * config.d_model)), vectors(size_t(batch * config.d_model));

  auto run = [&] {
    rag::bert_forward(config, weights, ids.data(), seq_start.data(), batch, hidden.data());
    rag::pool_normalize(hidden.data(), seq_start.data(), batch, config.d_model, rag::Pooling::Mean, vectors.data());
  };
  run();  // warm-up
  std::vector<double> seconds;
  for (int r = 0; r < reps; ++r) {
    const double t0 = bench::now_seconds();
    run();
    seconds.push_back(bench::now_seconds() - t0);
  }
  const double best = *std::min_element(seconds.begin(), seconds.end()), med = bench::median(seconds);
  // Matmul FLOPs: q, k, v, out (4·D²) and the FFN (2·D·F) per token and layer, plus Q·Kᵀ and P·V.
  const double D = double(config.d_model), F = double(config.d_ff), tokens = double(batch * seq);
  const double flops = double(config.n_layer) * tokens * (2 * (4 * D * D + 2 * D * F) + 4 * double(seq) * D);
  bench::print_json_line({{"bench", "encoder"},
                          {"model", "MiniLM-L6 shape (384/6/12/1536), random weights"},
                          {"dtype", dtype_name},
                          {"threads", num_threads()},
                          {"batch", batch},
                          {"seq", seq},
                          {"reps", reps},
                          {"best_s", best},
                          {"median_s", med},
                          {"texts_per_s", double(batch) / best},
                          {"texts_per_s_median", double(batch) / med},
                          {"tokens_per_s", tokens / best},
                          {"gflops", flops / best / 1e9},
                          {"machine", bench::machine_info()}});
  bench_tokenize(tokenizer_dir, text_file);
  return 0;
}
