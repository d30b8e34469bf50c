// tunekit -> llama.cpp compatibility check. Converts models with `tunekit convert`, loads the GGUF
// files in llama.cpp (node-llama-cpp's prebuilt CPU binaries; never builds or downloads anything)
// and compares what llama.cpp computes with independent references:
//   1. stories260K (f32, q8_0): metadata, tokenization vs `tunekit tokenize`, greedy decoding from
//      BOS vs llama2.c's output (greedy200_reference.json) and vs `tunekit generate`.
//   2. tests/golden/models/*: llama.cpp's next-token log-probabilities for every position of the
//      golden input (one batch), and for the last token decoded alone after a 23-token prefill (KV
//      cache), vs the log-softmax of the logits transformers computed (golden.safetensors).
//      Mistral's sliding window is not applied by llama.cpp's `llama` architecture: that model is
//      compared with the no-window expectation from lib/reference.mjs (itself checked against every
//      golden first). Then the f16 / bf16 / q8_0 / q4_0 outputs: bytes vs llama.cpp's own encoders.
//   3. LoRA: a random PEFT adapter (lib/peft.mjs) exported by `tunekit merge-adapter --lora-gguf` and
//      applied by llama.cpp at run time: golden models vs lib/reference.mjs on the merged weights,
//      stories260K greedy vs `tunekit generate --adapter`.
// node-llama-cpp 3.21 exposes no raw logits, only the full next-token probability distribution
// (with the default greedy options it is the softmax over the whole vocabulary); log-probabilities
// are logits minus one constant per position, so everything is compared in that form.
// Usage: node compat/check.mjs --tunekit build/bin/tunekit --work /tmp/compat [--root .] [--shared ../shared]
// Prints a summary and exits 1 on any mismatch (2 on a usage or setup error).
import {execFileSync} from "node:child_process";
import {existsSync, mkdirSync, readFileSync, writeFileSync} from "node:fs";
import {dirname, join, resolve} from "node:path";
import {fileURLToPath} from "node:url";
import {getLlama, LlamaLogLevel, readGgufFileInfo} from "node-llama-cpp";
import {forward, hfWindow, loadHfModel} from "./lib/reference.mjs";
import {encodeTensor, GGML_TYPE_NAMES} from "./lib/ggml_quants.mjs";
import {readSafetensors} from "./lib/safetensors.mjs";
import {mergeAdapter, randomAdapter, writePeftFolder} from "./lib/peft.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const args = {root: resolve(here, ".."), shared: null, tunekit: null, work: null};
for (let i = 2; i < process.argv.length; i += 2) {
  const key = process.argv[i].replace(/^--/, "");
  if (!(key in args) || process.argv[i + 1] == null) {
    console.error(`usage: node check.mjs --tunekit PATH --work DIR [--root DIR] [--shared DIR] (bad: ${process.argv[i]})`);
    process.exit(2);
  }
  args[key] = resolve(process.argv[i + 1]);
}
args.shared ??= resolve(args.root, "../shared");
if (!args.tunekit || !args.work) {
  console.error("usage: node check.mjs --tunekit PATH --work DIR [--root DIR] [--shared DIR]");
  process.exit(2);
}
mkdirSync(args.work, {recursive: true});

const LOGIT_TOL = 1e-4;  // the project's tolerance for f32 logits vs the goldens (docs/testing.md), on log-probabilities
const STORIES = join(args.shared, "models/stories260K");
const GOLDEN = join(args.root, "tests/golden/models");
const results = [];  // {check, ok, detail}
const referenceDiffs = [];  // [model, max |JS reference - golden|]
function record(check, ok, detail) {
  results.push({check, ok, detail});
  console.log(`${ok ? "PASS" : "FAIL"}  ${check}: ${detail}`);
}
function note(check, detail) {  // reported, not a pass/fail criterion
  results.push({check, ok: true, info: true, detail});
  console.log(`INFO  ${check}: ${detail}`);
}
let f32ForcedLogProbs = null;  // stories260K f32, teacher-forced on the reference (for the q8_0 comparison)

