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

`--data` (`cifar10` by default), `--quick` and the outputs are those of
every multi-generator image recipe (`recipes/multi_images.py`): `experts.png`
has one row per expert, and the exported sampler's mixture draws the expert
with the gate.
"""

import keras

import kmgan

if __package__:  # imported as recipes.<name>
    from . import multi_images
else:  # run as `python recipes/<name>.py`: the script's folder is on the path
    import multi_images


def parse(argv=None):
    p = multi_images.parser(__doc__, epochs=20, num_generators=10, out="runs/megan_cifar10")
    p.add_argument("--lam", type=float, default=100.0, help="load-balancing weight")
    p.add_argument("--loss", default="non_saturating", help="or wasserstein (WGAN-GP)")
    p.add_argument("--encoding-dim", type=int, default=100, help="the gate's m")
    p.add_argument("--gate-units", type=int, default=256, help="the gate MLP's width")
    args = multi_images.parse_args(p, argv)
    if args.quick:
        args.encoding_dim = min(args.encoding_dim, 8)
        args.gate_units = min(args.gate_units, 16)
    return args


def build_game(args, image_shape):
    """The compiled MEGAN of the parsed arguments."""
    k = args.num_generators
    experts = kmgan.nets.megan_experts(
        k, args.latent_dim, image_shape, args.base_filters, seed=args.seed
    )
    feature_dim = int(experts.outputs[1].shape[-1])
    gate = kmgan.nets.megan_gate(
        k,
        args.latent_dim,
        feature_dim,
        encoding_dim=args.encoding_dim,
        hidden_units=(args.gate_units,) * 2,
        seed=args.seed + 2,
    )
    d = kmgan.nets.dcgan_discriminator(image_shape, args.base_filters, seed=args.seed + 1)
    wgan = args.loss == "wasserstein"
    game = kmgan.MEGAN(
        experts,
        d,
        gate=gate,
        lam=args.lam,
        loss=args.loss,
        d_steps=5 if wgan else 1,
        seed=args.seed,
    )
    multi_images.compile_adam(game, args.lr, beta_2=0.9 if wgan else 0.999)
    print(
        f"MEGAN, n = {k}, f_i of {feature_dim}, images {image_shape}, "
        f"backend {keras.backend.backend()}",
        flush=True,
    )
    return game


def main(argv=None):
    return multi_images.run(parse, build_game, argv)


if __name__ == "__main__":
    main()
