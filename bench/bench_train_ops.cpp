// bench_train_ops: the training kernels (tunekit/ops/backward.h) on SmolLM2-135M shapes (d_model 576,
// 9 heads / 3 kv heads of 64, d_ff 1536, vocabulary 49152) for one step of T tokens. One JSON object
// per line; GFLOP/s count the products' multiply-adds (2 flops each) that the op needs, not the
// ones a kernel recomputes:
//   linear        forward (ops::linear), backward_input (dx = dy·W) and backward_weight (dW += dyᵀ·x) on
//                 the q/o, gate/up and down matrices and a rank-16 LoRA pair, f32
//   attention     forward and backward over 4 packed rows of 256 tokens and over one sequence of T;
//                 causal pairs p = Σ L(L+1)/2 per head: forward 4·d·p, backward 10·d·p (the
//                 flash-attention count: five products, as this kernel runs them in one pass)
//   cross_entropy loss only, loss + dh (frozen tied output matrix, the LoRA case), loss + dh + dW
//   elementwise   rmsnorm, swiglu and rope backward in GB/s of the bytes they must move
//   step_bound    one data-parallel part of a LoRA step (T tokens in rows of 256, rank --rank on all
//                 seven linear modules, frozen base and tied head): every kernel the step runs, each
//                 timed alone at its shape (median), summed over the layers, plus the cross-entropy
//                 in chunks of --chunk-rows: what the part would take if each kernel ran in it as fast
//                 as alone with hot caches. With --threads 1 and T = batch · seq / threads this is a
//                 lower bound for a bench_train step; also one core's FMA peak (AVX-512 builds)
// Wall-clock figures need a quiet machine; gflops_per_cpu_second with --threads 1 does not.
//   bench_train_ops [--threads 2] [--T 1024] [--reps 5] [--chunk-rows 512]
//                   [--only linear,attention,cross_entropy,elementwise,step_bound] [--rank 8]
#include <CLI/CLI.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "bench_util.h"
#include "model_shapes.h"
#include "tunekit/core/parallel.h"
#include "tunekit/ops/backward.h"
#include "tunekit/ops/ops.h"

