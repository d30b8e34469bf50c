// Minimal safetensors reader: u64 little-endian header length, JSON header, then raw little-endian
// tensor data. Returns {name: {dtype, shape, data}} with data widened to Float64Array (F32, F16,
// BF16) or Int32Array / BigInt64Array (I32 / I64). Validates offsets against the file size.
import {readFileSync} from "node:fs";

function f16ToF32(h) {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

export function readSafetensors(path) {
  const buf = readFileSync(path);
  if (buf.length < 8) throw new Error(`${path}: too short for a safetensors file`);
  const headerLen = Number(buf.readBigUInt64LE(0));
  if (8 + headerLen > buf.length) throw new Error(`${path}: header length ${headerLen} past the end`);
  const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString("utf8"));
  const base = 8 + headerLen;
  const out = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const [begin, end] = info.data_offsets;
    const count = info.shape.reduce((a, b) => a * b, 1);
    if (base + end > buf.length || begin > end) throw new Error(`${path}: ${name}: offsets out of range`);
    const bytes = buf.subarray(base + begin, base + end);
    const width = {F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8, F64: 8}[info.dtype];
    if (!width) throw new Error(`${path}: ${name}: unsupported dtype ${info.dtype}`);
    if (bytes.length !== count * width) throw new Error(`${path}: ${name}: ${bytes.length} bytes for ${count} x ${info.dtype}`);
    let data;
    switch (info.dtype) {
      case "F32": data = Float64Array.from({length: count}, (_, i) => bytes.readFloatLE(4 * i)); break;
      case "F64": data = Float64Array.from({length: count}, (_, i) => bytes.readDoubleLE(8 * i)); break;
      case "F16": data = Float64Array.from({length: count}, (_, i) => f16ToF32(bytes.readUInt16LE(2 * i))); break;
      case "BF16": {
        const tmp = Buffer.alloc(4);
        data = Float64Array.from({length: count}, (_, i) => { tmp.writeUInt32LE(bytes.readUInt16LE(2 * i) << 16 >>> 0); return tmp.readFloatLE(0); });
        break;
      }
      case "I32": data = Int32Array.from({length: count}, (_, i) => bytes.readInt32LE(4 * i)); break;
      case "I64": data = BigInt64Array.from({length: count}, (_, i) => bytes.readBigInt64LE(8 * i)); break;
    }
    out[name] = {dtype: info.dtype, shape: info.shape, data};
  }
  return out;
}