function tunekit(...a) {
  return execFileSync(args.tunekit, a, {encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 1 << 26});
}

// ---- llama.cpp -------------------------------------------------------------------------------------
let logLines = [];
const llama = await getLlama({
  gpu: false,                 // CPU backend only: no CUDA/Vulkan/Metal probing
  build: "never",             // use the prebuilt binary or fail; never compile llama.cpp
  usePrebuiltBinaries: true,
  skipDownload: true,         // never fetch llama.cpp sources
  progressLogs: false,
  maxThreads: 1,               // tiny models: one thread is fastest and avoids spinning on a busy machine
  logLevel: LlamaLogLevel.warn,
  logger: (level, message) => logLines.push(`[${level}] ${message.trimEnd()}`),
});
const release = llama.llamaCppRelease;
console.log(`llama.cpp: ${release.repo} ${release.release}, binary: ${llama.buildType}, gpu: ${llama.gpu}`);
if (llama.buildType !== "prebuilt" || llama.gpu !== false) {
  console.error("expected node-llama-cpp's prebuilt CPU binary");
  process.exit(2);
}

async function load(path) {
  logLines = [];
  try {
    return await llama.loadModel({modelPath: path, gpuLayers: 0, checkTensors: true, useMmap: false});
  } catch (e) {
    throw new Error(`llama.cpp could not load ${path}: ${e.message}\n  ${logLines.join("\n  ")}`);
  }
}

async function newSequence(model, contextSize, loraPath = null) {
  // f32 KV cache (the default is f16, which would round keys and values) and no flash attention,
  // so that llama.cpp computes in f32 throughout, like transformers and tunekit.
  const context = await model.createContext({
    contextSize, sequences: 1, batchSize: contextSize, flashAttention: false,
    experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32", threads: 1,
    lora: loraPath ? {adapters: [{filePath: loraPath, scale: 1}]} : undefined,
  });
  return {context, sequence: context.getSequence()};
}

// Ask llama.cpp for the next token after an input token: with the default sampling options (greedy)
// `probabilities` is the softmax of the logits over the whole vocabulary and `token` the argmax.
const NEXT = {generateNext: {probabilities: true, token: true}};
let samplerDisagreements = 0;  // llama.cpp's greedy sampler vs the argmax of its own probabilities

// One controlledEvaluate output -> [V] log-probabilities (NaN for a token llama.cpp left out).
function logProbs(out, V) {
  const row = new Float64Array(V).fill(NaN);
  for (const [tok, p] of out.next.probabilities) row[tok] = Math.log(p);
  if (out.next.token !== argmax(row)) samplerDisagreements++;
  return row;
}

function logSoftmax(logits) {
  const m = Math.max(...logits);
  const lse = m + Math.log(logits.reduce((a, v) => a + Math.exp(v - m), 0));
  return Float64Array.from(logits, (v) => v - lse);
}

// [T * V] logits -> [T * V] log-probabilities
function logSoftmaxRows(flat, V) {
  const out = new Float64Array(flat.length);
  for (let t = 0; t < flat.length; t += V) out.set(logSoftmax(Array.from(flat.subarray(t, t + V))), t);
  return out;
}

