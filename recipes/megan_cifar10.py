"""MEGAN on CIFAR-10 with the paper's defaults (Park et al., IJCAI 2018).

Defaults (paper, section 5 "Hyperparameters"): n = 10 DCGAN experts (the
paper tried 3, 5 and 10) sharing z, each returning its image and its first
transposed-convolution feature map (f_i, k = 8,192 for CIFAR-10 with 64
base filters); the gate encodes each f_i to m = 100 dims and picks an
expert by a straight-through Gumbel-softmax with temperature
tau = 0.5 exp(-0.001 iter); load balancing lambda = 100; batch 64; DCGAN
loss (`--loss wasserstein` gives WGAN-GP, the paper's choice on CelebA and
LSUN, with 5 D steps); Adam 2e-4, beta_1 = 0.5. Meant for a GPU:

    python recipes/megan_cifar10.py --epochs 20 --out runs/megan_cifar10
    python recipes/megan_cifar10.py --data path/to/cifar-10-python.tar.gz

`--data` takes a tfds name (`cifar10`, the default) or a local path (a
CIFAR python folder or archive, a Keras-style .npz, MNIST idx files).

`--quick` runs one short epoch with tiny nets on the CPU: on the local data
when `--data` is a path, else on a tiny random CIFAR-shaped set (it says
so; the point is the pipeline, not the pictures). Every run writes
`experts.png` (one row per expert, the same z in every row) and the
exported sampler `sampler.keras` (load it after `import kmgan`; its
mixture draws the expert with the gate).
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
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--max-examples", type=int, default=None)
    p.add_argument("--num-generators", type=int, default=10)
    p.add_argument("--lam", type=float, default=100.0, help="load-balancing weight")
    p.add_argument("--loss", default="non_saturating", help="or wasserstein (WGAN-GP)")
    p.add_argument("--encoding-dim", type=int, default=100, help="the gate's m")
    p.add_argument("--gate-units", type=int, default=256, help="the gate MLP's width")
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--latent-dim", type=int, default=100)
    p.add_argument("--base-filters", type=int, default=64)
    p.add_argument("--grid-columns", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/megan_cifar10")
    args = p.parse_args(argv)
    if args.quick:
        args.epochs = 1
        args.max_examples = args.max_examples or 256
        args.batch_size = min(args.batch_size, 32)
        args.num_generators = min(args.num_generators, 4)
        args.base_filters = min(args.base_filters, 8)
        args.latent_dim = min(args.latent_dim, 16)
        args.encoding_dim = min(args.encoding_dim, 8)
        args.gate_units = min(args.gate_units, 16)
    return args


def main(argv=None):
    args = parse(argv)
    os.makedirs(args.out, exist_ok=True)
    keras.utils.set_random_seed(args.seed)
    data = dataset(args)
    image_shape = tuple(int(d) for d in data.element_spec.shape[1:])
    k = args.num_generators
    experts = kmgan.nets.megan_experts(k, args.latent_dim, image_shape, args.base_filters,
                                       seed=args.seed)
    feature_dim = int(experts.outputs[1].shape[-1])
    gate = kmgan.nets.megan_gate(k, args.latent_dim, feature_dim, encoding_dim=args.encoding_dim,
                                 hidden_units=(args.gate_units,) * 2, seed=args.seed + 2)
    d = kmgan.nets.dcgan_discriminator(image_shape, args.base_filters, seed=args.seed + 1)
    wgan = args.loss == "wasserstein"
    game = kmgan.MEGAN(experts, d, gate=gate, lam=args.lam, loss=args.loss,
                       d_steps=5 if wgan else 1, seed=args.seed)
    beta_2 = 0.9 if wgan else 0.999
    game.compile(d_optimizer=keras.optimizers.Adam(args.lr, beta_1=0.5, beta_2=beta_2),
                 g_optimizer=keras.optimizers.Adam(args.lr, beta_1=0.5, beta_2=beta_2))
    print(f"MEGAN, n = {k}, f_i of {feature_dim}, images {image_shape}, backend {keras.backend.backend()}", flush=True)
    return train_and_export(game, data, args)


if __name__ == "__main__":
    main()
