// Grounded prompts (rag/grounded_prompt.h): relevance by content words, fitting sources into the
// context budget, and the sources an answer cites.
#include "tunekit/rag/grounded_prompt.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <unordered_set>

#include "tunekit/error.h"
#include "tunekit/tokenizer/chat_template.h"
#include "tunekit/tokenizer/tokenizer.h"

namespace tunekit::rag {

const char* const kDefaultSystemPrompt =
    "You answer questions using only the numbered sources given with the question. Cite the sources "
    "you use as [1], [2], ... after the sentences they support. If the sources do not contain the "
    "answer, say that the documents do not answer the question; do not guess.";

namespace {

// English function words: they match almost any chunk, so they say nothing about relevance.
const std::unordered_set<std::string>& stop_words() {
  static const std::unordered_set<std::string> words = {
      "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are", "as", "at",
      "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could",
      "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has",
      "have", "having", "he", "her", "here", "hers", "him", "his", "how", "i", "if", "in", "into", "is", "it",
      "its", "itself", "just", "me", "more", "most", "must", "my", "no", "nor", "not", "now", "of", "off",
      "on", "once", "only", "or", "other", "our", "ours", "out", "over", "own", "same", "she", "should",
      "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "then", "there", "these",
      "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were",
      "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you",
      "your", "yours", "according", "tell", "describe", "explain", "list", "name", "many", "much", "also",
      "may", "might", "shall", "used", "use", "using", "like", "one", "two", "per"};
  return words;
}

// "bones" -> "bone", "fractured" -> "fractur", "studies" -> "study", "running" -> "runn": crude, but
// the same on both sides, which is all a match needs.
std::string strip_suffix(std::string w) {
  auto cut = [&](std::string_view s) {
    if (w.size() <= s.size() + 2 || !w.ends_with(s)) return false;
    w.resize(w.size() - s.size());
    return true;
  };
  if (cut("ies")) w.push_back('y');
  else if (cut("ing") || cut("ed") || cut("es")) {}
  else if (!w.ends_with("ss") && cut("s")) {}
  else cut("e");
  return w;
}

std::set<std::string> stems(std::string_view text) {
  std::set<std::string> out;
  for (std::string& w : content_words(text)) out.insert(strip_suffix(std::move(w)));
  return out;
}

std::string source_block(size_t number, const ChunkRecord& c, std::string_view text) {
  // Appends only: GCC 12 warns (-Wrestrict, a false positive) on "literal" + std::string chains here.
  std::string out = "[";
  out += std::to_string(number);
  out += "] (";
  out += c.document;
  if (c.page_last > c.page_first) {
    out += ", pp. ";
    out += std::to_string(c.page_first);
    out += '-';
    out += std::to_string(c.page_last);
  } else {
    out += ", p. ";
    out += std::to_string(c.page_first);
  }
  out += ") ";
  out += text;
  out += "\n\n";
  return out;
}

struct PromptRenderer {
  std::string_view question;
  const Tokenizer& tok;
  const ChatTemplate* chat;
  std::string system;

