// report.html: a self-contained page (inline CSS and SVG, no scripts) with the final figures, the
// train/validation loss curves, the learning rate and gradient norm, and the config.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include "tunekit/error.h"
#include "tunekit/io/atomic_file.h"
#include "tunekit/train/report.h"

namespace tunekit {

namespace {

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string fmt(double x) {
  if (!std::isfinite(x)) return std::isnan(x) ? "nan" : (x > 0 ? "inf" : "-inf");
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", x);
  return buf;
}

std::string value_text(const nlohmann::ordered_json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) return fmt(v.get<double>());
  return v.dump();
}

struct Series {
  std::string name, color;
  std::vector<std::pair<double, double>> points;  // (step, value), finite only
  bool markers = false;
};

// Round tick spacing (1, 2 or 5 times a power of ten) giving about n ticks over [lo, hi].
double tick_step(double lo, double hi, int n) {
  double raw = (hi - lo) / n;
  if (!(raw > 0)) return 1;
  double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * p) return m * p;
  return 10 * p;
}

// One line chart as inline SVG: x = step, y = value; a legend of the series names.
std::string svg_chart(const std::string& title, const std::vector<Series>& series) {
  const double W = 720, H = 300, left = 64, right = 16, top = 28, bottom = 40;
  double x0 = std::numeric_limits<double>::max(), x1 = -x0, y0 = x0, y1 = -x0;
  for (const auto& s : series)
    for (auto [x, y] : s.points) {
      x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
    }
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H << "\" viewBox=\"0 0 " << W
    << ' ' << H << "\" font-family=\"sans-serif\" font-size=\"11\" role=\"img\" aria-label=\"" << escape(title)
    << "\">\n"
    << "<text x=\"" << left << "\" y=\"18\" font-size=\"13\" font-weight=\"600\">" << escape(title) << "</text>\n";
  if (x0 > x1) return o.str() + "<text x=\"" + fmt(W / 2) + "\" y=\"" + fmt(H / 2) + "\">no data</text></svg>\n";
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) y0 -= 0.5, y1 += 0.5;
  const double pad = (y1 - y0) * 0.05;
  y0 -= pad, y1 += pad;
  auto px = [&](double x) { return left + (x - x0) / (x1 - x0) * (W - left - right); };
  auto py = [&](double y) { return top + (y1 - y) / (y1 - y0) * (H - top - bottom); };
  // Axes, grid and tick labels.
  o << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << W - left - right << "\" height=\""
    << H - top - bottom << "\" fill=\"#fff\" stroke=\"#999\"/>\n";
  double ys = tick_step(y0, y1, 5);
  for (double k = std::ceil(y0 / ys); k * ys <= y1; ++k) {
    const double y = k == 0 ? 0.0 : k * ys;  // whole multiples: no "-0" or 1e-19 labels
    o << "<line x1=\"" << left << "\" x2=\"" << W - right << "\" y1=\"" << py(y) << "\" y2=\"" << py(y)
      << "\" stroke=\"#e4e4e4\"/><text x=\"" << left - 6 << "\" y=\"" << py(y) + 4 << "\" text-anchor=\"end\">" << fmt(y)
      << "</text>\n";
  }
  double xs = std::max(1.0, tick_step(x0, x1, 8));
  for (double k = std::ceil(x0 / xs); k * xs <= x1; ++k) {
    const double x = k * xs;
    o << "<line x1=\"" << px(x) << "\" x2=\"" << px(x) << "\" y1=\"" << top << "\" y2=\"" << H - bottom
      << "\" stroke=\"#e4e4e4\"/><text x=\"" << px(x) << "\" y=\"" << H - bottom + 16 << "\" text-anchor=\"middle\">" << fmt(x)
      << "</text>\n";
  }
  o << "<text x=\"" << (left + W - right) / 2 << "\" y=\"" << H - 6 << "\" text-anchor=\"middle\">step</text>\n";
  // Series and legend.
  double legend_x = W - right - 8;
  for (auto s = series.rbegin(); s != series.rend(); ++s) {
    if (s->points.empty()) continue;
    o << "<polyline fill=\"none\" stroke=\"" << s->color << "\" stroke-width=\"1.5\" points=\"";
    for (auto [x, y] : s->points) o << fmt(px(x)) << ',' << fmt(py(y)) << ' ';
    o << "\"/>\n";
    if (s->markers)
      for (auto [x, y] : s->points)
        o << "<circle cx=\"" << fmt(px(x)) << "\" cy=\"" << fmt(py(y)) << "\" r=\"3\" fill=\"" << s->color << "\"/>\n";
    o << "<text x=\"" << legend_x << "\" y=\"18\" text-anchor=\"end\" font-weight=\"600\" fill=\"" << s->color << "\">"
      << escape(s->name)
      << "</text>\n";
    legend_x -= 12 + 8 * double(s->name.size());
  }
  o << "</svg>\n";
  return o.str();
}

std::string table(const nlohmann::ordered_json& flat) {
  std::ostringstream o;
  o << "<table>\n";
  for (const auto& [k, v] : flat.items())
    o << "<tr><th>" << escape(k) << "</th><td>" << escape(value_text(v)) << "</td></tr>\n";
  o << "</table>\n";
  return o.str();
}

// The page's style; the charts carry their own attributes, so they also render as standalone SVG.
constexpr const char* kStyle = R"(body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:760px}
h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.5em}
table{border-collapse:collapse;font-size:.9em}th,td{border:1px solid #ccc;padding:2px 8px;text-align:left}
th{background:#f4f4f4;font-weight:600}
)";

}  // namespace

std::string render_report_html(const ReportInput& in) {
  Series train{"train loss", "#1f77b4", {}, false}, val{"validation loss", "#d62728", {}, true};
  Series lr{"learning rate", "#2ca02c", {}, false}, norm{"gradient norm", "#9467bd", {}, false};
  for (const auto& m : in.metrics) {
    const double x = double(m.step);
    if (std::isfinite(m.loss) && !m.skipped) train.points.push_back({x, m.loss});
    if (m.val_loss && std::isfinite(*m.val_loss)) val.points.push_back({x, *m.val_loss});
    if (m.step == 0) continue;  // the validation before training has no step figures
    lr.points.push_back({x, m.lr});
    if (std::isfinite(m.grad_norm)) norm.points.push_back({x, m.grad_norm});
  }
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" << escape(in.title)
    << "</title>\n<style>" << kStyle << "</style></head><body>\n<h1>" << escape(in.title) << "</h1>\n"
    << "<h2>Result</h2>\n" << table(in.summary) << "<h2>Loss</h2>\n" << svg_chart("cross-entropy", {train, val})
    << "<h2>Optimizer</h2>\n" << svg_chart("learning rate", {lr}) << svg_chart("gradient norm (before clipping)", {norm})
    << "<h2>Config</h2>\n" << table(in.config) << "</body></html>\n";
  return o.str();
}

void write_report_html(const std::filesystem::path& path, const ReportInput& in) {
  write_file_atomic(path, render_report_html(in));
}

}  // namespace tunekit
