// StepMetrics <-> JSON lines (metrics.jsonl).
#include <cmath>
#include <fstream>

#include "tunekit/error.h"
#include "tunekit/train/report.h"

namespace tunekit {

namespace {

// JSON has no inf/nan: a non-finite figure (a skipped step's gradient norm) is written as null.
nlohmann::json number(double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr); }

double number_from(const nlohmann::json& j, const char* key) {
  check(j.contains(key), "missing field '", key, "'");
  const auto& v = j[key];
  if (v.is_null()) return std::nan("");
  check(v.is_number(), "field '", key, "' is not a number");
  return v.get<double>();
}

}  // namespace

nlohmann::json to_json(const StepMetrics& m) {
  nlohmann::json j = {{"step", m.step},          {"loss", number(m.loss)},
                      {"lr", m.lr},              {"grad_norm", number(m.grad_norm)},
                      {"tokens", m.tokens},      {"tokens_per_s", number(m.tokens_per_s)},
                      {"elapsed_s", m.elapsed_s}, {"rss_mb", double(m.rss_bytes) / (1 << 20)}};
  if (m.skipped) j["skipped"] = true;
  if (m.val_loss) {
    j["val_loss"] = number(*m.val_loss);
    j["val_ppl"] = number(m.val_ppl.value_or(std::nan("")));
  }
  return j;
}

StepMetrics step_metrics_from_json(const nlohmann::json& j) {
  check(j.is_object(), "a metrics record is not a JSON object");
  StepMetrics m;
  m.step = int64_t(number_from(j, "step"));
  m.loss = number_from(j, "loss");
  m.lr = number_from(j, "lr");
  m.grad_norm = number_from(j, "grad_norm");
  m.tokens = int64_t(number_from(j, "tokens"));
  m.tokens_per_s = number_from(j, "tokens_per_s");
  m.elapsed_s = number_from(j, "elapsed_s");
  m.rss_bytes = int64_t(number_from(j, "rss_mb") * (1 << 20));
  m.skipped = j.value("skipped", false);
  if (j.contains("val_loss")) {
    m.val_loss = number_from(j, "val_loss");
    m.val_ppl = number_from(j, "val_ppl");
  }
  return m;
}

std::vector<StepMetrics> read_metrics_jsonl(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  check(bool(in), path.string(), ": cannot open");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::vector<StepMetrics> out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    try {
      out.push_back(step_metrics_from_json(nlohmann::json::parse(lines[i])));
    } catch (const std::exception& e) {
      if (i + 1 == lines.size()) break;  // torn last line
      fail(path.string(), ":", i + 1, ": bad metrics record (", e.what(), ")");
    }
  }
  return out;
}

}  // namespace tunekit
