#!/usr/bin/env python3
"""Interop checks between Ferrite's safetensors/GGUF code and the reference
Python packages (safetensors, gguf). Driven by
crates/ferrite-formats/tests/python_interop.rs.

usage:
  formats_roundtrip.py write DIR   write py_*.safetensors / py_*.gguf with the
                                   reference writers, and DIR/py_manifest.json
                                   describing exactly what they hold
  formats_roundtrip.py check DIR   read every file listed in
                                   DIR/rust_manifest.json with the reference
                                   readers and compare; exit 1 on a mismatch

Manifest: {"files": {NAME: {"metadata": ..., "tensors": {TENSOR: {"dtype",
"shape", "hex"}}, "alignment"?: int}}}.
Shapes are row-major (slowest first); dtype is the safetensors dtype name or
the GGML type name. safetensors metadata is a string map; GGUF metadata is a
list of [key, value] in file order with value = [type, payload], where an
array is ["array", element_type, [value, ...]].
"""

import json
import sys
from pathlib import Path

import numpy as np
import gguf
from gguf import GGUFReader, GGUFValueType as VT, GGUFWriter, GGMLQuantizationType as QT
from safetensors import TensorSpec, deserialize, safe_open, serialize_file

TYPE_NAMES = {
    VT.UINT8: "u8", VT.INT8: "i8", VT.UINT16: "u16", VT.INT16: "i16", VT.UINT32: "u32", VT.INT32: "i32",
    VT.FLOAT32: "f32", VT.BOOL: "bool", VT.STRING: "string", VT.ARRAY: "array", VT.UINT64: "u64",
    VT.INT64: "i64", VT.FLOAT64: "f64",
}
BY_NAME = {v: k for k, v in TYPE_NAMES.items()}

# safetensors dtype -> (TensorSpec dtype, element size)
ST_DTYPES = {
    "BOOL": ("bool", 1), "U8": ("uint8", 1), "I8": ("int8", 1), "I16": ("int16", 2), "I32": ("int32", 4),
    "I64": ("int64", 8), "F16": ("float16", 2), "BF16": ("bfloat16", 2), "F32": ("float32", 4),
    "F64": ("float64", 8),
    # Ferrite carries these as opaque bytes (no GGML type, not computed with).
    # The 6- and 4-bit types are checked in the other direction only (Ferrite
    # writes, Python reads): the reference writer's TensorSpec has no F6 name.
    "U16": ("uint16", 2), "U32": ("uint32", 4), "U64": ("uint64", 8), "C64": ("complex64", 8),
    "F8_E4M3": ("float8_e4m3fn", 1), "F8_E5M2": ("float8_e5m2", 1), "F8_E4M3FNUZ": ("float8_e4m3fnuz", 1),
    "F8_E5M2FNUZ": ("float8_e5m2fnuz", 1), "F8_E8M0": ("float8_e8m0fnu", 1),
}


def pattern(n, seed):
    return bytes((i * 31 + seed) % 256 for i in range(n))


def canon_nested(elem, values):
    """Expected canonical form of an array written from a Python list."""
    out = []
    for v in values:
        if elem == "array":
            inner = VT.get_type(v[0]) if v else VT.INT32
            out.append(canon_nested(TYPE_NAMES[inner], v))
        else:
            out.append([elem, v])
    return ["array", elem, out]


