#!/usr/bin/python3
"""Golden model files for tunekit's numerics tests.

Builds tiny random decoders of every architecture tunekit supports (Llama, Mistral, Qwen2, plus
the llama3 and linear RoPE scalings and a bf16 checkpoint) and writes, for each, an HF model folder
and the tensors Hugging Face transformers (v4.47, eager attention, float32) computes for it:

    tests/golden/models/<name>/config.json         as transformers' save_pretrained writes it
    tests/golden/models/<name>/model.safetensors   HF tensor names (F32; BF16 for *_bf16)
    tests/golden/models/<name>/golden.safetensors  input_ids, logits, logits_step, hidden_layer0

The model math below re-implements transformers' modeling_llama / modeling_mistral /
modeling_qwen2 and modeling_rope_utils line by line in plain torch (no transformers needed).
See docs/testing.md for the layout, the conventions and the tolerances.

Run: /usr/bin/python3 scripts/ref/make_model_goldens.py   (Debian python3-torch; a few seconds)
"""
import copy
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT_DIR = os.path.join(ROOT, "tests", "golden", "models")
TRANSFORMERS_VERSION = "4.47.1"  # the version whose code and config.json layout is mirrored here

T = 24  # golden sequence length (> the Mistral window, so the window matters)

# Shapes shared by every model. Smaller than real models on purpose: the files are committed.
# d_head 8 with 4 query heads; hidden 32; intermediate 64 (a multiple of 32, so Q8_0/Q4_0 blocks fit
# every row); vocab 120 and T 24 are not multiples of 16, to catch tile-tail bugs.
BASE = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, vocab_size=120)

# Weight init: N(0, 0.02) for matrices, 1 + N(0, 0.1) for norms, N(0, 0.02) for biases. q_proj and
# k_proj use a larger std so that attention is far from uniform and RoPE, masks and the window
# change the logits by much more than the test tolerance (see the sensitivity checks below).
STD = 0.02
STD_QK = 0.35
STD_NORM = 0.1
STD_BIAS = 0.02
STD_QK_BIAS = 0.2

