#!/usr/bin/python3
"""PyTorch peer of zspace's convolutional autoencoder (`train_mnist ae`), for throughput and
loss comparisons (bench/compare_ae.sh runs both on the same data in one run).

It trains the blog's model with the same semantics as zspace (Keras / TF 2.8):
  encoder  Conv2D 1->32 k3 s1 'same' + LeakyReLU(0.3)
           Conv2D 32->64 k3 s2 'same' + LeakyReLU     28x28 -> 14x14
           Conv2D 64->128 k3 s2 'same' + LeakyReLU    14x14 -> 7x7
           Flatten (C,H,W order: zspace is NCHW) ; Dense 6272 -> z_dim (no activation)
  decoder  Dense z_dim -> 6272 (no activation) ; Reshape (128,7,7)
           Conv2DTranspose 128->64 k3 s2 'same' + LeakyReLU   7 -> 14
           Conv2DTranspose 64->32 k3 s2 'same' + LeakyReLU    14 -> 28
           Conv2DTranspose 32->1 k3 s1 'same' + LeakyReLU ; sigmoid  (the blog's head)
Conventions that differ from PyTorch's defaults, and why:
  * TF 'same' padding: total = max((out-1)*s + k - in, 0), top/left = total//2, the rest
    bottom/right. For k3 s2 on 28x28 that is 0 top, 1 bottom -- PyTorch's padding=1 would pad
    1 on both sides and shift every output by one pixel.
  * Conv2DTranspose 'same' is the adjoint of the forward TF-same conv of the mirrored geometry:
    conv_transpose2d with padding 0 gives the forward conv's PADDED input, so crop the forward
    padding off: keep rows [top, top + in*s). For s2 that drops the last row/col.
    `--self-check` verifies this against autograd of the forward conv.
  * Weights are Glorot-uniform with Keras's fans, biases zero.
  * BCE as Keras: probabilities clamped to [1e-7, 1-1e-7], mean over pixels and batch; the
    clamp's derivative is zero outside the range (as in zspace's cpu::bce_loss).
  * Adam as Keras: lr_t = lr*sqrt(1-b2^t)/(1-b1^t); p -= lr_t*m/(sqrt(v)+eps), eps 1e-7
    (torch.optim.Adam puts eps after the bias correction of v, which is a different update).
Timing (mirrors zspace): images_per_second = total training images / total training seconds
over ALL epochs, no warm-up excluded. An epoch's training time runs from its shuffle to its last
optimizer step (device synchronized); data loading, model setup, the train-loss read-back and
the test evaluation are outside it.
Data: the first --train-limit / --test-limit images of the standard MNIST IDX files (raw or .gz)
in --data; pixels are scaled to [0,1] and are both input and target.
Threads: --threads sets torch's intra-op pool and OpenBLAS's pool (unless OPENBLAS_NUM_THREADS
is set); torch 1.13 runs Conv2DTranspose through im2col + BLAS gemm on the CPU. OMP_WAIT_POLICY
defaults to PASSIVE, torch's fastest setting here (2.2x its libgomp default; see below).
Output: progress on stderr, the metrics JSON on stdout and (atomically) in --json FILE.
Exit codes: 0 ok, 1 self-check failed, 2 bad input (one message naming the problem and the fix).
"""
import argparse
import gzip
import json
import math
import os
import platform
import sys
import tempfile
import time


def _blas_threads_from_argv(argv):
    """--threads, read before torch loads: Debian's torch calls the system OpenBLAS (pthreads
    build), which sizes its own pool from OPENBLAS_NUM_THREADS (default: every core) at load time
    and ignores torch.set_num_threads. Bad values are left to argparse to report."""
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return "2"


if "OPENBLAS_NUM_THREADS" not in os.environ:  # an explicit user setting wins
    os.environ["OPENBLAS_NUM_THREADS"] = _blas_threads_from_argv(sys.argv[1:])
