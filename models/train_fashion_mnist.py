#!/usr/bin/python3
"""Train kiln's bundled default model: a MobileNetV2-style CNN on Fashion-MNIST.

Runs on Debian's PyTorch (CPU) with Debian's `dataset-fashion-mnist` package:

    /usr/bin/python3 models/train_fashion_mnist.py

Everything is seeded (torch, numpy, python `random`; the data order and any
augmentation (off by default) come from a numpy Generator seeded with --seed) and the script uses
deterministic algorithms, so the same command on the same torch version and
thread count reproduces the same weights.

Outputs (defaults under models/):
  fashion_mnist_mobilenet.onnx  opset 13, input `input` float32 [batch,1,28,28]
                                (dynamic `batch`), output `logits` [batch,10];
                                BatchNorm is left unfolded (kiln folds it).
  fashion_mnist_mobilenet.json  metadata: accuracy, parameter count, command,
                                preprocessing, reference logits of the first
                                test images.
"""

import argparse
import gzip
import json
import os
import platform
import random
import re
import shlex
import sys
import time

import numpy as np

# The machine this runs on is shared: OpenMP threads that spin while waiting
# make a 2-thread run ~10x slower when other processes compete for the cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

DATA_DIR = "/usr/share/datasets/fashion-mnist"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
# Preprocessing: x = (pixel / 255 - MEAN) / STD, one channel.
# MEAN/STD are the Fashion-MNIST training-set statistics, rounded to 4 digits.
MEAN = 0.2860
STD = 0.3530
# The same preprocessing as a kiln --preprocess spec (out = (pixel * scale - mean) / std).
KILN_PREPROCESS = f"channels=gray,scale={1 / 255:.9g},mean={MEAN:g},std={STD:g}"


# ---------------------------------------------------------------- data

