"""MGAN on CIFAR-10 with the paper's defaults (Hoang et al., ICLR 2018).

Defaults (paper, section 5 and its CIFAR-10 setup): K = 10 DCGAN generators
that differ only in their first layer (batch-norm offsets fixed at zero),
a DCGAN discriminator and classifier sharing their trunk, beta = 0.1,
Adam 2e-4 with beta_1 = 0.5 for every player, batch 64, z of 100 dims,
N(0, 0.02) initialisation. `--authors-code` switches to the authors'
TensorFlow code's choices (the same z for every generator, 32 fakes per
generator, D/C loss L_D + L_C). Meant for a GPU:

    python recipes/mgan_cifar10.py --epochs 100 --out runs/mgan_cifar10
    python recipes/mgan_cifar10.py --data path/to/cifar-10-python.tar.gz

`--data` takes a tfds name (`cifar10`, the default) or a local path (a
CIFAR python folder or archive, a Keras-style .npz, MNIST idx files).

`--quick` runs one short epoch with tiny nets on the CPU: on the local data
when `--data` is a path, else on a tiny random CIFAR-shaped set (it says
so; the point is the pipeline, not the pictures). Every run writes
`experts.png` (one row per generator, the same z in every row) and the
exported sampler `sampler.keras` (load it after `import kmgan`).
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
    p.add_argument("--data", default="cifar10", help="tfds name or local path")
    p.add_argument("--quick", action="store_true", help="1 short epoch, tiny nets, CPU")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--max-examples", type=int, default=None)
    p.add_argument("--num-generators", type=int, default=10)
    p.add_argument("--beta", type=float, default=0.1)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--latent-dim", type=int, default=100)
    p.add_argument("--base-filters", type=int, default=64)
    p.add_argument("--authors-code", action="store_true",
                   help="same z per generator, 32 fakes each, D/C loss L_D + L_C")
    p.add_argument("--grid-columns", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/mgan_cifar10")
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
    data = dataset(args)
    image_shape = tuple(int(d) for d in data.element_spec.shape[1:])
    k = args.num_generators
    g = kmgan.nets.mgan_generator(k, args.latent_dim, image_shape, args.base_filters,
                                  seed=args.seed)
    d = kmgan.nets.mgan_discriminator(k, image_shape, args.base_filters, seed=args.seed + 1)
    extra = dict(same_noise=True, samples_per_generator=32, classifier_weight=1.0) \
        if args.authors_code else {}
    game = kmgan.MGAN(g, d, beta=args.beta, seed=args.seed, **extra)
    game.compile(d_optimizer=keras.optimizers.Adam(args.lr, beta_1=0.5),
                 g_optimizer=keras.optimizers.Adam(args.lr, beta_1=0.5))
    print(f"MGAN, K = {k}, images {image_shape}, backend {keras.backend.backend()}", flush=True)
    return train_and_export(game, data, args)


if __name__ == "__main__":
    main()