  std::vector<int32_t> tokens(const std::string& sources, std::string* text_out) const {
    std::string user = (sources.empty() ? "Sources: (none)\n\n" : "Sources:\n" + sources) +
                       "Question: " + std::string(question);
    if (!chat) {
      std::string text = system + "\n\n" + user + "\nAnswer:";
      if (text_out) *text_out = text;
      return tok.encode(text, true);
    }
    std::string text;
    try {
      text = chat->apply({{"system", system}, {"user", user}}, true, tok.bos_token(), tok.eos_token());
    } catch (const Error&) {  // templates without a system role (Mistral, Gemma) raise: fold it in
      text = chat->apply({{"user", system + "\n\n" + user}}, true, tok.bos_token(), tok.eos_token());
    }
    if (text_out) *text_out = text;
    return tok.encode(text, false);  // the rendering carries its own special tokens
  }
};

}  // namespace

std::vector<std::string> content_words(std::string_view text) {
  std::vector<std::string> out;
  std::string word;
  auto flush = [&] {
    if (word.size() >= 2 && !stop_words().count(word)) out.push_back(word);
    word.clear();
  };
  for (unsigned char ch : text) {
    if (std::isalnum(ch) || ch >= 0x80) {  // bytes of non-ASCII letters stay inside the word
      word.push_back(char(std::tolower(ch)));
    } else {
      flush();
    }
  }
  flush();
  return out;
}

int64_t distinct_content_words(std::string_view text) { return int64_t(stems(text).size()); }

int64_t shared_content_words(std::string_view question, std::string_view chunk_text) {
  std::set<std::string> q = stems(question), c = stems(chunk_text);
  return int64_t(std::count_if(q.begin(), q.end(), [&](const std::string& w) { return c.count(w) > 0; }));
}

GroundedPrompt build_grounded_prompt(std::string_view question, const std::vector<ChunkRecord>& chunks,
                                     const Tokenizer& tok, const ChatTemplate* chat, const PromptOptions& options) {
  check(options.context_tokens > options.answer_tokens && options.answer_tokens >= 0,
        "grounded prompt: context_tokens (", options.context_tokens, ") must exceed answer_tokens (",
        options.answer_tokens, ")");
  const int64_t budget = options.context_tokens - options.answer_tokens;
  PromptRenderer render{question, tok, chat, options.system_prompt.empty() ? kDefaultSystemPrompt : options.system_prompt};
  GroundedPrompt out;
  std::string sources;
  out.tokens = render.tokens(sources, &out.text);
  check(int64_t(out.tokens.size()) <= budget, "the question alone takes ", out.tokens.size(),
        " tokens with the instructions, more than the ", budget, " the context leaves (context ",
        options.context_tokens, " - answer ", options.answer_tokens, "): shorten it or lower --max-tokens");
  for (const ChunkRecord& c : chunks) {
    if (int64_t(out.sources.size()) >= options.max_sources) break;
    const size_t number = out.sources.size() + 1;
    std::string text;
    std::vector<int32_t> whole = render.tokens(sources + source_block(number, c, c.text), &text);
    if (int64_t(whole.size()) <= budget) {
      sources += source_block(number, c, c.text);
      out.tokens = std::move(whole);
      out.text = std::move(text);
      out.sources.push_back(c);
      continue;
    }
    // Cut this chunk to the longest token prefix that fits (binary search on its own tokens).
    const std::vector<int32_t> chunk_tokens = tok.encode(c.text, false);
    int64_t lo = 0, hi = int64_t(chunk_tokens.size());
    std::vector<int32_t> best_tokens;
    std::string best_text, best_block;
    while (lo < hi) {
      const int64_t mid = (lo + hi + 1) / 2;
      std::string block = source_block(
          number, c, tok.decode({chunk_tokens.begin(), chunk_tokens.begin() + mid}) + " ...");
      std::vector<int32_t> t = render.tokens(sources + block, &text);
      if (int64_t(t.size()) <= budget) {
        lo = mid;
        best_tokens = std::move(t);
        best_text = std::move(text);
        best_block = std::move(block);
      } else {
        hi = mid - 1;
      }
    }
    if (lo >= 32) {
      sources += best_block;
      out.tokens = std::move(best_tokens);
      out.text = std::move(best_text);
      out.sources.push_back(c);
      out.n_truncated = 1;
    }
    out.n_left_out = int64_t(chunks.size() - out.sources.size());
    break;  // the budget is spent
  }
  return out;
}

std::vector<int64_t> cited_numbers(std::string_view answer, size_t n_sources) {
  std::vector<int64_t> order;
  for (size_t at = answer.find('['); at != std::string_view::npos; at = answer.find('[', at + 1)) {
    size_t end = answer.find(']', at);
    if (end == std::string_view::npos) break;
    std::string_view inside = answer.substr(at + 1, end - at - 1);
    if (inside.empty() || inside.find_first_not_of("0123456789, ") != std::string_view::npos) continue;
    size_t n = 0;
    bool digits = false;
    for (size_t i = 0; i <= inside.size(); ++i) {
      if (i < inside.size() && std::isdigit((unsigned char)inside[i])) {
        n = std::min<size_t>(n * 10 + size_t(inside[i] - '0'), 1u << 20);
        digits = true;
      } else {
        if (digits && n >= 1 && n <= n_sources && std::find(order.begin(), order.end(), int64_t(n)) == order.end())
          order.push_back(int64_t(n));
        n = 0;
        digits = false;
      }
    }
  }
  return order;
}

std::vector<Citation> cited_sources(std::string_view answer, const std::vector<ChunkRecord>& sources,
                                    const std::vector<double>& scores) {
  check(scores.size() == sources.size(), "cited_sources: ", sources.size(), " sources but ", scores.size(), " scores");
  std::vector<size_t> order;
  for (int64_t n : cited_numbers(answer, sources.size())) order.push_back(size_t(n - 1));
  if (order.empty())
    for (size_t i = 0; i < sources.size(); ++i) order.push_back(i);
  std::vector<Citation> out;
  std::set<std::pair<std::string, int64_t>> seen;
  for (size_t i : order) {
    const ChunkRecord& c = sources[i];
    if (!seen.insert({c.document, c.page_first}).second) continue;
    out.push_back({c.document, c.page_first, c.id, scores[i], int64_t(i + 1)});
  }
  return out;
}

std::string format_citation(const Citation& c) { return "[" + c.document + ", p. " + std::to_string(c.page) + "]"; }

}  // namespace tunekit::rag
