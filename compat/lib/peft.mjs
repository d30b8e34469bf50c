// PEFT LoRA adapters for the compat check, made here rather than by tunekit: a seeded random
// adapter on every linear layer of an HF config, written as a PEFT folder (adapter_config.json +
// adapter_model.safetensors), and the model with it merged (W + alpha/r · B·A in float64) for
// lib/reference.mjs to run.
import {mkdirSync, writeFileSync} from "node:fs";
import {join} from "node:path";

const MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];

// {module: [d_out, d_in]} for an HF Llama / Mistral / Qwen2 config.
function moduleShapes(config) {
  const C = config.hidden_size, H = config.num_attention_heads, F = config.intermediate_size;
  const dHead = config.head_dim ?? C / H, Q = H * dHead, KV = (config.num_key_value_heads ?? H) * dHead;
  return {q_proj: [Q, C], k_proj: [KV, C], v_proj: [KV, C], o_proj: [C, Q], gate_proj: [F, C], up_proj: [F, C],
          down_proj: [C, F]};
}

function weightName(layer, module) {
  const group = ["gate_proj", "up_proj", "down_proj"].includes(module) ? "mlp" : "self_attn";
  return `model.layers.${layer}.${group}.${module}`;
}

// mulberry32: a small seeded generator, so the adapter is the same on every run.
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// A: U(-1/sqrt(d_in), 1/sqrt(d_in)) (PEFT's default); B: U(-bScale, bScale) (non-zero, so it
// matters). Values are rounded to f32, exactly what the safetensors file holds.
export function randomAdapter(config, {rank, alpha, bScale, seed}) {
  const next = random(seed), shapes = moduleShapes(config), factors = {};
  const uniform = (n, bound) => Float64Array.from({length: n}, () => Math.fround((2 * next() - 1) * bound));
  for (let l = 0; l < config.num_hidden_layers; l++)
    for (const m of MODULES) {
      const [dOut, dIn] = shapes[m];
      factors[`${weightName(l, m)}.lora_A.weight`] = {shape: [rank, dIn], data: uniform(rank * dIn, 1 / Math.sqrt(dIn))};
      factors[`${weightName(l, m)}.lora_B.weight`] = {shape: [dOut, rank], data: uniform(dOut * rank, bScale)};
    }
  return {rank, alpha, factors};
}

// The PEFT folder, as PEFT names things ("base_model.model." prefix, F32 tensors, sorted keys).
export function writePeftFolder(dir, adapter) {
  mkdirSync(dir, {recursive: true});
  const names = Object.keys(adapter.factors).sort();
  const header = {__metadata__: {format: "pt"}};
  let offset = 0;
  for (const name of names) {
    const n = adapter.factors[name].data.length * 4;
    header[`base_model.model.${name}`] = {dtype: "F32", shape: adapter.factors[name].shape, data_offsets: [offset, offset + n]};
    offset += n;
  }
  let json = Buffer.from(JSON.stringify(header), "utf8");
  json = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)]);
  const body = Buffer.alloc(offset);
  offset = 0;
  for (const name of names) for (const v of adapter.factors[name].data) offset = body.writeFloatLE(v, offset);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(join(dir, "adapter_model.safetensors"), Buffer.concat([len, json, body]));
  writeFileSync(join(dir, "adapter_config.json"), JSON.stringify({
    peft_type: "LORA", task_type: "CAUSAL_LM", r: adapter.rank, lora_alpha: adapter.alpha, lora_dropout: 0.0,
    target_modules: MODULES, bias: "none", fan_in_fan_out: false, use_dora: false, use_rslora: false,
  }, null, 2));
}

// {config, tensors} (lib/reference.mjs's model) with every adapted weight replaced by W + alpha/r · B·A.
export function mergeAdapter({config, tensors}, adapter) {
  const scale = adapter.alpha / adapter.rank, out = {...tensors}, shapes = moduleShapes(config);
  for (let l = 0; l < config.num_hidden_layers; l++)
    for (const m of MODULES) {
      const [dOut, dIn] = shapes[m], r = adapter.rank, name = weightName(l, m);
      const A = adapter.factors[`${name}.lora_A.weight`].data, B = adapter.factors[`${name}.lora_B.weight`].data;
      const W = Float64Array.from(tensors[`${name}.weight`].data);
      for (let o = 0; o < dOut; o++)
        for (let k = 0; k < r; k++) {
          const b = scale * B[o * r + k];
          for (let i = 0; i < dIn; i++) W[o * dIn + i] += b * A[k * dIn + i];
        }
      out[`${name}.weight`] = {...tensors[`${name}.weight`], data: W};
    }
  return {config, tensors: out};
}
