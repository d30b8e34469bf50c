// tunekit: one binary, one verb per file. Library errors (tunekit::Error) become a one-line
// message on stderr and exit code 1; flag errors exit 2 with CLI11's message.
#include <cstdio>
#include <exception>

#include "tunekit/error.h"
#include "verbs.h"

int main(int argc, char** argv) {
  tunekit::cli::install_crash_report();
  CLI::App app{"tunekit: turn an open-weight LLM and your documents into a domain specialist", "tunekit"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "tunekit 0.1.0");
  tunekit::cli::add_generate(app);
  tunekit::cli::add_convert(app);
  tunekit::cli::add_init(app);
  tunekit::cli::add_tokenize(app);
  tunekit::cli::add_template(app);
  tunekit::cli::add_merge_adapter(app);
  tunekit::cli::add_train(app);
  tunekit::cli::add_eval(app);
  tunekit::cli::add_kb(app);
  tunekit::cli::add_ask(app);
  tunekit::cli::add_serve(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  } catch (const tunekit::cli::ExitStatus& e) {
    return e.code;
  } catch (const tunekit::Error& e) {
    std::fprintf(stderr, "tunekit: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tunekit: internal error: %s\n", e.what());
    return 1;
  }
  return 0;
}
