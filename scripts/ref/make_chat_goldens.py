#!/usr/bin/python3
"""Golden renderings for tunekit's chat-template renderer, made by real jinja2.

Renders every chat template in ../shared/tokenizers (TinyLlama's chat_template.jinja, llama.cpp's
templates/*.jinja, and the template inside the phi-3 vocab GGUF) over a few conversations, plus a
list of small engine cases, with jinja2 configured exactly as Hugging Face transformers'
`_compile_jinja_template` does it:

    ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                  extensions=[AssistantTracker, jinja2.ext.loopcontrols])
    filters["tojson"] = json.dumps(x, ensure_ascii=False, indent=..., separators=..., sort_keys=...)
    globals["raise_exception"] = raise TemplateError(message)
    globals["strftime_now"] = datetime.now().strftime(format)    (here: a fixed date, FIXED_NOW)

and rendered as `apply_chat_template` calls it: render(messages=..., tools=None or the tool list,
documents=None, add_generation_prompt=..., bos_token=..., eos_token=...). (transformers also
passes unk_token/pad_token from the tokenizer's special tokens; none of these templates read them.)
The AssistantTracker extension only adds the {% generation %} tag; here it is a plain pass-through
block like transformers' when no assistant mask is asked for.

Writes, under tests/golden/chat_templates/:
    conversations.json        the input cases (messages, tools, add_generation_prompt) and the date
    manifest.json             per template: its source under ../shared, bos/eos, and per case the
                              golden file and whether jinja2 raised
    <template>.<case>.txt     the exact rendering (bytes, UTF-8), or
    <template>.<case>.error   "<ExceptionType>: <message>" where jinja2 raised
    engine_cases.json         small inline templates with their context and jinja2's output/error

Run: /usr/bin/python3 scripts/ref/make_chat_goldens.py     (Debian python3-jinja2; < 1 second)
"""
import datetime
import json
import os
import struct
import sys

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SHARED = os.path.abspath(os.path.join(ROOT, "..", "shared"))
OUT = os.path.join(ROOT, "tests", "golden", "chat_templates")

# strftime_now() returns this time in the goldens; the C++ tests pass the same to ChatTemplate::set_now.
FIXED_NOW = datetime.datetime(2025, 3, 14, 9, 26, 53)


