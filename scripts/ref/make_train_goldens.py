#!/usr/bin/python3
"""Golden training files for tunekit's Trainable (whole-model forward/backward, LoRA and full).

For three of the tiny models of tests/golden/models (Llama GQA with tied embeddings, Qwen2 with qkv
bias, Mistral with a sliding window of 8) it computes, in float64 with torch autograd:

    loss and gradients of  Σ_t w_t · CE_t  over a fixed packed micro-batch (2 rows of 20 tokens,
    several samples per row, RoPE positions restarting per sample, no attention across samples,
    fractional prompt weights, -1 targets), for
      (a) LoRA (rank 4, alpha 8, rslora off, non-zero B) on all 7 linear modules, and
      (b) full fine-tuning (every weight; a tied embedding gets both of its gradients);
    for llama_gqa_tied also
      (c) (a) with LoRA dropout 0.1, its masks drawn by the counter-based hash below (the C++ side
          draws the same masks from the same seed), and
      (d) 10-step trajectories, LoRA (lr 1e-3) and full (lr 1e-4): torch.optim.AdamW (betas 0.9,
          0.999, eps 1e-8, weight decay 0.01 on 2-D weights, 0 on norms and biases), warmup 2 steps
          then cosine to 0 at step 10 (transformers' get_cosine_schedule_with_warmup, reimplemented),
          clip_grad_norm_(1.0), 2 micro-batches per step, the loss divided by the step's total
          weight. Recorded per step: loss, gradient norm before clipping, learning rate; after the
          last step: the loss and (LoRA) the parameters.

The model math reuses make_model_goldens.py (transformers 4.47's Llama/Mistral/Qwen2, mirrored) and
its committed model files; only packing and LoRA are added here.

    tests/golden/train/<model>/golden.safetensors

Run: /usr/bin/python3 scripts/ref/make_train_goldens.py [--out DIR]   (Debian python3-torch; ~10 s)
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_model_goldens as mg  # noqa: E402
import safetensors_io  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MODELS_DIR = os.path.join(ROOT, "tests", "golden", "models")
OUT_DIR = os.path.join(ROOT, "tests", "golden", "train")

CASES = [
    dict(name="llama_gqa_tied", extras=True),
    dict(name="qwen2_bias", extras=False),
    dict(name="mistral_swa", extras=False),
]

SEQ = 20  # tokens per row
# Two micro-batches; per row the packed samples as (length, prompt length). Padding fills the row.
# Samples of 9, 10 and 12 tokens are longer than Mistral's window of 8.
BATCH_LAYOUTS = [
    [[(7, 2), (9, 3), (4, 1)], [(12, 4), (5, 2)]],
    [[(10, 3), (10, 2)], [(6, 2), (6, 1), (5, 2)]],
]
PROMPT_WEIGHT = 0.3  # loss weight of targets that are prompt tokens (completion targets weigh 1)

LORA_RANK = 4
LORA_ALPHA = 8.0  # scale alpha / r = 2
LORA_STD_A = 0.5
LORA_STD_B = 0.3  # non-zero so that every A (and everything below it) gets a gradient
DROPOUT = 0.1
DROPOUT_SEED = 12345
MODULES = [("self_attn", "q_proj"), ("self_attn", "k_proj"), ("self_attn", "v_proj"), ("self_attn", "o_proj"),
           ("mlp", "gate_proj"), ("mlp", "up_proj"), ("mlp", "down_proj")]

STEPS = 10
WARMUP = 2
LR = {"lora": 1e-3, "full": 1e-4}
WEIGHT_DECAY = 0.01
MAX_NORM = 1.0


# ----------------------------------------------------------------------------------------------
# the packed batch (tunekit/train/batch.h)


def make_batch(layout, vocab, seed):
    """tokens, targets, weights, positions, seg_start: flat [n_row * SEQ] tensors."""
    g = torch.Generator().manual_seed(seed)
    n = len(layout) * SEQ
    tokens = torch.randint(1, vocab, (n,), generator=g, dtype=torch.int64)
    targets = torch.full((n,), -1, dtype=torch.int64)
    weights = torch.zeros(n, dtype=torch.float64)
    positions = torch.zeros(n, dtype=torch.int64)
    seg_start = torch.zeros(n, dtype=torch.int64)
    for r, samples in enumerate(layout):
        t = r * SEQ
        for length, prompt in samples:
            for i in range(length):
                positions[t + i] = i
                seg_start[t + i] = t
                if i + 1 < length:
                    targets[t + i] = tokens[t + i + 1]
                    weights[t + i] = PROMPT_WEIGHT if i + 1 < prompt else 1.0
            t += length
        pad = (r + 1) * SEQ - t
        assert pad >= 0
        tokens[t:t + pad] = 0  # padding: one segment of its own, no targets
        positions[t:t + pad] = torch.arange(pad)
        seg_start[t:t + pad] = t
    return dict(tokens=tokens, targets=targets, weights=weights, positions=positions, seg_start=seg_start,
                n_row=len(layout))


# ----------------------------------------------------------------------------------------------
# LoRA dropout masks: a counter-based hash, so that any implementation draws the same masks.
#   key   = splitmix64(splitmix64(seed) ^ (layer * 7 + module))      module: q, k, v, o, gate, up, down = 0..6
#   keep[t, i] = (splitmix64(key ^ (t * d_in + i)) >> 40) / 2^24 >= p  for flat token t, input feature i
# and the kept values are scaled by 1 / (1 - p) (inverted dropout).

_U64 = np.uint64


def splitmix64(z):
    with np.errstate(over="ignore"):  # arithmetic mod 2^64 is the point
        z = np.asarray(z, dtype=_U64) + _U64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
        return z ^ (z >> _U64(31))


def dropout_keep(seed, layer, module, n_tokens, d_in, p):
    key = splitmix64(splitmix64(np.array(seed, dtype=_U64)) ^ _U64(layer * 7 + module))
    h = splitmix64(key ^ np.arange(n_tokens * d_in, dtype=_U64))
    u = (h >> _U64(40)).astype(np.float64) / float(1 << 24)
    return torch.from_numpy((u >= p).reshape(n_tokens, d_in))


# ----------------------------------------------------------------------------------------------
# the model over a packed batch, with optional LoRA


def load_model(name):
    folder = os.path.join(MODELS_DIR, name)
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    w, _ = safetensors_io.load(os.path.join(folder, "model.safetensors"))
    return cfg, {k: v.double() for k, v in w.items()}


def lora_name(layer, block, module, ab):
    return f"base_model.model.model.layers.{layer}.{block}.{module}.lora_{ab}.weight"


def init_lora(cfg, w, seed):
    g = torch.Generator().manual_seed(seed)
    out = {}
    for i in range(cfg["num_hidden_layers"]):
        for block, module in MODULES:
            d_out, d_in = w[f"model.layers.{i}.{block}.{module}.weight"].shape
            out[lora_name(i, block, module, "A")] = (torch.randn(LORA_RANK, d_in, generator=g) * LORA_STD_A).float()
            out[lora_name(i, block, module, "B")] = (torch.randn(d_out, LORA_RANK, generator=g) * LORA_STD_B).float()
    return out


def train_forward(cfg, w, batch, lora=None, dropout=None, opts=None):
    """Σ w·CE over the packed batch, and the logits [N, V]. w / lora: float64 tensors by HF / PEFT name.
    dropout: (p, seed) for LoRA dropout. opts: deliberate mistakes for the sensitivity checks only."""
    opts = opts or {}
    D = cfg["hidden_size"]
    H, Hkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    Dh = D // H
    eps = cfg["rms_norm_eps"]
    tokens, positions, seg = batch["tokens"], batch["positions"], batch["seg_start"]
    N = tokens.shape[0]
    cos, sin = mg.rope_cos_sin(mg.inv_freq_of(cfg), positions)  # float32 like transformers, [1, N, Dh]
    cos, sin = cos.double(), sin.double()
    # token t sees s with seg_start[t] <= s <= t (and s > t - window): each sample attends only to itself
    s_idx, t_idx = torch.arange(N)[None, :], torch.arange(N)[:, None]
    allowed = (s_idx <= t_idx) & (s_idx >= (t_idx // SEQ * SEQ if opts.get("cross_talk") else seg[:, None]))
    window = mg.sliding_window_of(cfg)
    if window is not None and not opts.get("no_window"):
        allowed &= s_idx > t_idx - window
    mask = torch.zeros(N, N, dtype=torch.float64).masked_fill(~allowed, float("-inf"))
    scale = LORA_ALPHA / LORA_RANK

    def lin(x, layer, mi):
        block, module = MODULES[mi]
        p = f"model.layers.{layer}.{block}.{module}."
        y = F.linear(x, w[p + "weight"], w.get(p + "bias"))
        if lora is None:
            return y
        xd = x
        if dropout is not None:
            keep = dropout_keep(dropout[1], layer, mi, N, x.shape[-1], dropout[0])
            xd = x * keep.double() / (1.0 - dropout[0])
        A, B = lora[lora_name(layer, block, module, "A")], lora[lora_name(layer, block, module, "B")]
        return y + scale * F.linear(F.linear(xd, A), B)

    h = F.embedding(tokens, w["model.embed_tokens.weight"])  # [N, D]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        x = mg.rms_norm(h, w[p + "input_layernorm.weight"], eps)
        q = lin(x, i, 0).view(N, H, Dh).transpose(0, 1)[None]    # [1, H, N, Dh]
        k = lin(x, i, 1).view(N, Hkv, Dh).transpose(0, 1)[None]  # [1, Hkv, N, Dh]
        v = lin(x, i, 2).view(N, Hkv, Dh).transpose(0, 1)[None]
        q, k = mg.apply_rotary_pos_emb(q, k, cos, sin)
        k, v = mg.repeat_kv(k, H // Hkv), mg.repeat_kv(v, H // Hkv)
        att = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(Dh) + mask  # [1, H, N, N]
        o = torch.matmul(F.softmax(att, dim=-1), v)                      # [1, H, N, Dh]
        h = h + lin(o[0].transpose(0, 1).reshape(N, H * Dh), i, 3)
        x = mg.rms_norm(h, w[p + "post_attention_layernorm.weight"], eps)
        h = h + lin(F.silu(lin(x, i, 4)) * lin(x, i, 5), i, 6)
    h = mg.rms_norm(h, w["model.norm.weight"], eps)
    lm_head = w["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else w["lm_head.weight"]
    logits = F.linear(h, lm_head)  # [N, V]
    targets = batch["targets"]
    valid = targets >= 0
    ce = -F.log_softmax(logits, dim=-1).gather(1, targets.clamp(min=0)[:, None])[:, 0]
    weights = valid.double() if opts.get("weights_ignored") else batch["weights"]
    return (ce * weights * valid).sum(), logits


def weight_sum(batch):
    return float((batch["weights"] * (batch["targets"] >= 0)).sum())


# ----------------------------------------------------------------------------------------------
# gradients and trajectories


def leaves(tensors):
    return {k: v.double().clone().requires_grad_(True) for k, v in tensors.items()}


def gradients(cfg, w, batch, lora=None, dropout=None):
    """(loss, {name: grad}) for LoRA (lora given: grads of A/B) or full fine-tuning (grads of w)."""
    if lora is not None:
        params = leaves(lora)
        loss, _ = train_forward(cfg, w, batch, params, dropout)
    else:
        params = leaves(w)
        loss, _ = train_forward(cfg, params, batch)
    loss.backward()
    return float(loss), {k: p.grad.float() for k, p in params.items()}


def cosine_with_warmup(step):
    """transformers.get_cosine_schedule_with_warmup's lr_lambda (num_cycles 0.5)."""
    if step < WARMUP:
        return float(step) / float(max(1, WARMUP))
    progress = float(step - WARMUP) / float(max(1, STEPS - WARMUP))
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress)))


