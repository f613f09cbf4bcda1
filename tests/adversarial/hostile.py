"""Generators of hostile inputs for train_mnist (issue 16): IDX files (raw and gzip), safetensors
checkpoints, .npy feature sets, command-line options. Each generator yields (name, payload) pairs;
the runner (adversarial.py) turns them into command lines. Standard library only."""
import gzip
import json
import struct

# ------------------------------------------------------------------ IDX

def idx_images(count, rows=28, cols=28, seed=1):
    body = bytes(((i * 37 + seed * 11) % 256) for i in range(count * rows * cols))
    return struct.pack(">IIII", 2051, count, rows, cols) + body


def idx_labels(count, seed=1):
    return struct.pack(">II", 2049, count) + bytes(((i * 7 + seed) % 10) for i in range(count))


def hostile_idx_images(good):
    """(name, bytes) variants of a valid images file `good`."""
    n = len(good)
    for cut in (0, 1, 3, 4, 8, 12, 15, 16, 17, n // 2, n - 1):
        yield f"cut-at-{cut}", good[:cut]
    yield "trailing-byte", good + b"\0"
    yield "trailing-kib", good + bytes(1024)
    for magic in (0, 2049, 2052, 0x03080000, 0xFFFFFFFF):
        yield f"magic-{magic}", struct.pack(">I", magic) + good[4:]
    for count in (0xFFFFFFFF, 0x80000000, 0x7FFFFFFF, 1 << 24):
        yield f"count-{count}", good[:4] + struct.pack(">I", count) + good[8:]
    count = struct.unpack(">I", good[4:8])[0]
    yield "count-plus-one", good[:4] + struct.pack(">I", count + 1) + good[8:]
    yield "count-minus-one", good[:4] + struct.pack(">I", count - 1) + good[8:]
    for rows, cols in ((0, 0), (27, 28), (28, 29), (0xFFFFFFFF, 0xFFFFFFFF), (1, 784), (56, 14)):
        yield f"dims-{rows}x{cols}", good[:8] + struct.pack(">II", rows, cols) + good[16:]
    yield "all-zero-header", bytes(16) + good[16:]
    yield "text", b"this is not an IDX file at all\n" * 4


def hostile_idx_labels(good):
    n = len(good)
    for cut in (0, 2, 4, 7, n - 1):
        yield f"cut-at-{cut}", good[:cut]
    yield "trailing-byte", good + b"\x01"
    yield "label-10", good[:8] + b"\x0a" + good[9:]
    yield "label-255", good[:-1] + b"\xff"
    for count in (0xFFFFFFFF, 0x80000000):
        yield f"count-{count}", good[:4] + struct.pack(">I", count) + good[8:]
    yield "magic-images", struct.pack(">I", 2051) + good[4:]


def gzip_variants(raw):
    """Hostile gzip encodings of (valid) raw bytes."""
    gz = gzip.compress(raw, mtime=0)
    for cut in (0, 1, 2, 5, 9, 10, 11, len(gz) // 2, len(gz) - 8, len(gz) - 1):
        yield f"gz-cut-at-{cut}", gz[:cut]
    flipped = bytearray(gz)
    flipped[-6] ^= 0xFF  # CRC32
    yield "gz-bad-crc", bytes(flipped)
    flipped = bytearray(gz)
    flipped[len(gz) // 2] ^= 0x55
    yield "gz-corrupt-deflate", bytes(flipped)
    yield "gz-of-gz", gzip.compress(gz, mtime=0)
    yield "gz-empty", gzip.compress(b"", mtime=0)
    yield "gz-trailing-garbage", gz + b"garbage"
    yield "gz-magic-only", b"\x1f\x8b"


# ------------------------------------------------------------------ safetensors

def safetensors_bytes(header_obj, data, header_text=None, length=None):
    text = header_text if header_text is not None else json.dumps(header_obj, separators=(",", ":"))
    raw = text.encode() if isinstance(text, str) else text
    raw += b" " * ((8 - len(raw) % 8) % 8)
    return struct.pack("<Q", len(raw) if length is None else length) + raw + data


def parse_safetensors(blob):
    n = struct.unpack("<Q", blob[:8])[0]
    return json.loads(blob[8:8 + n]), blob[8 + n:]


def hostile_checkpoints(good):
    """(name, bytes) variants of a valid train_mnist checkpoint."""
    header, data = parse_safetensors(good)
    tensors = sorted(k for k in header if k != "__metadata__")
    first = tensors[0]
    n = len(good)
    for cut in (0, 4, 7, 8, 9, 8 + 10, n // 2, n - 4, n - 1):
        yield f"cut-at-{cut}", good[:cut]
    yield "trailing-bytes", good + b"\0\0\0\0"
    for length in (0, 1, 2**63, 2**64 - 1, len(good), len(good) - 8 + 1):
        yield f"header-length-{length}", struct.pack("<Q", length) + good[8:]
    hlen = struct.unpack("<Q", good[:8])[0]
    for text in (b"{", b"[]", b"null", b"\"x\"", b"{\"a\":", b"\xff\xfe{}", b"{}" + b"\0" * 6):
        yield f"json-{text[:6]!r}", struct.pack("<Q", len(text)) + text + good[8 + hlen:]

    def variant(name, mutate):
        h = json.loads(json.dumps(header))
        mutate(h)
        return name, safetensors_bytes(h, data)

    for dtype in ("F16", "F64", "I32", "f32", "F32 ", "", 7, None):
        yield variant(f"dtype-{dtype}", lambda h, d=dtype: h[first].__setitem__("dtype", d))
    for shape in ([-1], [2**62, 2**62], [1.5], ["3"], [], [0], None, {"a": 1}):
        yield variant(f"shape-{shape}", lambda h, s=shape: h[first].__setitem__("shape", s))
    end = header[first]["data_offsets"][1]
    for offs in ([0, 2**64 - 1], [end, 0], [-4, end], [1, end + 1], [0], [0, end, 3], "0,4", [0.0, float(end)]):
        yield variant(f"offsets-{offs}", lambda h, o=offs: h[first].__setitem__("data_offsets", o))
    yield variant("overlap", lambda h: h[tensors[1]].__setitem__("data_offsets", h[first]["data_offsets"]))
    yield variant("entry-not-object", lambda h: h.__setitem__(first, [1, 2]))
    yield variant("metadata-not-object", lambda h: h.__setitem__("__metadata__", ["x"]))
    yield variant("metadata-number", lambda h: h["__metadata__"].__setitem__("epochs_done", 3))
    yield variant("no-metadata", lambda h: h.pop("__metadata__"))
    for key, value in (("epochs_done", "2147483647"), ("epochs_done", "-1"), ("epochs_done", "1e9"),
                       ("epochs_done", "99999999999999999999999"), ("epochs_done", ""), ("adam_step", "9223372036854775807"),
                       ("adam_step", "-1"), ("adam_step", "0x10"), ("command", "vae"), ("command", ""), ("z_dim", "3"),
                       ("loss", "mse")):
        yield variant(f"meta-{key}-{value[:12]}", lambda h, k=key, v=value: h["__metadata__"].__setitem__(k, v))
    yield variant("meta-missing-epochs", lambda h: h["__metadata__"].pop("epochs_done"))
    yield variant("meta-missing-step", lambda h: h["__metadata__"].pop("adam_step"))
    # Values: NaN / Inf / negative second moment, placed in each kind of tensor.
    for target in (first, next(t for t in tensors if t.startswith("adam.v.")),
                   next(t for t in tensors if not t.startswith("adam."))):
        begin = header[target]["data_offsets"][0]
        for label, value in (("nan", float("nan")), ("inf", float("inf")), ("neg", -1.0)):
            if label == "neg" and not target.startswith("adam.v."):
                continue
            patched = bytearray(data)
            patched[begin:begin + 4] = struct.pack("<f", value)
            yield f"value-{label}-{target}", safetensors_bytes(header, bytes(patched))
    # An unknown tensor (data appended), a missing one (its bytes become a hole: removed from data).
    h = json.loads(json.dumps(header))
    h["encoder.extra.weight"] = {"dtype": "F32", "shape": [1], "data_offsets": [len(data), len(data) + 4]}
    yield "unknown-tensor", safetensors_bytes(h, data + struct.pack("<f", 1.0))
    last = max(tensors, key=lambda t: header[t]["data_offsets"][1])
    h = json.loads(json.dumps(header))
    cut_from = h[last]["data_offsets"][0]
    h.pop(last)
    yield "missing-tensor", safetensors_bytes(h, data[:cut_from])
    h = json.loads(json.dumps(header))
    for t in tensors:
        if t.startswith("adam.v."):
            h[t]["shape"] = [h[t]["shape"][0] * 2] + h[t]["shape"][1:] if h[t]["shape"] else [2]
            break
    yield "shape-lie", safetensors_bytes(h, data)


# ------------------------------------------------------------------ NPY

def npy_bytes(descr, shape, payload, fortran=False, version=(1, 0), header_text=None):
    text = header_text or "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (
        descr, "True" if fortran else "False", "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")")
    head_len = 2 if version[0] == 1 else 4
    pad = (64 - (6 + 2 + head_len + len(text) + 1) % 64) % 64
    text = text + " " * pad + "\n"
    length = struct.pack("<H", len(text)) if head_len == 2 else struct.pack("<I", len(text))
    return b"\x93NUMPY" + bytes(version) + length + text.encode("latin1") + payload


def f32(values):
    return struct.pack("<%df" % len(values), *values)


def hostile_npy_matrix(rows, cols):
    good_payload = f32([0.5] * (rows * cols))
    good = npy_bytes("<f4", (rows, cols), good_payload)
    for cut in (0, 5, 8, 9, 10, 40, len(good) - 1):
        yield f"cut-at-{cut}", good[:cut]
    yield "trailing", good + b"\0\0\0\0"
    for descr in ("<f8", ">f4", "|u1", "<i4", "<f2", "O", "<c8", "f4"):
        yield f"dtype-{descr}", npy_bytes(descr, (rows, cols), good_payload)
    yield "fortran", npy_bytes("<f4", (rows, cols), good_payload, fortran=True)
    for shape in ((rows + 1, cols), (rows, cols + 1), (rows * cols,), (rows, cols, 1), (0, cols), (rows, 0),
                  (10**15, 10**15), (2**62, 4)):
        yield f"shape-{'x'.join(map(str, shape))}", npy_bytes("<f4", shape, good_payload)
    yield "version-9", npy_bytes("<f4", (rows, cols), good_payload, version=(9, 0))
    yield "bad-magic", b"\x93NUMPX" + good[6:]
    yield "header-len-huge", good[:8] + b"\xff\xff" + good[10:]
    for text in ("{}", "{'descr': '<f4'}", "not a dict", "{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 3), }",
                 "{'descr': '<f4', 'fortran_order': maybe, 'shape': (2, 3), }",
                 "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1, }"):
        yield f"header-{text[:14]}", npy_bytes("<f4", (rows, cols), good_payload, header_text=text)
    yield "nan-value", npy_bytes("<f4", (rows, cols), f32([float("nan")] + [0.5] * (rows * cols - 1)))
    yield "inf-value", npy_bytes("<f4", (rows, cols), f32([0.5] * (rows * cols - 1) + [float("-inf")]))


def hostile_npy_labels(count):
    good = npy_bytes("|u1", (count,), bytes(i % 10 for i in range(count)))
    yield "cut", good[:-1]
    yield "label-10", npy_bytes("|u1", (count,), bytes([10] + [1] * (count - 1)))
    yield "label-negative", npy_bytes("<i8", (count,), struct.pack("<%dq" % count, *([-1] + [1] * (count - 1))))
    yield "count-mismatch", npy_bytes("|u1", (count + 1,), bytes(count + 1))
    yield "float-labels", npy_bytes("<f4", (count,), f32([1.0] * count))
    yield "2d-labels", npy_bytes("|u1", (count, 1), bytes(count))


# ------------------------------------------------------------------ options

BAD_NUMBERS = ["-1", "0", "nan", "inf", "-inf", "1e309", "abc", "", "99999999999999999999", "1.5.2", "--"]

def hostile_options(command):
    """(name, argv tail) pairs of bad options for `command`."""
    numeric = {
        "ae": ["--epochs", "--batch", "--z-dim", "--lr", "--train-limit", "--test-limit", "--threads", "--seed"],
        "vae": ["--epochs", "--batch", "--z-dim", "--lr", "--kl-weight", "--train-limit", "--seed"],
        "kmeans": ["--k", "--train-limit", "--test-limit", "--threads", "--seed", "--n-init", "--max-iter", "--tol"],
        "elbow": ["--train-limit", "--threads", "--seed", "--k-min", "--k-max", "--k-step"],
        "ae-kmeans": ["--epochs", "--batch", "--z-dim", "--k", "--seed"],
    }[command]
    always_bad = {"nan", "inf", "-inf", "1e309", "abc", "", "99999999999999999999", "1.5.2", "--"}
    for opt in numeric:
        for v in BAD_NUMBERS:
            if v in always_bad or (v == "-1" and opt not in ("--train-limit", "--test-limit")) or \
               (v == "0" and opt in ("--epochs", "--batch", "--z-dim", "--lr", "--k", "--train-limit", "--test-limit",
                                     "--n-init", "--max-iter")):
                if opt == "--tol" and v == "0":
                    continue
                yield f"{opt}={v!r}", [opt, v]
    yield "seed-hex", ["--seed", "0x10"]
    yield "unknown-option", ["--no-such-option", "1"]
    yield "device-tpu", ["--device", "tpu"]
    yield "positional", ["stray"]