function argmax(row) {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

function leadingAgreement(a, b) {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

// ---- 1. stories260K ---------------------------------------------------------------------------------
const reference = JSON.parse(readFileSync(join(STORIES, "greedy200_reference.json"), "utf8"));
const TEXTS = [
  "Once upon a time",
  "Lily's mom said, \"Let's go to the park!\"",
  "  two leading spaces,  double  spaces and a trailing one ",
  "line one\nline two\ttab",
  "caf\u00e9 na\u00efve \u00fcber, \u4e2d\u6587 and an emoji \ud83d\ude42",
  "12345 + 678 = 13023",
];

async function checkStories(dtype) {
  const gguf = join(args.work, `stories260K-${dtype}.gguf`);
  tunekit("convert", "--model", join(STORIES, "stories260K.bin"), "--tokenizer", join(STORIES, "tok512.bin"),
          "--out", gguf, "--dtype", dtype);
  const tag = `stories260K ${dtype}`;
  const info = await readGgufFileInfo(gguf);
  const md = info.metadata;
  const model = await load(gguf);
  const nVocab = model.fileInfo.metadata.tokenizer.ggml.tokens.length;
  const metaOk = md.general.architecture === "llama" && md.tokenizer.ggml.model === "llama" && nVocab === 512 &&
      model.tokens.bos === 1 && model.tokens.eos === 2 && model.vocabularyType === "spm";
  record(`${tag}: load + metadata`, metaOk,
         `arch ${md.general.architecture}, tokenizer ${md.tokenizer.ggml.model} (${model.vocabularyType}), ` +
         `${nVocab} tokens, bos ${model.tokens.bos}, eos ${model.tokens.eos}, train ctx ${model.trainContextSize}` +
         (model.getWarnings().length ? `, warnings: ${model.getWarnings().join("; ")}` : ""));

  if (dtype === "f32") {
    let same = 0;
    const diffs = [];
    for (const text of TEXTS) {
      const ours = tunekit("tokenize", "--tokenizer", gguf, "--text", text).trim().split(/\s+/).filter(Boolean).map(Number);
      const theirs = model.tokenize(text, false);
      const decodedTheirs = model.detokenize(theirs);
      const decodedOurs = tunekit("tokenize", "--tokenizer", gguf, "--decode", "--text", theirs.join(" ")).replace(/\n$/, "");
      if (JSON.stringify(ours) === JSON.stringify(theirs) && decodedTheirs === decodedOurs) same++;
      else diffs.push(`${JSON.stringify(text)}: tunekit [${ours}] / llama.cpp [${theirs}]; ` +
                      `decode tunekit ${JSON.stringify(decodedOurs)} / llama.cpp ${JSON.stringify(decodedTheirs)}`);
    }
    record(`${tag}: tokenize + detokenize vs tunekit`, same === TEXTS.length,
           `${same}/${TEXTS.length} strings give the same ids and decoded text` + (diffs.length ? `; ${diffs.join("; ")}` : ""));
  }

  // Greedy decoding from BOS: one token per evaluation, argmax of llama.cpp's distribution.
  let {context, sequence} = await newSequence(model, 256);
  const generated = [];
  let token = model.tokens.bos;
  for (let step = 0; step < reference.steps; step++) {
    const [out] = await sequence.controlledEvaluate([[token, NEXT]]);
    token = argmax(logProbs(out, nVocab));
    generated.push(token);
  }
  await context.dispose();
  // Teacher forcing: BOS + the reference ids in one batch, the distribution at every position.
  const ref = reference.generated_ids;
  ({context, sequence} = await newSequence(model, 256));
  const forced = (await sequence.controlledEvaluate([1, ...ref.slice(0, -1)].map((id) => [id, NEXT])))
      .map((o) => logProbs(o, nVocab));
  await context.dispose();
  const forcedAgree = forced.filter((row, i) => argmax(row) === ref[i]).length;

  const agreeRef = leadingAgreement(generated, ref);
  const ours = JSON.parse(tunekit("generate", "--model", gguf, "--prompt", "", "--max-tokens", String(reference.steps),
                                  "--temperature", "0", "--no-eos-stop", "--json", "--quiet", "--threads", "1")).tokens;
  const agreeOurs = leadingAgreement(generated, ours);
  const oursVsRef = leadingAgreement(ours, ref);
  const text = model.detokenize(generated);
  const result = {dtype, llama_cpp_ids: generated, tunekit_ids: ours, agree_reference: agreeRef, agree_tunekit: agreeOurs,
                  tunekit_agree_reference: oursVsRef, teacher_forced_argmax_agree: forcedAgree};
  if (dtype === "f32") {
    f32ForcedLogProbs = forced;
    record(`${tag}: llama.cpp greedy ${reference.steps} from BOS vs llama2.c reference`, agreeRef === ref.length,
           `${agreeRef}/${ref.length} leading tokens agree` + (agreeRef === ref.length ? "" : `; llama.cpp text: ${JSON.stringify(text)}`));
    record(`${tag}: llama.cpp greedy vs tunekit generate on the same GGUF`, agreeOurs === ref.length && oursVsRef === ref.length,
           `${agreeOurs}/${ref.length} (tunekit vs reference: ${oursVsRef}/${ref.length})`);
  } else {
    // Quantized weights: the greedy paths drift apart at the first near tie (llama.cpp also rounds
    // the activations to q8_0 / f16 inside its matmuls; tunekit rounds differently), so free-running
    // agreement is reported, not required. Required: the bytes are llama.cpp's own encoding (checkEncoding)
    // and, teacher-forced on the reference, llama.cpp's argmax agrees at >= 95% of the positions.
    let maxDiff = 0;
    const flips = [];
    forced.forEach((row, i) => {
      const f = f32ForcedLogProbs[i];
      for (let j = 0; j < nVocab; j++) maxDiff = Math.max(maxDiff, Math.abs(row[j] - f[j]));
      if (argmax(row) !== argmax(f)) {
        const top = [...f].sort((x, y) => y - x);
        flips.push(`step ${i} (f32 top-2 margin ${(top[0] - top[1]).toFixed(4)})`);
      }
    });
    Object.assign(result, {teacher_forced_max_abs_diff_vs_f32: maxDiff, teacher_forced_flips: flips});
    record(`${tag}: teacher-forced argmax vs llama2.c reference (>= 95%)`, forcedAgree >= 0.95 * ref.length,
           `${forcedAgree}/${ref.length} positions; flips at ${flips.join(", ") || "none"}; ` +
           `max |log-probability q8_0 - f32| ${maxDiff.toFixed(3)}`);
    note(`${tag}: free-running greedy`, `llama.cpp vs llama2.c reference ${agreeRef}/${ref.length} leading tokens, ` +
         `llama.cpp vs tunekit generate ${agreeOurs}/${ref.length}, tunekit vs reference ${oursVsRef}/${ref.length}`);
  }
  await model.dispose();
  return result;
}

// Every tensor of `quantGguf` must hold exactly the bytes llama.cpp's own reference code
// (quantize_row_q8_0_ref, quantize_row_q4_0_ref, fp32 -> fp16 / bf16) makes of the same tensor in
// `f32Gguf`. Returns [summary, problems].
async function compareEncoding(f32Gguf, quantGguf) {
  const [a, b] = await Promise.all([f32Gguf, quantGguf].map((f) => readGgufFileInfo(f, {readTensorInfo: true})));
  const [bufA, bufB] = [readFileSync(f32Gguf), readFileSync(quantGguf)];
  const byName = new Map(a.fullTensorInfo.map((t) => [t.name, t]));
  const counts = {}, bad = [];
  let fmaTies = 0;  // q4_0 blocks where the fused and unfused roundings differ (either is accepted)
  if (a.fullTensorInfo.length !== b.fullTensorInfo.length) bad.push(`${a.fullTensorInfo.length} vs ${b.fullTensorInfo.length} tensors`);
  for (const t of b.fullTensorInfo) {
    const src = byName.get(t.name);
    if (!src || src.ggmlType !== 0 || src.dimensions.join() !== t.dimensions.join()) {
      bad.push(`${t.name}: no f32 tensor of the same shape in ${f32Gguf}`);
      continue;
    }
    const n = t.dimensions.reduce((x, y) => x * Number(y), 1);
    const values = Array.from({length: n}, (_, i) => bufA.readFloatLE(src.fileOffset + 4 * i));
    const type = GGML_TYPE_NAMES[t.ggmlType] ?? `ggml type ${t.ggmlType}`;
    counts[type] = (counts[type] ?? 0) + 1;
    const expected = encodeTensor(values, t.ggmlType);
    if (!expected) {
      bad.push(`${t.name}: unexpected ${type}`);
      continue;
    }
    const got = bufB.subarray(t.fileOffset, t.fileOffset + expected.length);
    if (t.ggmlType === 2) {  // q4_0: each block must be one of the two roundings (see quantizeBlockQ4_0)
      const fused = encodeTensor(values, 2, {fma: true});
      let badBlocks = 0;
      for (let i = 0; i < expected.length; i += 18) {
        const g = got.subarray(i, i + 18);
        if (!g.equals(expected.subarray(i, i + 18)) && !g.equals(fused.subarray(i, i + 18))) badBlocks++;
        else if (!expected.subarray(i, i + 18).equals(fused.subarray(i, i + 18))) fmaTies++;
      }
      if (badBlocks) bad.push(`${t.name} (${type}): ${badBlocks} of ${expected.length / 18} blocks differ`);
    } else if (!got.equals(expected)) {
      let diff = 0;
      for (let i = 0; i < expected.length; i++) diff += got[i] !== expected[i];
      bad.push(`${t.name} (${type}): ${diff} of ${expected.length} bytes differ`);
    }
  }
  return [`${b.fullTensorInfo.length} tensors (${Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(", ")})`, bad, fmaTies];
}

async function checkEncoding(tag, f32Gguf, quantGguf) {
  const [summary, bad] = await compareEncoding(f32Gguf, quantGguf);
  record(`${tag}: tensor bytes = llama.cpp's reference encoding`, bad.length === 0,
         summary + (bad.length ? `; ${bad.join("; ")}` : ", all identical"));
}

// ---- 2. golden models -------------------------------------------------------------------------------
// The golden models have no tokenizer and a 120-token vocabulary. llama.cpp requires the GGUF vocab
// to have exactly as many tokens as token_embd has rows (tok512.bin would be rejected: "tensor
// 'token_embd.weight' has wrong shape"), and its SentencePiece byte fallback throws (and kills the
// process) on a byte without a <0xNN> token, which a plain cut of tok512.bin (<unk>, <s>, </s>,
// <0x00>..<0x74>) hits as soon as node-llama-cpp tokenizes its probe strings at load. So give convert
// a 120-token llama2.c-format vocabulary that covers printable ASCII: <unk>, <s>, </s>, the byte
// tokens <0x00>..<0x15> (tab and newline among them), " " and the 94 characters '!'..'~'.
function writeAsciiTokenizer(dst) {
  const pieces = ["<unk>", "<s>", "</s>"];
  for (let b = 0; b < 0x16; b++) pieces.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
  for (let c = 0x20; c < 0x7f; c++) pieces.push(String.fromCharCode(c));
  const parts = [Buffer.from(Int32Array.of(Math.max(...pieces.map((p) => p.length))).buffer)];
  pieces.forEach((p, i) => {
    const head = Buffer.alloc(8);
    head.writeFloatLE(i < 3 + 0x16 ? 0 : -i, 0);
    head.writeInt32LE(p.length, 4);
    parts.push(head, Buffer.from(p, "latin1"));
  });
  writeFileSync(dst, Buffer.concat(parts));
  return pieces.length;
}

function maxAbsDiff(a, b) {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));  // NaN never wins: checked below
  return m;
}