# (key, type, value); arrays are (element type, list)
META = [
    ("test.u8", "u8", 200), ("test.i8", "i8", -100), ("test.u16", "u16", 60000), ("test.i16", "i16", -30000),
    ("test.u32", "u32", 4000000000), ("test.i32", "i32", -2000000000), ("test.f32", "f32", 1.5),
    ("test.bool", "bool", True), ("test.string", "string", "héllo wörld\n\"quoted\""),
    ("test.u64", "u64", 2**64 - 1), ("test.i64", "i64", -2**63), ("test.f64", "f64", -2.25e-300),
    ("test.arr.u8", "array", ("u8", [0, 1, 255])), ("test.arr.i8", "array", ("i8", [-128, 127])),
    ("test.arr.u16", "array", ("u16", [65535])), ("test.arr.i16", "array", ("i16", [-2, 3])),
    ("test.arr.u32", "array", ("u32", [1, 2])), ("test.arr.i32", "array", ("i32", [-7])),
    ("test.arr.f32", "array", ("f32", [0.5, -0.125, 3.0])), ("test.arr.bool", "array", ("bool", [True, False])),
    ("test.arr.string", "array", ("string", ["a", "", "ü", "<s>"])), ("test.arr.u64", "array", ("u64", [2**63])),
    ("test.arr.i64", "array", ("i64", [-1, 2**62])), ("test.arr.f64", "array", ("f64", [1e300])),
    ("test.arr.nested", "array", ("array", [[1, -2], [3]])),
    ("test.arr.nested_mixed", "array", ("array", [["x", "y"], [1.5], [True]])),
    ("test.arr.nested3", "array", ("array", [[[1, 2], [3]], [["z"]]])),
]


def canon_meta(t, v):
    if t == "array":
        elem, values = v
        if elem == "array":
            return canon_nested("array", values)
        return ["array", elem, [[elem, x] for x in values]]
    return [t, v]


def write_gguf(path, alignment=None):
    w = GGUFWriter(path, "testarch")
    meta = [["general.architecture", ["string", "testarch"]]]
    if alignment:
        w.add_custom_alignment(alignment)
        meta.append(["general.alignment", ["u32", alignment]])
    for key, t, v in META:
        if t == "array":
            w.add_key_value(key, v[1], VT.ARRAY, sub_type=BY_NAME[v[0]])
        else:
            w.add_key_value(key, v, BY_NAME[t])
        meta.append([key, canon_meta(t, v)])
    tensors = {}
    numpy_types = [("F16", np.float16), ("F32", np.float32), ("F64", np.float64), ("I8", np.int8),
                   ("I16", np.int16), ("I32", np.int32), ("I64", np.int64)]
    for i, (name, dt) in enumerate(numpy_types):
        shape = [3, 2, 4] if i % 2 else [5, 3]
        n = int(np.prod(shape))
        raw = pattern(n * np.dtype(dt).itemsize, i)
        w.add_tensor(f"t.{name}", np.frombuffer(raw, dtype=dt).reshape(shape))
        tensors[f"t.{name}"] = {"dtype": name, "shape": shape, "hex": raw.hex()}
    raw = pattern(2 * 6 * 2, 99)
    w.add_tensor("t.BF16", np.frombuffer(raw, dtype=np.uint16).reshape(2, 6), raw_dtype=QT.BF16)
    tensors["t.BF16"] = {"dtype": "BF16", "shape": [2, 6], "hex": raw.hex()}
    # Every block-quantized type, as raw bytes: 3 rows of 2 blocks.
    for i, qt in enumerate(QT):
        block, size = gguf.GGML_QUANT_SIZES[qt]
        if block == 1:
            continue
        raw = pattern(3 * 2 * size, i)
        w.add_tensor(f"q.{qt.name}", np.frombuffer(raw, dtype=np.uint8).reshape(3, 2 * size), raw_dtype=qt)
        tensors[f"q.{qt.name}"] = {"dtype": qt.name, "shape": [3, 2 * block], "hex": raw.hex()}
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return {"metadata": meta, "tensors": tensors, "alignment": alignment or 32}


