#!/usr/bin/python3
"""Golden file for tunekit's optimizer: torch.optim.AdamW, torch.nn.utils.clip_grad_norm_ and the
learning-rate schedules of transformers (get_constant/linear/cosine_schedule_with_warmup, with the
min-lr floor of get_cosine_with_min_lr_schedule_with_warmup) driven through torch's LambdaLR.

    tests/golden/optimizer/adamw.safetensors
        p<i>            [shape]       initial value of parameter i (float32)
        g<s>_<i>        [shape]       gradient of parameter i given at step s (before clipping)
        after<s>_<i>    [shape]       parameter i after step s (clip -> AdamW at the scheduled lr)
        __metadata__    config: JSON with betas, eps, weight_decay, max_norm, decay flags, the schedules
                        expected: JSON (doubles) with norm[n_step] (clip_grad_norm_'s total norm at
                        each step), lr[n_step] (the rate each step used) and sched[name][step]
                        (each schedule's rate for steps 0 .. total)

The transformers lambdas are copied below (transformers is not a Debian package).
Run: /usr/bin/python3 scripts/ref/make_optimizer_goldens.py   (Debian python3-torch; under a second)
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.join(ROOT, "tests", "golden", "optimizer", "adamw.safetensors")


def lr_lambda(kind, warmup, total, min_lr_ratio):
    """transformers.optimization's _get_{constant,linear,cosine}_schedule_with_warmup_lr_lambda
    (cosine: num_cycles 0.5 and the min_lr_rate floor; linear: the same floor applied the same way)."""
    def f(step):
        if step < warmup:
            return float(step) / float(max(1, warmup))
        if kind == "constant":
            return 1.0
        progress = float(step - warmup) / float(max(1, total - warmup))
        if kind == "linear":
            factor = max(0.0, 1.0 - progress)
        else:
            factor = 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress))
        return max(0.0, factor * (1.0 - min_lr_ratio) + min_lr_ratio)
    return f


def scheduled_lrs(kind, lr, warmup, total, min_lr_ratio, n):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(kind, warmup, total, min_lr_ratio))
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def main():
    torch.manual_seed(1234)
    shapes = [[4, 5], [7], [3, 3]]
    decay = [True, False, True]  # p1 stands for a norm weight: no weight decay
    betas, eps, weight_decay, max_norm = (0.9, 0.95), 1e-6, 0.1, 1.0
    sched = dict(kind="cosine", lr=3e-3, warmup=2, total=6, min_lr_ratio=0.1)
    n_step = 6
    params = [torch.nn.Parameter(torch.randn(s)) for s in shapes]
    out = {f"p{i}": p.detach().clone() for i, p in enumerate(params)}
    groups = [{"params": [p for p, d in zip(params, decay) if d], "weight_decay": weight_decay},
              {"params": [p for p, d in zip(params, decay) if not d], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=sched["lr"], betas=betas, eps=eps, foreach=False)
    lam = lr_lambda(sched["kind"], sched["warmup"], sched["total"], sched["min_lr_ratio"])
    scheduler = torch.optim.lr_scheduler.LambdaLR(opt, [lam, lam])
    norms, lrs = [], []
    # Gradient scales: some steps far above max_norm (clipped), some below (untouched).
    scales = [3.0, 0.05, 1.0, 0.1, 5.0, 0.02]
    for s in range(n_step):
        for i, p in enumerate(params):
            p.grad = torch.randn(shapes[i]) * scales[s]
            out[f"g{s}_{i}"] = p.grad.detach().clone()
        norms.append(float(torch.nn.utils.clip_grad_norm_(params, max_norm)))
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
        for i, p in enumerate(params):
            out[f"after{s}_{i}"] = p.detach().clone()

    schedules = {
        "constant": dict(kind="constant", lr=1e-3, warmup=3, total=10, min_lr_ratio=0.0),
        "linear": dict(kind="linear", lr=1e-3, warmup=3, total=10, min_lr_ratio=0.0),
        "linear_floor": dict(kind="linear", lr=1e-3, warmup=0, total=10, min_lr_ratio=0.2),
        "cosine": dict(kind="cosine", lr=2e-4, warmup=4, total=20, min_lr_ratio=0.0),
        "cosine_floor": dict(kind="cosine", lr=2e-4, warmup=4, total=20, min_lr_ratio=0.1),
    }
    # Steps 0 .. total (the last optimizer step is total - 1; total itself is the floor).
    expected_sched = {name: scheduled_lrs(c["kind"], c["lr"], c["warmup"], c["total"], c["min_lr_ratio"],
                                          c["total"] + 1) for name, c in schedules.items()}

    config = dict(betas=betas, eps=eps, weight_decay=weight_decay, max_norm=max_norm, decay=decay,
                  shapes=shapes, n_step=n_step, schedule=sched, schedules=schedules,
                  torch=torch.__version__)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    expected = dict(norm=norms, lr=lrs, sched=expected_sched)
    safetensors_io.save(OUT, out, metadata={"config": json.dumps(config), "expected": json.dumps(expected)})
    print(f"wrote {OUT} ({len(out)} tensors)")


if __name__ == "__main__":
    main()