// llama.cpp's next-token log-probabilities for `ids`: every position in one batch ([T * V]), and
// the last token decoded alone after prefilling the others (the KV-cache path, [V]).
// loraPath: a LoRA GGUF that llama.cpp applies on top (unmerged).
async function llamaLogProbs(gguf, ids, V, loraPath = null) {
  const model = await load(gguf);
  const arch = model.fileInfo.metadata.general.architecture;
  const ggufWindow = model.fileInfo.metadata[arch]?.attention?.sliding_window ?? null;
  const T = ids.length;
  let {context, sequence} = await newSequence(model, 64, loraPath);
  const outs = await sequence.controlledEvaluate(ids.map((id) => [id, NEXT]));
  await context.dispose();
  const full = new Float64Array(T * V);
  outs.forEach((o, t) => full.set(logProbs(o, V), t * V));
  ({context, sequence} = await newSequence(model, 64, loraPath));
  await sequence.controlledEvaluate(ids.slice(0, T - 1));
  const [last] = await sequence.controlledEvaluate([[ids[T - 1], NEXT]]);
  await context.dispose();
  const step = logProbs(last, V);
  await model.dispose();
  if (full.some(Number.isNaN) || step.some(Number.isNaN)) throw new Error(`${gguf}: llama.cpp returned fewer probabilities than the vocabulary has tokens`);
  return {arch, ggufWindow, full, step};
}

