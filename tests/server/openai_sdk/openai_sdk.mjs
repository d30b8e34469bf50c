// Talks to a running `tunekit serve` through the official openai npm SDK: models, chat (plain and
// streamed), completion (plain and streamed), token logprobs of both, a prompt scored with echo,
// embeddings (the SDK's default base64 and float), errors, and, through plain fetch (the SDK has no
// call for it), vLLM's load/unload of a LoRA adapter. Greedy requests, so the streamed text must
// equal the plain one.
// Usage: node openai_sdk.mjs BASE_URL API_KEY MODEL_ID ADAPTER_DIR
// (ADAPTER_DIR: a PEFT folder inside the server's --adapter-dir.) Prints PASS/FAIL lines; exits 1 on any failure.
import OpenAI from "openai";

const [baseURL, apiKey, model, adapterDir] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
let failures = 0;
function check(name, ok, detail = "") {
  console.log(`${ok ? "PASS" : "FAIL"} ${name}${ok ? "" : ": " + detail}`);
  if (!ok) failures++;
}

const models = await client.models.list();
check("models.list has the base model", models.data.some((m) => m.id === model), JSON.stringify(models.data));

const messages = [{ role: "system", content: "You are an anatomy tutor." }, { role: "user", content: "What is the femur?" }];
const chat = await client.chat.completions.create({ model, messages, max_tokens: 8, temperature: 0 });
const reply = chat.choices[0].message.content;
check("chat completion", chat.object === "chat.completion" && chat.choices[0].message.role === "assistant" &&
      typeof reply === "string", JSON.stringify(chat));
check("chat usage", chat.usage.completion_tokens <= 8 && chat.usage.total_tokens ===
      chat.usage.prompt_tokens + chat.usage.completion_tokens, JSON.stringify(chat.usage));

let streamed = "", finish = null;
const chatStream = await client.chat.completions.create({ model, messages, max_tokens: 8, temperature: 0, stream: true });
for await (const chunk of chatStream) {
  streamed += chunk.choices[0]?.delta?.content ?? "";
  finish = chunk.choices[0]?.finish_reason ?? finish;
}
check("chat stream equals the plain reply", streamed === reply, `${JSON.stringify(streamed)} vs ${JSON.stringify(reply)}`);
check("chat stream finish_reason", finish === chat.choices[0].finish_reason, String(finish));

const chatLogprobs = await client.chat.completions.create({ model, messages, max_tokens: 8, temperature: 0,
                                                           logprobs: true, top_logprobs: 2 });
const content = chatLogprobs.choices[0].logprobs?.content ?? [];
check("chat logprobs: one entry per token, the greedy token the likelier alternative",
      content.length === chatLogprobs.usage.completion_tokens &&
      Buffer.from(content.flatMap((e) => e.bytes)).toString("utf8") === reply &&
      content.every((e) => e.logprob <= 0 && e.top_logprobs.length === 2 &&
                           Math.abs(e.top_logprobs[0].logprob - e.logprob) < 1e-6 && Array.isArray(e.bytes)),
      JSON.stringify(chatLogprobs.choices[0].logprobs));

const completion = await client.completions.create({ model, prompt: "Once upon a time", max_tokens: 8, temperature: 0 });
check("completion", completion.object === "text_completion" && typeof completion.choices[0].text === "string",
      JSON.stringify(completion));
const completionLogprobs = await client.completions.create({ model, prompt: "Once upon a time", max_tokens: 8,
                                                             temperature: 0, logprobs: 1 });
const lp = completionLogprobs.choices[0].logprobs;
check("completion logprobs: parallel lists over the text",
      lp && lp.tokens.join("") === completion.choices[0].text && lp.token_logprobs.length === lp.tokens.length &&
      lp.top_logprobs.length === lp.tokens.length && lp.text_offset[0] === 0, JSON.stringify(lp));
const scoredPrompt = await client.completions.create({ model, prompt: "Once upon a time", max_tokens: 0, echo: true,
                                                       logprobs: 0 });
