"""Minimal safetensors writer/reader for tunekit's reference scripts (no `safetensors` package).

Format (https://github.com/huggingface/safetensors):
    8 bytes   little-endian u64 N = length of the JSON header
    N bytes   JSON {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}
              padded with spaces so that 8 + N is a multiple of 8
    rest      raw little-endian tensor data; offsets are relative to the end of the header

Tensors are laid out in name order, back to back. Values may be torch tensors or numpy arrays.
"""
import json
import struct

import numpy as np
import torch

# safetensors dtype name -> (numpy dtype used for the raw bytes, element size)
_NP = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": np.uint16,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_,
}
_TORCH = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
    torch.bool: "BOOL",
}
_NP_TO_ST = {np.dtype(np.float64): "F64", np.dtype(np.float32): "F32", np.dtype(np.float16): "F16",
             np.dtype(np.int64): "I64", np.dtype(np.int32): "I32", np.dtype(np.int16): "I16",
             np.dtype(np.int8): "I8", np.dtype(np.uint8): "U8", np.dtype(np.bool_): "BOOL"}


def _to_bytes(value):
    """Returns (safetensors dtype, shape, little-endian bytes) for a torch tensor or numpy array."""
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        dtype = _TORCH[t.dtype]
        if t.dtype == torch.bfloat16:
            arr = t.view(torch.int16).numpy().view(np.uint16)
        else:
            arr = t.numpy()
        shape = list(t.shape)
    else:
        arr = np.ascontiguousarray(value)
        dtype = _NP_TO_ST[arr.dtype]
        shape = list(arr.shape)
    arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
    return dtype, shape, arr.tobytes(order="C")


def save(path, tensors, metadata=None):
    """Writes tensors {name: tensor} to path. metadata: {str: str} stored under __metadata__."""
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        dtype, shape, data = _to_bytes(tensors[name])
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for data in blobs:
            f.write(data)


def load(path):
    """Reads path; returns ({name: torch tensor}, metadata dict). BF16 comes back as torch.bfloat16."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        arr = np.frombuffer(raw[base + begin:base + end], dtype=np.dtype(_NP[info["dtype"]]).newbyteorder("<"))
        arr = arr.astype(arr.dtype.newbyteorder("="), copy=True).reshape(info["shape"])
        if info["dtype"] == "BF16":
            out[name] = torch.from_numpy(arr.view(np.int16)).view(torch.bfloat16)
        else:
            out[name] = torch.from_numpy(arr)
    return out, metadata