// f32 GGUF: llama.cpp must reproduce transformers' log-probabilities (Mistral: without the window).
// Returns what the lower-precision runs are compared with.
async function checkGolden(name, tokPath) {
  const dir = join(GOLDEN, name);
  const gguf = join(args.work, `${name}-f32.gguf`);
  tunekit("convert", "--model", dir, "--tokenizer", tokPath, "--out", gguf, "--dtype", "f32");
  const golden = readSafetensors(join(dir, "golden.safetensors"));
  const ids = Array.from(golden.input_ids.data);
  const [T, V] = golden.logits.shape;
  const hf = loadHfModel(dir);
  const window = hfWindow(hf.config);
  const {arch, ggufWindow, full, step} = await llamaLogProbs(gguf, ids, V);

  const goldenFull = logSoftmaxRows(golden.logits.data, V), goldenStep = logSoftmax(Array.from(golden.logits_step.data));
  // The JS reference (with transformers' window semantics) must reproduce every golden before its
  // no-window variant is trusted for Mistral.
  const dRef = maxAbsDiff(Float64Array.from(forward(hf, ids, {window}).flatMap((r) => Array.from(r))), golden.logits.data);
  referenceDiffs.push([name, dRef]);
  const dFull = maxAbsDiff(full, goldenFull), dStep = maxAbsDiff(step, goldenStep);
  const dLast = maxAbsDiff(full.subarray((T - 1) * V), goldenFull.subarray((T - 1) * V));
  const detail = `arch ${arch}; max |log p llama.cpp - log p transformers| all ${T} positions ${dFull.toExponential(2)}, ` +
                 `last ${dLast.toExponential(2)}, last via KV cache ${dStep.toExponential(2)}`;
  const base = {name, gguf, ids, V, arch, max_abs_diff_all: dFull, max_abs_diff_last: dLast, max_abs_diff_step: dStep};
  if (window == null) {
    record(`${name}: llama.cpp log-probabilities vs golden (tol ${LOGIT_TOL})`, dFull <= LOGIT_TOL && dStep <= LOGIT_TOL, detail);
    return {...base, expected: goldenFull};
  }
  // Sliding window (Mistral): llama.cpp's llama architecture attends to every earlier key.
  const noWin = Float64Array.from(forward(hf, ids, {window: null}).flatMap((r) => Array.from(logSoftmax(r))));
  const dNoWin = maxAbsDiff(full, noWin), dNoWinStep = maxAbsDiff(step, noWin.subarray((T - 1) * V));
  record(`${name}: llama.cpp log-probabilities vs no-window expectation (tol ${LOGIT_TOL})`,
         dNoWin <= LOGIT_TOL && dNoWinStep <= LOGIT_TOL,
         `GGUF has ${arch}.attention.sliding_window = ${ggufWindow}, which llama.cpp's ${arch} graph does not apply; all positions ${dNoWin.toExponential(2)}, last via KV cache ${dNoWinStep.toExponential(2)}; ` +
         `known difference vs the windowed golden: ${detail}`);
  return {...base, window, max_abs_diff_no_window: dNoWin, max_abs_diff_no_window_step: dNoWinStep, expected: noWin};
}

