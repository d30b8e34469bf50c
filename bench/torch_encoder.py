#!/usr/bin/python3
"""PyTorch side of bench_encoder: the same MiniLM-L6-shaped BERT forward (hidden 384, 6 layers, 12
heads, intermediate 1536, vocab 30522, random weights), 32 texts of 128 tokens, mean pooling and
normalisation, in the plain-torch BertModel equations of scripts/ref/make_bert_goldens.py (F.layer_norm,
F.gelu, matmuls; no autograd). Prints one JSON line like bench_encoder's.

Run: /usr/bin/python3 bench/torch_encoder.py [--threads 1] [--reps 3]
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "ref"))
import make_bert_goldens as ref  # noqa: E402

CONFIG = dict(hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536,
              max_position_embeddings=512, type_vocab_size=2, layer_norm_eps=1e-12, hidden_act="gelu")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq", type=int, default=128)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    weights = ref.init_weights(CONFIG, 1, 30522)
    ids = torch.randint(1000, 30522, (args.batch, args.seq))
    mask = torch.ones(args.batch, args.seq, dtype=torch.long)
    seconds = []
    with torch.no_grad():
        for rep in range(args.reps + 1):  # the first is a warm-up
            t0 = time.perf_counter()
            ref.pool_normalize(ref.bert_forward(weights, CONFIG, ids, mask), mask, "mean")
            if rep > 0:
                seconds.append(time.perf_counter() - t0)
    best = min(seconds)
    print(json.dumps({"bench": "encoder_torch", "torch": torch.__version__, "threads": args.threads,
                      "batch": args.batch, "seq": args.seq, "reps": args.reps, "best_s": best,
                      "texts_per_s": args.batch / best, "tokens_per_s": args.batch * args.seq / best,
                      "load_avg_1min": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
