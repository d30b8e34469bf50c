// bench_serve_load: a bounded load test of `tunekit serve` on loopback. N client threads each send
// streaming /v1/completions (or /v1/chat/completions) requests one after another for D seconds,
// cycling through the --models names (base and adapters) and a few built-in prompts; every SSE
// chunk is timed. Prints one JSON line per model and a summary line: requests/s, tokens/s,
// time-to-first-token and inter-token latency p50/p99, errors by kind, and the server's RSS
// (/proc/PID/status VmRSS) at start, end, its maximum and every sample. docs/benchmarks.md
// ("Serving") explains it.
//   bench_serve_load --url http://127.0.0.1:PORT [--clients 64] [--duration 120] [--models base,a1,a2]
//                    [--endpoint completions|chat] [--max-tokens 64] [--temperature 0.8]
//                    [--server-pid PID] [--rss-every 5] [--max-requests 1000000] [--grace 30]
// Stops by itself: no request starts after --duration seconds or once --max-requests have started;
// requests still streaming --grace seconds later are cut (counted as "cut_at_end", not as errors).
// Exit status: 0 when every request succeeded, 1 when any failed, 2 on bad flags or no server.
#include <CLI/CLI.hpp>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"

namespace {

using tunekit::bench::now_seconds;
using tunekit::bench::print_json_line;
using json = nlohmann::ordered_json;

struct Options {
  std::string url;
  int clients = 64;
  double duration_s = 120;
  std::vector<std::string> models;  // empty: every id GET /v1/models lists
  std::string endpoint = "completions";
  int max_tokens = 64;
  double temperature = 0.8;
  int64_t max_requests = 1000000;
  double grace_s = 30;
  int server_pid = 0;  // 0: no RSS figures
  double rss_every_s = 5;
};

// Stories-like prompts of different lengths (stories260K's tokenizer has 512 pieces).
const std::vector<std::string> kPrompts = {
    "Once upon a time",
    "Lily went to the park with her mom. She saw",
    "Tom had a red ball. One day",
    "The little dog was sad because",
    "Once upon a time, there was a big tree in the forest. Every morning the birds",
    "Sam and Ben wanted to build a boat.",
};

struct Endpoint {
  std::string host;
  int port = 0;
};

// Only http://HOST:PORT with a loopback HOST: this tool must never load a machine over a network.
Endpoint parse_loopback_url(const std::string& url) {
  static const std::regex pattern(R"(http://(\[::1\]|localhost|127(?:\.\d{1,3}){3}):(\d{1,5})/?)");
  std::smatch m;
  if (!std::regex_match(url, m, pattern))
    throw std::runtime_error("--url '" + url + "': expected http://127.0.0.1:PORT (a loopback host: 127.x.x.x, "
                             "localhost or [::1], plain http, no path); this tool only loads the local machine");
  Endpoint e;
  e.host = m[1] == "[::1]" ? "::1" : std::string(m[1]);
  e.port = std::stoi(m[2]);
  if (e.port < 1 || e.port > 65535) throw std::runtime_error("--url '" + url + "': the port must be 1..65535");
  return e;
}

// VmRSS of a process in MiB, or nothing when it cannot be read (the process is gone).
std::optional<double> read_rss_mib(int pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // "VmRSS:   1234 kB"
  return std::nullopt;
}

// Samples the server's RSS every period on its own thread until stop(); keeps the maximum.
class RssMonitor {
 public:
  RssMonitor(int pid, double period_s) : pid_(pid) {
    if (pid_ > 0 && period_s > 0)
      thread_ = std::thread([this, period_s] {
        std::unique_lock lock(mutex_);
        while (!wake_.wait_for(lock, std::chrono::duration<double>(period_s), [this] { return stopping_; }))
          record_locked();
      });
  }
  ~RssMonitor() { stop(); }
  std::optional<double> sample() {
    std::lock_guard lock(mutex_);
    return record_locked();
  }
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  double max_mib() const { return max_mib_; }
  std::vector<double> samples_mib() const { return samples_mib_; }  // every sample, in order (after stop())

