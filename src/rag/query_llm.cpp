#include "tunekit/rag/query_llm.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "tunekit/error.h"

namespace tunekit::rag {
namespace {

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace((unsigned char)s[b])) ++b;
  while (e > b && std::isspace((unsigned char)s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower((unsigned char)c));
  return s;
}

// The first max_bytes bytes of s, shortened to end on a whole UTF-8 character.
std::string cut_utf8(const std::string& s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut);
}

// "1. text", "2) text", "- text", "* text", "• text", "Q3: text" -> "text".
std::string strip_list_marker(std::string line) {
  if (line.rfind("\xE2\x80\xA2", 0) == 0) line = line.substr(3);  // U+2022 bullet
  else if (!line.empty() && (line[0] == '-' || line[0] == '*')) line = line.substr(1);
  else {
    size_t i = 0;
    if (i < line.size() && (line[i] == 'Q' || line[i] == 'q')) ++i;
    size_t digits = i;
    while (digits < line.size() && std::isdigit((unsigned char)line[digits])) ++digits;
    if (digits > i && digits < line.size() && (line[digits] == '.' || line[digits] == ')' || line[digits] == ':'))
      line = line.substr(digits + 1);
  }
  line = trim(line);
  if (line.size() >= 2 && line.front() == '"' && line.back() == '"') line = trim(line.substr(1, line.size() - 2));
  return line;
}

}  // namespace

GenerateOptions LlmHelper::greedy(int64_t max_tokens) {
  GenerateOptions options;
  options.max_tokens = max_tokens;
  options.sampling.temperature = 0;
  return options;
}

std::vector<int32_t> LlmHelper::prompt_tokens(const std::string& prompt) const {
  // A chat rendering carries its own special tokens; a raw prompt gets BOS.
  return chat ? tokenizer.encode(chat->apply({{"user", prompt}}, true, tokenizer.bos_token(), tokenizer.eos_token()), false)
              : tokenizer.encode(prompt, true);
}

bool LlmHelper::fits(const std::string& prompt) const {
  return int64_t(prompt_tokens(prompt).size()) + generate.max_tokens <= model.config.n_ctx;
}

std::string LlmHelper::ask(const std::string& prompt) const {
  return tunekit::generate(model, tokenizer, prompt_tokens(prompt), generate).text;
}

std::string rephrase_prompt(std::string_view question, int64_t n) {
  return "Write " + std::to_string(n) +
         " different search queries that would find the answer to the question below in a document collection. "
         "Use other words than the question where you can. Write one query per line, nothing else.\n\nQuestion: " +
         std::string(question);
}

std::vector<std::string> parse_rephrasings(std::string_view reply, std::string_view question, int64_t n) {
  std::vector<std::string> out;
  std::set<std::string> seen{lower(trim(question))};
  size_t start = 0;
  while (start <= reply.size() && int64_t(out.size()) < n) {
    size_t end = reply.find('\n', start);
    if (end == std::string_view::npos) end = reply.size();
    std::string line = strip_list_marker(trim(reply.substr(start, end - start)));
    if (line.size() > 1 && seen.insert(lower(line)).second) out.push_back(line);
    start = end + 1;
  }
  return out;
}

std::vector<std::string> rephrase_queries(const LlmHelper& llm, std::string_view question, int64_t n) {
  check(n >= 0, "rephrase_queries: n=", n, " must not be negative");
  std::vector<std::string> queries{std::string(question)};
  if (n == 0) return queries;
  for (auto& q : parse_rephrasings(llm.ask(rephrase_prompt(question, n)), question, n)) queries.push_back(std::move(q));
  return queries;
}

std::string rerank_prompt(std::string_view question, const std::vector<std::string>& passages, size_t max_chars_each) {
  std::string prompt = "Rank the passages below by how well they answer the question. Reply with the passage numbers "
                       "only, most relevant first, separated by commas (for example: 3, 1, 2).\n\nQuestion: " +
                       std::string(question) + "\n";
  for (size_t i = 0; i < passages.size(); ++i) {
    prompt += "\n[" + std::to_string(i + 1) + "] " + cut_utf8(passages[i], max_chars_each) + "\n";
  }
  return prompt + "\nRanking:";
}

ParsedRanking parse_ranking(std::string_view reply, int64_t n_passages) {
  ParsedRanking ranking;
  std::vector<bool> named(size_t(std::max<int64_t>(n_passages, 0)), false);
  for (size_t i = 0; i < reply.size();) {
    if (!std::isdigit((unsigned char)reply[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    int64_t value = 0;
    while (j < reply.size() && std::isdigit((unsigned char)reply[j])) {
      value = std::min<int64_t>(value * 10 + (reply[j] - '0'), int64_t(1) << 40);
      ++j;
    }
    const bool negative = i > 0 && reply[i - 1] == '-';
    i = j;
    if (!negative && value >= 1 && value <= n_passages && !named[size_t(value - 1)]) {
      named[size_t(value - 1)] = true;
      ranking.order.push_back(value - 1);
    }
  }
  ranking.n_named = int64_t(ranking.order.size());
  for (int64_t p = 0; p < n_passages; ++p)
    if (!named[size_t(p)]) ranking.order.push_back(p);
  return ranking;
}

RerankResult rerank(const LlmHelper& llm, const KnowledgeBase& kb, std::string_view question,
                    const std::vector<Hit>& candidates, int64_t k) {
  check(k >= 0, "rerank: k=", k, " must not be negative");
  std::vector<int64_t> ids;
  for (const Hit& h : candidates) ids.push_back(h.chunk_id);
  std::vector<ChunkRecord> chunks = kb.chunks(ids);  // missing ones skipped
  RerankResult result;
  if (chunks.empty()) return result;
  std::vector<std::string> passages;
  for (const auto& c : chunks) passages.push_back(c.text);
  // Passages are cut shorter until the prompt and the reply fit in the model's context; where even
  // 50 bytes each do not fit, the model is not asked and the order stays as retrieved.
  size_t max_chars = 600;
  while (max_chars > 50 && !llm.fits(rerank_prompt(question, passages, max_chars))) max_chars /= 2;
  const std::string prompt = rerank_prompt(question, passages, max_chars);
  ParsedRanking ranking = llm.fits(prompt) ? parse_ranking(llm.ask(prompt), int64_t(chunks.size()))
                                           : parse_ranking("", int64_t(chunks.size()));
  result.n_named = ranking.n_named;
  for (size_t r = 0; r < ranking.order.size() && int64_t(r) < k; ++r)
    result.hits.push_back(Hit{chunks[size_t(ranking.order[r])].id, 1.0 / double(r + 1)});
  return result;
}

}  // namespace tunekit::rag
