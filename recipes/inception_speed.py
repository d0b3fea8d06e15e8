"""Images/s of the Keras 2015 FID Inception against torch running its TorchScript.

Both sides compute the same thing from the same uint8 images: for 28x28 input
the legacy TF bilinear resize to 299x299 (inside the compiled Keras model;
StyleGAN's ``grid_sample`` emulation in torch), ``x / 128 - 1``, the network,
the 2048 pool features. For 299x299 input there is no resize. The first
batch (tracing / compilation) is timed apart from the steady rate.

    KERAS_BACKEND=tensorflow python recipes/inception_speed.py --weights default_1.pt
    KERAS_BACKEND=jax python recipes/inception_speed.py --weights default_1.pt --data mnist.npz

torch is the optional ``bench`` extra; without it (or with ``--no-torch``)
only the Keras rows are printed.
"""

import argparse
import os
import time

import keras
import numpy as np

from kmgan.metrics.inception_2015 import ENV_VAR
from kmgan.metrics.inception_2015 import inception_2015


def _images(args, size):
    rng = np.random.default_rng(0)
    if size == 28 and args.data:
        with np.load(args.data) as data:
            x = data["x_test"][: args.num]
        if len(x) < args.num:
            raise ValueError(f"{args.data} has only {len(x)} test images; --num is {args.num}.")
        return x
    shape = (args.num, size, size) if size == 28 else (args.num, size, size, 3)
    return rng.integers(0, 256, size=shape, dtype=np.uint8)


def _time_keras(extractor, images, batch_size):
    start = time.perf_counter()
    extractor(images[:batch_size])  # traces / compiles this input size
    first = time.perf_counter() - start
    start, cpu = time.perf_counter(), time.process_time()
    features, _ = extractor(images)
    rate = len(images) / (time.perf_counter() - start)
    return features, first, rate, (time.process_time() - cpu) / len(images)


def _time_torch(torch, net, images, batch_size):
    def forward(batch):
        x = torch.from_numpy(np.asarray(batch, np.float32))
        x = x[:, None].repeat(1, 3, 1, 1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
        n, _, h, w = x.shape
        if (h, w) != (299, 299):  # StyleGAN's resize: TF1 legacy bilinear
            theta = torch.eye(2, 3)
            theta[0, 2] += theta[0, 0] / w - theta[0, 0] / 299
            theta[1, 2] += theta[1, 1] / h - theta[1, 1] / 299
            grid = torch.nn.functional.affine_grid(
                theta[None].repeat(n, 1, 1), [n, 3, 299, 299], align_corners=False
            )
            x = torch.nn.functional.grid_sample(
                x, grid, mode="bilinear", padding_mode="border", align_corners=False
            )
        return net((x - 128.0) / 128.0).numpy()

    with torch.no_grad():
        start = time.perf_counter()
        forward(images[:batch_size])
        first = time.perf_counter() - start
        start, cpu = time.perf_counter(), time.process_time()
        out = np.concatenate(
            [forward(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
        )
        rate = len(images) / (time.perf_counter() - start)
    return out, first, rate, (time.process_time() - cpu) / len(images)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--weights",
        default=os.environ.get(ENV_VAR),
        help=f"TorchScript file or converted .weights.h5 (default ${ENV_VAR})",
    )
    p.add_argument(
        "--data",
        help="Keras-layout .npz whose x_test gives the 28x28 images "
        "(default: random uint8 images; speed does not depend on them)",
    )
    p.add_argument("--num", type=int, default=256, help="images per measurement")
    p.add_argument("--batch-size", type=int, default=50)
    p.add_argument("--sizes", type=int, nargs="+", default=[28, 299], choices=[28, 299])
    p.add_argument("--no-torch", action="store_true", help="skip the torch reference")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    backend = keras.backend.backend()
    start = time.perf_counter()
    extractor = inception_2015(args.weights, batch_size=args.batch_size)
    print(
        f"Keras ({backend}): network built and weights loaded from "
        f"{extractor.weights_path} in {time.perf_counter() - start:.1f} s"
    )
    torch = net = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            print("torch is not installed (the 'bench' extra): Keras rows only.")
        else:
            if str(args.weights).endswith(".weights.h5"):
                print(
                    "--weights is a .weights.h5: torch needs the TorchScript file; Keras rows only."
                )
            else:
                net = torch.jit.load(os.fspath(args.weights)).eval()
    rows = []
    for size in args.sizes:
        images = _images(args, size)
        feats, *timing = _time_keras(extractor, images, args.batch_size)
        rows.append((f"Keras {backend}", size, *timing, ""))
        if net is not None:
            ref, *timing = _time_torch(torch, net, images, args.batch_size)
            err = np.abs(feats - ref).max()
            rows.append(
                (
                    f"torch {torch.__version__} TorchScript",
                    size,
                    *timing,
                    f"max abs diff to Keras {err:.1e}",
                )
            )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"\n{args.num} images per row, batch {args.batch_size}, {os.cpu_count()} CPU cores, "
        f"load average {load:.1f} at the end\n"
    )
    print(
        "| implementation | input | images/s | CPU s / image | first batch (s) "
        "| 10,000 images (min) | note |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
    for name, size, first, rate, cpu, note in rows:
        minutes = 10_000 / rate / 60
        print(
            f"| {name} | {size}x{size} | {rate:.2f} | {cpu:.3f} | {first:.1f} | {minutes:.0f} "
            f"| {note} |"
        )


if __name__ == "__main__":
    main()
