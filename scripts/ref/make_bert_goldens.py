#!/usr/bin/python3
"""Golden sentence-encoder folders for tunekit's dense-retrieval tests (src/rag/bert_*.cpp).

Builds two tiny random BERT sentence encoders as sentence-transformers folders and writes, for each,
the token ids and the pooled, L2-normalised vectors that the reference below computes:

    tests/golden/bert/minilm_mean/   all-MiniLM-style: F32 weights under bare BertModel names,
                                     tokenizer.json, mean pooling, max_seq_length 24
    tests/golden/bert/bge_cls/       bge-style: F16 weights under "bert." names plus unused pooler
                                     weights, vocab.txt only (no tokenizer.json), CLS pooling, and
                                     queries that carry bge's instruction
    tests/golden/bert/<name>/golden.json   {"pooling", "cases": [{"role", "prefix", "texts", "ids",
                                           "vectors"}]}: ids and vectors of prefix + text

The vocabulary is a reduced copy of the real all-MiniLM-L6-v2 WordPiece vocabulary (its first 3000
entries, which hold the special tokens, every single character and the most frequent words, plus
the "##" continuation of every ASCII letter and digit), so the word-embedding matrix stays small and
many words split into several pieces. Token ids come from the Python WordPiece tokenizer below, a
re-implementation of HF BertTokenizer (BasicTokenizer + WordpieceTokenizer). The model math
re-implements transformers' BertModel (modeling_bert: embeddings, post-LN encoder layers, exact-erf
GELU, additive padding mask) and sentence-transformers' Pooling + Normalize in plain torch.

Run: /usr/bin/python3 scripts/ref/make_bert_goldens.py   (Debian python3-torch; a few seconds)
"""
import json
import math
import os
import shutil
import sys
import unicodedata

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT_DIR = os.path.join(ROOT, "tests", "golden", "bert")
SHARED = os.environ.get("TUNEKIT_SHARED_DIR", os.path.join(ROOT, "..", "shared"))
MINILM = os.path.join(SHARED, "tokenizers", "all-MiniLM-L6-v2-no-weights")

N_VOCAB_HEAD = 3000  # first entries of the real vocabulary kept
BGE_INSTRUCTION = "Represent this sentence for searching relevant passages: "

# Init: large enough that attention is far from uniform and GELU far from linear, so that masks,
# pooling and every op change the vectors by much more than the tests' tolerance (checked below).
STD_EMB = 0.5
STD = 0.1
STD_QK = 0.35
STD_FFN = 0.4
STD_NORM = 0.1

BASE_CONFIG = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                   max_position_embeddings=40, type_vocab_size=2, layer_norm_eps=1e-12, hidden_act="gelu")

MODELS = [
    dict(name="minilm_mean", seed=2001, pooling="mean", dtype=torch.float32, prefix="", pooler=False,
         tokenizer_json=True, max_seq_length=24),
    dict(name="bge_cls", seed=2002, pooling="cls", dtype=torch.float16, prefix="bert.", pooler=True,
         tokenizer_json=False, max_seq_length=40),
]

# Texts of many lengths (batches need padding), casing, accents, punctuation, CJK, digits, a word
# with a character outside the vocabulary ([UNK]), an empty text and one longer than max_seq_length.
PASSAGES = [
    "Hello, world!",
    "The patient's blood glucose was 126 mg/dL after fasting.",
    "",
    "Café naïve résumé — ÜBER straße",
    "Insulin 中文 helps   cells\tabsorb glucose.",
    "unbelievably antidisestablishmentarianism",
    "snowman \u2603 and a ♞ knight",
    "Wash hands before and after every patient contact, and after removing gloves; use alcohol-based "
    "hand rub when hands are not visibly soiled.",
]
QUERIES = ["what lowers blood sugar?", "Hand hygiene", "HELLO world"]


# ----------------------------------------------------------------------------------------------
# Tokenizer: HF BertTokenizer's BasicTokenizer (do_lower_case, strip accents, CJK, punctuation)
# followed by WordpieceTokenizer (greedy longest match, "##", max 100 characters per word).


def is_whitespace(ch):
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def is_control(ch):
    return ch not in "\t\n\r" and unicodedata.category(ch).startswith("C")


