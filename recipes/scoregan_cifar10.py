"""ScoreGAN vs its ControlGAN baseline (Lee & Seok), compared by IS and FID.

Same networks (Table 1: SNGAN-style ResNet G with conditional batch norm,
spectral-norm D, layer-norm classifier), same settings (hinge loss, gradient
penalty 10, 5 D steps, TTUR 4e-4 / 2e-4, Adam (0, 0.9), halved after 50k
iterations, batch 64); ScoreGAN adds the frozen MobileNetV2 evaluator.

    # GPU, real scale (needs tfds CIFAR and the ImageNet weights files):
    python recipes/scoregan_cifar10.py --dataset cifar10 --iterations 100000
    python recipes/scoregan_cifar10.py --dataset cifar100 --iterations 100000 \
        --evaluator-weights /path/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5 \
        --inception-weights /path/inception_v3_weights_tf_dim_ordering_tf_kernels.h5
    # CPU smoke run on the local MNIST subset, random-weight evaluator and Inception:
    python recipes/scoregan_cifar10.py --quick
"""

import argparse
import math
import os
import time

import keras
import numpy as np

import kmgan
from kmgan import cli_args
from kmgan import evaluators
from kmgan.callbacks import save_image_grid
from kmgan.metrics import inception

LOCAL_MNIST = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist_5k.npz")


def build(game, num_classes, shape, args):
    g = kmgan.nets.sngan_generator(
        num_classes, latent_dim=128, image_shape=shape, width=args.width, seed=args.seed
    )
    d = kmgan.nets.sngan_discriminator(image_shape=shape, width=args.width, seed=args.seed + 1)
    c = kmgan.nets.sngan_classifier(
        num_classes,
        image_shape=shape,
        seed=args.seed + 2,
        widths=tuple(w // args.classifier_divisor for w in (32, 64, 128, 128)),
    )
    if game == "controlgan":
        return kmgan.ControlGAN(g, d, c, num_classes=num_classes, seed=args.seed)
    evaluator = evaluators.mobilenet_v2(
        weights=args.evaluator_weights,
        input_size=args.evaluator_size,
        channels=shape[-1],
        alpha=args.evaluator_alpha,
    )
    return kmgan.ScoreGAN(g, d, c, evaluator, num_classes=num_classes, seed=args.seed)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--iterations", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--classifier-divisor", type=int, default=1)
    parser.add_argument("--evaluator-weights", default="imagenet")
    parser.add_argument("--evaluator-size", type=int, default=224)
    parser.add_argument("--evaluator-alpha", type=float, default=1.0)
    parser.add_argument("--inception-weights", default="imagenet")
    parser.add_argument("--eval-samples", type=int, default=50_000)
    parser.add_argument("--games", default="controlgan,scoregan")
    cli_args.add_run_flags(parser, "runs/scoregan")
    args = parser.parse_args(argv)
    image_size = None
    if args.quick:
        args.dataset = os.path.abspath(LOCAL_MNIST)
        args.iterations, args.width, args.classifier_divisor = 20, 32, 4
        args.evaluator_weights, args.evaluator_size, args.evaluator_alpha = None, 32, 0.35
        args.inception_weights, args.eval_samples = None, 256
        image_size = (32, 32)
        print(
            "--quick: local MNIST subset at 32x32, random-weight MobileNetV2 and InceptionV3 "
            "(no ImageNet weights here): a smoke run, its IS/FID are not comparable to any paper."
        )

    ds = kmgan.data.load(
        args.dataset, batch_size=args.batch_size, seed=args.seed, image_size=image_size
    )
    shape = tuple(ds.element_spec[0].shape[1:])
    num_classes = 100 if "cifar100" in args.dataset else 10
    steps_per_epoch = int(ds.cardinality())
    epochs = max(1, math.ceil(args.iterations / steps_per_epoch))
    features = inception.InceptionFeatures(
        weights=args.inception_weights, input_size=75 if args.quick else 299
    )
    real = np.concatenate(
        [x for x, _ in ds.take(max(1, args.eval_samples // args.batch_size)).as_numpy_iterator()]
    )
    rows = []
    for game in args.games.split(","):
        keras.utils.set_random_seed(args.seed)
        model = build(game, num_classes, shape, args)
        model.compile()
        out = os.path.join(args.out, game)
        os.makedirs(out, exist_ok=True)
        start = time.time()
        model.fit(
            ds.repeat(),
            steps_per_epoch=min(steps_per_epoch, args.iterations),
            epochs=epochs,
            verbose=2,
            callbacks=[keras.callbacks.CSVLogger(os.path.join(out, "log.csv"))],
        )
        seconds = time.time() - start
        labels = np.arange(len(real)) % num_classes
        fakes = model.sample(len(real), labels=labels, seed=args.seed)
        is_mean, is_std = inception.inception_score(fakes, features=features)
        fid = inception.fid(real, fakes, features=features)
        save_image_grid(
            model.sample(100, labels=np.arange(100) % num_classes, seed=1),
            os.path.join(out, "samples.png"),
            rows=10,
        )
        model.generator.save(os.path.join(out, "generator.keras"))
        rows.append(
            {
                "game": game,
                "iterations": int(model.optimizer.iterations.numpy()),
                "is": is_mean,
                "is_std": is_std,
                "fid": fid,
                "seconds": seconds,
            }
        )
        print(f"{game}: IS {is_mean:.2f} ± {is_std:.2f}, FID {fid:.1f}, {seconds:.0f}s", flush=True)
    kmgan.io.atomic_write_json(os.path.join(args.out, "results.json"), rows)
    lines = ["| game | iterations | IS | FID |", "| --- | --- | --- | --- |"]
    lines += [
        f"| {r['game']} | {r['iterations']} | {r['is']:.2f} ± {r['is_std']:.2f} | {r['fid']:.1f} |"
        for r in rows
    ]
    kmgan.io.atomic_write_text(os.path.join(args.out, "results.md"), "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