def trajectory(cfg, w, batches, lora=None):
    """10 optimizer steps of 2 micro-batches each. Returns per-step loss, grad norm, lr, the loss after
    the last step and the final trainable parameters."""
    mode = "lora" if lora is not None else "full"
    params = leaves(lora if lora is not None else w)
    decay = [p for p in params.values() if p.dim() == 2]
    no_decay = [p for p in params.values() if p.dim() != 2]
    groups = [{"params": decay, "weight_decay": WEIGHT_DECAY}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    opt = torch.optim.AdamW(groups, lr=LR[mode], betas=(0.9, 0.999), eps=1e-8)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, cosine_with_warmup)

    def loss_of(batch):
        if lora is not None:
            return train_forward(cfg, w, batch, params)[0]
        return train_forward(cfg, params, batch)[0]

    total = sum(weight_sum(b) for b in batches)
    losses, norms, lrs = [], [], []
    for _ in range(STEPS):
        opt.zero_grad()
        step_loss = 0.0
        for b in batches:
            loss = loss_of(b) / total
            loss.backward()
            step_loss += float(loss)
        lrs.append(opt.param_groups[0]["lr"])
        norms.append(float(torch.nn.utils.clip_grad_norm_(list(params.values()), MAX_NORM)))
        opt.step()
        sched.step()
        losses.append(step_loss)
    with torch.no_grad():
        final_loss = sum(float(loss_of(b)) for b in batches) / total
    return losses, norms, lrs, final_loss, {k: p.detach().float() for k, p in params.items()}