# The peer runs at its best: with libgomp's default wait policy (spin, then sleep) torch 1.13
# trains this model at ~173 img/s on 2 threads of the CI machine, with PASSIVE (sleep at once)
# at ~375 img/s; its worker threads' spinning competes with the OpenBLAS pool. Read by libgomp
# when torch loads; an explicit user setting wins.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"

import numpy as np  # noqa: E402  (torch must load after OPENBLAS_NUM_THREADS is set)
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

LEAKY_ALPHA = 0.3        # Keras LeakyReLU default
BCE_EPS = 1e-7           # Keras backend epsilon()
IMAGE_SIDE = 28
BOTTLENECK_SHAPE = (128, 7, 7)
EVAL_BATCH = 1000        # batch for test-set evaluation (no gradients, so larger is fine)


class UserError(Exception):
    """Bad input: the message names the problem and the fix; the script exits with code 2."""


# ---------------------------------------------------------------- TF 'same' geometry and ops
def tf_same_padding(in_size, ksize, stride):
    """Returns (out, pad_before, pad_after) of TensorFlow's 'same' padding along one axis."""
    out = -(-in_size // stride)
    total = max((out - 1) * stride + ksize - in_size, 0)
    return out, total // 2, total - total // 2


def conv2d_tf_same(x, weight, bias, stride):
    """Keras Conv2D(padding='same'); weight [K][C][R][S]."""
    _, top, bottom = tf_same_padding(x.shape[2], weight.shape[2], stride)
    _, left, right = tf_same_padding(x.shape[3], weight.shape[3], stride)
    if top == bottom and left == right:  # symmetric: PyTorch's own padding is the same thing
        return F.conv2d(x, weight, bias, stride, padding=(top, left))
    return F.conv2d(F.pad(x, (left, right, top, bottom)), weight, bias, stride)


def conv_transpose2d_tf_same(x, weight, bias, stride):
    """Keras Conv2DTranspose(padding='same'): out = in*stride, the adjoint of conv2d_tf_same
    from the output geometry back to the input one. weight [Cin][Cout][R][S], i.e. the [K][C][R][S]
    weight of that forward conv (PyTorch's conv_transpose2d layout, zspace's storage)."""
    out_h, out_w = x.shape[2] * stride, x.shape[3] * stride
    _, top, _ = tf_same_padding(out_h, weight.shape[2], stride)
    _, left, _ = tf_same_padding(out_w, weight.shape[3], stride)
    padded = F.conv_transpose2d(x, weight, bias, stride)  # (in-1)*s + k = forward padded input size
    return padded[:, :, top:top + out_h, left:left + out_w]


# ---------------------------------------------------------------- layers with Keras init
def glorot_uniform_(tensor, fan_in, fan_out, generator):
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        tensor.uniform_(-limit, limit, generator=generator)
    return tensor


class Conv2DSame(torch.nn.Module):
    def __init__(self, cin, cout, ksize, stride, generator):
        super().__init__()
        self.stride = stride
        self.weight = torch.nn.Parameter(torch.empty(cout, cin, ksize, ksize))
        self.bias = torch.nn.Parameter(torch.zeros(cout))
        # Keras kernel (kh, kw, in, out): fan_in = kh*kw*in, fan_out = kh*kw*out.
        glorot_uniform_(self.weight, ksize * ksize * cin, ksize * ksize * cout, generator)

    def forward(self, x):
        return conv2d_tf_same(x, self.weight, self.bias, self.stride)


class Conv2DTransposeSame(torch.nn.Module):
    def __init__(self, cin, cout, ksize, stride, generator):
        super().__init__()
        self.stride = stride
        self.weight = torch.nn.Parameter(torch.empty(cin, cout, ksize, ksize))
        self.bias = torch.nn.Parameter(torch.zeros(cout))
        # Keras kernel (kh, kw, filters=out, in): fan_in = kh*kw*out, fan_out = kh*kw*in.
        glorot_uniform_(self.weight, ksize * ksize * cout, ksize * ksize * cin, generator)

    def forward(self, x):
        return conv_transpose2d_tf_same(x, self.weight, self.bias, self.stride)


class Dense(torch.nn.Module):
    def __init__(self, fan_in, fan_out, generator):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.empty(fan_out, fan_in))  # F.linear layout
        self.bias = torch.nn.Parameter(torch.zeros(fan_out))
        glorot_uniform_(self.weight, fan_in, fan_out, generator)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)


