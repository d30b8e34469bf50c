#!/usr/bin/python3
"""MedMCQA records (JSONL: question, opa..opd, cop = 1..4, exp) -> prompt/completion JSONL for
`tunekit train` (train/data.h's prompt_completion format: the prompt's tokens get
--prompt-loss-weight, the completion's 1).

    prompt:      "Question: <question>\\nA. <opa>\\nB. <opb>\\nC. <opc>\\nD. <opd>\\nAnswer:"
    completion:  " <letter>. <correct option>\\nExplanation: <exp>"

Records without an explanation are dropped (pass --keep-unexplained to keep them, answer only).
Run: /usr/bin/python3 scripts/medmcqa_to_jsonl.py ../shared/data/mcq/medmcqa/dev.json medmcqa.jsonl
"""
import argparse
import json
import sys


def convert(record, keep_unexplained):
    options = [record[k] for k in ("opa", "opb", "opc", "opd")]
    cop = record["cop"]
    if cop not in (1, 2, 3, 4):
        raise ValueError(f"cop must be 1..4, got {cop!r}")
    exp = (record.get("exp") or "").strip()
    if not exp and not keep_unexplained:
        return None
    letter = "ABCD"[cop - 1]
    prompt = "Question: " + record["question"].strip() + "\n" + "".join(
        f"{l}. {str(o).strip()}\n" for l, o in zip("ABCD", options)) + "Answer:"
    completion = f" {letter}. {str(options[cop - 1]).strip()}"
    if exp:
        completion += "\nExplanation: " + exp
    return {"prompt": prompt, "completion": completion}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("input", help="MedMCQA JSONL (e.g. dev.json)")
    ap.add_argument("output", help="prompt/completion JSONL to write")
    ap.add_argument("--keep-unexplained", action="store_true", help="keep records without an explanation")
    args = ap.parse_args()
    n_in = n_out = 0
    with open(args.input, encoding="utf-8") as f, open(args.output, "w", encoding="utf-8") as out:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            n_in += 1
            try:
                row = convert(json.loads(line), args.keep_unexplained)
            except (ValueError, KeyError, TypeError) as e:
                sys.exit(f"{args.input}:{line_no}: {e}")
            if row:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                n_out += 1
    print(f"{args.output}: {n_out} of {n_in} records", file=sys.stderr)


if __name__ == "__main__":
    main()
