// Chat templates against real jinja2: every expected rendering and error comes from
// scripts/ref/make_chat_goldens.py (jinja2 configured as transformers configures it), stored under
// tests/golden/chat_templates/. The real templates live in ../shared and are skipped without it.
#include <gtest/gtest.h>

#include <fstream>
#include <iomanip>
#include <regex>
#include <sstream>

#include "cli_runner.h"
#include "test_paths.h"
#include "tunekit/error.h"
#include "tunekit/tokenizer/chat_template.h"

namespace tunekit {
namespace {

using json = nlohmann::ordered_json;
namespace fs = std::filesystem;

fs::path golden(const std::string& name) { return test::golden_dir() / "chat_templates" / name; }

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

json read_json(const fs::path& path) { return json::parse(read_bytes(path)); }

// The fixed time the goldens give strftime_now() ("2025-03-14T09:26:53").
std::tm golden_now() {
  std::string iso = read_json(golden("manifest.json"))["date"];
  std::tm t{};
  std::istringstream in(iso);
  in >> std::get_time(&t, "%Y-%m-%dT%H:%M:%S");
  std::mktime(&t);  // fills in the weekday and day of the year
  return t;
}

std::string gtest_name(std::string s) {
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

// The part of a golden error after "ExceptionType: ".
std::string jinja_message(const std::string& error) {
  size_t colon = error.find(": ");
  return colon == std::string::npos ? error : error.substr(colon + 2);
}

// ---------------------------------------------------------------- engine cases (no ../shared needed)

struct EngineCase {
  std::string name, source, expected, error;
  json context;
};

std::vector<EngineCase> engine_cases() {
  std::vector<EngineCase> cases;
  for (const json& c : read_json(golden("engine_cases.json"))) {
    cases.push_back({c["name"], c["template"], c.value("output", ""), c.value("error", ""), c["context"]});
  }
  return cases;
}

void PrintTo(const EngineCase& c, std::ostream* os) { *os << c.name; }

class Jinja2Engine : public testing::TestWithParam<EngineCase> {};

TEST_P(Jinja2Engine, MatchesJinja2) {
  const EngineCase& c = GetParam();
  auto render = [&] {
    ChatTemplate t = ChatTemplate::parse(c.source, c.name);
    t.set_now(golden_now());
    return t.render(c.context);
  };
  if (c.error.empty()) {
    std::string out;
    try {
      out = render();
    } catch (const Error& e) {
      FAIL() << "jinja2 renders " << testing::PrintToString(c.expected) << " but tunekit throws: " << e.what();
    }
    EXPECT_EQ(out, c.expected) << "template: " << c.source;
    return;
  }
  try {
    std::string out = render();
    ADD_FAILURE() << "jinja2 raises (" << c.error << ") but tunekit renders " << testing::PrintToString(out);
  } catch (const Error& e) {
    std::string what = e.what();
    EXPECT_TRUE(std::regex_search(what, std::regex("^" + c.name + ":[0-9]+:[0-9]+: ")))
        << "errors name origin:line:col, got: " << what;
    if (c.error.rfind("TemplateError: ", 0) == 0) {  // raise_exception(): the template's own message
      EXPECT_NE(what.find(jinja_message(c.error)), std::string::npos) << what;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Golden, Jinja2Engine, testing::ValuesIn(engine_cases()),
                         [](const testing::TestParamInfo<EngineCase>& info) { return info.param.name; });

// ---------------------------------------------------------------- real templates x conversations

struct TemplateCase {
  std::string name, source, conversation, golden_file;
  bool error;
  json bos, eos;
};

std::vector<TemplateCase> template_cases() {
  std::vector<TemplateCase> cases;
  json manifest = read_json(golden("manifest.json"));
  for (const json& t : manifest["templates"])
    for (const auto& [conversation, result] : t["cases"].items())
      cases.push_back({t["name"], t["source"], conversation, result["file"], result["error"], t["bos_token"], t["eos_token"]});
  return cases;
}

// The context make_chat_goldens.py renders with (transformers' apply_chat_template call).
json conversation_context(const TemplateCase& c) {
  json spec = read_json(golden("conversations.json"))["cases"][c.conversation];
  json context;
  context["messages"] = spec["messages"];
  context["tools"] = spec.value("tools", json());
  context["documents"] = spec.value("documents", json());
  context["add_generation_prompt"] = spec["add_generation_prompt"];
  context["eos_token"] = c.eos;
  if (spec.contains("extra"))
    for (const auto& [key, value] : spec["extra"].items()) context[key] = value;
  if (!c.bos.is_null()) context["bos_token"] = c.bos;
  return context;
}

void PrintTo(const TemplateCase& c, std::ostream* os) { *os << c.name << " / " << c.conversation; }

class RealTemplate : public testing::TestWithParam<TemplateCase> {};

TEST_P(RealTemplate, MatchesTransformers) {
  const TemplateCase& c = GetParam();
  TUNEKIT_REQUIRE_SHARED(c.source);
  std::optional<std::string> source = find_chat_template(test::shared_dir() / c.source);
  ASSERT_TRUE(source.has_value()) << c.source;
  ChatTemplate t = ChatTemplate::parse(*source, c.name);
  t.set_now(golden_now());
  std::string expected = read_bytes(golden(c.golden_file));
  if (!c.error) {
    EXPECT_EQ(t.render(conversation_context(c)), expected);
    return;
  }
  try {
    std::string out = t.render(conversation_context(c));
    ADD_FAILURE() << "jinja2 raises (" << expected << ") but tunekit renders " << testing::PrintToString(out);
  } catch (const Error& e) {
    if (expected.rfind("TemplateError: ", 0) == 0) {
      EXPECT_NE(std::string(e.what()).find(jinja_message(expected.substr(0, expected.size() - 1))), std::string::npos)
          << e.what();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Golden, RealTemplate, testing::ValuesIn(template_cases()),
                         [](const testing::TestParamInfo<TemplateCase>& info) {
                           return gtest_name(info.param.name + "__" + info.param.conversation);
                         });

// apply() passes what apply_chat_template passes for plain role/content conversations.
TEST(ChatTemplate, ApplyMatchesTransformersForPlainConversations) {
  TUNEKIT_REQUIRE_SHARED("tokenizers/llama.cpp-vocab-tests/templates");
  size_t compared = 0;
  for (const TemplateCase& c : template_cases()) {
    if (c.error || c.bos.is_null() || c.conversation.rfind("tools", 0) == 0) continue;
    json spec = read_json(golden("conversations.json"))["cases"][c.conversation];
    std::vector<ChatMessage> messages;
    for (const json& m : spec["messages"]) messages.push_back({m["role"], m["content"]});
    ChatTemplate t = ChatTemplate::parse(*find_chat_template(test::shared_dir() / c.source), c.name);
    t.set_now(golden_now());
    EXPECT_EQ(t.apply(messages, spec["add_generation_prompt"], c.bos, c.eos), read_bytes(golden(c.golden_file)))
        << c.name << " / " << c.conversation;
    ++compared;
  }
  EXPECT_GT(compared, 30u);
}

// ---------------------------------------------------------------- finding templates and tokens

TEST(FindChatTemplate, ModelFolderUsesChatTemplateJinja) {
  TUNEKIT_REQUIRE_SHARED("tokenizers/tinyllama-1.1b-chat");
  fs::path dir = test::shared_dir() / "tokenizers/tinyllama-1.1b-chat";
  EXPECT_EQ(find_chat_template(dir), read_bytes(dir / "chat_template.jinja"));
  EXPECT_EQ(find_chat_template(dir / "tokenizer_config.json"), std::nullopt);  // this config has none
  ChatSpecialTokens tokens = find_chat_special_tokens(dir);
  EXPECT_EQ(tokens.bos_token, "<s>");
  EXPECT_EQ(tokens.eos_token, "</s>");
}

TEST(FindChatTemplate, GgufMetadata) {
  TUNEKIT_REQUIRE_SHARED("tokenizers/llama.cpp-vocab-tests/ggml-vocab-phi-3.gguf");
  fs::path vocab = test::shared_dir() / "tokenizers/llama.cpp-vocab-tests";
  std::optional<std::string> phi3 = find_chat_template(vocab / "ggml-vocab-phi-3.gguf");
  ASSERT_TRUE(phi3.has_value());
  EXPECT_EQ(phi3->rfind("{{ bos_token }}{% for message in messages %}", 0), 0u) << *phi3;
  EXPECT_EQ(find_chat_template(vocab / "ggml-vocab-phi-3.gguf", "tool_use"), std::nullopt);
  EXPECT_EQ(find_chat_template(vocab / "ggml-vocab-llama-spm.gguf"), std::nullopt);
  ChatSpecialTokens tokens = find_chat_special_tokens(vocab / "ggml-vocab-phi-3.gguf");
  EXPECT_EQ(tokens.bos_token, "<s>");
  EXPECT_EQ(tokens.eos_token, "<|endoftext|>");
}

void write_file(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

TEST(FindChatTemplate, TokenizerConfigStringAndNamedTemplates) {
  fs::path dir = test::temp_dir("chat_template_find");
  write_file(dir / "plain/tokenizer_config.json",
             R"({"chat_template": "{{ bos_token }}x", "bos_token": {"content": "<s>", "lstrip": false}})");
  EXPECT_EQ(find_chat_template(dir / "plain"), "{{ bos_token }}x");
  EXPECT_EQ(find_chat_special_tokens(dir / "plain").bos_token, "<s>");
  EXPECT_EQ(find_chat_special_tokens(dir / "plain").eos_token, std::nullopt);

  write_file(dir / "named/tokenizer_config.json",
             R"({"chat_template": [{"name": "default", "template": "D"}, {"name": "tool_use", "template": "T"}]})");
  EXPECT_EQ(find_chat_template(dir / "named/tokenizer_config.json"), "D");
  EXPECT_EQ(find_chat_template(dir / "named", "tool_use"), "T");
  EXPECT_THROW(find_chat_template(dir / "named", "rag"), Error);

  write_file(dir / "jinja/chat_template.jinja", "J");
  write_file(dir / "jinja/additional_chat_templates/tool_use.jinja", "JT");
  write_file(dir / "jinja/tokenizer_config.json", R"({"chat_template": "ignored"})");
  EXPECT_EQ(find_chat_template(dir / "jinja"), "J");
  EXPECT_EQ(find_chat_template(dir / "jinja", "tool_use"), "JT");
  EXPECT_EQ(find_chat_template(dir / "jinja/chat_template.jinja"), "J");

  write_file(dir / "broken/tokenizer_config.json", "{not json");
  EXPECT_THROW(find_chat_template(dir / "broken"), Error);
  EXPECT_THROW(find_chat_template(dir / "missing.jinja"), Error);
  fs::create_directories(dir / "empty");
  EXPECT_EQ(find_chat_template(dir / "empty"), std::nullopt);
}

// ---------------------------------------------------------------- the CLI verb

fs::path write_messages(const std::string& name, const json& value) {
  fs::path path = test::temp_dir("chat_template_cli_" + name) / "messages.json";
  std::ofstream(path, std::ios::binary) << value.dump();
  return path;
}

json conversation(const std::string& name) { return read_json(golden("conversations.json"))["cases"][name]; }

TEST(TemplateCli, RendersWithTheModelsOwnTokens) {
  TUNEKIT_REQUIRE_SHARED("tokenizers/tinyllama-1.1b-chat");
  fs::path model = test::shared_dir() / "tokenizers/tinyllama-1.1b-chat";
  fs::path messages = write_messages("list", conversation("no_system_generation")["messages"]);
  test::CliResult r = test::run_cli({"template", "--template", model.string(), "--messages", messages.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, read_bytes(golden("tinyllama-1.1b-chat.no_system_generation.txt")));

  fs::path training = write_messages("training", conversation("no_system_training")["messages"]);
  r = test::run_cli({"template", "--template", model.string(), "--messages", training.string(), "--no-generation-prompt"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, read_bytes(golden("tinyllama-1.1b-chat.no_system_training.txt")));
}

TEST(TemplateCli, ObjectFileGivesToolsAndTokenFlags) {
  TUNEKIT_REQUIRE_SHARED("tokenizers/llama.cpp-vocab-tests/templates/Qwen-Qwen2.5-7B-Instruct.jinja");
  fs::path qwen = test::shared_dir() / "tokenizers/llama.cpp-vocab-tests/templates/Qwen-Qwen2.5-7B-Instruct.jinja";
  json spec = conversation("tools");
  fs::path messages = write_messages("object", json{{"messages", spec["messages"]}, {"tools", spec["tools"]}});
  test::CliResult r = test::run_cli(
      {"template", "--template", qwen.string(), "--messages", messages.string(), "--eos", "<|im_end|>"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, read_bytes(golden("Qwen-Qwen2.5-7B-Instruct.tools.txt")));
}

TEST(TemplateCli, TemplateErrorsExitWithOne) {
  TUNEKIT_REQUIRE_SHARED("tokenizers/llama.cpp-vocab-tests/templates/google-gemma-2-2b-it.jinja");
  fs::path gemma = test::shared_dir() / "tokenizers/llama.cpp-vocab-tests/templates/google-gemma-2-2b-it.jinja";
  fs::path messages = write_messages("system", conversation("system_generation")["messages"]);
  test::CliResult r = test::run_cli({"template", "--template", gemma.string(), "--messages", messages.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("System role not supported"), std::string::npos) << r.err;
  r = test::run_cli({"template", "--template", "/nonexistent/chat.jinja", "--messages", messages.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/nonexistent/chat.jinja"), std::string::npos) << r.err;
}

// ---------------------------------------------------------------- limits and error positions

std::string render_with(const std::string& source, const ChatTemplateLimits& limits) {
  ChatTemplate t = ChatTemplate::parse(source, "t");
  t.set_limits(limits);
  return t.render(json::object());
}

TEST(ChatTemplate, LimitsStopRunawayTemplates) {
  ChatTemplateLimits small{1000, 10000, 20};
  EXPECT_THROW(render_with("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", small), Error);
  EXPECT_THROW(render_with("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}", small), Error);
  EXPECT_THROW(render_with("{{ 'x' * 2000 }}", small), Error);
  EXPECT_THROW(render_with("{% for i in range(2000) %}x{% endfor %}", small), Error);
  EXPECT_THROW(render_with("{% set s = namespace(t='ab') %}{% for i in range(20) %}{% set s.t = s.t + s.t %}{% endfor %}", small), Error);
  EXPECT_EQ(render_with("{% for i in range(100) %}x{% endfor %}", small), std::string(100, 'x'));
  EXPECT_THROW(ChatTemplate::parse("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}", "t"), Error);
  EXPECT_THROW(ChatTemplate::parse("{{ " + std::string(5000, '-') + "1 }}", "t"), Error);
  EXPECT_THROW(ChatTemplate::parse("{{ 1" + std::string(5000, '|') + " }}", "t"), Error);
  EXPECT_THROW(ChatTemplate::parse("{{ " + std::string(5000, '[') + std::string(5000, ']') + " }}", "t"), Error);
  EXPECT_THROW(render_with("{% set ns = namespace(x=[]) %}{% for i in range(300) %}{% set ns.x = [ns.x] %}{% endfor %}", {}), Error);
  json deep = json::array();
  for (int i = 0; i < 300; ++i) deep = json::array({deep});
  EXPECT_THROW(ChatTemplate::parse("{{ x }}", "t").render(json{{"x", deep}}), Error);
  EXPECT_EQ(render_with("{% set ns = namespace(n=none) %}{% for i in range(50000) %}{% set ns.n = namespace(p=ns.n) %}{% endfor %}"
                        "{{ ns.n.p.p.n is undefined }}",
                        {}),
            "True");
  std::string nested_ifs;
  for (int i = 0; i < 5000; ++i) nested_ifs += "{% if true %}";
  EXPECT_THROW(ChatTemplate::parse(nested_ifs, "t"), Error);
}

TEST(ChatTemplate, ErrorsNameOriginLineAndColumn) {
  auto message = [](const std::string& source, const json& context) {
    try {
      ChatTemplate::parse(source, "chat.jinja").render(context);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message("a\n  {% frobnicate %}", json::object()), "chat.jinja:2:6: encountered unknown tag 'frobnicate'");
  EXPECT_EQ(message("{{ 1 }}\n{{ x.y }}", json::object()), "chat.jinja:2:4: 'x' is undefined");
  EXPECT_EQ(message("{% if true %}\n  {{ raise_exception('no system role') }}\n{% endif %}", json::object()),
            "chat.jinja:2:6: no system role");
  EXPECT_EQ(message("{{ 'a' + n }}", json{{"n", 1}}), "chat.jinja:1:4: can only concatenate str (not \"int\") to str");
  EXPECT_THROW(ChatTemplate::parse("x", "t").render(json::array()), Error);
}

}  // namespace
}  // namespace tunekit