class ConvAutoencoder(torch.nn.Module):
    def __init__(self, z_dim, generator):
        super().__init__()
        flat = BOTTLENECK_SHAPE[0] * BOTTLENECK_SHAPE[1] * BOTTLENECK_SHAPE[2]
        g = generator  # layers are created (and so initialised) in model order
        self.enc_conv = torch.nn.ModuleList([
            Conv2DSame(1, 32, 3, 1, g), Conv2DSame(32, 64, 3, 2, g), Conv2DSame(64, 128, 3, 2, g)])
        self.enc_dense = Dense(flat, z_dim, g)
        self.dec_dense = Dense(z_dim, flat, g)
        self.dec_conv = torch.nn.ModuleList([
            Conv2DTransposeSame(128, 64, 3, 2, g), Conv2DTransposeSame(64, 32, 3, 2, g),
            Conv2DTransposeSame(32, 1, 3, 1, g)])

    def encode(self, x):
        for conv in self.enc_conv:
            x = F.leaky_relu(conv(x), LEAKY_ALPHA)
        return self.enc_dense(x.flatten(1))

    def decode(self, z):
        x = self.dec_dense(z).view(-1, *BOTTLENECK_SHAPE)
        for conv in self.dec_conv[:-1]:
            x = F.leaky_relu(conv(x), LEAKY_ALPHA)
        return torch.sigmoid(F.leaky_relu(self.dec_conv[-1](x), LEAKY_ALPHA))

    def forward(self, x):
        return self.decode(self.encode(x))


# ---------------------------------------------------------------- losses and optimizer
def bce_per_sample(prob, target):
    """Keras binary cross-entropy on probabilities, mean over each sample's pixels."""
    p = prob.clamp(BCE_EPS, 1.0 - BCE_EPS)
    loss = -(target * torch.log(p) + (1.0 - target) * torch.log(1.0 - p))
    return loss.flatten(1).mean(1)


def mse_per_sample(prob, target):
    return (prob - target).square().flatten(1).mean(1)


LOSSES = {"bce": bce_per_sample, "mse": mse_per_sample}


class KerasAdam(torch.optim.Optimizer):
    """Adam with Keras's update (epsilon outside the bias correction), all parameters at once."""

    def __init__(self, params, lr, beta1=0.9, beta2=0.999, eps=1e-7):
        super().__init__(params, dict(lr=lr, beta1=beta1, beta2=beta2, eps=eps))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = [p.grad for p in params]
            states = [self.state[p] for p in params]
            for p, s in zip(params, states):
                if not s:
                    s["step"] = 0
                    s["m"] = torch.zeros_like(p)
                    s["v"] = torch.zeros_like(p)
                s["step"] += 1
            t = states[0]["step"]
            b1, b2 = group["beta1"], group["beta2"]
            m = [s["m"] for s in states]
            v = [s["v"] for s in states]
            torch._foreach_mul_(m, b1)
            torch._foreach_add_(m, grads, alpha=1.0 - b1)
            torch._foreach_mul_(v, b2)
            torch._foreach_addcmul_(v, grads, grads, value=1.0 - b2)
            lr_t = group["lr"] * math.sqrt(1.0 - b2 ** t) / (1.0 - b1 ** t)
            denom = torch._foreach_sqrt(v)
            torch._foreach_add_(denom, group["eps"])
            torch._foreach_addcdiv_(params, m, denom, value=-lr_t)


# ---------------------------------------------------------------- data (IDX)
IDX_IMAGES_MAGIC = 0x00000803  # unsigned byte, 3 dimensions


