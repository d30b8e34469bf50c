// metrics.jsonl records and report.html: round trips, torn lines, escaping, self-containment.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "test_paths.h"
#include "tunekit/error.h"
#include "tunekit/train/report.h"

namespace tunekit {
namespace {

StepMetrics sample(int64_t step, double loss) {
  StepMetrics m;
  m.step = step;
  m.loss = loss;
  m.lr = 1e-4 * double(step);
  m.grad_norm = 0.5 + double(step);
  m.tokens = 128;
  m.tokens_per_s = 1000.5;
  m.elapsed_s = 0.25 * double(step);
  m.rss_bytes = 64 << 20;
  return m;
}

TEST(Report, MetricsRoundTrip) {
  StepMetrics m = sample(3, 2.5);
  m.val_loss = 2.75;
  m.val_ppl = std::exp(2.75);
  StepMetrics back = step_metrics_from_json(nlohmann::json::parse(to_json(m).dump()));
  EXPECT_EQ(back.step, 3);
  EXPECT_EQ(back.loss, 2.5);  // doubles print round-trip exact
  EXPECT_EQ(back.lr, m.lr);
  EXPECT_EQ(back.grad_norm, m.grad_norm);
  EXPECT_EQ(back.tokens, 128);
  EXPECT_EQ(back.rss_bytes, m.rss_bytes);
  ASSERT_TRUE(back.val_loss.has_value());
  EXPECT_EQ(*back.val_loss, 2.75);
  EXPECT_FALSE(back.skipped);
}

TEST(Report, NonFiniteFiguresBecomeNull) {
  StepMetrics m = sample(4, 2.0);
  m.grad_norm = std::numeric_limits<double>::infinity();
  m.skipped = true;
  nlohmann::json j = to_json(m);
  EXPECT_TRUE(j["grad_norm"].is_null());
  EXPECT_EQ(j["skipped"], true);
  StepMetrics back = step_metrics_from_json(nlohmann::json::parse(j.dump()));
  EXPECT_TRUE(std::isnan(back.grad_norm));
  EXPECT_TRUE(back.skipped);
}

TEST(Report, ReadsJsonlAndDropsATornLastLine) {
  auto dir = test::temp_dir("report_jsonl");
  auto path = dir / "metrics.jsonl";
  {
    std::ofstream out(path);
    out << to_json(sample(1, 3.0)).dump() << "\n" << to_json(sample(2, 2.9)).dump() << "\n"
        << R"({"step": 3, "loss": 2.)";  // killed mid-write
  }
  auto all = read_metrics_jsonl(path);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].step, 2);
  EXPECT_EQ(all[1].loss, 2.9);
}

TEST(Report, BadLineInTheMiddleNamesFileAndLine) {
  auto dir = test::temp_dir("report_bad");
  auto path = dir / "metrics.jsonl";
  {
    std::ofstream out(path);
    out << to_json(sample(1, 3.0)).dump() << "\n{\"step\": 2}\n" << to_json(sample(3, 2.9)).dump() << "\n";
  }
  try {
    read_metrics_jsonl(path);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("metrics.jsonl:2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("loss"), std::string::npos) << e.what();
  }
}

TEST(Report, HtmlIsSelfContainedWithCurvesAndEscapedConfig) {
  ReportInput in;
  in.title = "run <1>";
  in.config = {{"model", "a<b>&\"c\""}, {"lr", 0.001}};
  in.summary = {{"final_train_loss", 1.5}};
  for (int s = 1; s <= 20; ++s) {
    StepMetrics m = sample(s, 3.0 - 0.05 * s);
    if (s % 5 == 0) {
      m.val_loss = 3.1 - 0.04 * s;
      m.val_ppl = std::exp(*m.val_loss);
    }
    in.metrics.push_back(m);
  }
  const std::string html = render_report_html(in);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("href="), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_NE(html.find("a&lt;b&gt;&amp;&quot;c&quot;"), std::string::npos);
  EXPECT_NE(html.find("run &lt;1&gt;"), std::string::npos);
  EXPECT_EQ(html.find("a<b>"), std::string::npos);
  // Train and validation curves: a polyline each (plus lr and gradient norm); validation markers.
  size_t polylines = 0;
  for (size_t at = html.find("<polyline"); at != std::string::npos; at = html.find("<polyline", at + 1)) ++polylines;
  EXPECT_EQ(polylines, 4u);
  size_t circles = 0;
  for (size_t at = html.find("<circle"); at != std::string::npos; at = html.find("<circle", at + 1)) ++circles;
  EXPECT_EQ(circles, 4u);  // steps 5, 10, 15, 20
  EXPECT_NE(html.find("validation loss"), std::string::npos);
}

TEST(Report, EmptyMetricsStillRender) {
  ReportInput in;
  in.title = "empty";
  const std::string html = render_report_html(in);
  EXPECT_NE(html.find("no data"), std::string::npos);
  EXPECT_NE(html.find("</html>"), std::string::npos);
}

}  // namespace
}  // namespace tunekit
