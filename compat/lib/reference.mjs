// An independent float64 forward pass of a Hugging Face Llama / Mistral / Qwen2 folder
// (config.json + model.safetensors), written from transformers 4.47's modelling code (the
// conventions listed in docs/testing.md). It exists only to give the compat check an expectation
// that llama.cpp is *meant* to match where it knowingly differs from transformers: Mistral's
// sliding window (llama.cpp's `llama` architecture has none). check.mjs first verifies this code
// against the golden logits that transformers wrote (tests/golden/models/*/golden.safetensors).
import {readFileSync} from "node:fs";
import {join} from "node:path";
import {readSafetensors} from "./safetensors.mjs";

export function loadHfModel(dir) {
  const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
  const tensors = readSafetensors(join(dir, "model.safetensors"));
  return {config, tensors};
}

function ropeInvFreq(config, dHead) {
  const theta = config.rope_theta ?? 10000;
  const inv = [];
  for (let i = 0; i < dHead; i += 2) inv.push(1 / theta ** (i / dHead));
  const scaling = config.model_type === "mistral" ? null : config.rope_scaling;
  if (!scaling) return inv;
  const type = scaling.rope_type ?? scaling.type;
  if (type === "linear") return inv.map((f) => f / scaling.factor);
  if (type === "llama3") {
    const {factor, low_freq_factor: low, high_freq_factor: high, original_max_position_embeddings: orig} = scaling;
    const lowWl = orig / low, highWl = orig / high;
    return inv.map((f) => {
      const wl = 2 * Math.PI / f;
      if (wl < highWl) return f;
      if (wl > lowWl) return f / factor;
      const s = (orig / wl - low) / (high - low);
      return (1 - s) * f / factor + s * f;
    });
  }
  throw new Error(`reference: unsupported rope scaling ${type}`);
}

// y[out] = W[out, in] x[in] (+ b)
function linear(W, x, nOut, nIn, b) {
  const y = new Float64Array(nOut);
  for (let o = 0; o < nOut; o++) {
    let s = b ? b[o] : 0;
    const row = o * nIn;
    for (let i = 0; i < nIn; i++) s += W[row + i] * x[i];
    y[o] = s;
  }
  return y;
}

function rmsNorm(x, w, eps) {
  let ss = 0;
  for (const v of x) ss += v * v;
  const r = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * r * w[i]);
}

// rotate_half RoPE on one head vector (dims j and j + d/2 form a pair)
function rope(vec, off, dHead, pos, invFreq) {
  const half = dHead / 2;
  for (let j = 0; j < half; j++) {
    const a = pos * invFreq[j], c = Math.cos(a), s = Math.sin(a);
    const x0 = vec[off + j], x1 = vec[off + j + half];
    vec[off + j] = x0 * c - x1 * s;
    vec[off + j + half] = x1 * c + x0 * s;
  }
}

// ids: token ids at positions 0..T-1. window: null (none) or W (query i sees keys i-W < j <= i).
// Returns T rows of vocab logits (Float64Array each).
export function forward({config, tensors}, ids, {window = null} = {}) {
  const t = (name) => {
    if (!tensors[name]) throw new Error(`reference: missing tensor ${name}`);
    return tensors[name].data;
  };
  const opt = (name) => tensors[name]?.data ?? null;
  const C = config.hidden_size, nHead = config.num_attention_heads;
  const nKv = config.num_key_value_heads ?? nHead, dHead = config.head_dim ?? C / nHead;
  const F = config.intermediate_size, V = config.vocab_size, eps = config.rms_norm_eps;
  const nRep = nHead / nKv, invFreq = ropeInvFreq(config, dHead), T = ids.length;
  const emb = t("model.embed_tokens.weight");
  let h = Array.from(ids, (id) => emb.slice(id * C, (id + 1) * C));  // [T][C]
  for (let l = 0; l < config.num_hidden_layers; l++) {
    const p = `model.layers.${l}.`;
    const Q = [], K = [], Vv = [];
    for (let pos = 0; pos < T; pos++) {
      const x = rmsNorm(h[pos], t(p + "input_layernorm.weight"), eps);
      const q = linear(t(p + "self_attn.q_proj.weight"), x, nHead * dHead, C, opt(p + "self_attn.q_proj.bias"));
      const k = linear(t(p + "self_attn.k_proj.weight"), x, nKv * dHead, C, opt(p + "self_attn.k_proj.bias"));
      const v = linear(t(p + "self_attn.v_proj.weight"), x, nKv * dHead, C, opt(p + "self_attn.v_proj.bias"));
      for (let hh = 0; hh < nHead; hh++) rope(q, hh * dHead, dHead, pos, invFreq);
      for (let hh = 0; hh < nKv; hh++) rope(k, hh * dHead, dHead, pos, invFreq);
      Q.push(q); K.push(k); Vv.push(v);
    }
    const next = [];
    for (let i = 0; i < T; i++) {
      const attn = new Float64Array(nHead * dHead);
      for (let hh = 0; hh < nHead; hh++) {
        const kvh = Math.floor(hh / nRep);
        const lo = window == null ? 0 : Math.max(0, i - window + 1);
        const scores = [];
        for (let j = lo; j <= i; j++) {
          let s = 0;
          for (let d = 0; d < dHead; d++) s += Q[i][hh * dHead + d] * K[j][kvh * dHead + d];
          scores.push(s / Math.sqrt(dHead));
        }
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const z = e.reduce((a, b) => a + b, 0);
        for (let j = lo; j <= i; j++)
          for (let d = 0; d < dHead; d++) attn[hh * dHead + d] += e[j - lo] / z * Vv[j][kvh * dHead + d];
      }
      const o = linear(t(p + "self_attn.o_proj.weight"), attn, C, nHead * dHead);
      const r = h[i].map((v, c) => v + o[c]);
      const x2 = rmsNorm(r, t(p + "post_attention_layernorm.weight"), eps);
      const g = linear(t(p + "mlp.gate_proj.weight"), x2, F, C);
      const u = linear(t(p + "mlp.up_proj.weight"), x2, F, C);
      const a = g.map((gv, f) => gv / (1 + Math.exp(-gv)) * u[f]);
      const dn = linear(t(p + "mlp.down_proj.weight"), a, C, F);
      next.push(r.map((v, c) => v + dn[c]));
    }
    h = next;
  }
  const head = config.tie_word_embeddings ? emb : t("lm_head.weight");
  return h.map((x) => linear(head, rmsNorm(x, t("model.norm.weight"), eps), V, C));
}

// The window transformers applies: Mistral's sliding_window; Qwen2's only with use_sliding_window.
export function hfWindow(config) {
  if (config.model_type === "mistral") return config.sliding_window ?? null;
  if (config.model_type === "qwen2" && config.use_sliding_window) return config.sliding_window ?? null;
  return null;
}
