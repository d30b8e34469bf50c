// llama.cpp's reference encodings (ggml-quants.c quantize_row_q8_0_ref, ggml's fp32 -> fp16), in
// f32 arithmetic via Math.fround, to check the bytes tunekit writes for q8_0 and f16 tensors.
const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);

// IEEE binary16 bits of an f32 value, round to nearest even (what F16C's vcvtps2ph does).
export function f32ToF16Bits(value) {
  f32[0] = value;
  const x = u32[0], sign = (x >>> 16) & 0x8000, exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e, mid = 2 ** (shift - 1), rem = mant % 2 ** shift;
    let h = Math.floor(mant / 2 ** shift);
    if (rem > mid || (rem === mid && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;  // a carry into the exponent is still right
  return sign | h;
}

export function f16BitsToF32(h) {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

const roundf = (x) => Math.sign(x) * Math.floor(Math.abs(x) + 0.5);  // C roundf: half away from zero

// One q8_0 block (32 values) -> 34 bytes: f16 scale d, then 32 int8. quantize_row_q8_0_ref:
// d = amax / 127, id = d ? 1/d : 0, q = roundf(x * id), all in f32.
export function quantizeBlockQ8_0(values) {
  let amax = 0;
  for (const v of values) amax = Math.max(amax, Math.abs(v));
  const d = Math.fround(amax / 127), id = d ? Math.fround(1 / d) : 0;
  const out = Buffer.alloc(34);
  out.writeUInt16LE(f32ToF16Bits(d), 0);
  values.forEach((v, j) => out.writeInt8(roundf(Math.fround(v * id)), 2 + j));
  return out;
}

// bf16 bits of an f32 value, round to nearest even (ggml_compute_fp32_to_bf16).
export function f32ToBf16Bits(value) {
  f32[0] = value;
  const u = u32[0];
  if ((u & 0x7fffffff) > 0x7f800000) return (u >>> 16) | 64;  // NaN stays a quiet NaN
  return ((u + (0x7fff + ((u >>> 16) & 1))) >>> 16) & 0xffff;
}

// One q4_0 block (32 values) -> 18 bytes: f16 scale d, then 16 bytes of nibbles (value j in the low
// nibble of byte j, value j + 16 in the high nibble). quantize_row_q4_0_ref: d = max / -8 where max
// is the value of largest magnitude, q = min(15, (int8_t)(x * id + 8.5f)). That expression rounds
// differently when the compiler fuses it into an FMA (gguf-py: "Q4_0's reference rounding is cursed
// and depends on FMA"; it emulates the fused form in float64), so both forms are produced:
// fma = false rounds x * id to f32 first, fma = true adds 8.5 to the exact product.
export function quantizeBlockQ4_0(values, {fma = false} = {}) {
  let amax = 0, max = 0;
  for (const v of values) if (amax < Math.abs(v)) { amax = Math.abs(v); max = v; }
  const d = Math.fround(max / -8), id = d ? Math.fround(1 / d) : 0;
  const out = Buffer.alloc(18);
  out.writeUInt16LE(f32ToF16Bits(d), 0);
  const q = (v) => Math.min(15, Math.trunc(fma ? Math.fround(v * id + 8.5) : Math.fround(Math.fround(v * id) + 8.5)));
  for (let j = 0; j < 16; j++) out[2 + j] = q(values[j]) | (q(values[16 + j]) << 4);
  return out;
}

// The bytes llama.cpp's reference code writes for `values` (one tensor, rows of the innermost
// dimension) in ggml type `type`; null for a type this file does not know. `options.fma` picks the
// q4_0 rounding (see quantizeBlockQ4_0).
export function encodeTensor(values, type, options = {}) {
  const n = values.length;
  switch (type) {
    case 0: {  // F32
      const b = Buffer.alloc(4 * n);
      values.forEach((v, i) => b.writeFloatLE(v, 4 * i));
      return b;
    }
    case 1: case 30: {  // F16, BF16
      const b = Buffer.alloc(2 * n), f = type === 1 ? f32ToF16Bits : f32ToBf16Bits;
      values.forEach((v, i) => b.writeUInt16LE(f(v), 2 * i));
      return b;
    }
    case 2: case 8: {  // Q4_0, Q8_0
      const blocks = [], f = type === 2 ? quantizeBlockQ4_0 : quantizeBlockQ8_0;
      for (let i = 0; i < n; i += 32) blocks.push(f(values.slice(i, i + 32), options));
      return Buffer.concat(blocks);
    }
    default: return null;
  }
}

export const GGML_TYPE_NAMES = {0: "f32", 1: "f16", 2: "q4_0", 8: "q8_0", 30: "bf16"};
