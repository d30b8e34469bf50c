#include "tokenizer/decoder.h"

#include "tokenizer/byte_level.h"

namespace tunekit {

std::string Decoder::decode(std::vector<std::string> tokens) const {
  for (const auto& step : steps_) step(tokens);
  std::string out;
  for (const std::string& t : tokens) out += t;
  return out;
}

namespace decoders {

namespace {

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  if (from.empty()) return;
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
    s.replace(pos, from.size(), to);
}

// The byte of a "<0xNN>" token, or -1.
int byte_of_token(const std::string& t) {
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
  const int hi = hex(t[3]), lo = hex(t[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

// HF's cleanup of the spaces BERT-style joining puts before punctuation and in contractions.
void clean_up_spaces(std::string& t) {
  static const char* const pairs[][2] = {{" .", "."},   {" ?", "?"},     {" !", "!"},     {" ,", ","},
                                         {" ' ", "'"},  {" n't", "n't"}, {" 'm", "'m"},   {" do not", " don't"},
                                         {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& p : pairs) replace_all(t, p[0], p[1]);
}

}  // namespace

DecodeStep clean_up_spaces() {
  return [](std::vector<std::string>& tokens) {
    for (std::string& t : tokens) clean_up_spaces(t);
  };
}

DecodeStep byte_level() {
  return [](std::vector<std::string>& tokens) {
    for (std::string& t : tokens) t = byte_level::decode(t);
  };
}

DecodeStep replace(std::string pattern, std::string content) {
  return [pattern = std::move(pattern), content = std::move(content)](std::vector<std::string>& tokens) {
    for (std::string& t : tokens) replace_all(t, pattern, content);
  };
}

DecodeStep byte_fallback() {
  return [](std::vector<std::string>& tokens) {
    for (std::string& t : tokens)
      if (const int b = byte_of_token(t); b >= 0) t = std::string(1, static_cast<char>(b));
  };
}

DecodeStep fuse() {
  return [](std::vector<std::string>& tokens) {
    std::string all;
    for (const std::string& t : tokens) all += t;
    tokens.assign(1, std::move(all));
  };
}

DecodeStep strip(std::string content, size_t start, size_t stop) {
  return [content = std::move(content), start, stop](std::vector<std::string>& tokens) {
    if (content.empty()) return;
    for (std::string& t : tokens) {
      size_t begin = 0, end = t.size();
      for (size_t i = 0; i < start && t.compare(begin, content.size(), content) == 0; ++i) begin += content.size();
      for (size_t i = 0; i < stop && end >= begin + content.size() &&
                         t.compare(end - content.size(), content.size(), content) == 0;
           ++i)
        end -= content.size();
      t = t.substr(begin, end - begin);
    }
  };
}

DecodeStep metaspace(std::string replacement, bool add_prefix) {
  return [replacement = std::move(replacement), add_prefix](std::vector<std::string>& tokens) {
    for (size_t i = 0; i < tokens.size(); ++i) {
      replace_all(tokens[i], replacement, " ");
      if (i == 0 && add_prefix && !tokens[i].empty() && tokens[i][0] == ' ') tokens[i].erase(0, 1);
    }
  };
}

DecodeStep wordpiece(std::string prefix, bool cleanup) {
  return [prefix = std::move(prefix), cleanup](std::vector<std::string>& tokens) {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string& t = tokens[i];
      if (i > 0) {
        if (!prefix.empty() && t.compare(0, prefix.size(), prefix) == 0)
          t.erase(0, prefix.size());
        else
          t = " " + t;
      }
      if (cleanup) clean_up_spaces(t);
    }
  };
}

DecodeStep bpe_suffix(std::string suffix) {
  return [suffix = std::move(suffix)](std::vector<std::string>& tokens) {
    for (size_t i = 0; i < tokens.size(); ++i) replace_all(tokens[i], suffix, i + 1 < tokens.size() ? " " : "");
  };
}

}  // namespace decoders
}  // namespace tunekit