def is_punctuation(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def basic_tokenize(text):
    cleaned = []
    for ch in text:
        if ord(ch) == 0 or ord(ch) == 0xFFFD or is_control(ch):
            continue
        cleaned.append(" " if is_whitespace(ch) else ch)
    text = "".join(f" {ch} " if is_cjk(ord(ch)) else ch for ch in cleaned)
    words = []
    for token in text.split():
        token = unicodedata.normalize("NFD", token.lower())
        token = "".join(ch for ch in token if unicodedata.category(ch) != "Mn")
        current = ""
        for ch in token:
            if is_punctuation(ch):
                if current:
                    words.append(current)
                words.append(ch)
                current = ""
            else:
                current += ch
        if current:
            words.append(current)
    return words


def wordpiece(word, vocab, unk="[UNK]"):
    if len(word) > 100:
        return [unk]
    pieces, start = [], 0
    while start < len(word):
        end, found = len(word), None
        while start < end:
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            if piece in vocab:
                found = piece
                break
            end -= 1
        if found is None:
            return [unk]
        pieces.append(found)
        start = end
    return pieces


def tokenize(text, vocab, max_len):
    """[CLS] pieces [SEP], the pieces truncated so that the whole fits max_len (HF's truncation)."""
    pieces = [p for w in basic_tokenize(text) for p in wordpiece(w, vocab)]
    pieces = pieces[: max_len - 2]
    return [vocab["[CLS]"]] + [vocab[p] for p in pieces] + [vocab["[SEP]"]]


def reduced_vocab():
    with open(os.path.join(MINILM, "vocab.txt"), encoding="utf-8") as f:
        full = [line.rstrip("\n") for line in f]
    tokens = full[:N_VOCAB_HEAD]
    ascii_alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
    tokens += [t for t in full[N_VOCAB_HEAD:] if len(t) == 3 and t.startswith("##") and t[2] in ascii_alnum]
    assert len(set(tokens)) == len(tokens)
    return tokens


# ----------------------------------------------------------------------------------------------
# BertModel (transformers modeling_bert, eval mode) + sentence-transformers Pooling and Normalize.


def init_weights(cfg, seed, n_vocab):
    g = torch.Generator().manual_seed(seed)

    def normal(shape, std, mean=0.0):
        return torch.randn(*shape, generator=g) * std + mean

    D, F_, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    w = {
        "embeddings.word_embeddings.weight": normal((n_vocab, D), STD_EMB),
        "embeddings.position_embeddings.weight": normal((cfg["max_position_embeddings"], D), STD_EMB),
        "embeddings.token_type_embeddings.weight": normal((cfg["type_vocab_size"], D), STD_EMB),
        "embeddings.LayerNorm.weight": normal((D,), STD_NORM, 1.0),
        "embeddings.LayerNorm.bias": normal((D,), STD_NORM),
    }
    for i in range(L):
        p = f"encoder.layer.{i}."
        for name, std in (("query", STD_QK), ("key", STD_QK), ("value", STD)):
            w[p + f"attention.self.{name}.weight"] = normal((D, D), std)
            w[p + f"attention.self.{name}.bias"] = normal((D,), STD)
        w[p + "attention.output.dense.weight"] = normal((D, D), STD)
        w[p + "attention.output.dense.bias"] = normal((D,), STD)
        w[p + "attention.output.LayerNorm.weight"] = normal((D,), STD_NORM, 1.0)
        w[p + "attention.output.LayerNorm.bias"] = normal((D,), STD_NORM)
        w[p + "intermediate.dense.weight"] = normal((F_, D), STD_FFN)
        w[p + "intermediate.dense.bias"] = normal((F_,), STD_FFN)
        w[p + "output.dense.weight"] = normal((D, F_), STD_FFN)
        w[p + "output.dense.bias"] = normal((D,), STD)
        w[p + "output.LayerNorm.weight"] = normal((D,), STD_NORM, 1.0)
        w[p + "output.LayerNorm.bias"] = normal((D,), STD_NORM)
    return w


def bert_forward(w, cfg, ids, mask, gelu="none"):
    """last_hidden_state [B, n, D] of BertModel for ids [B, n] with attention_mask [B, n] (1/0).
    gelu "tanh" is a deliberate mistake for the sensitivity checks only."""
    D, H = cfg["hidden_size"], cfg["num_attention_heads"]
    d_head = D // H
    eps = cfg["layer_norm_eps"]
    B, n = ids.shape
    positions = torch.arange(n)
    token_types = torch.zeros_like(ids)
    x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.token_type_embeddings.weight"][token_types]
         + w["embeddings.position_embeddings.weight"][positions][None])
    x = F.layer_norm(x, (D,), w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
    # get_extended_attention_mask: 0 where attended, the dtype's minimum where padded
    extended = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min

    def lin(t, name):
        return t @ w[name + ".weight"].T + w[name + ".bias"]

    def heads(t):  # [B, n, D] -> [B, H, n, d_head]
        return t.view(B, n, H, d_head).transpose(1, 2)

    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        q, k, v = (heads(lin(x, p + f"attention.self.{s}")) for s in ("query", "key", "value"))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d_head) + extended
        context = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(B, n, D)
        x = F.layer_norm(lin(context, p + "attention.output.dense") + x, (D,),
                         w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], eps)
        h = F.gelu(lin(x, p + "intermediate.dense"), approximate=gelu)  # hidden_act "gelu": exact erf
        x = F.layer_norm(lin(h, p + "output.dense") + x, (D,), w[p + "output.LayerNorm.weight"],
                         w[p + "output.LayerNorm.bias"], eps)
    return x


