// Talks to a running `tunekit serve` through the official openai npm SDK: models, chat (plain and
// streamed), completion (plain and streamed), and an error. Greedy requests, so the streamed text
// must equal the plain one. Usage: node openai_sdk.mjs BASE_URL API_KEY MODEL_ID
// Prints PASS/FAIL lines; exits 1 on any failure.
import OpenAI from "openai";

const [baseURL, apiKey, model] = process.argv.slice(2);
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

const completion = await client.completions.create({ model, prompt: "Once upon a time", max_tokens: 8, temperature: 0 });
check("completion", completion.object === "text_completion" && typeof completion.choices[0].text === "string",
      JSON.stringify(completion));
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

console.log(failures ? `openai_sdk: ${failures} check(s) failed` : "openai_sdk: all checks passed");
process.exit(failures ? 1 : 0);