 private:
  std::optional<double> record_locked() {
    std::optional<double> rss = pid_ > 0 ? read_rss_mib(pid_) : std::nullopt;
    if (rss) {
      max_mib_ = std::max(max_mib_, *rss);
      samples_mib_.push_back(*rss);
    }
    return rss;
  }
  int pid_;
  double max_mib_ = 0;
  std::vector<double> samples_mib_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

// What one streamed request gave.
struct RequestResult {
  std::string model;
  std::string error;            // "" on success, else its kind: http_404, transport, broken_stream, ...
  bool cut_at_end = false;      // aborted by the hard end of the run
  double ttft_s = -1;           // request sent -> first content chunk
  std::vector<double> itl_s;    // gaps between consecutive content chunks
  int64_t tokens = 0;           // usage.completion_tokens, else the content chunks
  bool tokens_from_usage = false;
};

// Reads an SSE body as it arrives: "data: {...}\n\n" events, then "data: [DONE]\n\n".
class SseReader {
 public:
  SseReader(bool chat, double t_sent, RequestResult& out) : chat_(chat), t_sent_(t_sent), out_(out) {}

  // Returns false on a malformed event (the stream is then abandoned).
  bool feed(const char* data, size_t n) {
    buffer_.append(data, n);
    size_t end;
    while ((end = buffer_.find("\n\n")) != std::string::npos) {
      const std::string event = buffer_.substr(0, end);
      buffer_.erase(0, end + 2);
      if (!on_event(event)) return false;
    }
    return true;
  }
  bool done() const { return done_ && finished_; }

 private:
  bool on_event(const std::string& event) {
    if (event.rfind("data: ", 0) != 0) return fail("bad_event");
    const std::string payload = event.substr(6);
    if (payload == "[DONE]") {
      done_ = true;
      return true;
    }
    const json chunk = json::parse(payload, nullptr, /*allow_exceptions=*/false);
    if (chunk.is_discarded() || !chunk.is_object()) return fail("bad_chunk");
    if (chunk.contains("error")) return fail("stream_error");
    if (const auto usage = chunk.find("usage"); usage != chunk.end() && usage->is_object()) {
      out_.tokens = usage->value("completion_tokens", int64_t(0));
      out_.tokens_from_usage = true;
    }
    const auto choices = chunk.find("choices");
    if (choices == chunk.end() || !choices->is_array()) return fail("bad_chunk");
    for (const json& choice : *choices) {
      const json text =
          chat_ ? choice.value("delta", json::object()).value("content", json()) : choice.value("text", json());
      if (text.is_string() && !text.get_ref<const std::string&>().empty()) on_content();
      if (choice.contains("finish_reason") && !choice["finish_reason"].is_null()) finished_ = true;
    }
    return true;
  }
  void on_content() {
    const double t = now_seconds();
    if (out_.ttft_s < 0) out_.ttft_s = t - t_sent_;
    else out_.itl_s.push_back(t - t_last_);
    t_last_ = t;
    ++chunks_;
    if (!out_.tokens_from_usage) out_.tokens = chunks_;
  }
  bool fail(const char* kind) {
    out_.error = kind;
    return false;
  }

  bool chat_;
  double t_sent_, t_last_ = 0;
  RequestResult& out_;
  std::string buffer_;
  int64_t chunks_ = 0;
  bool done_ = false, finished_ = false;
};

json request_body(const Options& o, const std::string& model, const std::string& prompt) {
  json body = {{"model", model}, {"max_tokens", o.max_tokens}, {"temperature", o.temperature}, {"stream", true},
               {"stream_options", {{"include_usage", true}}}};
  if (o.endpoint == "chat") body["messages"] = json::array({{{"role", "user"}, {"content", prompt}}});
  else body["prompt"] = prompt;
  return body;
}

// One streaming request on the client's keep-alive connection.
RequestResult run_request(httplib::Client& client, const Options& o, const std::string& model,
                          const std::string& prompt, double hard_end) {
  RequestResult r;
  r.model = model;
  const bool chat = o.endpoint == "chat";
  httplib::Request req;
  req.method = "POST";
  req.path = chat ? "/v1/chat/completions" : "/v1/completions";
  req.headers = {{"Accept", "text/event-stream"}, {"Content-Type", "application/json"}};
  req.body = request_body(o, model, prompt).dump();
  const double t_sent = now_seconds();
  SseReader reader(chat, t_sent, r);
  int status = 0;
  req.response_handler = [&](const httplib::Response& res) {
    status = res.status;
    return true;
  };
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    if (now_seconds() > hard_end) {
      r.cut_at_end = true;
      return false;
    }
    return status != 200 || reader.feed(data, n);  // an error body is read whole and dropped
  };
  // No read (the headers included) waits much past the run's hard end (the slack makes the
  // timeout fire after it, so that a request still waiting then counts as cut, not failed).
  client.set_read_timeout(std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::duration<double>(std::max(hard_end - t_sent, 0.0) + 0.05)));
  httplib::Response res;
  httplib::Error error = httplib::Error::Success;
  const bool sent = client.send(req, res, error);
  if (!sent && now_seconds() >= hard_end) r.cut_at_end = true;
  if (r.cut_at_end) return r;
  if (!r.error.empty()) return r;
  if (!sent) r.error = error == httplib::Error::Read ? "broken_stream" : "transport_" + httplib::to_string(error);
  else if (res.status != 200) r.error = "http_" + std::to_string(res.status);
  else if (!reader.done()) r.error = "broken_stream";  // no finish_reason or no [DONE]
  return r;
}