def pool_normalize(hidden, mask, pooling):
    if pooling == "cls":
        pooled = hidden[:, 0]
    else:  # sentence-transformers Pooling(mean): padding excluded, count clamped at 1e-9
        m = mask[:, :, None].float()
        pooled = (hidden * m).sum(1) / torch.clamp(m.sum(1), min=1e-9)
    return F.normalize(pooled, p=2, dim=1)


def encode(w, cfg, id_lists, pooling, gelu="none"):
    """Vectors of every id list in one padded batch."""
    n = max(len(ids) for ids in id_lists)
    ids = torch.zeros(len(id_lists), n, dtype=torch.long)  # [PAD] = 0
    mask = torch.zeros(len(id_lists), n, dtype=torch.long)
    for b, row in enumerate(id_lists):
        ids[b, : len(row)] = torch.tensor(row)
        mask[b, : len(row)] = 1
    return pool_normalize(bert_forward(w, cfg, ids, mask, gelu), mask, pooling)


# ----------------------------------------------------------------------------------------------
# Files


def write_json(path, obj, indent=2):
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(obj, indent=indent, ensure_ascii=False) + "\n")


def write_tokenizer_json(path, tokens):
    """The real all-MiniLM tokenizer.json with the reduced vocabulary (special ids are unchanged)."""
    with open(os.path.join(MINILM, "tokenizer.json"), encoding="utf-8") as f:
        doc = json.load(f)
    vocab = {t: i for i, t in enumerate(tokens)}
    doc["model"]["vocab"] = vocab
    for added in doc["added_tokens"]:
        assert vocab[added["content"]] == added["id"]
    for name, special in doc["post_processor"]["special_tokens"].items():
        assert special["ids"] == [vocab[name]]
    doc["truncation"] = None
    doc["padding"] = None
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, separators=(",", ":"))


def check_sensitivity(w, cfg, id_lists, spec, vectors):
    """The golden vectors must move by far more than the tests' tolerance (1e-5) when any part of the
    computation is wrong: padding unmasked, the other pooling, tanh-GELU instead of erf, another
    token type, no position embeddings; and must not move when a text is encoded on its own."""
    def max_diff(other):
        return (other - vectors).abs().max().item()

    for b, ids in enumerate(id_lists):
        single = encode(w, cfg, [ids], spec["pooling"])[0]
        assert (single - vectors[b]).abs().max().item() < 1e-6, "batched and single encodings differ"
    n = max(len(ids) for ids in id_lists)
    padded = [ids + [0] * (n - len(ids)) for ids in id_lists]
    unmasked = encode(w, cfg, padded, spec["pooling"])  # padding attended and pooled
    other_pooling = encode(w, cfg, id_lists, "mean" if spec["pooling"] == "cls" else "cls")
    w_nopos = dict(w)
    w_nopos["embeddings.position_embeddings.weight"] = torch.zeros_like(w["embeddings.position_embeddings.weight"])
    no_positions = encode(w_nopos, cfg, id_lists, spec["pooling"])
    w_type1 = dict(w)
    w_type1["embeddings.token_type_embeddings.weight"] = w["embeddings.token_type_embeddings.weight"].flip(0)
    token_type_1 = encode(w_type1, cfg, id_lists, spec["pooling"])
    tanh_gelu = encode(w, cfg, id_lists, spec["pooling"], gelu="tanh")
    for what, other, at_least in (("unmasked padding", unmasked, 1e-2), ("other pooling", other_pooling, 1e-1),
                                  ("no positions", no_positions, 1e-1), ("token type 1", token_type_1, 1e-1),
                                  ("tanh gelu", tanh_gelu, 5e-5)):
        d = max_diff(other)
        print(f"  {spec['name']}: {what} moves the vectors by {d:.2e}")
        assert d > at_least, f"{spec['name']}: the golden vectors are not sensitive to {what}"


