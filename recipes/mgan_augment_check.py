"""Does augmentation stop MGAN's classifier from telling its generators apart?

A small, fast diagnostic (width 16, the first 3,200 MNIST digits, 6 epochs,
TensorFlow about 1 CPU-minute per policy): MGAN K=10 trained once per
augmentation policy, printing the classifier's and the discriminator's loss
by epoch. A classifier at chance has c_loss = ln 10 = 2.303.

    python recipes/mgan_augment_check.py --data ../shared/data/mnist.npz \
        --policies none diffaugment cutout translation color

C's head reads the fakes as they are unless `--augment-classifier` (the
one-pass form, in which C stays near chance under every policy).
"""

import argparse

import keras
import numpy as np

import kmgan


def run(x, augment, epochs, base_filters, augment_classifier=False):
    """Trains MGAN K=10 on `x` with `augment`; returns its history dict."""
    keras.utils.set_random_seed(0)
    shape = tuple(x.shape[1:])
    game = kmgan.MGAN(
        kmgan.nets.mgan_generator(10, 100, shape, base_filters=base_filters, seed=0),
        kmgan.nets.mgan_discriminator(10, shape, base_filters=base_filters, seed=1),
        seed=0,
        augment=None if augment == "none" else augment,
        augment_classifier=augment_classifier,
    )
    game.compile()
    return game.fit(x, batch_size=64, epochs=epochs, verbose=0).history


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a Keras-layout MNIST .npz")
    parser.add_argument("--policies", nargs="+", default=["none", "diffaugment"])
    parser.add_argument("--max-examples", type=int, default=3200)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--base-filters", type=int, default=16)
    parser.add_argument(
        "--augment-classifier",
        action="store_true",
        help="C's head judges augmented fakes too (the form before the fix)",
    )
    args = parser.parse_args(argv)
    with np.load(args.data) as data:
        x = data["x_train"][: args.max_examples, ..., None].astype("float32") / 127.5 - 1.0
    for policy in args.policies:
        history = run(x, policy, args.epochs, args.base_filters, args.augment_classifier)
        print(
            f"{policy}: c_loss {[round(v, 3) for v in history['c_loss']]} "
            f"d_loss {[round(v, 3) for v in history['d_loss']]}",
            flush=True,
        )


if __name__ == "__main__":
    main()
