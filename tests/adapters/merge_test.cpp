// merge_adapter: every adapted weight equals W + scale·B·A computed independently in double and
// rounded once to the output dtype; every other tensor is the base's own.
#include <gtest/gtest.h>

#include <cmath>

#include "adapter_test_util.h"
#include "tunekit/adapters/lora_init.h"
#include "tunekit/adapters/merge.h"
#include "tunekit/error.h"

using namespace tunekit;

namespace {

// Largest |got - want| / |want| over the weight (elements with |want| < floor are compared to floor).
double max_rel_error(const Tensor& got, const std::vector<double>& want, double floor = 1e-6) {
  std::vector<float> g = test::values_of(got);
  double worst = 0;
  for (size_t i = 0; i < want.size(); ++i)
    worst = std::max(worst, std::fabs(double(g[i]) - want[i]) / std::max(std::fabs(want[i]), floor));
  return worst;
}

struct Fixture {
  Model base;
  LoraAdapter adapter;
};

Fixture make(std::vector<std::string> targets, DType dtype) {
  ModelConfig c = test::wide_config();
  Fixture f{convert_weights(init_random_model(c, 21), dtype), {}};
  LoraConfig cfg;
  cfg.rank = 8;
  cfg.alpha = 12;
  cfg.targets = std::move(targets);
  cfg.b_std = 0.02;
  f.adapter = init_lora(c, cfg, 22);
  return f;
}

TEST(Merge, F32WeightsAreWPlusScaleBA) {
  Fixture f = make({"all-linear"}, DType::F32);
  Model m = merge_adapter(f.base, f.adapter);
  for (int l = 0; l < f.base.config.n_layer; ++l)
    for (int i = 0; i < kNumLinearModules; ++i) {
      const auto member = module_weight(LinearModule(i));
      const LoraPair* p = f.adapter.find(l, LinearModule(i));
      std::vector<double> want = test::merged_reference(f.base.layers[l].*member, p->A, p->B, 12.0 / 8.0);
      const Tensor& got = m.layers[l].*member;
      EXPECT_EQ(got.dtype, DType::F32);
      EXPECT_LE(max_rel_error(got, want), 0x1p-23) << l << " " << module_name(LinearModule(i));
      // The adapter changed the weight by much more than rounding.
      EXPECT_GT(max_rel_error(f.base.layers[l].*member, want), 1e-3);
    }
  EXPECT_EQ(m.tok_embeddings.data, f.base.tok_embeddings.data);
  EXPECT_EQ(m.lm_head.data, f.base.lm_head.data);
  EXPECT_EQ(m.norm.data, f.base.norm.data);
  EXPECT_EQ(m.layers[1].attn_norm.data, f.base.layers[1].attn_norm.data);
}

TEST(Merge, KeepsTheBaseDtypeOrF32OnRequestAndLeavesOtherModulesAlone) {
  Fixture f = make({"k_proj", "up_proj"}, DType::BF16);
  Model m = merge_adapter(f.base, f.adapter);
  Model m32 = merge_adapter(f.base, f.adapter, {.dtype = DType::F32});
  for (int l = 0; l < f.base.config.n_layer; ++l) {
    for (LinearModule mod : {LinearModule::k, LinearModule::up}) {
      const auto member = module_weight(mod);
      const LoraPair* p = f.adapter.find(l, mod);
      std::vector<double> want = test::merged_reference(f.base.layers[l].*member, p->A, p->B, 1.5);
      EXPECT_EQ((m.layers[l].*member).dtype, DType::BF16);
      EXPECT_LE(max_rel_error(m.layers[l].*member, want), 0x1p-8 + 0x1p-23);  // half a bf16 ulp
      EXPECT_EQ((m32.layers[l].*member).dtype, DType::F32);
      EXPECT_LE(max_rel_error(m32.layers[l].*member, want), 0x1p-23);
    }
    for (LinearModule mod : {LinearModule::q, LinearModule::v, LinearModule::o, LinearModule::gate, LinearModule::down})
      EXPECT_EQ((m.layers[l].*module_weight(mod)).data, (f.base.layers[l].*module_weight(mod)).data);
  }
}

TEST(Merge, QuantizedBaseIsRequantized) {
  Fixture f = make({"o_proj"}, DType::Q8_0);
  Model m = merge_adapter(f.base, f.adapter);
  const LoraPair* p = f.adapter.find(0, LinearModule::o);
  std::vector<double> want = test::merged_reference(f.base.layers[0].wo, p->A, p->B, 1.5);
  EXPECT_EQ(m.layers[0].wo.dtype, DType::Q8_0);
  // Q8_0 keeps each value within half a step (absmax/127) of its 32-value block; weights are ~0.02.
  std::vector<float> got = test::values_of(m.layers[0].wo);
  double worst = 0;
  for (size_t i = 0; i < want.size(); ++i) worst = std::max(worst, std::fabs(got[i] - want[i]));
  EXPECT_LT(worst, 0.1 / 127);
}

TEST(Merge, AdapterThatDoesNotFitIsAnError) {
  Fixture f = make({"q_proj"}, DType::F32);
  f.adapter.layers.pop_back();
  EXPECT_THROW(merge_adapter(f.base, f.adapter), Error);
}

}  // namespace
