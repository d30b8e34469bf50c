// Splits a template into tokens the way jinja2's lexer does with trim_blocks=True and
// lstrip_blocks=True: data between tags (with whitespace control applied), the tag delimiters, and
// the expression tokens inside tags. Newlines (\r\n, \r) become \n and one trailing newline of the
// template is dropped, as in jinja2. Comments vanish; {% raw %} bodies become data.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tunekit::jinja {

struct Pos {
  int line = 1;
  int column = 1;
};

enum class TokenType { Data, VariableBegin, VariableEnd, BlockBegin, BlockEnd, Name, String, Integer, Float, Operator, Eof };

struct Token {
  TokenType type = TokenType::Eof;
  std::string text;  // data, name, decoded string, or operator spelling
  int64_t integer = 0;
  double number = 0.0;
  Pos pos;
};

// Throws tunekit::Error("origin:line:col: message") on malformed input (unterminated comment or
// string, unbalanced brackets, a character no token starts with).
std::vector<Token> tokenize(const std::string& source, const std::string& origin);

}  // namespace tunekit::jinja
