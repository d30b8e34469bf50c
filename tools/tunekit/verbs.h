// The CLI's verbs: each file tools/tunekit/<verb>.cpp adds one subcommand to the app.
#pragma once
#include <filesystem>
#include <string>

#include <CLI/CLI.hpp>

namespace tunekit::cli {

// Thrown by a verb that finished its own way but must exit with a given status (main returns it),
// e.g. 130 after train saved its state on Ctrl-C.
struct ExitStatus {
  int code;
};

void add_generate(CLI::App& app);  // generate.cpp
void add_convert(CLI::App& app);   // convert.cpp
void add_init(CLI::App& app);      // init.cpp
void add_tokenize(CLI::App& app);  // tokenize.cpp
void add_template(CLI::App& app);  // template.cpp
void add_merge_adapter(CLI::App& app);  // merge_adapter.cpp
void add_train(CLI::App& app);     // train.cpp
void add_eval(CLI::App& app);      // eval.cpp
void add_ask(CLI::App& app);       // ask.cpp
void add_serve(CLI::App& app);     // serve.cpp
void add_kb(CLI::App& app);        // kb.cpp: the kb group; its sub-verbs are in kb_<verb>.cpp
void add_kb_ingest(CLI::App& kb);  // kb_ingest.cpp
void add_kb_rm(CLI::App& kb);      // kb_rm.cpp
void add_kb_ls(CLI::App& kb);      // kb_ls.cpp
void add_kb_embed(CLI::App& kb);   // kb_embed.cpp
void add_kb_search(CLI::App& kb);  // kb_search.cpp
void add_eval_retrieval(CLI::App& eval);  // eval_retrieval.cpp: `eval retrieval`

// On SIGSEGV, SIGBUS, SIGILL, SIGFPE or SIGABRT: the signal's name and a backtrace on stderr, then
// the signal's default action (crash_report.cpp). main calls it first.
void install_crash_report();

// The text of a PDF (pages joined), for train and eval's --data (pdf_text.cpp).
std::string pdf_text(const std::filesystem::path& path);

}  // namespace tunekit::cli
