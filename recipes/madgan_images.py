"""MAD-GAN on MNIST, Fashion-MNIST or CIFAR-10 (Ghosh et al., CVPR 2018).

Defaults: K = 3 DCGAN generators sharing every layer but their last
(`kmgan.nets.madgan_generator`), a DCGAN discriminator with K+1 softmax
outputs (class k: "made by G_k", class K: real), the non-saturating
generator objective, Adam 2e-4 with beta_1 = 0.5, batch 64, z of 100 dims.
`--unshared-layers 2` gives each generator its last two layers,
`--independent` K separate DCGAN generators, and `--similarity 1` turns on
MAD-GAN-Sim's competing term (margin `--margin`). Meant for a GPU:

    python recipes/madgan_images.py --data mnist --epochs 30
    python recipes/madgan_images.py --data fashion_mnist --epochs 30
    python recipes/madgan_images.py --data cifar10 --epochs 100 --num-generators 10

`--data` takes a tfds name (mnist, fashion_mnist, cifar10) or a local path
(a Keras-style .npz, MNIST idx files, a CIFAR python folder or archive).

`--quick` runs one short epoch with tiny nets on the CPU: for mnist and
fashion_mnist on the local 5,000-digit MNIST subset
(../shared/data/mnist_5k.npz next to the repository; for fashion_mnist it
says that it substitutes MNIST), for cifar10 on a local file when `--data`
is a path, else on a tiny random CIFAR-shaped set (it says so). The outputs
(`experts.png`, `sampler.keras`) are those of every multi-generator image
recipe (`recipes/multi_images.py`).
"""

import keras

from kmgan.games import registry

if __package__:  # imported as recipes.<name>
    from . import multi_images
else:  # run as `python recipes/<name>.py`: the script's folder is on the path
    import multi_images


def parse(argv=None):
    p = multi_images.parser(
        __doc__,
        epochs=30,
        num_generators=3,
        out="runs/madgan_images",
        data="mnist",
        data_help="mnist, fashion_mnist, cifar10 or a local path",
    )
    p.add_argument("--loss", default="non_saturating", help="G's objective: or minimax")
    p.add_argument("--unshared-layers", type=int, default=1, help="last layers each G owns")
    p.add_argument("--independent", action="store_true", help="K separate DCGAN generators")
    p.add_argument("--similarity", type=float, default=0.0, help="MAD-GAN-Sim's lambda (0: off)")
    p.add_argument("--margin", type=float, default=1.0, help="MAD-GAN-Sim's margin nu")
    return multi_images.parse_args(p, argv)


def build_game(args, image_shape):
    """The compiled MAD-GAN of the parsed arguments."""
    k = args.num_generators
    game = registry.build(
        "madgan",
        image_shape,
        num_generators=k,
        generators="independent" if args.independent else "shared",
        unshared_layers=1 if args.independent else args.unshared_layers,
        latent_dim=args.latent_dim,
        base_filters=args.base_filters,
        seed=args.seed,
        loss=args.loss,
        similarity=args.similarity,
        margin=args.margin,
    )
    multi_images.compile_adam(game, args.lr)
    print(f"MAD-GAN, K = {k}, images {image_shape}, backend {keras.backend.backend()}", flush=True)
    return game


def main(argv=None):
    return multi_images.run(parse, build_game, argv, digits_fallback=True)


if __name__ == "__main__":
    main()
