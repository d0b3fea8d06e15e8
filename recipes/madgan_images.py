"""MAD-GAN on MNIST, Fashion-MNIST or CIFAR-10 (Ghosh et al., CVPR 2018).

Defaults: K = 3 DCGAN generators sharing every layer but their last
(`kmgan.nets.madgan_generator`), a DCGAN discriminator with K+1 softmax
outputs (class k: "made by G_k", class K: real), the non-saturating
generator objective, Adam 2e-4 with beta_1 = 0.5, batch 64, z of 100 dims.
Meant for a GPU:

    python recipes/madgan_images.py --data mnist --epochs 30
    python recipes/madgan_images.py --data fashion_mnist --epochs 30
    python recipes/madgan_images.py --data cifar10 --epochs 100 --num-generators 10

`--data` takes a tfds name (mnist, fashion_mnist, cifar10) or a local path
(a Keras-style .npz, MNIST idx files, a CIFAR python folder or archive).

`--quick` runs one short epoch with tiny nets on the CPU: for mnist and
fashion_mnist on the local 5,000-digit MNIST subset
(../shared/data/mnist_5k.npz next to the repository; for fashion_mnist it
says that it substitutes MNIST), for cifar10 on a local file when `--data`
is a path, else on a tiny random CIFAR-shaped set (it says so). Every run
writes `experts.png` (one row per generator, the same z in every row) and
the exported sampler `sampler.keras` (load it after `import kmgan`).
"""

import argparse
import os
import sys

import keras

import kmgan

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from multi_images import dataset  # noqa: E402
from multi_images import train_and_export  # noqa: E402


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="mnist", help="mnist, fashion_mnist, cifar10 or a local path")
    p.add_argument("--quick", action="store_true", help="1 short epoch, tiny nets, CPU")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--max-examples", type=int, default=None)
    p.add_argument("--num-generators", type=int, default=3)
    p.add_argument("--loss", default="non_saturating", help="G's objective: or minimax")
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--latent-dim", type=int, default=100)
    p.add_argument("--base-filters", type=int, default=64)
    p.add_argument("--grid-columns", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/madgan_images")
    args = p.parse_args(argv)
    if args.quick:
        args.epochs = 1
        args.max_examples = args.max_examples or 256
        args.batch_size = min(args.batch_size, 32)
        args.num_generators = min(args.num_generators, 4)
        args.base_filters = min(args.base_filters, 8)
        args.latent_dim = min(args.latent_dim, 16)
    return args


def main(argv=None):
    args = parse(argv)
    os.makedirs(args.out, exist_ok=True)
    keras.utils.set_random_seed(args.seed)
    data = dataset(args, digits_fallback=True)
    image_shape = tuple(int(d) for d in data.element_spec.shape[1:])
    k = args.num_generators
    g = kmgan.nets.madgan_generator(k, args.latent_dim, image_shape, args.base_filters,
                                    seed=args.seed)
    d = kmgan.nets.madgan_discriminator(k, image_shape, args.base_filters, seed=args.seed + 1)
    game = kmgan.MADGAN(g, d, loss=args.loss, seed=args.seed)
    game.compile(d_optimizer=keras.optimizers.Adam(args.lr, beta_1=0.5),
                 g_optimizer=keras.optimizers.Adam(args.lr, beta_1=0.5))
    print(f"MAD-GAN, K = {k}, images {image_shape}, backend {keras.backend.backend()}", flush=True)
    return train_and_export(game, data, args)


if __name__ == "__main__":
    main()