// The other GGUF output types of convert, for every golden model: the bytes must be llama.cpp's
// own encoding of the f32 weights, and llama.cpp must load and run them (logit error reported).
async function checkGoldenTypes(goldens, tokPath) {
  for (const dtype of ["f16", "bf16", "q8_0", "q4_0"]) {
    const bad = [], diffs = [];
    let summary = "", ties = 0;
    for (const g of goldens) {
      const gguf = join(args.work, `${g.name}-${dtype}.gguf`);
      tunekit("convert", "--model", join(GOLDEN, g.name), "--tokenizer", tokPath, "--out", gguf, "--dtype", dtype);
      const [s, problems, fmaTies] = await compareEncoding(g.gguf, gguf);
      summary ||= s;
      ties += fmaTies;
      bad.push(...problems.map((p) => `${g.name}: ${p}`));
      const {full} = await llamaLogProbs(gguf, g.ids, g.V);
      diffs.push(`${g.name} ${maxAbsDiff(full, g.expected).toExponential(1)}`);
    }
    record(`golden models ${dtype}: tensor bytes = llama.cpp's reference encoding`, bad.length === 0,
           `${goldens.length} models, e.g. ${summary}` + (bad.length ? `; ${bad.join("; ")}` : ", all match") +
           (ties ? ` (${ties} q4_0 blocks sit on a rounding tie where ggml's result depends on FMA; either form accepted)` : ""));
    note(`golden models ${dtype}: max |llama.cpp log-probabilities - expected|`, diffs.join(", "));
  }
}

