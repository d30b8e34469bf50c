// What a training run reports: one StepMetrics per optimizer step (written as a JSON line to
// metrics.jsonl as it happens) and, at the end, a self-contained HTML page (inline SVG loss curves,
// the config, the final figures; no external scripts or styles).
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tunekit {

struct StepMetrics {
  int64_t step = 0;              // 1-based optimizer step
  double loss = 0;               // mean weighted cross-entropy over the step's micro-batches
  double lr = 0;                 // learning rate this step used
  double grad_norm = 0;          // global gradient norm before clipping (inf/nan when skipped)
  bool skipped = false;          // non-finite gradient: no update
  int64_t tokens = 0;            // input tokens in this step
  double tokens_per_s = 0;       // this step's tokens over its wall time
  double elapsed_s = 0;          // since the run (or the resumed run) started, plus earlier runs
  std::optional<double> val_loss, val_ppl;  // on evaluation steps
  int64_t rss_bytes = 0;         // resident memory after the step
};

nlohmann::json to_json(const StepMetrics& m);
// One metrics.jsonl line; throws Error naming what is missing.
StepMetrics step_metrics_from_json(const nlohmann::json& j);
// Every complete record of a metrics.jsonl file, in order. A torn last line (a killed writer) is
// dropped; a bad line before it is an Error naming the file and line.
std::vector<StepMetrics> read_metrics_jsonl(const std::filesystem::path& path);

struct ReportInput {
  std::string title;                 // e.g. "tunekit train: stories260K, lora r=8"
  nlohmann::ordered_json config;     // flat object: key -> value, shown as a table in this order
  std::vector<StepMetrics> metrics;  // the curves
  nlohmann::ordered_json summary;    // flat object of final figures, shown first
};
// The page as a string (escaped; inline SVG; no external resources).
std::string render_report_html(const ReportInput& in);
// render_report_html written atomically to path.
void write_report_html(const std::filesystem::path& path, const ReportInput& in);

}  // namespace tunekit