# ----------------------------------------------------------------------------------------------
# checks and output


def relerr(a, b):
    return float((a.double() - b.double()).norm() / b.double().norm())


def check_packed_forward(cfg, w, batch):
    """A sample inside a packed row gets exactly the logits it gets alone (make_model_goldens.forward,
    the transformers mirror with its own causal mask and KV-cache path)."""
    _, logits = train_forward(cfg, w, batch)
    seg = batch["seg_start"]
    for start in sorted(set(seg.tolist())):
        idx = (seg == start).nonzero()[:, 0]
        alone, _, _ = mg.forward(cfg, w, batch["tokens"][idx])
        d = float((alone - logits[idx]).abs().max())
        assert d < 1e-5, (start, d)


def sensitivity(cfg, w, batch, lora):
    """Deliberate mistakes must fail the C++ tests by a wide margin: move the loss by > 10x its 1e-5
    relative tolerance, or some LoRA gradient tensor by > 10x its 1e-3. (Not restarting the positions
    per sample is no such mistake: with attention confined to the sample, RoPE only sees position
    differences.) Returns {mistake: (relative loss change, largest relative gradient change)}."""
    def loss_and_grads(**kw):
        params = leaves(lora)
        loss, _ = train_forward(cfg, w, batch, params, **kw)
        loss.backward()
        return float(loss), {k: p.grad for k, p in params.items()}

    base, base_grads = loss_and_grads()
    mistakes = ["cross_talk", "weights_ignored"] + (["no_window"] if mg.sliding_window_of(cfg) is not None else [])
    sens = {}
    for m in mistakes:
        loss, grads = loss_and_grads(opts={m: True})
        sens[m] = (abs(loss / base - 1), max(relerr(grads[k], base_grads[k]) for k in grads))
        assert sens[m][0] > 1e-4 or sens[m][1] > 1e-2, (m, sens[m])
    return sens