// ---- 3. LoRA adapters -------------------------------------------------------------------------------
// A random adapter on all 7 linear modules of every layer, written as a PEFT folder by lib/peft.mjs
// (not by tunekit); `tunekit merge-adapter --lora-gguf` turns it into llama.cpp's LoRA GGUF, which
// llama.cpp applies at run time on top of the f32 base GGUF of sections 1 and 2.
const LORA = {rank: 4, alpha: 6, bScale: 0.1, seed: 2024};

function exportLora(model, tokPath, config, name, options) {
  const adapter = randomAdapter(config, options);
  const peft = join(args.work, `${name}-lora`), loraGguf = join(args.work, `${name}-lora.gguf`);
  writePeftFolder(peft, adapter);
  tunekit("merge-adapter", "--model", model, "--tokenizer", tokPath, "--adapter", peft, "--lora-gguf", loraGguf);
  return {adapter, peft, loraGguf};
}

// llama.cpp (base GGUF + LoRA GGUF) vs lib/reference.mjs on the base with the adapter merged in float64.
async function checkLoraGolden(g, tokPath) {
  const dir = join(GOLDEN, g.name), hf = loadHfModel(dir), T = g.ids.length;
  const {adapter, loraGguf} = exportLora(dir, tokPath, hf.config, g.name, LORA);
  const {full, step} = await llamaLogProbs(g.gguf, g.ids, g.V, loraGguf);
  const merged = forward(mergeAdapter(hf, adapter), g.ids, {window: null}).flatMap((r) => Array.from(r));
  const expected = logSoftmaxRows(Float64Array.from(merged), g.V);
  const dFull = maxAbsDiff(full, expected), dStep = maxAbsDiff(step, expected.subarray((T - 1) * g.V));
  record(`${g.name} + LoRA GGUF: llama.cpp log-probabilities vs the merged model (tol ${LOGIT_TOL})`,
         dFull <= LOGIT_TOL && dStep <= LOGIT_TOL,
         `r ${LORA.rank}, alpha ${LORA.alpha}, 7 modules; all ${T} positions ${dFull.toExponential(2)}, last via KV cache ` +
         `${dStep.toExponential(2)} (the adapter moves them by up to ${maxAbsDiff(full, g.expected).toExponential(2)})`);
  return {name: g.name, max_abs_diff_all: dFull, max_abs_diff_step: dStep};
}