MODELS = [
    dict(name="llama_gqa_tied", arch="llama", seed=1001, num_key_value_heads=2, tie_word_embeddings=True,
         rope_theta=10000.0, rms_norm_eps=1e-5, max_position_embeddings=2048, rope_scaling=None),
    dict(name="mistral_swa", arch="mistral", seed=1002, num_key_value_heads=1, tie_word_embeddings=False,
         rope_theta=1000000.0, rms_norm_eps=1e-5, max_position_embeddings=32768, sliding_window=8),
    dict(name="qwen2_bias", arch="qwen2", seed=1003, num_key_value_heads=2, tie_word_embeddings=True,
         rope_theta=1000000.0, rms_norm_eps=1e-6, max_position_embeddings=32768, rope_scaling=None,
         use_sliding_window=False, sliding_window=8, max_window_layers=2),
    # original_max_position_embeddings 256 puts the 4 RoPE frequencies of d_head 8 at theta 500000
    # into all three llama3 regimes: wavelengths 6.28 (< 256/4: kept), 167 (between: smoothed),
    # 4443 and 118000 (> 256: divided by factor). main() asserts this.
    dict(name="llama3_rope", arch="llama", seed=1004, num_key_value_heads=2, tie_word_embeddings=False,
         rope_theta=500000.0, rms_norm_eps=1e-5, max_position_embeddings=2048,
         rope_scaling={"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                       "original_max_position_embeddings": 256, "rope_type": "llama3"}),
    # The legacy spelling {"type": "linear"} found in many hub configs (transformers >= 4.43 would
    # also write "rope_type"); loaders must accept both keys.
    dict(name="llama_linear_rope", arch="llama", seed=1005, num_key_value_heads=2, tie_word_embeddings=True,
         rope_theta=10000.0, rms_norm_eps=1e-5, max_position_embeddings=4096,
         rope_scaling={"factor": 2.0, "type": "linear"}),
]
BF16_OF = "llama_gqa_tied"  # llama_gqa_tied_bf16: the same model stored as BF16


# ----------------------------------------------------------------------------------------------
# config.json


def hf_config(spec, torch_dtype="float32"):
    """config.json as transformers 4.47 save_pretrained writes it (to_diff_dict, sorted keys)."""
    arch = spec["arch"]
    c = dict(BASE)
    c.update(num_key_value_heads=spec["num_key_value_heads"], rms_norm_eps=spec["rms_norm_eps"],
             rope_theta=spec["rope_theta"], max_position_embeddings=spec["max_position_embeddings"],
             tie_word_embeddings=spec["tie_word_embeddings"], hidden_act="silu", torch_dtype=torch_dtype,
             bos_token_id=1, eos_token_id=2, initializer_range=0.02, use_cache=True, attention_dropout=0.0,
             transformers_version=TRANSFORMERS_VERSION)
    head_dim = BASE["hidden_size"] // BASE["num_attention_heads"]
    if arch == "llama":
        c.update(architectures=["LlamaForCausalLM"], model_type="llama", attention_bias=False, mlp_bias=False,
                 head_dim=head_dim, pretraining_tp=1, rope_scaling=copy.deepcopy(spec["rope_scaling"]))
    elif arch == "mistral":
        # MistralConfig (4.47) has no rope_scaling field; it does write head_dim and sliding_window.
        c.update(architectures=["MistralForCausalLM"], model_type="mistral", head_dim=head_dim,
                 sliding_window=spec["sliding_window"])
    elif arch == "qwen2":
        c.update(architectures=["Qwen2ForCausalLM"], model_type="qwen2", rope_scaling=copy.deepcopy(spec["rope_scaling"]),
                 use_sliding_window=spec["use_sliding_window"], sliding_window=spec["sliding_window"],
                 max_window_layers=spec["max_window_layers"])
    else:
        raise ValueError(arch)
    return c


def write_json(path, obj):
    with open(path, "w") as f:
        f.write(json.dumps(obj, indent=2, sort_keys=True) + "\n")


# ----------------------------------------------------------------------------------------------
# weights


def init_weights(cfg, seed):
    """HF-named f32 weights. Tied models have no lm_head.weight (as HF saves them)."""
    g = torch.Generator().manual_seed(seed)
    D, Dff, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    H, Hkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    Dh = D // H

    def normal(shape, std, mean=0.0):
        return torch.randn(*shape, generator=g, dtype=torch.float32) * std + mean

    w = {"model.embed_tokens.weight": normal((V, D), STD)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = normal((D,), STD_NORM, 1.0)
        w[p + "self_attn.q_proj.weight"] = normal((H * Dh, D), STD_QK)
        w[p + "self_attn.k_proj.weight"] = normal((Hkv * Dh, D), STD_QK)
        w[p + "self_attn.v_proj.weight"] = normal((Hkv * Dh, D), STD)
        w[p + "self_attn.o_proj.weight"] = normal((D, H * Dh), STD)
        if cfg["model_type"] == "qwen2":
            w[p + "self_attn.q_proj.bias"] = normal((H * Dh,), STD_QK_BIAS)
            w[p + "self_attn.k_proj.bias"] = normal((Hkv * Dh,), STD_QK_BIAS)
            w[p + "self_attn.v_proj.bias"] = normal((Hkv * Dh,), STD_BIAS)
        w[p + "post_attention_layernorm.weight"] = normal((D,), STD_NORM, 1.0)
        w[p + "mlp.gate_proj.weight"] = normal((Dff, D), STD)
        w[p + "mlp.up_proj.weight"] = normal((Dff, D), STD)
        w[p + "mlp.down_proj.weight"] = normal((D, Dff), STD)
    w["model.norm.weight"] = normal((D,), STD_NORM, 1.0)
    if not cfg["tie_word_embeddings"]:
        w["lm_head.weight"] = normal((V, D), STD)
    return w


# ----------------------------------------------------------------------------------------------
# RoPE: transformers.modeling_rope_utils.ROPE_INIT_FUNCTIONS and LlamaRotaryEmbedding


def rope_type_of(cfg):
    rs = cfg.get("rope_scaling")
    if cfg["model_type"] == "mistral" or rs is None:  # MistralRotaryEmbedding (4.47) ignores rope_scaling
        return "default"
    return rs.get("rope_type", rs.get("type"))


def inv_freq_of(cfg, rope_type=None):
    """[d_head/2] float32 inverse frequencies, computed exactly as transformers does.
    rope_types "llama3_unsmoothed" (medium band left as is) and "llama3_low_unscaled" (low band not
    divided by factor) are deliberate mistakes for the sensitivity checks only."""
    rope_type = rope_type or rope_type_of(cfg)
    base = cfg["rope_theta"]
    dim = cfg["hidden_size"] // cfg["num_attention_heads"]
    # _compute_default_rope_parameters
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    if rope_type == "default":
        return inv_freq
    rs = cfg["rope_scaling"]
    if rope_type == "linear":  # _compute_linear_scaling_rope_parameters
        inv_freq /= rs["factor"]
        return inv_freq
    if rope_type in ("llama3", "llama3_unsmoothed", "llama3_low_unscaled"):  # _compute_llama3_parameters
        factor = rs["factor"]
        low_freq_factor = rs["low_freq_factor"]
        high_freq_factor = rs["high_freq_factor"]
        old_context_len = rs["original_max_position_embeddings"]
        low_freq_wavelen = old_context_len / low_freq_factor
        high_freq_wavelen = old_context_len / high_freq_factor
        wavelen = 2 * math.pi / inv_freq
        inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
        if rope_type == "llama3_low_unscaled":
            inv_freq_llama = inv_freq.clone()
        smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
        smoothed_inv_freq = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
        is_medium_freq = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
        if rope_type == "llama3_unsmoothed":
            return inv_freq_llama
        return torch.where(is_medium_freq, smoothed_inv_freq, inv_freq_llama)
    raise ValueError(f"rope type {rope_type} not mirrored here")


def llama3_regimes(cfg):
    """For each frequency: 'high' (kept), 'medium' (smoothed) or 'low' (divided by factor)."""
    rs = cfg["rope_scaling"]
    dim = cfg["hidden_size"] // cfg["num_attention_heads"]
    inv = inv_freq_of(cfg, "default")
    wl = 2 * math.pi / inv
    lo = rs["original_max_position_embeddings"] / rs["low_freq_factor"]
    hi = rs["original_max_position_embeddings"] / rs["high_freq_factor"]
    out = []
    for x in wl.tolist():
        out.append("high" if x < hi else ("low" if x > lo else "medium"))
    assert len(out) == dim // 2
    return out, wl.tolist()


def rope_cos_sin(inv_freq, positions):
    """LlamaRotaryEmbedding.forward: (inv_freq[:, None] @ pos[None, :]).T, cat(freqs, freqs)."""
    inv_freq_expanded = inv_freq[None, :, None].float()               # [1, Dh/2, 1]
    position_ids_expanded = positions[None, None, :].float()           # [1, 1, T]
    freqs = (inv_freq_expanded @ position_ids_expanded).transpose(1, 2)  # [1, T, Dh/2]
    emb = torch.cat((freqs, freqs), dim=-1)                            # [1, T, Dh]
    attention_scaling = 1.0  # default/linear/llama3
    return emb.cos() * attention_scaling, emb.sin() * attention_scaling


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def rotate_interleaved(x):  # GPT-J / llama2.c pair layout: a deliberate bug for the sensitivity check
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack((-x2, x1), dim=-1).flatten(-2)


def apply_rotary_pos_emb(q, k, cos, sin, interleaved=False):
    cos = cos.unsqueeze(1)  # [B, 1, T, Dh]
    sin = sin.unsqueeze(1)
    if interleaved:
        cos = torch.repeat_interleave(cos[..., : cos.shape[-1] // 2], 2, dim=-1)
        sin = torch.repeat_interleave(sin[..., : sin.shape[-1] // 2], 2, dim=-1)
        return q * cos + rotate_interleaved(q) * sin, k * cos + rotate_interleaved(k) * sin
    return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin


# ----------------------------------------------------------------------------------------------
# the decoder (LlamaModel / MistralModel / Qwen2Model, eager attention, float32)


def rms_norm(x, weight, eps):  # LlamaRMSNorm
    input_dtype = x.dtype
    x = x.to(torch.float32)
    variance = x.pow(2).mean(-1, keepdim=True)
    x = x * torch.rsqrt(variance + eps)
    return weight * x.to(input_dtype)


def repeat_kv(x, n_rep):  # [B, Hkv, S, Dh] -> [B, Hkv * n_rep, S, Dh]; query head h uses kv head h // n_rep
    b, hkv, s, d = x.shape
    if n_rep == 1:
        return x
    return x[:, :, None, :, :].expand(b, hkv, n_rep, s, d).reshape(b, hkv * n_rep, s, d)


def sliding_window_of(cfg):
    """The window transformers 4.47 applies: Mistral's sliding_window; Qwen2's only if use_sliding_window
    (Qwen2Config sets sliding_window = None otherwise); Llama none."""
    if cfg["model_type"] == "mistral":
        return cfg.get("sliding_window")
    if cfg["model_type"] == "qwen2" and cfg.get("use_sliding_window"):
        return cfg.get("sliding_window")
    return None


def causal_mask(q_pos, n_keys, window):
    """_prepare_4d_causal_attention_mask_with_cache_position: 0 where query i may see key j, else the
    float32 minimum. Masked: j > i, and with a window W also j <= i - W (so i - W < j <= i: W keys)."""
    min_dtype = torch.finfo(torch.float32).min
    mask = torch.full((q_pos.shape[0], n_keys), fill_value=min_dtype, dtype=torch.float32)
    key_pos = torch.arange(n_keys)
    masked = key_pos > q_pos.reshape(-1, 1)
    if window is not None:
        masked = masked | (key_pos <= (q_pos.reshape(-1, 1) - window))
    mask *= masked
    return mask[None, None, :, :]  # [1, 1, Tq, Tk]


def forward(cfg, w, input_ids, cache=None, opts=None):
    """Runs input_ids [Tq] after the cached positions. Returns (logits [Tq, V], hidden after layer 0
    [Tq, D], cache). cache: per layer (k, v) [1, Hkv, S, Dh] after RoPE, before repeat_kv (DynamicCache).
    opts: deliberate deviations for the sensitivity checks only."""
    opts = opts or {}
    D = cfg["hidden_size"]
    H, Hkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    Dh = D // H
    n_rep = H // Hkv
    eps = cfg["rms_norm_eps"]
    past = 0 if not cache else cache[0][0].shape[2]
    cache = list(cache) if cache else [None] * cfg["num_hidden_layers"]
    Tq = input_ids.shape[0]
    cache_position = torch.arange(past, past + Tq)

    inv_freq = inv_freq_of(cfg, opts.get("rope_type"))
    cos, sin = rope_cos_sin(inv_freq, cache_position)
    window = opts.get("window", sliding_window_of(cfg))
    if opts.get("window_plus_one") and window is not None:
        window = window + 1
    mask = causal_mask(cache_position, past + Tq, window)

    h = F.embedding(input_ids[None, :].long(), w["model.embed_tokens.weight"])  # [1, Tq, D]
    hidden_layer0 = None
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        residual = h
        x = rms_norm(h, w[p + "input_layernorm.weight"], eps)
        q = F.linear(x, w[p + "self_attn.q_proj.weight"], w.get(p + "self_attn.q_proj.bias"))
        k = F.linear(x, w[p + "self_attn.k_proj.weight"], w.get(p + "self_attn.k_proj.bias"))
        v = F.linear(x, w[p + "self_attn.v_proj.weight"], w.get(p + "self_attn.v_proj.bias"))
        q = q.view(1, Tq, -1, Dh).transpose(1, 2)  # [1, H, Tq, Dh]
        k = k.view(1, Tq, -1, Dh).transpose(1, 2)  # [1, Hkv, Tq, Dh]
        v = v.view(1, Tq, -1, Dh).transpose(1, 2)
        q, k = apply_rotary_pos_emb(q, k, cos, sin, interleaved=opts.get("interleaved_rope", False))
        if cache[i] is not None:
            k = torch.cat([cache[i][0], k], dim=2)
            v = torch.cat([cache[i][1], v], dim=2)
        cache[i] = (k, v)
        if opts.get("kv_modulo"):  # wrong GQA mapping h -> h % Hkv
            idx = torch.arange(H) % Hkv
            k_r, v_r = k[:, idx], v[:, idx]
        else:
            k_r, v_r = repeat_kv(k, n_rep), repeat_kv(v, n_rep)
        attn = torch.matmul(q, k_r.transpose(2, 3)) / math.sqrt(Dh)  # [1, H, Tq, S]
        attn = attn + mask[:, :, :, : k_r.shape[-2]]
        attn = F.softmax(attn, dim=-1, dtype=torch.float32).to(q.dtype)
        o = torch.matmul(attn, v_r)                                     # [1, H, Tq, Dh]
        o = o.transpose(1, 2).contiguous().reshape(1, Tq, -1)
        o = F.linear(o, w[p + "self_attn.o_proj.weight"])
        h = residual + o
        residual = h
        x = rms_norm(h, w[p + "post_attention_layernorm.weight"], eps)
        x = F.linear(F.silu(F.linear(x, w[p + "mlp.gate_proj.weight"])) * F.linear(x, w[p + "mlp.up_proj.weight"]),
                     w[p + "mlp.down_proj.weight"])
        h = residual + x
        if i == 0:
            hidden_layer0 = h[0].clone()
    h = rms_norm(h, w["model.norm.weight"], eps)
    lm_head = w["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else w["lm_head.weight"]
    logits = F.linear(h, lm_head)
    return logits[0], hidden_layer0, cache


def naive_forward(cfg, w, input_ids):
    """An independent, loop-per-head/per-position implementation (float64) used only to cross-check
    forward(): explicit rotation angles, explicit window test, kv head = h // (H / Hkv)."""
    D = cfg["hidden_size"]
    H, Hkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    Dh = D // H
    eps = cfg["rms_norm_eps"]
    window = sliding_window_of(cfg)
    wd = {k: v.double() for k, v in w.items()}
    inv = inv_freq_of(cfg).double()
    n = input_ids.shape[0]

    def norm(x, g):
        return g * x / torch.sqrt((x * x).mean() + eps)

    def rope(vec, pos):  # vec [Dh]: pairs (j, j + Dh/2) rotated by pos * inv[j]
        out = vec.clone()
        half = Dh // 2
        for j in range(half):
            a = pos * float(inv[j].float())  # angle in f32 like HF, then used in f64
            c, s = math.cos(a), math.sin(a)
            out[j] = vec[j] * c - vec[j + half] * s
            out[j + half] = vec[j + half] * c + vec[j] * s
        return out

    hs = [wd["model.embed_tokens.weight"][int(t)] for t in input_ids]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."

        def lin(x, name):
            y = wd[p + name + ".weight"] @ x
            b = wd.get(p + name + ".bias")
            return y + b if b is not None else y

        xs = [norm(h, wd[p + "input_layernorm.weight"]) for h in hs]
        qs = [lin(x, "self_attn.q_proj") for x in xs]
        ks = [lin(x, "self_attn.k_proj") for x in xs]
        vs = [lin(x, "self_attn.v_proj") for x in xs]
        new = []
        for t in range(n):
            heads = []
            for hh in range(H):
                g = hh // (H // Hkv)
                qv = rope(qs[t][hh * Dh:(hh + 1) * Dh], t)
                js = [j for j in range(t + 1) if window is None or j > t - window]
                sc = torch.tensor([float(qv @ rope(ks[j][g * Dh:(g + 1) * Dh], j)) / math.sqrt(Dh) for j in js],
                                  dtype=torch.float64)
                pr = torch.softmax(sc, 0)
                heads.append(sum(pr[m] * vs[j][g * Dh:(g + 1) * Dh] for m, j in enumerate(js)))
            o = wd[p + "self_attn.o_proj.weight"] @ torch.cat(heads)
            h1 = hs[t] + o
            x = norm(h1, wd[p + "post_attention_layernorm.weight"])
            gate = wd[p + "mlp.gate_proj.weight"] @ x
            up = wd[p + "mlp.up_proj.weight"] @ x
            new.append(h1 + wd[p + "mlp.down_proj.weight"] @ (gate * torch.sigmoid(gate) * up))
        hs = new
    head = wd["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else wd["lm_head.weight"]
    return torch.stack([head @ norm(h, wd["model.norm.weight"]) for h in hs])


# ----------------------------------------------------------------------------------------------
# checks and output


def maxdiff(a, b):
    return float((a.double() - b.double()).abs().max())


def mha_equivalent(cfg, w):
    """The same model with every kv head duplicated for its n_rep query heads (n_kv = n_head)."""
    H, Hkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    Dh = cfg["hidden_size"] // H
    n_rep = H // Hkv
    cfg2 = dict(cfg, num_key_value_heads=H)
    w2 = dict(w)
    for name in list(w):
        if any(s in name for s in ("k_proj", "v_proj")):
            t = w[name].reshape(Hkv, Dh, *w[name].shape[1:])
            w2[name] = t.repeat_interleave(n_rep, dim=0).reshape(H * Dh, *w[name].shape[1:])
    return cfg2, w2


def build(spec, bf16=False):
    cfg = hf_config(spec, "bfloat16" if bf16 else "float32")
    w = init_weights(cfg, spec["seed"])
    if bf16:
        w = {k: v.to(torch.bfloat16).to(torch.float32) for k, v in w.items()}  # what loading in f32 yields
    g = torch.Generator().manual_seed(spec["seed"] + 7)
    ids = torch.randint(0, cfg["vocab_size"], (T,), generator=g, dtype=torch.int64)
    return cfg, w, ids


def check_and_write(name, cfg, w, ids, bf16=False):
    logits, hidden0, _ = forward(cfg, w, ids)
    # incremental decoding: T-1 tokens, then the last one with the KV cache
    _, _, cache = forward(cfg, w, ids[: T - 1])
    logits_step, _, _ = forward(cfg, w, ids[T - 1:], cache)
    logits_step = logits_step[0]
    d_step = maxdiff(logits_step, logits[T - 1])
    assert d_step < 1e-5, (name, d_step)
    # token by token through the cache equals the full pass at every position
    cache = None
    for t in range(T):
        lt, _, cache = forward(cfg, w, ids[t:t + 1], cache)
        assert maxdiff(lt[0], logits[t]) < 1e-5, (name, t)
    # an independent per-head float64 implementation agrees
    d_naive = maxdiff(naive_forward(cfg, w, ids), logits)
    assert d_naive < 2e-5, (name, d_naive)
    # GQA: duplicating each kv head for its query heads (n_kv = n_head, plain MHA) changes nothing
    d_mha = maxdiff(forward(*mha_equivalent(cfg, w), ids)[0], logits)
    assert d_mha < 1e-5, (name, d_mha)

    # sensitivity: deliberate mistakes must move the logits far beyond the 1e-4 tolerance
    sens = {}
    sens["interleaved_rope"] = maxdiff(forward(cfg, w, ids, opts={"interleaved_rope": True})[0], logits)
    if cfg["num_key_value_heads"] > 1 and cfg["num_key_value_heads"] < cfg["num_attention_heads"]:
        sens["kv_head_h_mod_nkv"] = maxdiff(forward(cfg, w, ids, opts={"kv_modulo": True})[0], logits)
    if rope_type_of(cfg) != "default":
        sens["rope_scaling_ignored"] = maxdiff(forward(cfg, w, ids, opts={"rope_type": "default"})[0], logits)
    if rope_type_of(cfg) == "llama3":
        sens["llama3_medium_band_not_smoothed"] = maxdiff(
            forward(cfg, w, ids, opts={"rope_type": "llama3_unsmoothed"})[0], logits)
        sens["llama3_low_band_not_divided"] = maxdiff(
            forward(cfg, w, ids, opts={"rope_type": "llama3_low_unscaled"})[0], logits)
    if cfg["model_type"] == "mistral":
        sens["no_window"] = maxdiff(forward(cfg, w, ids, opts={"window": None})[0], logits)
        sens["window_sees_W_plus_1_keys"] = maxdiff(forward(cfg, w, ids, opts={"window_plus_one": True})[0], logits)
    if cfg["model_type"] == "qwen2":
        sens["window_applied_despite_use_sliding_window_false"] = maxdiff(
            forward(cfg, w, ids, opts={"window": cfg["sliding_window"]})[0], logits)
        wb = {k: (torch.zeros_like(v) if k.endswith(".bias") else v) for k, v in w.items()}
        sens["qkv_bias_dropped"] = maxdiff(forward(cfg, wb, ids)[0], logits)
    if not cfg["tie_word_embeddings"]:
        sens["tied_lm_head_used"] = maxdiff(forward(dict(cfg, tie_word_embeddings=True), w, ids)[0], logits)
    for k, v in sens.items():
        assert v > 1e-3, (name, k, v)

    folder = os.path.join(OUT_DIR, name)
    os.makedirs(folder, exist_ok=True)
    write_json(os.path.join(folder, "config.json"), cfg)
    stored = {k: (v.to(torch.bfloat16) if bf16 else v) for k, v in w.items()}
    safetensors_io.save(os.path.join(folder, "model.safetensors"), stored, {"format": "pt"})
    golden = {"input_ids": ids.to(torch.int32), "logits": logits.contiguous(), "logits_step": logits_step.contiguous(),
              "hidden_layer0": hidden0.contiguous()}
    safetensors_io.save(os.path.join(folder, "golden.safetensors"), golden,
                        {"generator": "scripts/ref/make_model_goldens.py", "mirrors": f"transformers {TRANSFORMERS_VERSION} eager float32",
                         "T": str(T)})
    # read back what was written
    back, _ = safetensors_io.load(os.path.join(folder, "model.safetensors"))
    assert set(back) == set(w) and all(torch.equal(back[k].float(), w[k]) for k in w), name
    gb, _ = safetensors_io.load(os.path.join(folder, "golden.safetensors"))
    assert torch.equal(gb["logits"], logits) and torch.equal(gb["input_ids"].long(), ids), name

    print(f"{name:22s} |logits|max {float(logits.abs().max()):.3f}  step-vs-full {d_step:.1e}  "
          f"naive64 {d_naive:.1e}  gqa-vs-mha {d_mha:.1e}")
    print("    sensitivity (max |dlogits|): " + ", ".join(f"{k} {v:.2e}" for k, v in sens.items()))
    return logits


def main():
    global OUT_DIR
    if len(sys.argv) == 3 and sys.argv[1] == "--out":  # write elsewhere, e.g. to diff against the committed files
        OUT_DIR = os.path.abspath(sys.argv[2])
    elif len(sys.argv) != 1:
        sys.exit("usage: make_model_goldens.py [--out DIR]   (default: tests/golden/models)")
    torch.set_num_threads(1)
    os.makedirs(OUT_DIR, exist_ok=True)
    results = {}
    for spec in MODELS:
        cfg, w, ids = build(spec)
        if rope_type_of(cfg) == "llama3":
            regimes, wl = llama3_regimes(cfg)
            assert {"high", "medium", "low"} <= set(regimes), regimes
            print("llama3 regimes per frequency:", ", ".join(f"{r} (wavelen {x:.1f})" for r, x in zip(regimes, wl)))
        results[spec["name"]] = check_and_write(spec["name"], cfg, w, ids)
    spec = next(s for s in MODELS if s["name"] == BF16_OF)
    cfg, w, ids = build(spec, bf16=True)
    logits = check_and_write(BF16_OF + "_bf16", cfg, w, ids, bf16=True)
    d = maxdiff(logits, results[BF16_OF])
    assert d > 1e-4, d  # the bf16 rounding is visible: a loader that ignored it would fail
    print(f"    bf16 rounding moves logits vs the f32 model by {d:.2e}")
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(OUT_DIR) for f in fs)
    print(f"wrote {OUT_DIR} ({total / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
