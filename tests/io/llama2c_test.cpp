#include "tunekit/io/llama2c.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "test_paths.h"
#include "tunekit/error.h"
#include "tunekit/io/atomic_file.h"

using namespace tunekit;

TEST(Llama2c, Stories260K) {
  const char* rel = "models/stories260K/stories260K.bin";
  TUNEKIT_REQUIRE_SHARED(rel);
  Llama2cCheckpoint c = read_llama2c(test::shared_dir() / rel);
  EXPECT_EQ(c.dim, 64);
  EXPECT_EQ(c.hidden_dim, 172);
  EXPECT_EQ(c.n_layers, 5);
  EXPECT_EQ(c.n_heads, 8);
  EXPECT_EQ(c.n_kv_heads, 4);
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.seq_len, 512);
  EXPECT_TRUE(c.shared_classifier);
  EXPECT_EQ(c.head_size(), 8);
  EXPECT_EQ(c.kv_dim(), 32);
  using S = std::vector<int64_t>;
  EXPECT_EQ(c.token_embedding.shape, (S{512, 64}));
  EXPECT_EQ(c.rms_att.shape, (S{5, 64}));
  EXPECT_EQ(c.wq.shape, (S{5, 64, 64}));
  EXPECT_EQ(c.wk.shape, (S{5, 32, 64}));
  EXPECT_EQ(c.wv.shape, (S{5, 32, 64}));
  EXPECT_EQ(c.wo.shape, (S{5, 64, 64}));
  EXPECT_EQ(c.rms_ffn.shape, (S{5, 64}));
  EXPECT_EQ(c.w1.shape, (S{5, 172, 64}));
  EXPECT_EQ(c.w2.shape, (S{5, 64, 172}));
  EXPECT_EQ(c.w3.shape, (S{5, 172, 64}));
  EXPECT_EQ(c.rms_final.shape, (S{64}));
  EXPECT_EQ(c.freq_cis_real.shape, (S{512, 4}));
  EXPECT_EQ(c.wcls.data, c.token_embedding.data);
  // freq_cis at position 0 is cos(0) = 1 and sin(0) = 0; position 1, pair 0: cos(1), sin(1).
  EXPECT_FLOAT_EQ(c.freq_cis_real.as<float>()[0], 1.0f);
  EXPECT_FLOAT_EQ(c.freq_cis_imag.as<float>()[0], 0.0f);
  EXPECT_NEAR(c.freq_cis_real.as<float>()[4], std::cos(1.0f), 1e-6);
  EXPECT_NEAR(c.freq_cis_imag.as<float>()[4], std::sin(1.0f), 1e-6);
  // RMSNorm weights of a trained model are finite and mostly positive.
  int positive = 0;
  for (int i = 0; i < 64; ++i) positive += c.rms_final.as<float>()[i] > 0;
  EXPECT_GT(positive, 48);
}

TEST(Llama2c, UntiedAndBadSizes) {
  auto dir = test::temp_dir("llama2c");
  // dim 4, hidden 6, 1 layer, 2 heads, 1 kv head, vocab -3 (untied), seq 2.
  int32_t h[7] = {4, 6, 1, 2, 1, -3, 2};
  size_t floats = 3 * 4 + 4 + 16 + 2 * 4 + 2 * 4 + 16 + 4 + 24 * 3 + 4 + 2 * 1 * 2 + 3 * 4;
  std::string bytes(reinterpret_cast<const char*>(h), 28);
  for (size_t i = 0; i < floats; ++i) {
    float f = float(i);
    bytes.append(reinterpret_cast<const char*>(&f), 4);
  }
  write_file_atomic(dir / "tiny.bin", bytes);
  Llama2cCheckpoint c = read_llama2c(dir / "tiny.bin");
  EXPECT_FALSE(c.shared_classifier);
  EXPECT_EQ(c.vocab_size, 3);
  EXPECT_EQ(c.wcls.shape, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(c.wcls.as<float>()[0], float(floats - 12));
  EXPECT_EQ(c.wk.shape, (std::vector<int64_t>{1, 2, 4}));

  write_file_atomic(dir / "short.bin", bytes.substr(0, bytes.size() - 4));
  try {
    read_llama2c(dir / "short.bin");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("short.bin"), std::string::npos) << e.what();
  }
  h[3] = 3;  // dim 4 not a multiple of 3 heads
  std::string bad(reinterpret_cast<const char*>(h), 28);
  write_file_atomic(dir / "bad.bin", bad + bytes.substr(28));
  EXPECT_THROW(read_llama2c(dir / "bad.bin"), Error);
  write_file_atomic(dir / "tiny2.bin", "abc");
  EXPECT_THROW(read_llama2c(dir / "tiny2.bin"), Error);
}