// stories260K: llama.cpp's greedy decoding with the LoRA vs tunekit's, which applies the PEFT folder unmerged.
async function checkLoraStories() {
  const hfDir = join(args.work, "stories260K-hf");  // for config.json (the shapes)
  const tok = join(STORIES, "tok512.bin"), bin = join(STORIES, "stories260K.bin");
  tunekit("convert", "--model", bin, "--tokenizer", tok, "--out", hfDir);
  const config = JSON.parse(readFileSync(join(hfDir, "config.json"), "utf8"));
  const {peft, loraGguf} = exportLora(bin, tok, config, "stories260K", {...LORA, bScale: 0.05});
  const model = await load(join(args.work, "stories260K-f32.gguf"));
  const {context, sequence} = await newSequence(model, 256, loraGguf);
  const generated = [];
  let token = model.tokens.bos;
  for (let step = 0; step < reference.steps; step++) {
    const [out] = await sequence.controlledEvaluate([[token, NEXT]]);
    token = argmax(logProbs(out, 512));
    generated.push(token);
  }
  await context.dispose();
  await model.dispose();
  const ours = JSON.parse(tunekit("generate", "--model", bin, "--tokenizer", tok, "--adapter", peft, "--prompt", "",
                                  "--max-tokens", String(reference.steps), "--temperature", "0", "--no-eos-stop",
                                  "--json", "--quiet", "--threads", "1")).tokens;
  const agree = leadingAgreement(generated, ours), baseAgree = leadingAgreement(generated, reference.generated_ids);
  record(`stories260K + LoRA GGUF: llama.cpp greedy ${reference.steps} vs tunekit generate --adapter (unmerged)`,
         agree === reference.steps && baseAgree < reference.steps,
         `${agree}/${reference.steps} leading tokens agree (without the adapter only the first ${baseAgree} would)`);
  return {llama_cpp_ids: generated, tunekit_ids: ours, agree};
}

// ---- run --------------------------------------------------------------------------------------------
const report = {llama_cpp: release, stories260K: [], golden: [], lora: []};
const t0 = Date.now();
try {
  if (!existsSync(join(STORIES, "stories260K.bin"))) {
    record("stories260K", false, `${STORIES} not found (the shared models folder is required)`);
  } else {
    for (const dtype of ["f32", "q8_0"]) report.stories260K.push(await checkStories(dtype));
    await checkEncoding("stories260K q8_0", join(args.work, "stories260K-f32.gguf"), join(args.work, "stories260K-q8_0.gguf"));
  }
  const tok120 = join(args.work, "ascii120.bin");
  if (writeAsciiTokenizer(tok120) !== 120) throw new Error("ascii120.bin: expected 120 tokens");
  const goldens = [];
  for (const name of ["llama_gqa_tied", "llama_gqa_tied_bf16", "mistral_swa", "qwen2_bias", "llama3_rope", "llama_linear_rope"])
    goldens.push(await checkGolden(name, tok120));
  report.golden = goldens.map(({ids, V, expected, gguf, ...rest}) => rest);
  for (const g of goldens.filter((x) => x.window == null)) report.lora.push(await checkLoraGolden(g, tok120));
  if (existsSync(join(STORIES, "stories260K.bin"))) report.lora.push(await checkLoraStories());
  const worst = Math.max(...referenceDiffs.map(([, d]) => d));
  record(`lib/reference.mjs (float64 JS forward pass) vs all ${referenceDiffs.length} goldens`, worst <= LOGIT_TOL,
         referenceDiffs.map(([n, d]) => `${n} ${d.toExponential(2)}`).join(", "));
  await checkGoldenTypes(goldens, tok120);
} catch (e) {
  record("run", false, e.message);
}
record("llama.cpp's greedy sampler = argmax of its probabilities (every evaluation above)", samplerDisagreements === 0,
       `${samplerDisagreements} disagreements`);
report.seconds = (Date.now() - t0) / 1000;
report.results = results;
writeFileSync(join(args.work, "compat-results.json"), JSON.stringify(report, null, 1) + "\n");
const failed = results.filter((r) => !r.ok), checks = results.filter((r) => !r.info);
console.log(`\ncompat: ${checks.length - failed.length}/${checks.length} checks passed in ${report.seconds.toFixed(1)} s` +
            ` (llama.cpp ${release.release} via node-llama-cpp); details in ${join(args.work, "compat-results.json")}`);
await llama.dispose();
process.exit(failed.length ? 1 : 0);