const spl = scoredPrompt.choices[0].logprobs;
check("echo with logprobs scores the prompt (first token null)",
      scoredPrompt.choices[0].text === "Once upon a time" && spl && spl.token_logprobs[0] === null &&
      spl.token_logprobs.slice(1).every((v) => v <= 0) && spl.tokens.length === scoredPrompt.usage.prompt_tokens,
      JSON.stringify(scoredPrompt.choices[0]));
let streamedText = "";
const completionStream = await client.completions.create({ model, prompt: "Once upon a time", max_tokens: 8,
                                                           temperature: 0, stream: true });
for await (const chunk of completionStream) streamedText += chunk.choices[0]?.text ?? "";
check("completion stream equals the plain text", streamedText === completion.choices[0].text,
      `${JSON.stringify(streamedText)} vs ${JSON.stringify(completion.choices[0].text)}`);

try {
  await client.completions.create({ model: "no-such-model", prompt: "x", max_tokens: 1 });
  check("unknown model raises NotFoundError", false, "no error");
} catch (e) {
  check("unknown model raises NotFoundError", e instanceof OpenAI.NotFoundError && e.code === "model_not_found",
        `${e.constructor.name} ${e.status} ${e.message}`);
}
try {
  await new OpenAI({ baseURL, apiKey: "sk-wrong", maxRetries: 0 }).models.list();
  check("wrong API key raises AuthenticationError", false, "no error");
} catch (e) {
  check("wrong API key raises AuthenticationError", e instanceof OpenAI.AuthenticationError, `${e.constructor.name} ${e.message}`);
}

const inputs = ["The femur is a bone.", "Insulin lowers blood glucose."];
const embedded = await client.embeddings.create({ model, input: inputs });  // the SDK asks for base64 and decodes it
const floats = await client.embeddings.create({ model, input: inputs, encoding_format: "float" });
const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
check("embeddings", embedded.object === "list" && embedded.data.length === 2 &&
      embedded.data.every((d, i) => d.index === i && d.embedding.length === 32 && Math.abs(norm(d.embedding) - 1) < 1e-4) &&
      embedded.usage.prompt_tokens > 0, JSON.stringify(embedded).slice(0, 300));
check("embeddings base64 equals float", embedded.data.every((d, i) =>
      d.embedding.every((x, j) => x === floats.data[i].embedding[j])), "the decoded vectors differ");

// vLLM's runtime adapter API through fetch.
const post = (route, body) => fetch(`${baseURL}/${route}`, {
  method: "POST", headers: { "Content-Type": "application/json", Authorization: `Bearer ${apiKey}` },
  body: JSON.stringify(body) });
const loaded = await post("load_lora_adapter", { lora_name: "bones", lora_path: adapterDir });
const loadedText = await loaded.text();
check("load_lora_adapter", loaded.status === 200 && loadedText === "Success: LoRA adapter 'bones' added successfully.",
      `${loaded.status} ${loadedText}`);
const listed = await client.models.list();
check("models.list has the loaded adapter", listed.data.some((m) => m.id === "bones" && m.parent === model),
      JSON.stringify(listed.data));
const adapted = await client.completions.create({ model: "bones", prompt: "The femur", max_tokens: 8, temperature: 0 });
check("completion with the adapter", adapted.model === "bones" && typeof adapted.choices[0].text === "string",
      JSON.stringify(adapted));
const escape = await post("load_lora_adapter", { lora_name: "escape", lora_path: `${adapterDir}/../../../..` });
const escapeBody = await escape.json();
check("an adapter path outside --adapter-dir is 403", escape.status === 403 && escapeBody.error?.code === "path_not_allowed",
      `${escape.status} ${JSON.stringify(escapeBody)}`);
const unloaded = await post("unload_lora_adapter", { lora_name: "bones" });
check("unload_lora_adapter", unloaded.status === 200, `${unloaded.status} ${await unloaded.text()}`);
try {
  await client.completions.create({ model: "bones", prompt: "x", max_tokens: 1 });
  check("the unloaded adapter raises NotFoundError", false, "no error");
} catch (e) {
  check("the unloaded adapter raises NotFoundError", e instanceof OpenAI.NotFoundError, `${e.constructor.name} ${e.message}`);
}

console.log(failures ? `openai_sdk: ${failures} check(s) failed` : "openai_sdk: all checks passed");
process.exit(failures ? 1 : 0);