def read_idx(path):
    """Parse a gzip'd IDX file (big-endian header) into a numpy array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    dtype_code, ndim = (magic >> 8) & 0xFF, magic & 0xFF
    if dtype_code != 0x08:
        raise ValueError(f"{path}: expected unsigned byte data, got type 0x{dtype_code:02x}")
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    arr = np.frombuffer(data, dtype=np.uint8, offset=offset)
    if arr.size != int(np.prod(dims)):
        raise ValueError(f"{path}: size mismatch")
    return arr.reshape(dims)


def load_split(data_dir, prefix):
    images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"))
    return images, labels.astype(np.int64)


def preprocess(images_u8):
    """uint8 [N,28,28] -> float32 [N,1,28,28], (x/255 - MEAN)/STD."""
    x = images_u8.astype(np.float32) / np.float32(255.0)
    x = (x - np.float32(MEAN)) / np.float32(STD)
    return x[:, None, :, :]


def augment(x, rng, pad=2, flip=True):
    """Random crop with zero-padding (in pixel space: pad value = normalized 0)
    and random horizontal flip.  x: float32 [N,1,28,28]; returns a new array."""
    if pad == 0 and not flip:
        return x
    n, _, h, w = x.shape
    bg = np.float32((0.0 - MEAN) / STD)
    padded = np.full((n, 1, h + 2 * pad, w + 2 * pad), bg, dtype=np.float32)
    padded[:, :, pad:pad + h, pad:pad + w] = x
    dy = rng.integers(0, 2 * pad + 1, size=n)
    dx = rng.integers(0, 2 * pad + 1, size=n)
    flips = rng.random(n) < 0.5
    out = np.empty_like(x)
    for i in range(n):
        crop = padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w]
        out[i] = crop[:, :, ::-1] if flip and flips[i] else crop
    return out


# ---------------------------------------------------------------- model

class ConvBNReLU6(nn.Sequential):
    def __init__(self, cin, cout, k=3, stride=1, groups=1):
        super().__init__(
            nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand -> 3x3 depthwise -> 1x1 linear project,
    with a residual connection when the shape is preserved."""

    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = cin * expand
        layers = []
        if expand != 1:
            layers.append(ConvBNReLU6(cin, hidden, k=1))
        layers += [
            ConvBNReLU6(hidden, hidden, k=3, stride=stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.block = nn.Sequential(*layers)
        self.use_res = stride == 1 and cin == cout

    def forward(self, x):
        y = self.block(x)
        return x + y if self.use_res else y


# (expand t, channels c, repeats n, first stride s), as in MobileNetV2 but with
# strides adapted to 28x28 inputs: 28 -> 14 -> 7 -> 4.
CONFIG = [
    (1, 16, 1, 2),   # 14x14
    (6, 24, 2, 2),   # 7x7
    (6, 32, 3, 1),   # 7x7
    (6, 64, 3, 2),   # 4x4
    (6, 96, 2, 1),   # 4x4
]
STEM = 16        # stem conv3x3 (stride 1, 28x28) output channels
LAST_CONV = 576  # final 1x1 conv channels (before global pooling)
HIDDEN = 1280    # hidden FC width (MobileNetV3-style head: pool -> FC -> FC)


class MobileNetFashion(nn.Module):
    def __init__(self, num_classes=10, stem=STEM, config=CONFIG, last_conv=LAST_CONV,
                 hidden=HIDDEN, dropout=0.2):
        super().__init__()
        layers = [ConvBNReLU6(1, stem, k=3, stride=1)]
        cin = stem
        for t, c, n, s in config:
            for i in range(n):
                layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        layers.append(ConvBNReLU6(cin, last_conv, k=1))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(last_conv, hidden),
            nn.ReLU6(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.pool(self.features(x))  # [N, C, 1, 1]
        if self.training:
            # Same math as the nn.Linear layers, computed as 1x1 convolutions:
            # Debian's torch uses the netlib reference BLAS for Linear, which is
            # about 7x slower on the training step than oneDNN's convolution.
            # Eval mode (and thus the ONNX export) uses the Linear layers.
            for layer in self.classifier:
                if isinstance(layer, nn.Linear):
                    x = F.conv2d(x, layer.weight[:, :, None, None], layer.bias)
                else:
                    x = layer(x)
            return torch.flatten(x, 1)
        return self.classifier(torch.flatten(x, 1))


def count_macs(model):
    """Multiply-accumulates of one 1x28x28 image through conv and linear layers."""
    total = [0]

    def hook(mod, inp, out):
        if isinstance(mod, nn.Conv2d):
            total[0] += out.numel() * mod.weight[0].numel()
        elif isinstance(mod, nn.Linear):
            total[0] += mod.weight.numel()

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 1, 28, 28))
    model.train(was_training)
    for h in handles:
        h.remove()
    return total[0]


# ---------------------------------------------------------------- train / eval

@torch.no_grad()
def evaluate(model, x, y, batch=1000, device="cpu"):
    """Top-1 and top-5 accuracy of `model` (eval mode) on float32 images x."""
    model.eval()
    top1 = top5 = 0
    for i in range(0, len(x), batch):
        logits = model(torch.from_numpy(x[i:i + batch]).to(device)).cpu()
        t = torch.from_numpy(y[i:i + batch])
        top = logits.topk(5, dim=1).indices
        top1 += (top[:, 0] == t).sum().item()
        top5 += (top == t[:, None]).any(dim=1).sum().item()
    return top1 / len(x), top5 / len(x)


def train(model, train_x, train_y, test_x, test_y, *, epochs, batch_size, lr,
          weight_decay, rng, pad=0, flip=False, label_smoothing=0.1, device="cpu",
          eval_each_epoch=False, log=print):
    """AdamW + one-cycle schedule, label-smoothed cross-entropy; the data order
    and the augmentation (if any) of each epoch come from the numpy Generator
    `rng`.  The test set is only looked at per epoch with eval_each_epoch."""
    model.to(device=device, memory_format=torch.channels_last)
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]  # BN affine, biases
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=lr)
    steps_per_epoch = (len(train_x) + batch_size - 1) // batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, epochs=epochs, steps_per_epoch=steps_per_epoch,
        pct_start=0.25, div_factor=20.0, final_div_factor=200.0)
    for epoch in range(epochs):
        model.train()
        t0 = time.time()
        order = rng.permutation(len(train_x))
        xe = augment(train_x[order], rng, pad=pad, flip=flip)
        ye = train_y[order]
        loss_sum, correct = 0.0, 0
        for i in range(0, len(xe), batch_size):
            xb = torch.from_numpy(xe[i:i + batch_size]).to(device).contiguous(
                memory_format=torch.channels_last)
            yb = torch.from_numpy(ye[i:i + batch_size]).to(device)
            logits = model(xb)
            loss = F.cross_entropy(logits, yb, label_smoothing=label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(xb)
            correct += (logits.argmax(1) == yb).sum().item()
        msg = (f"epoch {epoch + 1}/{epochs}: loss {loss_sum / len(xe):.4f} "
               f"train acc {correct / len(xe):.4f}")
        if eval_each_epoch:
            msg += f" test acc {evaluate(model, test_x, test_y, device=device)[0]:.4f}"
        log(f"{msg} ({time.time() - t0:.0f}s)")
    model.to(device="cpu", memory_format=torch.contiguous_format)
    model.eval()
    return model


def main():
    repo_models = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=8e-3, help="peak learning rate (one-cycle)")
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--pad", type=int, default=0,
                   help="augmentation: random crop from an image padded by this many pixels")
    p.add_argument("--flip", action="store_true", help="augmentation: random horizontal flip")
    p.add_argument("--eval-each-epoch", action="store_true",
                   help="print the test accuracy after every epoch (slower)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--data", default=DATA_DIR)
    p.add_argument("--out", default=os.path.join(repo_models, "fashion_mnist_mobilenet.onnx"),
                   help="ONNX output path; the metadata goes next to it with a .json suffix")
    p.add_argument("--limit", type=int, default=0,
                   help="use only the first N training images (debugging)")
    args = p.parse_args()

    command = " ".join(shlex.quote(a) for a in [sys.executable] + sys.argv)
    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(args.seed)

    t_start = time.time()
    train_u8, train_y = load_split(args.data, "train")
    test_u8, test_y = load_split(args.data, "t10k")
    if args.limit:
        train_u8, train_y = train_u8[:args.limit], train_y[:args.limit]
    train_x, test_x = preprocess(train_u8), preprocess(test_u8)

    model = MobileNetFashion()
    n_params = sum(p.numel() for p in model.parameters())
    print(f"parameters: {n_params:,}", flush=True)
    train(model, train_x, train_y, test_x, test_y, epochs=args.epochs,
          batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
          rng=rng, pad=args.pad, flip=args.flip, label_smoothing=args.label_smoothing,
          eval_each_epoch=args.eval_each_epoch, log=lambda m: print(m, flush=True))

    top1, top5 = evaluate(model, test_x, test_y)
    wall = time.time() - t_start
    print(f"test accuracy: top-1 {top1:.4f}, top-5 {top5:.4f} (10000 images), "
          f"wall time {wall:.0f}s", flush=True)

    # ---- export
    model.eval()
    dummy = torch.from_numpy(test_x[:2])
    # TrainingMode.PRESERVE with the model in eval mode exports inference-mode
    # BatchNormalization nodes; the default (EVAL) would fold BN into the convs.
    torch.onnx.export(model, dummy, args.out, opset_version=13,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                      training=torch.onnx.TrainingMode.PRESERVE,
                      do_constant_folding=False)
    with torch.no_grad():
        ref = model(torch.from_numpy(test_x[:4])).numpy()

    aug = ([f"random 28x28 crop from the image zero-padded by {args.pad} px"] if args.pad else []) \
        + (["random horizontal flip p=0.5"] if args.flip else [])
    augmentation = ", ".join(aug) or "none"
    meta = {
        "model": "MobileNetV2-style CNN for Fashion-MNIST",
        "onnx": os.path.basename(args.out),
        "opset": 13,
        "input": {"name": "input", "shape": ["batch", 1, 28, 28], "dtype": "float32"},
        "output": {"name": "logits", "shape": ["batch", 10], "dtype": "float32"},
        "classes": CLASSES,
        "preprocessing": {
            "description": "x = (pixel / 255 - mean) / std; pixel is the uint8 grayscale value, "
                           "images are 28x28, NCHW with one channel",
            "scale": "1/255", "mean": MEAN, "std": STD,
            "kiln_preprocess": KILN_PREPROCESS,
        },
        "test_accuracy_top1": round(top1, 4),
        "test_accuracy_top5": round(top5, 4),
        "test_images": int(len(test_x)),
        "parameters": n_params,
        "multiply_accumulates_per_image": count_macs(model),
        "architecture": {
            "stem": f"conv3x3 1->{STEM} stride 1 + BN + ReLU6 (28x28)",
            "inverted_residuals": {
                "columns": ["expand t", "channels c", "repeats n", "first stride s"],
                "rows": [list(c) for c in CONFIG],
                "block": "[conv1x1 expand + BN + ReLU6] -> depthwise conv3x3 + BN + ReLU6 -> "
                         "conv1x1 project + BN (linear); residual add when shape is kept",
            },
            "head": f"conv1x1 {CONFIG[-1][1]}->{LAST_CONV} + BN + ReLU6 (4x4), global average "
                    f"pool, FC {LAST_CONV}->{HIDDEN} + ReLU6, dropout 0.2, FC {HIDDEN}->10",
        },
        "training": {
            "command": command,
            "epochs": args.epochs, "batch_size": args.batch_size, "seed": args.seed,
            "threads": args.threads,
            "optimizer": f"AdamW(lr={args.lr}, weight_decay={args.weight_decay}, "
                         "no decay on BN/bias), OneCycleLR(pct_start=0.25, div_factor=20, "
                         "final_div_factor=200)",
            "loss": f"cross-entropy, label smoothing {args.label_smoothing}",
            "augmentation": augmentation,
            "train_images": int(len(train_x)),
            "wall_time_s": round(wall, 1),
            "torch_version": torch.__version__,
            "numpy_version": np.__version__,
            "python": platform.python_version(),
        },
        "reference_logits": {
            "description": "PyTorch eval-mode logits for the first 4 test images "
                           "(t10k indices 0..3), preprocessed as above; 6 significant digits",
            "labels": [int(v) for v in test_y[:4]],
            "logits": [[float(f"{v:.6g}") for v in row] for row in ref],
        },
    }
    meta_path = os.path.splitext(args.out)[0] + ".json"
    text = json.dumps(meta, indent=2)
    # Keep lists of numbers/strings on one line (shapes, config rows, logits).
    text = re.sub(r"\[\s*([^\[\]{}]*?)\s*\]",
                  lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]", text)
    with open(meta_path, "w") as f:
        f.write(text + "\n")
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes) and {meta_path}")


if __name__ == "__main__":
    main()