def find_idx_file(data_dir, stem):
    for name in (stem, stem + ".gz"):
        path = os.path.join(data_dir, name)
        if os.path.isfile(path):
            return path
    raise UserError(f"--data {data_dir}: no {stem} or {stem}.gz there; point --data at a folder "
                    "with the four MNIST IDX files (tools/fetch_data makes data/mnist)")


def read_idx_images(path):
    """Returns uint8 [N][1][rows][cols]."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise UserError(f"{path}: cannot read ({e}); re-fetch the file") from None
    if len(raw) < 16 or int.from_bytes(raw[0:4], "big") != IDX_IMAGES_MAGIC:
        raise UserError(f"{path}: not an IDX image file (magic 0x00000803 expected); "
                        "re-fetch the file")
    n, rows, cols = (int.from_bytes(raw[i:i + 4], "big") for i in (4, 8, 12))
    if (rows, cols) != (IMAGE_SIDE, IMAGE_SIDE) or len(raw) != 16 + n * rows * cols:
        raise UserError(f"{path}: header says {n} images of {rows}x{cols} in {len(raw)} bytes; "
                        f"expected 28x28 images filling the file; re-fetch the file")
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, 1, rows, cols)


def load_images(data_dir, stem, limit):
    images = read_idx_images(find_idx_file(data_dir, stem))
    if limit is not None:
        images = images[:limit]
    return torch.from_numpy(images.astype(np.float32) / 255.0)


# ---------------------------------------------------------------- training
def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def evaluate(model, images, device):
    """Mean per-sample BCE and MSE over `images` (already on device)."""
    bce = torch.zeros((), dtype=torch.float64, device=device)
    mse = torch.zeros((), dtype=torch.float64, device=device)
    with torch.no_grad():
        for start in range(0, images.shape[0], EVAL_BATCH):
            x = images[start:start + EVAL_BATCH]
            p = model(x)
            bce += bce_per_sample(p, x).double().sum()
            mse += mse_per_sample(p, x).double().sum()
    n = images.shape[0]
    return bce.item() / n, mse.item() / n


def train(args, device, log):
    t_start = time.perf_counter()
    train_x = load_images(args.data, "train-images-idx3-ubyte", args.train_limit).to(device)
    test_x = load_images(args.data, "t10k-images-idx3-ubyte", args.test_limit).to(device)
    n_train = train_x.shape[0]
    log(f"peer: {n_train} train / {test_x.shape[0]} test images from {args.data}, device {device}, "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}")

    init_gen = torch.Generator().manual_seed(args.seed)
    model = ConvAutoencoder(args.z_dim, init_gen).to(device)
    optimizer = KerasAdam(model.parameters(), lr=args.lr)
    loss_fn = LOSSES[args.loss]
    shuffle_gen = torch.Generator().manual_seed(args.seed + 1)

    train_losses, train_seconds = [], 0.0
    for epoch in range(args.epochs):
        synchronize(device)
        t0 = time.perf_counter()
        order = torch.randperm(n_train, generator=shuffle_gen).to(device)
        # Summed on the device in float64 and read back after the timer: no per-batch sync.
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        for start in range(0, n_train, args.batch):  # the last partial batch is trained too
            x = train_x.index_select(0, order[start:start + args.batch])
            per_sample = loss_fn(model(x), x)
            optimizer.zero_grad(set_to_none=True)
            per_sample.mean().backward()
            optimizer.step()
            loss_sum += per_sample.detach().sum(dtype=torch.float64)
        synchronize(device)
        seconds = time.perf_counter() - t0
        train_seconds += seconds
        train_losses.append(loss_sum.item() / n_train)  # Keras: batch losses weighted by size
        log(f"epoch {epoch + 1}/{args.epochs}: train {args.loss} {train_losses[-1]:.5f}, "
            f"{n_train / seconds:.1f} img/s")

    test_bce, test_mse = evaluate(model, test_x, device)
    log(f"test bce {test_bce:.5f}, test mse {test_mse:.5f}")
    return {
        "peer": "pytorch",
        "model": "conv_ae",
        "loss": args.loss,
        "images_per_second": n_train * args.epochs / train_seconds,
        "train_loss": train_losses,
        "test_loss": test_bce if args.loss == "bce" else test_mse,
        "test_bce": test_bce,
        "test_mse": test_mse,
        "train_seconds": train_seconds,
        "seconds_total": time.perf_counter() - t_start,
        "timing": "total training images / total training seconds over all epochs, no warm-up "
                  "excluded; an epoch spans its shuffle to its last optimizer step, synchronized",
        "epochs": args.epochs, "batch": args.batch, "lr": args.lr, "z_dim": args.z_dim,
        "seed": args.seed, "train_images": n_train, "test_images": test_x.shape[0],
        "data": os.path.abspath(args.data),
        "device": str(device),
        "device_name": (torch.cuda.get_device_name(device) if device.type == "cuda"
                        else platform.processor() or platform.machine()),
        "threads": torch.get_num_threads(),
        "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "tf32": bool(device.type == "cuda" and torch.backends.cudnn.allow_tf32),
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
    }


# ---------------------------------------------------------------- self-check
def naive_conv2d_tf_same(x, w, stride):
    """Direct loop of the TF rule in float64 numpy: the independent oracle of conv2d_tf_same."""
    n, c, h, wd = x.shape
    k, _, r, s = w.shape
    p, top, _ = tf_same_padding(h, r, stride)
    q, left, _ = tf_same_padding(wd, s, stride)
    y = np.zeros((n, k, p, q))
    for i in range(p):
        for j in range(q):
            for dr in range(r):
                for ds in range(s):
                    hi, wj = i * stride - top + dr, j * stride - left + ds
                    if 0 <= hi < h and 0 <= wj < wd:
                        y[:, :, i, j] += x[:, :, hi, wj] @ w[:, :, dr, ds].T
    return y


def self_check(device):
    torch.manual_seed(0)
    failures = []

    def check(name, got, ref, atol, rtol=0.0):
        got = np.asarray(got, dtype=np.float64)
        ref = np.asarray(ref, dtype=np.float64)
        if got.shape != ref.shape:
            failures.append(name)
            print(f"FAIL {name}: shape {got.shape} != {ref.shape}")
            return
        excess = np.abs(got - ref) - (atol + rtol * np.abs(ref))
        worst = np.unravel_index(np.argmax(excess), excess.shape) if excess.size else ()
        ok = bool(np.all(np.isfinite(got)) and (excess.size == 0 or excess[worst] <= 0))
        print(f"{'ok  ' if ok else 'FAIL'} {name}: max |d| {np.max(np.abs(got - ref)):.3g}")
        if not ok:
            failures.append(name)
            print(f"     worst at {worst}: got {got[worst]!r}, ref {ref[worst]!r}")

    # 1. TF-same conv vs the naive loop: odd sizes, H != W, stride 1 and 2, the model's shapes.
    for (n, c, h, w, k, stride) in [(2, 3, 7, 6, 4, 1), (3, 3, 7, 6, 5, 2), (1, 2, 28, 28, 3, 2),
                                    (2, 3, 14, 14, 2, 2), (1, 1, 28, 28, 2, 1), (2, 3, 8, 5, 4, 2)]:
        x = torch.randn(n, c, h, w, dtype=torch.float64)
        wt = torch.randn(k, c, 3, 3, dtype=torch.float64)
        check(f"conv2d_tf_same k3 {n}x{c}x{h}x{w} -> {k} ch s{stride} vs naive loop",
              conv2d_tf_same(x, wt, None, stride).numpy(), naive_conv2d_tf_same(x.numpy(), wt.numpy(), stride),
              atol=1e-12, rtol=1e-12)

    # 2. TF-same transposed conv == autograd adjoint of the forward TF-same conv (in -> in*s).
    for (n, cin, cout, h, w, stride) in [(2, 5, 3, 7, 7, 2), (1, 4, 2, 14, 14, 2), (3, 3, 1, 28, 28, 1),
                                         (2, 3, 2, 5, 4, 2), (1, 2, 3, 6, 9, 1)]:
        dy = torch.randn(n, cin, h, w, dtype=torch.float64)
        wt = torch.randn(cin, cout, 3, 3, dtype=torch.float64)
        x = torch.randn(n, cout, h * stride, w * stride, dtype=torch.float64, requires_grad=True)
        y = conv2d_tf_same(x, wt, None, stride)
        assert y.shape == dy.shape
        (adjoint,) = torch.autograd.grad(y, x, dy)
        check(f"conv_transpose2d_tf_same {cin}->{cout} {h}x{w} s{stride} vs autograd adjoint",
              conv_transpose2d_tf_same(dy, wt, None, stride).numpy(), adjoint.numpy(),
              atol=1e-12, rtol=1e-12)
        if stride == 2:  # the claim in the header, with PyTorch's module: padding 0, crop the last row/col
            mod = torch.nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=0, bias=False).double()
            with torch.no_grad():
                mod.weight.copy_(wt)
                cropped = mod(dy)[:, :, :2 * h, :2 * w]
            check(f"ConvTranspose2d(s2, padding 0)[:2h,:2w] {h}x{w} vs autograd adjoint",
                  cropped.numpy(), adjoint.numpy(), atol=1e-12, rtol=1e-12)

    # 3. The model: shapes, Glorot limits, zero biases.
    model = ConvAutoencoder(16, torch.Generator().manual_seed(1))
    x = torch.rand(2, 1, 28, 28)
    z = model.encode(x)
    out = model(x)
    ok = z.shape == (2, 16) and out.shape == (2, 1, 28, 28) and bool(((out > 0) & (out < 1)).all())
    print(f"{'ok  ' if ok else 'FAIL'} model shapes: z {tuple(z.shape)}, out {tuple(out.shape)}")
    if not ok:
        failures.append("model shapes")
    fans = {"enc_conv.0": (9, 9 * 32), "enc_conv.1": (9 * 32, 9 * 64), "enc_conv.2": (9 * 64, 9 * 128),
            "enc_dense": (6272, 16), "dec_dense": (16, 6272), "dec_conv.0": (9 * 64, 9 * 128),
            "dec_conv.1": (9 * 32, 9 * 64), "dec_conv.2": (9 * 1, 9 * 32)}
    params = dict(model.named_parameters())
    for layer, (fan_in, fan_out) in fans.items():
        wmax = params[layer + ".weight"].abs().max().item()
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        ok = 0.9 * limit < wmax <= limit and params[layer + ".bias"].abs().max().item() == 0.0
        print(f"{'ok  ' if ok else 'FAIL'} glorot {layer}: max |w| {wmax:.4f}, limit {limit:.4f}, bias 0")
        if not ok:
            failures.append(f"glorot {layer}")

    # 4. BCE: value vs a float64 formula with the clamp, gradient zero where clamped.
    prob = torch.tensor([[0.0, 1e-9, 0.3, 0.9, 1.0 - 1e-9, 1.0]], dtype=torch.float64, requires_grad=True)
    target = torch.tensor([[0.0, 1.0, 0.5, 1.0, 0.0, 1.0]], dtype=torch.float64)
    loss = bce_per_sample(prob, target).mean()
    (grad,) = torch.autograd.grad(loss, prob)
    p = np.clip(prob.detach().numpy(), BCE_EPS, 1 - BCE_EPS)
    t = target.numpy()
    ref_loss = np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p)))
    inside = (prob.detach().numpy() > BCE_EPS) & (prob.detach().numpy() < 1 - BCE_EPS)
    ref_grad = np.where(inside, (p - t) / (p * (1 - p)) / t.size, 0.0)
    check("bce loss vs formula", loss.item(), ref_loss, atol=1e-12, rtol=1e-12)
    check("bce gradient (zero where clamped)", grad.numpy(), ref_grad, atol=1e-12, rtol=1e-9)

    # 5. Keras Adam: three steps vs the formula in float64 numpy.
    w0 = np.array([0.5, -1.0, 2.0, 0.0])
    grads = [np.array([0.1, -0.2, 0.0, 1e-4]), np.array([-0.3, 0.2, 0.5, 0.0]), np.array([0.05, 0.0, -1.0, 2.0])]
    param = torch.nn.Parameter(torch.tensor(w0))
    opt = KerasAdam([param], lr=5e-4)
    ref, m, v = w0.copy(), np.zeros(4), np.zeros(4)
    for step, g in enumerate(grads, start=1):
        param.grad = torch.tensor(g)
        opt.step()
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        ref -= 5e-4 * math.sqrt(1 - 0.999 ** step) / (1 - 0.9 ** step) * m / (np.sqrt(v) + 1e-7)
    check("keras adam, 3 steps", param.detach().numpy(), ref, atol=1e-15, rtol=1e-12)

    # 6. On a GPU, the model's forward and gradients match the CPU (float32, TF32 off).
    if device.type == "cuda":
        x = torch.rand(4, 1, 28, 28)
        gpu_model = ConvAutoencoder(16, torch.Generator().manual_seed(1)).to(device)
        check("cuda forward vs cpu", gpu_model(x.to(device)).detach().cpu().numpy(),
              model(x).detach().numpy(), atol=1e-5, rtol=1e-4)
        bce_per_sample(model(x), x).mean().backward()
        bce_per_sample(gpu_model(x.to(device)), x.to(device)).mean().backward()
        g_cpu = model.enc_conv[0].weight.grad.numpy()
        g_gpu = gpu_model.enc_conv[0].weight.grad.cpu().numpy()
        check("cuda first-conv weight gradient vs cpu", g_gpu, g_cpu, atol=1e-6, rtol=1e-3)

    print(f"self-check: {'PASS' if not failures else 'FAIL (' + ', '.join(failures) + ')'}")
    return not failures


# ---------------------------------------------------------------- command line
def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a positive integer")
    return value


def positive_float(text):
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"'{text}' is not a positive number")
    return value


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="data/mnist", help="folder with the four MNIST IDX files")
    ap.add_argument("--json", metavar="FILE", help="also write the metrics JSON here (atomically)")
    ap.add_argument("--epochs", type=positive_int, default=1)
    ap.add_argument("--batch", type=positive_int, default=128)
    ap.add_argument("--lr", type=positive_float, default=5e-4)
    ap.add_argument("--z-dim", type=positive_int, default=16)
    ap.add_argument("--loss", choices=sorted(LOSSES), default="bce")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train-limit", type=positive_int, help="use the first N training images")
    ap.add_argument("--test-limit", type=positive_int, help="use the first N test images")
    ap.add_argument("--threads", type=positive_int, default=2, help="torch intra-op threads and OpenBLAS threads (CPU)")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--allow-tf32", action="store_true",
                    help="let cuDNN use TF32 tensor cores (off: plain fp32, as zspace computes)")
    ap.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    ap.add_argument("--self-check", action="store_true",
                    help="verify padding, transposed conv, init, BCE and Adam; no training")
    return ap.parse_args(argv)


def check_json_folder(path):
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UserError(f"--json {path}: folder {folder} does not exist; create it or pick another path")


def write_json_atomically(path, payload):
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".peer_ae.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(payload)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def pick_device(args):
    torch.set_num_threads(args.threads)
    if args.device == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise UserError("--device cuda: this torch build or machine has no usable CUDA GPU; "
                        "use --device cpu")
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = args.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = args.allow_tf32
    return torch.device("cuda")


def main(argv):
    args = parse_args(argv)
    try:
        if args.json:
            check_json_folder(args.json)  # before training, not after it
        device = pick_device(args)
        if args.self_check:
            return 0 if self_check(device) else 1
        log = (lambda _msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
        metrics = train(args, device, log)
        payload = json.dumps(metrics, indent=2) + "\n"
        if args.json:
            write_json_atomically(args.json, payload)
        sys.stdout.write(payload)
        return 0
    except UserError as e:
        print(f"peer_torch_ae: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