def make_model(spec, tokens):
    vocab = {t: i for i, t in enumerate(tokens)}
    cfg = dict(BASE_CONFIG)
    out = os.path.join(OUT_DIR, spec["name"])
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.join(out, "1_Pooling"))
    w = init_weights(cfg, spec["seed"], len(tokens))
    w = {k: v.to(spec["dtype"]).float() for k, v in w.items()}  # the stored values are the model

    config = dict(architectures=["BertModel"], model_type="bert", vocab_size=len(tokens), pad_token_id=0,
                  position_embedding_type="absolute", torch_dtype=str(spec["dtype"]).replace("torch.", ""),
                  attention_probs_dropout_prob=0.1, hidden_dropout_prob=0.1, **cfg)
    write_json(os.path.join(out, "config.json"), config)
    stored = {spec["prefix"] + k: v.to(spec["dtype"]) for k, v in w.items()}
    if spec["pooler"]:
        g = torch.Generator().manual_seed(spec["seed"] + 1)
        D = cfg["hidden_size"]
        stored[spec["prefix"] + "pooler.dense.weight"] = torch.randn(D, D, generator=g).to(spec["dtype"])
        stored[spec["prefix"] + "pooler.dense.bias"] = torch.randn(D, generator=g).to(spec["dtype"])
    safetensors_io.save(os.path.join(out, "model.safetensors"), stored, {"format": "pt"})
    write_json(os.path.join(out, "1_Pooling", "config.json"),
               dict(word_embedding_dimension=cfg["hidden_size"], pooling_mode_cls_token=spec["pooling"] == "cls",
                    pooling_mode_mean_tokens=spec["pooling"] == "mean", pooling_mode_max_tokens=False,
                    pooling_mode_mean_sqrt_len_tokens=False))
    write_json(os.path.join(out, "sentence_bert_config.json"),
               dict(max_seq_length=spec["max_seq_length"], do_lower_case=False))
    write_json(os.path.join(out, "tokenizer_config.json"),
               dict(do_lower_case=True, tokenizer_class="BertTokenizer", cls_token="[CLS]", sep_token="[SEP]",
                    pad_token="[PAD]", unk_token="[UNK]", mask_token="[MASK]"))
    with open(os.path.join(out, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t in tokens))
    if spec["tokenizer_json"]:
        write_tokenizer_json(os.path.join(out, "tokenizer.json"), tokens)

    query_prefix = BGE_INSTRUCTION if spec["name"].startswith("bge") else ""  # prefix style "auto"
    golden = []
    for role, prefix, texts in (("passage", "", PASSAGES), ("query", query_prefix, QUERIES)):
        id_lists = [tokenize(prefix + t, vocab, spec["max_seq_length"]) for t in texts]
        assert max(len(ids) for ids in id_lists) == spec["max_seq_length"] or role == "query"
        vectors = encode(w, cfg, id_lists, spec["pooling"])
        check_sensitivity(w, cfg, id_lists, spec, vectors)
        golden.append(dict(role=role, prefix=prefix, texts=texts, ids=id_lists,
                           vectors=[[float(x) for x in row] for row in vectors.tolist()]))
    write_json(os.path.join(out, "golden.json"), dict(
        note="written by scripts/ref/make_bert_goldens.py; ids and vectors are of prefix + text",
        pooling=spec["pooling"], cases=golden), indent=1)
    print(f"wrote {out}")


def main():
    torch.set_default_dtype(torch.float32)
    tokens = reduced_vocab()
    vocab = {t: i for i, t in enumerate(tokens)}
    # Hand-checked against the real vocabulary: "Hello, world!" is [CLS] hello , world ! [SEP] there
    # (101 7592 1010 2088 999 102); "hello" is not among the kept entries, so it splits here.
    full_vocab = {}
    with open(os.path.join(MINILM, "vocab.txt"), encoding="utf-8") as f:
        for i, line in enumerate(f):
            full_vocab[line.rstrip("\n")] = i
    assert tokenize("Hello, world!", full_vocab, 512) == [101, 7592, 1010, 2088, 999, 102]
    assert len(tokenize("Hello, world!", vocab, 512)) > 6
    for spec in MODELS:
        make_model(spec, tokens)


if __name__ == "__main__":
    main()
