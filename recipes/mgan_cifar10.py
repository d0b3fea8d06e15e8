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

`--data` (`cifar10` by default), `--quick` and the outputs (`experts.png`,
`sampler.keras`) are those of every multi-generator image recipe
(`recipes/multi_images.py`).
"""

import keras

import kmgan

if __package__:  # imported as recipes.<name>
    from . import multi_images
else:  # run as `python recipes/<name>.py`: the script's folder is on the path
    import multi_images


def parse(argv=None):
    p = multi_images.parser(__doc__, epochs=100, num_generators=10, out="runs/mgan_cifar10")
    p.add_argument("--beta", type=float, default=0.1)
    p.add_argument(
        "--authors-code",
        action="store_true",
        help="same z per generator, 32 fakes each, D/C loss L_D + L_C",
    )
    return multi_images.parse_args(p, argv)


def build_game(args, image_shape):
    """The compiled MGAN of the parsed arguments."""
    k = args.num_generators
    g = kmgan.nets.mgan_generator(
        k, args.latent_dim, image_shape, args.base_filters, seed=args.seed
    )
    d = kmgan.nets.mgan_discriminator(k, image_shape, args.base_filters, seed=args.seed + 1)
    extra = (
        dict(same_noise=True, samples_per_generator=32, classifier_weight=1.0)
        if args.authors_code
        else {}
    )
    game = kmgan.MGAN(g, d, beta=args.beta, seed=args.seed, **extra)
    multi_images.compile_adam(game, args.lr)
    print(f"MGAN, K = {k}, images {image_shape}, backend {keras.backend.backend()}", flush=True)
    return game


def main(argv=None):
    return multi_images.run(parse, build_game, argv)


if __name__ == "__main__":
    main()