def write_safetensors(path, dtypes, metadata):
    specs, keep, tensors = {}, [], {}
    for i, (name, (spec_dtype, size)) in enumerate(dtypes.items()):
        shape = [[2, 3], [4], [], [1, 2, 2], [0, 3]][i % 5]
        n = int(np.prod(shape))
        raw = pattern(n * size, i) if name != "BOOL" else bytes(x % 2 for x in range(n))
        buf = np.frombuffer(raw, dtype=np.uint8).copy()
        keep.append(buf)  # TensorSpec holds a raw pointer
        specs[f"t.{name}"] = TensorSpec(dtype=spec_dtype, shape=shape, data_ptr=buf.ctypes.data, data_len=len(raw))
        tensors[f"t.{name}"] = {"dtype": name, "shape": shape, "hex": raw.hex()}
    serialize_file(specs, str(path), metadata=metadata)
    return {"metadata": metadata or {}, "tensors": tensors}


def cmd_write(d):
    files = {}
    files["py.safetensors"] = write_safetensors(d / "py.safetensors", ST_DTYPES, {"format": "pt", "ü": "ö\n"})
    files["py_nometa.safetensors"] = write_safetensors(d / "py_nometa.safetensors", {"F32": ("float32", 4)}, None)
    files["py.gguf"] = write_gguf(d / "py.gguf")
    files["py_align64.gguf"] = write_gguf(d / "py_align64.gguf", alignment=64)
    (d / "py_manifest.json").write_text(json.dumps({"files": files}, indent=1))


def decode(t, parts):
    """One value from GGUFReader's flat list of field parts."""
    if t == VT.STRING:
        next(parts)
        return ["string", bytes(next(parts)).decode("utf-8")]
    if t == VT.ARRAY:
        elem = VT(int(next(parts)[0]))
        n = int(next(parts)[0])
        return ["array", TYPE_NAMES[elem], [decode(elem, parts) for _ in range(n)]]
    v = next(parts).tolist()[0]
    return [TYPE_NAMES[t], bool(v) if t == VT.BOOL else v]


def read_gguf(path):
    r = GGUFReader(path)
    meta = []
    for key, f in r.fields.items():
        if key.startswith("GGUF."):
            continue
        meta.append([key, decode(f.types[0], iter(f.parts[3:]))])
    tensors = {}
    for t in r.tensors:
        tensors[t.name] = {"dtype": t.tensor_type.name, "shape": [int(x) for x in reversed(t.shape.tolist())],
                           "hex": t.data.tobytes().hex()}
    return {"metadata": meta, "tensors": tensors, "alignment": r.alignment}


def read_safetensors(path):
    with safe_open(str(path), framework="np") as f:
        metadata = f.metadata() or {}
    tensors = {}
    for name, t in deserialize(Path(path).read_bytes()):
        tensors[name] = {"dtype": t["dtype"], "shape": list(t["shape"]), "hex": bytes(t["data"]).hex()}
    return {"metadata": metadata, "tensors": tensors}


def diff(expected, got, where):
    if expected == got:
        return []
    if isinstance(expected, dict) and isinstance(got, dict):
        out = [f"{where}: missing key {k!r}" for k in expected if k not in got]
        out += [f"{where}: unexpected key {k!r}" for k in got if k not in expected]
        for k in expected:
            if k in got:
                out += diff(expected[k], got[k], f"{where}.{k}")
        return out
    return [f"{where}: expected {json.dumps(expected)[:200]}, got {json.dumps(got)[:200]}"]


def cmd_check(d):
    manifest = json.loads((d / "rust_manifest.json").read_text())
    problems = []
    for name, expected in manifest["files"].items():
        got = read_gguf(d / name) if name.endswith(".gguf") else read_safetensors(d / name)
        problems += diff(expected, got, name)
    for p in problems:
        print(p, file=sys.stderr)
    print(f"checked {len(manifest['files'])} files, {len(problems)} problems")
    return 1 if problems else 0


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("write", "check"):
        sys.exit(__doc__)
    d = Path(sys.argv[2])
    if sys.argv[1] == "write":
        cmd_write(d)
        return 0
    return cmd_check(d)


if __name__ == "__main__":
    sys.exit(main())
