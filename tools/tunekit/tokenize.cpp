// tunekit tokenize --tokenizer PATH (--text STR | --file PATH) [--add-special] [--decode]
// Prints the ids of STR on one line, separated by single spaces (llama.cpp's convention: no BOS/EOS
// unless --add-special). --file reads the text from a file (for texts longer than an argument). With --decode, STR holds ids (spaces or commas between them) and the
// decoded text is printed instead. PATH is any format load_tokenizer() reads, a .gguf included.
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>

#include "tunekit/error.h"
#include "tunekit/io/file_util.h"
#include "tunekit/tokenizer/tokenizer.h"
#include "verbs.h"

namespace tunekit::cli {

namespace {

struct TokenizeArgs {
  std::string tokenizer, text, file;
  bool add_special = false;
  bool decode = false;
};

std::vector<int32_t> parse_ids(const std::string& text, const Tokenizer& tok) {
  std::string spaced = text;
  for (char& c : spaced)
    if (c == ',') c = ' ';
  std::istringstream in(spaced);
  std::vector<int32_t> ids;
  for (std::string word; in >> word;) {
    size_t used = 0;
    long long id = -1;
    try {
      id = std::stoll(word, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    check(used == word.size() && id >= 0 && id < tok.vocab_size(), "--text: '", word,
          "' is not a token id (0..", tok.vocab_size() - 1, ")");
    ids.push_back(static_cast<int32_t>(id));
  }
  return ids;
}

void run(TokenizeArgs a) {
  if (!a.file.empty()) a.text = read_text_file(a.file);
  const auto tok = load_tokenizer(a.tokenizer);
  if (a.decode) {
    const std::string text = tok->decode(parse_ids(a.text, *tok), a.add_special);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fputc('\n', stdout);
    return;
  }
  std::string line;
  for (int32_t id : tok->encode(a.text, a.add_special)) {
    if (!line.empty()) line += ' ';
    line += std::to_string(id);
  }
  std::printf("%s\n", line.c_str());
}

}  // namespace

void add_tokenize(CLI::App& app) {
  auto a = std::make_shared<TokenizeArgs>();
  auto* cmd = app.add_subcommand("tokenize", "Encode text to token ids (or decode ids with --decode)");
  cmd->add_option("--tokenizer,-t", a->tokenizer,
                  "tokenizer.json, SentencePiece .model, .gguf, llama2.c tokenizer .bin, or a folder")
      ->required();
  auto* text = cmd->add_option("--text", a->text, "text to encode (with --decode: token ids)");
  auto* file = cmd->add_option("--file", a->file, "read the text from this file instead of --text");
  text->excludes(file);
  cmd->callback([a, text, file] {
    check(text->count() + file->count() == 1, "tokenize: give --text or --file");
    run(*a);
  });
  cmd->add_flag("--add-special", a->add_special,
                "add BOS/EOS (CLS/SEP) as the tokenizer's post-processor does; with --decode keep special tokens");
  cmd->add_flag("--decode", a->decode, "decode the ids given in --text");
}

}  // namespace tunekit::cli