class GenerationBlock(jinja2.ext.Extension):
    """transformers' AssistantTracker without the mask bookkeeping: {% generation %} renders its body."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.Scope(body, lineno=lineno)


def make_environment():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return FIXED_NOW.strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[GenerationBlock, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


ENV = make_environment()


def render(source, context):
    """{"output": text} or {"error": "Type: message"} as jinja2 gives it (parse errors included)."""
    try:
        return {"output": ENV.from_string(source).render(**context)}
    except Exception as e:  # noqa: BLE001 - any failure is a golden outcome the C++ side must match
        return {"error": f"{type(e).__name__}: {e}"}


# ---------------------------------------------------------------- conversations over real templates

SYSTEM = {"role": "system", "content": "You are a helpful assistant.\nAnswer briefly."}
USER1 = {"role": "user", "content": "  Hello! What's the capital of France?  "}
ASSISTANT1 = {"role": "assistant", "content": "The capital of France is Paris. «Très bien» 🇫🇷"}
USER2 = {"role": "user", "content": 'And of Japan? Answer with "quotes" and a \\ backslash.'}
ASSISTANT2 = {"role": "assistant", "content": "「東京」 — \"Tokyo\"."}

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Temperature unit"},
                "days": {"type": "integer", "description": "Forecast days", "default": 1},
            },
            "required": ["city"],
        },
    },
}
TOOL_CALL_TURN = {
    "role": "assistant",
    "content": "",
    "tool_calls": [{"id": "call12345", "type": "function",
                    "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}],
}
TOOL_CALL_TURN_JSON = {  # OpenAI style: arguments as a JSON string (what most llama.cpp templates expect)
    "role": "assistant",
    "content": None,
    "tool_calls": [{"id": "call12345", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\", \"unit\": \"celsius\"}"}}],
}
TOOL_RESULT = {"role": "tool", "tool_call_id": "call12345", "name": "get_weather",
               "content": "{\"temperature\": 18, \"condition\": \"sunny\"}"}

CASES = {
    "system_generation": {"messages": [SYSTEM, USER1, ASSISTANT1, USER2], "add_generation_prompt": True},
    "no_system_generation": {"messages": [USER1, ASSISTANT1, USER2], "add_generation_prompt": True},
    "no_system_training": {"messages": [USER1, ASSISTANT1, USER2, ASSISTANT2], "add_generation_prompt": False},
    "tools": {
        "messages": [SYSTEM, {"role": "user", "content": "What's the weather in Paris?"}, TOOL_CALL_TURN,
                     TOOL_RESULT, {"role": "assistant", "content": "It is 18 °C and sunny in Paris."},
                     {"role": "user", "content": "Thanks!"}],
        "tools": [WEATHER_TOOL],
        "add_generation_prompt": True,
    },
    # Also the extra keyword arguments some templates read (documents for Command R7B; functions and
    # datetime for FireFunction), passed as apply_chat_template(..., **kwargs) would.
    "tools_json_arguments": {
        "messages": [SYSTEM, {"role": "user", "content": "What's the weather in Paris?"}, TOOL_CALL_TURN_JSON,
                     TOOL_RESULT, {"role": "assistant", "content": "It is 18 °C and sunny in Paris."},
                     {"role": "user", "content": "Thanks!"}],
        "tools": [WEATHER_TOOL],
        "documents": [{"title": "Paris weather", "text": "Sunny, 18 °C."}],
        "extra": {"functions": "[{\"name\": \"get_weather\"}]", "datetime": "2025-03-14"},
        "add_generation_prompt": True,
    },
}

LLAMA3 = ("<|begin_of_text|>", "<|eot_id|>")
DEEPSEEK = ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>")
COHERE = ("<BOS_TOKEN>", "<|END_OF_TURN_TOKEN|>")
HERMES = ("<|begin_of_text|>", "<|im_end|>")

# (golden name, source relative to ../shared, (bos, eos)); bos None = the model has no BOS token.
TEMPLATES = [
    ("tinyllama-1.1b-chat", "tokenizers/tinyllama-1.1b-chat/chat_template.jinja", None),  # tokens from its config
    ("phi-3-gguf", "tokenizers/llama.cpp-vocab-tests/ggml-vocab-phi-3.gguf", ("<s>", "<|endoftext|>")),
]
FAMILY_TOKENS = {
    "CohereForAI-": COHERE,
    "NousResearch-": HERMES,
    "Qwen-": (None, "<|im_end|>"),
    "deepseek-ai-": DEEPSEEK,
    "llama-cpp-deepseek-r1": DEEPSEEK,
    "fireworks-ai-": LLAMA3,
    "google-gemma": ("<bos>", "<eos>"),
    "meetkai-": LLAMA3,
    "meta-llama-": LLAMA3,
    "microsoft-Phi-3": ("<s>", "<|endoftext|>"),
    "mistralai-": ("<s>", "</s>"),
}


def gguf_chat_template(path):
    """tokenizer.chat_template from a GGUF v2/v3 header (only the metadata is read)."""
    with open(path, "rb") as f:
        data = f.read()
    scalar = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
    pos = 8

    def take(fmt):
        nonlocal pos
        (value,) = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return value

    def take_string():
        nonlocal pos
        n = take("<Q")
        pos += n
        return data[pos - n:pos].decode("utf-8")

    def take_value(kind):
        if kind == 8:
            return take_string()
        if kind == 9:
            item_kind, count = take("<I"), take("<Q")
            return [take_value(item_kind) for _ in range(count)]
        return take(scalar[kind])

    take("<Q")  # tensor count
    for _ in range(take("<Q")):
        key = take_string()
        value = take_value(take("<I"))
        if key == "tokenizer.chat_template":
            return value
    raise SystemExit(f"{path}: no tokenizer.chat_template")


def template_list():
    listed = list(TEMPLATES)
    folder = os.path.join(SHARED, "tokenizers", "llama.cpp-vocab-tests", "templates")
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".jinja"):
            continue
        stem = name[: -len(".jinja")]
        tokens = next(v for prefix, v in FAMILY_TOKENS.items() if stem.startswith(prefix))
        listed.append((stem, f"tokenizers/llama.cpp-vocab-tests/templates/{name}", tokens))
    return listed


def load_source(rel):
    path = os.path.join(SHARED, rel)
    if path.endswith(".gguf"):
        return gguf_chat_template(path)
    with open(path, encoding="utf-8") as f:
        return f.read()


def tinyllama_tokens():
    with open(os.path.join(SHARED, "tokenizers", "tinyllama-1.1b-chat", "tokenizer_config.json")) as f:
        config = json.load(f)
    return config["bos_token"], config["eos_token"]


def write_conversation_goldens():
    manifest = {"date": FIXED_NOW.isoformat(), "templates": []}
    for name, rel, tokens in template_list():
        bos, eos = tokens if tokens else tinyllama_tokens()
        source = load_source(rel)
        entry = {"name": name, "source": rel, "bos_token": bos, "eos_token": eos, "cases": {}}
        for case, spec in CASES.items():
            context = {"messages": spec["messages"], "tools": spec.get("tools"), "documents": spec.get("documents"),
                       "add_generation_prompt": spec["add_generation_prompt"], "eos_token": eos, **spec.get("extra", {})}
            if bos is not None:
                context["bos_token"] = bos
            result = render(source, context)
            stem = f"{name}.{case}"
            if "error" in result:
                write_text(f"{stem}.error", result["error"] + "\n")
                entry["cases"][case] = {"file": f"{stem}.error", "error": True}
            else:
                write_text(f"{stem}.txt", result["output"])
                entry["cases"][case] = {"file": f"{stem}.txt", "error": False}
        manifest["templates"].append(entry)
    write_json("conversations.json", {"date": FIXED_NOW.isoformat(), "cases": CASES})
    write_json("manifest.json", manifest)
    return len(manifest["templates"])


def write_text(name, text):
    with open(os.path.join(OUT, name), "w", encoding="utf-8", newline="") as f:
        f.write(text)


def write_json(name, value):
    write_text(name, json.dumps(value, ensure_ascii=False, indent=1) + "\n")


def main():
    if not os.path.isdir(SHARED):
        sys.exit(f"{SHARED} is absent: the goldens need ../shared next to the checkout")
    os.makedirs(OUT, exist_ok=True)
    for old in os.listdir(OUT):
        os.remove(os.path.join(OUT, old))
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from chat_engine_cases import ENGINE_CASES  # noqa: E402

    n_templates = write_conversation_goldens()
    cases = []
    for name, source, context in ENGINE_CASES:
        cases.append({"name": name, "template": source, "context": context, **render(source, context)})
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names)), "engine case names must be unique"
    write_json("engine_cases.json", cases)
    errors = sum(1 for c in cases if "error" in c)
    print(f"{n_templates} templates x {len(CASES)} conversations, {len(cases)} engine cases "
          f"({errors} expected errors) -> {os.path.relpath(OUT, ROOT)}")


if __name__ == "__main__":
    main()
