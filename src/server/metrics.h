// GET /metrics: the server's own counters (requests by route and status, prompt and completion
// tokens, time to first token and request duration) beside the engine's and the adapter
// registry's, in Prometheus' text format (version 0.0.4).
#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "tunekit/server/adapter_registry.h"
#include "tunekit/server/engine.h"

namespace tunekit::server {

class ServerMetrics {
 public:
  void count_request(const std::string& route, int status);
  void count_tokens(const std::string& route, int64_t prompt, int64_t completion);
  void observe_time_to_first_token(const std::string& route, double seconds);
  void observe_duration(const std::string& route, double seconds);

  // The exposition text: server counters and summaries, then engine and (when given) adapter stats.
  std::string render(const EngineStats& engine, const AdapterRegistryStats* adapters) const;

 private:
  // A Prometheus summary: count and sum since start, quantiles over the last kWindow observations.
  struct Summary {
    static constexpr size_t kWindow = 1024;
    std::vector<double> window;  // ring buffer
    size_t next = 0;
    int64_t count = 0;
    double sum = 0;
    void observe(double v);
    double quantile(double q) const;
  };
  void render_summary(std::string& out, const char* name, const char* help,
                      const std::map<std::string, Summary>& by_route) const;

  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, int64_t> requests_;  // (route, status) -> count
  std::map<std::string, int64_t> prompt_tokens_, completion_tokens_;
  std::map<std::string, Summary> first_token_, duration_;
};

}  // namespace tunekit::server