// Throws unless GET /health answers 200 (before any load: a wrong --url fails at once).
void check_health(httplib::Client& client, const std::string& url) {
  httplib::Result res = client.Get("/health");
  if (!res) throw std::runtime_error("GET " + url + "/health failed: " + httplib::to_string(res.error()) +
                                     " (is tunekit serve running there?)");
  if (res->status != 200) throw std::runtime_error("GET " + url + "/health answered " + std::to_string(res->status));
}

// The ids GET /v1/models lists.
std::vector<std::string> served_models(httplib::Client& client) {
  httplib::Result res = client.Get("/v1/models");
  if (!res) throw std::runtime_error("GET /v1/models failed: " + httplib::to_string(res.error()));
  if (res->status != 200)
    throw std::runtime_error("GET /v1/models answered " + std::to_string(res->status) + ": " + res->body);
  const json list = json::parse(res->body);
  std::vector<std::string> ids;
  for (const json& m : list.at("data")) ids.push_back(m.at("id").get<std::string>());
  return ids;
}

// Nearest-rank percentile (p in 0..100) of v; 0 for an empty v.
double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t rank = size_t(std::ceil(p / 100.0 * double(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

// Requests/s, tokens/s, latencies and errors of a set of results over wall seconds.
json summarize(const std::vector<const RequestResult*>& results, double wall_s) {
  int64_t completed = 0, tokens = 0, cut = 0, usage_counted = 0;
  std::vector<double> ttft, itl;
  std::map<std::string, int64_t> errors;
  for (const RequestResult* r : results) {
    if (r->cut_at_end) {
      ++cut;
    } else if (!r->error.empty()) {
      ++errors[r->error];
    } else {
      ++completed;
      tokens += r->tokens;
      usage_counted += r->tokens_from_usage;
      if (r->ttft_s >= 0) ttft.push_back(r->ttft_s);
      itl.insert(itl.end(), r->itl_s.begin(), r->itl_s.end());
    }
  }
  int64_t n_errors = 0;
  for (const auto& [kind, n] : errors) n_errors += n;
  return {{"requests", completed},
          {"errors", n_errors},
          {"errors_by_kind", errors},
          {"cut_at_end", cut},
          {"tokens", tokens},
          {"tokens_counted_from", usage_counted == completed ? "usage" : "usage_or_chunks"},
          {"requests_per_s", double(completed) / wall_s},
          {"tokens_per_s", double(tokens) / wall_s},
          {"ttft_p50_ms", 1e3 * percentile(ttft, 50)},
          {"ttft_p99_ms", 1e3 * percentile(ttft, 99)},
          {"itl_p50_ms", 1e3 * percentile(itl, 50)},
          {"itl_p99_ms", 1e3 * percentile(itl, 99)},
          {"itl_samples", itl.size()}};
}

int run(Options o) {
  const Endpoint endpoint = parse_loopback_url(o.url);
  auto new_client = [&] {
    auto client = std::make_unique<httplib::Client>(endpoint.host, endpoint.port);
    client->set_keep_alive(true);
    client->set_connection_timeout(5);
    client->set_tcp_nodelay(true);  // small request writes go out at once (Nagle would hold them ~40 ms)
    return client;
  };
  check_health(*new_client(), o.url);
  if (o.models.empty()) o.models = served_models(*new_client());
  if (o.models.empty()) throw std::runtime_error("the server lists no models; pass --models");

  RssMonitor rss(o.server_pid, o.rss_every_s);
  const std::optional<double> rss_start = rss.sample();
  if (o.server_pid > 0 && !rss_start)
    throw std::runtime_error("--server-pid " + std::to_string(o.server_pid) + ": /proc/PID/status is not readable");

  std::atomic<int64_t> tickets{0};  // request i uses model i % n and a prompt picked from i / n
  std::vector<std::vector<RequestResult>> per_client(size_t(o.clients));
  const double t_start = now_seconds(), soft_end = t_start + o.duration_s, hard_end = soft_end + o.grace_s;
  std::vector<std::thread> threads;
  for (int c = 0; c < o.clients; ++c)
    threads.emplace_back([&, c] {
      std::unique_ptr<httplib::Client> client = new_client();
      for (;;) {
        const int64_t i = tickets.fetch_add(1);
        if (i >= o.max_requests || now_seconds() >= soft_end) return;
        const size_t n_models = o.models.size();
        const std::string& model = o.models[size_t(i) % n_models];
        const std::string& prompt = kPrompts[(size_t(i) / n_models) % kPrompts.size()];
        per_client[size_t(c)].push_back(run_request(*client, o, model, prompt, hard_end));
        if (!per_client[size_t(c)].back().error.empty()) {  // a pause (no busy loop on a dead server), a new connection
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
          client = new_client();
        }
      }
    });
  for (std::thread& t : threads) t.join();
  const double wall_s = now_seconds() - t_start;
  const std::optional<double> rss_end = rss.sample();
  rss.stop();

  std::vector<const RequestResult*> all;
  std::map<std::string, std::vector<const RequestResult*>> by_model;
  for (const auto& results : per_client)
    for (const RequestResult& r : results) {
      all.push_back(&r);
      by_model[r.model].push_back(&r);
    }
  for (const std::string& model : o.models) {
    json line = {{"bench", "serve_load_model"}, {"model", model}};
    line.update(summarize(by_model[model], wall_s));
    print_json_line(line);
  }
  json line = {{"bench", "serve_load"}, {"url", o.url},   {"endpoint", o.endpoint},     {"clients", o.clients},
               {"duration_s", o.duration_s}, {"wall_s", wall_s}, {"models", o.models}, {"max_tokens", o.max_tokens},
               {"temperature", o.temperature}};
  const json summary = summarize(all, wall_s);
  line.update(summary);
  if (o.server_pid > 0) {
    auto mib = [](const std::optional<double>& v) { return v ? json(*v) : json(); };
    line.update({{"server_pid", o.server_pid}, {"rss_start_mib", mib(rss_start)}, {"rss_end_mib", mib(rss_end)},
                 {"rss_max_mib", rss.max_mib()}, {"rss_every_s", o.rss_every_s},
                 {"rss_samples_mib", rss.samples_mib()}});
  }
  line.update(tunekit::bench::machine_info());
  print_json_line(line);
  return summary["errors"].get<int64_t>() == 0 && summary["requests"].get<int64_t>() > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Bounded streaming load test of tunekit serve on loopback; one JSON line per model and a summary"};
  app.add_option("--url", o.url, "the server, http://127.0.0.1:PORT (loopback only)")->required();
  app.add_option("--clients", o.clients, "concurrent clients (threads), each one request at a time")
      ->check(CLI::Range(1, 1024))->capture_default_str();
  app.add_option("--duration", o.duration_s, "seconds during which requests start")
      ->check(CLI::Range(0.1, 900.0))->capture_default_str();
  app.add_option("--models", o.models, "model names to cycle through (default: all of GET /v1/models)")->delimiter(',');
  app.add_option("--endpoint", o.endpoint, "completions or chat")
      ->check(CLI::IsMember({"completions", "chat"}))->capture_default_str();
  app.add_option("--max-tokens", o.max_tokens, "max_tokens of each request")
      ->check(CLI::Range(1, 1 << 20))->capture_default_str();
  app.add_option("--temperature", o.temperature, "temperature of each request (0 = greedy)")
      ->check(CLI::Range(0.0, 2.0))->capture_default_str();
  app.add_option("--max-requests", o.max_requests, "no request starts after this many have started")
      ->check(CLI::Range(int64_t(1), int64_t(100000000)))->capture_default_str();
  app.add_option("--grace", o.grace_s, "seconds after --duration before requests still streaming are cut")
      ->check(CLI::Range(0.0, 300.0))->capture_default_str();
  app.add_option("--server-pid", o.server_pid, "the server's process id: its RSS at start, end and max")
      ->check(CLI::PositiveNumber);
  app.add_option("--rss-every", o.rss_every_s, "seconds between RSS samples (0: start and end only)")
      ->check(CLI::Range(0.0, 900.0))->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help: 0
  }
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::cerr << "bench_serve_load: " << e.what() << "\n";
    return 2;
  }
}