def batch_tensors(prefix, b):
    return {f"{prefix}.tokens": b["tokens"].to(torch.int32), f"{prefix}.targets": b["targets"].to(torch.int32),
            f"{prefix}.weights": b["weights"].float(), f"{prefix}.positions": b["positions"].to(torch.int32),
            f"{prefix}.seg_start": b["seg_start"].to(torch.int32)}


def run_case(case, index):
    name = case["name"]
    cfg, w = load_model(name)
    V = cfg["vocab_size"]
    batches = [make_batch(layout, V, 2000 + 10 * index + j) for j, layout in enumerate(BATCH_LAYOUTS)]
    lora = init_lora(cfg, w, 3000 + index)
    lora64 = {k: v.double() for k, v in lora.items()}
    check_packed_forward(cfg, w, batches[0])
    sens = sensitivity(cfg, w, batches[0], lora64)

    out = {}
    meta = {"generator": "scripts/ref/make_train_goldens.py", "model": f"tests/golden/models/{name}",
            "n_row": str(len(BATCH_LAYOUTS[0])), "seq_len": str(SEQ), "lora_rank": str(LORA_RANK),
            "lora_alpha": repr(LORA_ALPHA), "rslora": "false"}
    for j, b in enumerate(batches):
        out.update(batch_tensors(f"batch{j}", b))
        meta[f"batch{j}.weight_sum"] = repr(weight_sum(b))
    out.update({f"lora_init.{k}": v for k, v in lora.items()})

    loss, grads = gradients(cfg, w, batches[0], lora64)
    meta["lora.loss"] = repr(loss)
    out.update({f"lora.grad.{k}": v for k, v in grads.items()})
    loss_full, grads_full = gradients(cfg, w, batches[0])
    meta["full.loss"] = repr(loss_full)
    out.update({f"full.grad.{k}": v for k, v in grads_full.items()})
    assert abs(loss_full - loss) / loss > 1e-3  # the LoRA moves the loss
    assert all(float(g.abs().max()) > 0 for g in grads.values())
    assert all(float(g.abs().max()) > 0 for g in grads_full.values())
    line = f"{name:15s} loss lora {loss:.6f} full {loss_full:.6f}"

    if case["extras"]:
        loss_d, grads_d = gradients(cfg, w, batches[0], lora64, (DROPOUT, DROPOUT_SEED))
        meta.update({"dropout.p": repr(DROPOUT), "dropout.seed": str(DROPOUT_SEED), "dropout.loss": repr(loss_d)})
        out.update({f"dropout.grad.{k}": v for k, v in grads_d.items()})
        worst = min(relerr(grads_d[k], grads[k]) for k in grads)
        assert worst > 1e-2, worst  # every tensor's gradient sees the masks
        line += f" dropout {loss_d:.6f} (grads move >= {worst:.2e} rel)"
        for mode, lr_lora in (("lora", lora64), ("full", None)):
            losses, norms, lrs, final_loss, final = trajectory(cfg, w, batches, lr_lora)
            assert any(n > MAX_NORM for n in norms), (mode, norms)  # clipping is exercised
            out[f"traj.{mode}.loss"] = torch.tensor(losses, dtype=torch.float32)
            out[f"traj.{mode}.grad_norm"] = torch.tensor(norms, dtype=torch.float32)
            out[f"traj.{mode}.lr"] = torch.tensor(lrs, dtype=torch.float32)
            meta[f"traj.{mode}.final_loss"] = repr(final_loss)
            meta[f"traj.{mode}.lr"] = repr(LR[mode])
            if mode == "lora":
                out.update({f"traj.lora.final.{k}": v for k, v in final.items()})
            line += (f"\n    {mode} trajectory loss {losses[0]:.5f} -> {losses[-1]:.5f} -> {final_loss:.5f}, "
                     "grad norms " + " ".join(f"{n:.2f}" for n in norms))
        meta.update({"traj.steps": str(STEPS), "traj.warmup": str(WARMUP), "traj.weight_decay": repr(WEIGHT_DECAY),
                     "traj.max_norm": repr(MAX_NORM)})

    folder = os.path.join(OUT_DIR, name)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "golden.safetensors")
    safetensors_io.save(path, {k: v.contiguous() for k, v in out.items()}, meta)
    back, back_meta = safetensors_io.load(path)
    assert set(back) == set(out) and back_meta == meta, name
    print(line)
    print("    sensitivity (relative change of loss, of the most changed gradient): "
          + ", ".join(f"{k} {a:.1e} {b:.1e}" for k, (a, b) in sens.items()))


def main():
    global OUT_DIR
    if len(sys.argv) == 3 and sys.argv[1] == "--out":  # write elsewhere, e.g. to diff against the committed files
        OUT_DIR = os.path.abspath(sys.argv[2])
    elif len(sys.argv) != 1:
        sys.exit("usage: make_train_goldens.py [--out DIR]   (default: tests/golden/train)")
    torch.set_num_threads(1)
    os.makedirs(OUT_DIR, exist_ok=True)
    for index, case in enumerate(CASES):
        run_case(case, index)
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(OUT_DIR) for f in fs)
    print(f"wrote {OUT_DIR} ({total / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
