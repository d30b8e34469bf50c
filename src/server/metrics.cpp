// ServerMetrics: counters under one mutex, rendered as Prometheus text.
#include "metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace tunekit::server {

namespace {

std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

// A label value with \ " and newlines escaped, as the text format requires.
std::string label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    out += c == '\n' ? std::string("\\n") : std::string(1, c);
  }
  return out;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

void sample(std::string& out, const std::string& name, const std::string& labels, double value) {
  out += name + (labels.empty() ? "" : "{" + labels + "}") + " " + number(value) + "\n";
}

void by_route(std::string& out, const char* name, const char* help, const std::map<std::string, int64_t>& counts) {
  header(out, name, "counter", help);
  for (const auto& [route, n] : counts) sample(out, name, "endpoint=\"" + label(route) + "\"", double(n));
}

}  // namespace

void ServerMetrics::Summary::observe(double v) {
  if (window.size() < kWindow)
    window.push_back(v);
  else
    window[next] = v;
  next = (next + 1) % kWindow;
  ++count;
  sum += v;
}

double ServerMetrics::Summary::quantile(double q) const {
  if (window.empty()) return NAN;  // never rendered: a route's summary exists from its first observation
  std::vector<double> sorted = window;
  std::sort(sorted.begin(), sorted.end());
  const size_t rank = size_t(std::ceil(q * double(sorted.size())));  // nearest rank
  return sorted[std::min(sorted.size(), std::max<size_t>(rank, 1)) - 1];
}

void ServerMetrics::count_request(const std::string& route, int status) {
  std::lock_guard lock(mutex_);
  ++requests_[{route, status}];
}

void ServerMetrics::count_tokens(const std::string& route, int64_t prompt, int64_t completion) {
  std::lock_guard lock(mutex_);
  prompt_tokens_[route] += prompt;
  completion_tokens_[route] += completion;
}

void ServerMetrics::observe_time_to_first_token(const std::string& route, double seconds) {
  std::lock_guard lock(mutex_);
  first_token_[route].observe(seconds);
}

void ServerMetrics::observe_duration(const std::string& route, double seconds) {
  std::lock_guard lock(mutex_);
  duration_[route].observe(seconds);
}

void ServerMetrics::render_summary(std::string& out, const char* name, const char* help,
                                   const std::map<std::string, Summary>& summaries) const {
  header(out, name, "summary", help);
  for (const auto& [route, s] : summaries) {
    const std::string route_label = "endpoint=\"" + label(route) + "\"";
    for (double q : {0.5, 0.9, 0.99})
      sample(out, name, route_label + ",quantile=\"" + number(q) + "\"", s.quantile(q));
    sample(out, std::string(name) + "_sum", route_label, s.sum);
    sample(out, std::string(name) + "_count", route_label, double(s.count));
  }
}

std::string ServerMetrics::render(const EngineStats& e, const AdapterRegistryStats* adapters) const {
  std::string out;
  {
    std::lock_guard lock(mutex_);
    header(out, "tunekit_requests_total", "counter", "HTTP requests answered, by route and status.");
    for (const auto& [key, n] : requests_)
      sample(out, "tunekit_requests_total",
             "endpoint=\"" + label(key.first) + "\",status=\"" + std::to_string(key.second) + "\"", double(n));
    by_route(out, "tunekit_prompt_tokens_total", "Prompt (input) tokens of answered requests.", prompt_tokens_);
    by_route(out, "tunekit_completion_tokens_total", "Tokens generated for answered requests.", completion_tokens_);
    render_summary(out, "tunekit_time_to_first_token_seconds",
                   "From the request's arrival at its handler to the first piece of generated text.", first_token_);
    render_summary(out, "tunekit_request_duration_seconds",
                   "From the request's arrival at its handler to the end of its answer (streams included).", duration_);
  }
  const auto gauge = [&](const char* name, const char* help, int64_t v) {
    header(out, name, "gauge", help);
    sample(out, name, "", double(v));
  };
  const auto counter = [&](const char* name, const char* help, int64_t v) {
    header(out, name, "counter", help);
    sample(out, name, "", double(v));
  };
  gauge("tunekit_engine_running", "Requests in the engine's running batch.", e.running);
  gauge("tunekit_engine_waiting", "Requests queued in the engine (not started, or pre-empted).", e.waiting);
  gauge("tunekit_engine_kv_blocks_total", "KV-cache blocks in the pool (0: an engine without one).", e.kv_blocks_total);
  gauge("tunekit_engine_kv_blocks_used", "KV-cache blocks held by running requests.", e.kv_blocks_used);
  gauge("tunekit_engine_kv_block_size", "Positions per KV-cache block.", e.kv_block_size);
  counter("tunekit_engine_requests_finished_total", "Requests the engine completed, cancelled or timed out.",
          e.requests_finished);
  counter("tunekit_engine_prompt_tokens_total", "Prompt tokens run through the model.", e.prompt_tokens);
  counter("tunekit_engine_prefix_cached_tokens_total", "Prompt tokens served from shared prefix blocks.",
          e.prefix_cached_tokens);
  counter("tunekit_engine_generated_tokens_total", "Tokens the engine generated.", e.generated_tokens);
  counter("tunekit_engine_preemptions_total", "Requests pre-empted for KV blocks (recomputed later).", e.preemptions);
  counter("tunekit_engine_steps_total", "Forward passes the engine ran.", e.steps);
  if (adapters) {
    gauge("tunekit_adapters_registered", "LoRA adapters a request may name.", adapters->registered);
    gauge("tunekit_adapters_resident", "LoRA adapters held in memory.", adapters->resident);
    counter("tunekit_adapter_loads_total", "Adapter folders read (first loads and reloads after eviction).",
            adapters->loads);
    counter("tunekit_adapter_evictions_total", "Adapters dropped from memory by --max-loras.", adapters->evictions);
  }
  return out;
}

}  // namespace tunekit::server