namespace {

using namespace tunekit;
using bench::print_json_line;
using bench::random_values;
using bench::time_it;
using bench::Timing;

struct Options {
  int threads = 2;
  int64_t T = 1024;
  int reps = 5;
  int64_t chunk_rows = 512;       // cross_entropy_loss's rows of logits per chunk
  int64_t rank = 8;               // step_bound: LoRA rank
  std::vector<std::string> only;  // bench names to run; empty: all
  bool runs(const std::string& name) const { return only.empty() || std::count(only.begin(), only.end(), name); }
};

void print(const Options& o, const std::string& bench, const std::string& what, double flops, const Timing& t,
           nlohmann::ordered_json extra = nlohmann::ordered_json::object()) {
  nlohmann::ordered_json line = {{"bench", bench}, {"what", what}, {"T", o.T}, {"threads", num_threads()}};
  line.update(extra);
  line["ms_median"] = t.median_s * 1e3;
  line["ms_best"] = t.best_s * 1e3;
  line["gflops_median"] = flops / t.median_s / 1e9;
  line["gflops_best"] = flops / t.best_s / 1e9;
  line["gflops_per_cpu_second"] = flops / t.cpu_median_s / 1e9;
  print_json_line(line);
}

void bench_linear(const Options& o) {
  struct Shape {
    const char* name;
    int64_t N, K;
  };
  for (Shape s : {Shape{"q/o", 576, 576}, Shape{"gate/up", 1536, 576}, Shape{"down", 576, 1536},
                  Shape{"lora_a r16", 16, 576}, Shape{"lora_b r16", 576, 16}}) {
    const Tensor W = bench::random_f32({s.N, s.K}, 0.05f, 1);
    const auto x = random_values(o.T * s.K, 1.0f, 2), dy = random_values(o.T * s.N, 1.0f, 3);
    std::vector<float> y(size_t(o.T * s.N)), dx(size_t(o.T * s.K)), dW(size_t(s.N * s.K));
    const double flops = 2.0 * double(o.T * s.N * s.K);
    const nlohmann::ordered_json shape = {{"N", s.N}, {"K", s.K}};
    print(o, "linear", std::string("forward ") + s.name, flops,
          time_it(o.reps, [&] { ops::linear(x.data(), o.T, W, nullptr, y.data()); }), shape);
    print(o, "linear", std::string("backward_input ") + s.name, flops,
          time_it(o.reps, [&] { ops::linear_backward_input(dy.data(), o.T, W, dx.data(), false); }), shape);
    print(o, "linear", std::string("backward_weight ") + s.name, flops,
          time_it(o.reps, [&] { ops::linear_backward_weight(dy.data(), x.data(), o.T, s.N, s.K, dW.data(), true); }),
          shape);
  }
}

void bench_attention(const Options& o) {
  const int64_t n_head = 9, n_head_kv = 3, d = 64, T = o.T;
  const auto q = random_values(T * n_head * d, 1.0f, 4), k = random_values(T * n_head_kv * d, 1.0f, 5),
             v = random_values(T * n_head_kv * d, 1.0f, 6), dout = random_values(T * n_head * d, 1.0f, 7);
  std::vector<float> out(q.size()), lse(size_t(T * n_head)), dq(q.size()), dk(k.size()), dv(v.size());
  for (int64_t row_len : {int64_t(256), T}) {
    std::vector<int32_t> seg(static_cast<size_t>(T));
    double pairs = 0;
    for (int64_t t = 0; t < T; ++t) {
      seg[size_t(t)] = int32_t(t / row_len * row_len);
      pairs += double(t - seg[size_t(t)] + 1);
    }
    const std::string layout = std::to_string(T / row_len) + " x " + std::to_string(row_len);
    const nlohmann::ordered_json extra = {{"layout", layout}, {"heads", "9/3x64"}};
    print(o, "attention", "forward", 4.0 * d * pairs * n_head, time_it(o.reps, [&] {
            ops::attention_train_forward(q.data(), k.data(), v.data(), seg.data(), out.data(), lse.data(), T, n_head,
                                         n_head_kv, d);
          }),
          extra);
    print(o, "attention", "backward", 10.0 * d * pairs * n_head, time_it(o.reps, [&] {
            ops::attention_train_backward(dout.data(), q.data(), k.data(), v.data(), out.data(), lse.data(),
                                          seg.data(), dq.data(), dk.data(), dv.data(), T, n_head, n_head_kv, d);
          }),
          extra);
  }
}

void bench_cross_entropy(const Options& o) {
  const int64_t V = 49152, C = 576, T = o.T;
  const Tensor W = bench::random_f32({V, C}, 0.05f, 8);
  const auto h = random_values(T * C, 1.0f, 9);
  std::vector<int32_t> targets(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) targets[size_t(t)] = int32_t((t * 7919) % V);
  std::vector<float> dh(size_t(T * C)), dW(size_t(V * C));
  const double gemm = 2.0 * double(T * V * C);
  const nlohmann::ordered_json extra = {{"V", V}, {"C", C}, {"chunk_rows", o.chunk_rows}};
  print(o, "cross_entropy", "loss", gemm, time_it(o.reps, [&] {
          ops::cross_entropy_loss(h.data(), W, targets.data(), nullptr, T, 0.0f, nullptr, nullptr, o.chunk_rows);
        }),
        extra);
  print(o, "cross_entropy", "loss + dh", 2 * gemm, time_it(o.reps, [&] {
          ops::cross_entropy_loss(h.data(), W, targets.data(), nullptr, T, 1.0f, dh.data(), nullptr, o.chunk_rows);
        }),
        extra);
  print(o, "cross_entropy", "loss + dh + dW", 3 * gemm, time_it(o.reps, [&] {
          ops::cross_entropy_loss(h.data(), W, targets.data(), nullptr, T, 1.0f, dh.data(), dW.data(), o.chunk_rows);
        }),
        extra);
}

// GB/s of the bytes an element-wise backward must read and write.
void print_bandwidth(const Options& o, const std::string& what, double bytes, const Timing& t) {
  print_json_line({{"bench", "elementwise"}, {"what", what}, {"T", o.T}, {"threads", num_threads()},
                   {"ms_median", t.median_s * 1e3}, {"gbs_median", bytes / t.median_s / 1e9}});
}

void bench_elementwise(const Options& o) {
  const int64_t T = o.T, C = 576, F = 1536, n_head = 9, d = 64;
  const auto x = random_values(T * F, 1.0f, 10), w = random_values(F, 1.0f, 11), dy = random_values(T * F, 1.0f, 12),
             up = random_values(T * F, 1.0f, 13);
  std::vector<float> rstd(static_cast<size_t>(T), 1.0f), dx(size_t(T * F)), dw(static_cast<size_t>(C)), dup(size_t(T * F));
  print_bandwidth(o, "rmsnorm_backward [T, 576] with dw", 4.0 * 4 * T * C, time_it(o.reps, [&] {
                    ops::rmsnorm_backward(dy.data(), x.data(), w.data(), rstd.data(), dx.data(), dw.data(), T, C);
                  }));
  print_bandwidth(o, "swiglu_backward [T, 1536]", 5.0 * 4 * T * F, time_it(o.reps, [&] {
                    ops::swiglu_backward(dy.data(), x.data(), up.data(), dx.data(), dup.data(), T * F);
                  }));
  std::vector<int32_t> pos(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) pos[size_t(t)] = int32_t(t % 256);
  const auto inv_freq = ops::rope_inv_freq({}, d);
  print_bandwidth(o, "rope_backward [T, 9, 64]", 2.0 * 4 * T * n_head * d, time_it(o.reps, [&] {
                    ops::rope_backward(dx.data(), T, n_head, d, pos.data(), inv_freq.data());
                  }));
}

// The kernels of one part's step (layer_forward, layer_backward and the cross-entropy of
// src/train), each timed alone on fresh inputs at its shape; see the header.
void bench_step_bound(const Options& o) {
  const ModelConfig c = bench::smollm2_135m_config();
  const int64_t T = o.T, D = c.d_model, F = c.d_ff, r = o.rank, dq = c.d_q(), dkv = c.d_kv();
  const float eps = float(c.rms_eps);
  double layer_s = 0;        // one layer, forward and backward
  double qkv_input_s = 0;    // of which q, k and v's input gradients (base and LoRA), which the lowest layer skips
  auto time_s = [&](const auto& fn) { return time_it(o.reps, fn).median_s; };
  auto add = [&](const auto& fn) { layer_s += time_s(fn); };

  // Linear modules: base forward and input gradient, and LoRA's six products (as layer_linear.cpp).
  struct Module {
    int64_t N, K;
    bool attention_input;  // q, k or v
  };
  for (Module m : {Module{dq, D, true}, Module{dkv, D, true}, Module{dkv, D, true}, Module{D, dq, false},
                   Module{F, D, false}, Module{F, D, false}, Module{D, F, false}}) {
    const Tensor W = bench::random_f32({m.N, m.K}, 0.05f, 1), A = bench::random_f32({r, m.K}, 0.05f, 2),
                 B = bench::random_f32({m.N, r}, 0.05f, 3);
    const auto x = random_values(T * m.K, 1.0f, 4), dy = random_values(T * m.N, 1.0f, 5);
    std::vector<float> y(size_t(T * m.N)), dx(size_t(T * m.K)), u(size_t(T * r)), du(size_t(T * r)),
        dA(size_t(r * m.K)), dB(size_t(m.N * r));
    auto add_input_gradient = [&](const auto& fn) {
      const double s = time_s(fn);
      layer_s += s;
      if (m.attention_input) qkv_input_s += s;
    };
    add([&] { ops::linear(x.data(), T, W, nullptr, y.data()); });
    add([&] { ops::linear(x.data(), T, A, nullptr, u.data()); });
    add([&] { ops::linear(u.data(), T, B, nullptr, y.data(), true); });
    add_input_gradient([&] { ops::linear_backward_input(dy.data(), T, W, dx.data(), false); });
    add([&] { ops::linear_backward_weight(dy.data(), u.data(), T, m.N, r, dB.data(), true); });
    add([&] { ops::linear_backward_input(dy.data(), T, B, du.data(), false); });
    add_input_gradient([&] { ops::linear_backward_input(du.data(), T, A, dx.data(), true); });
    add([&] { ops::linear_backward_weight(du.data(), x.data(), T, r, m.K, dA.data(), true); });
  }

  // Attention over rows of 256 tokens, forward and backward.
  std::vector<int32_t> seg(static_cast<size_t>(T)), pos(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) seg[size_t(t)] = int32_t(t / 256 * 256), pos[size_t(t)] = int32_t(t % 256);
  const auto q = random_values(T * dq, 1.0f, 6), k = random_values(T * dkv, 1.0f, 7),
             v = random_values(T * dkv, 1.0f, 8), datt = random_values(T * dq, 1.0f, 9);
  std::vector<float> att(q.size()), lse(size_t(T * c.n_head)), dq_(q.size()), dk(k.size()), dv(v.size());
  add([&] {
    ops::attention_train_forward(q.data(), k.data(), v.data(), seg.data(), att.data(), lse.data(), T, c.n_head,
                                 c.n_head_kv, c.d_head);
  });
  add([&] {
    ops::attention_train_backward(datt.data(), q.data(), k.data(), v.data(), att.data(), lse.data(), seg.data(),
                                  dq_.data(), dk.data(), dv.data(), T, c.n_head, c.n_head_kv, c.d_head);
  });

  // Element-wise work: RMSNorm twice forward and twice again in backward (recomputed) and its
  // backward twice, RoPE on q and k both ways, SwiGLU and its backward, two residual copies.
  const auto x = random_values(T * D, 1.0f, 10), w = random_values(D, 1.0f, 11),
             gate = random_values(T * F, 1.0f, 12), up = random_values(T * F, 1.0f, 13);
  std::vector<float> h(size_t(T * D)), rstd(static_cast<size_t>(T)), dh(size_t(T * D)), dw(static_cast<size_t>(D)),
      act(size_t(T * F)), dgate(size_t(T * F)), dup(size_t(T * F)), rq(q), rk(k);
  const auto inv_freq = ops::rope_inv_freq(c.rope, c.d_head);
  for (int i = 0; i < 4; ++i) add([&] { ops::rmsnorm_forward_train(x.data(), w.data(), h.data(), rstd.data(), T, D, eps); });
  for (int i = 0; i < 2; ++i)
    add([&] { ops::rmsnorm_backward(x.data(), x.data(), w.data(), rstd.data(), dh.data(), dw.data(), T, D); });
  add([&] { ops::rope(rq.data(), T, c.n_head, c.d_head, pos.data(), inv_freq.data()); });
  add([&] { ops::rope(rk.data(), T, c.n_head_kv, c.d_head, pos.data(), inv_freq.data()); });
  add([&] { ops::rope_backward(rq.data(), T, c.n_head, c.d_head, pos.data(), inv_freq.data()); });
  add([&] { ops::rope_backward(rk.data(), T, c.n_head_kv, c.d_head, pos.data(), inv_freq.data()); });
  add([&] { ops::swiglu(gate.data(), up.data(), act.data(), T * F); });
  add([&] { ops::swiglu_backward(gate.data(), gate.data(), up.data(), dgate.data(), dup.data(), T * F, act.data()); });
  for (int i = 0; i < 2; ++i) add([&] { std::copy(x.begin(), x.end(), dh.begin()); });

  // The tied head: loss and dh, chunked as in the step.
  const Tensor E = bench::random_f32({c.n_vocab, D}, 0.05f, 14);
  std::vector<int32_t> targets(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) targets[size_t(t)] = int32_t((t * 7919) % c.n_vocab);
  const double loss_s = time_it(o.reps, [&] {
                          ops::cross_entropy_loss(x.data(), E, targets.data(), nullptr, T, 1.0f, dh.data(), nullptr,
                                                  o.chunk_rows);
                        }).median_s;
  const double part_s = double(c.n_layer) * layer_s - qkv_input_s + loss_s;
  print_json_line({{"bench", "step_bound"}, {"T", T}, {"threads", num_threads()}, {"rank", r},
                   {"chunk_rows", o.chunk_rows}, {"layers", c.n_layer}, {"layer_ms", layer_s * 1e3},
                   {"cross_entropy_ms", loss_s * 1e3}, {"part_s", part_s},
                   {"fp32_peak_gflops_one_core", bench::fp32_peak_gflops(1)}});
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"tunekit training-kernel benchmarks (JSON lines)"};
  app.add_option("--threads", o.threads, "threads (default 2)");
  app.add_option("--T", o.T, "tokens per step (default 1024; a multiple of 256)");
  app.add_option("--reps", o.reps, "timed repetitions per figure");
  app.add_option("--chunk-rows", o.chunk_rows, "cross_entropy: rows of logits per chunk (default 512)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 20));
  app.add_option("--only", o.only,
                 "run only these benches (linear, attention, cross_entropy, elementwise, step_bound)")
      ->delimiter(',');
  app.add_option("--rank", o.rank, "step_bound: LoRA rank (default 8)")->check(CLI::Range(int64_t(1), int64_t(256)));
  CLI11_PARSE(app, argc, argv);
  if (o.T <= 0 || o.T % 256 != 0) {
    std::cerr << "bench_train_ops: --T " << o.T << " must be a positive multiple of 256\n";
    return 2;
  }
  set_num_threads(o.threads);
  print_json_line({{"bench", "machine"}, {"info", bench::machine_info()}});
  if (o.runs("linear")) bench_linear(o);
  if (o.runs("attention")) bench_attention(o);
  if (o.runs("cross_entropy")) bench_cross_entropy(o);
  if (o.runs("elementwise")) bench_elementwise(o);
  if (o.runs("step_bound")) bench_step_bound(o);
  return 0;
}
