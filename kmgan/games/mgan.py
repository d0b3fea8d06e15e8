"""MGAN: K generators, a classifier and a discriminator (Hoang et al., ICLR 2018).

Players: K generators G_1..G_K that differ only in their first layer
(`kmgan.nets.mgan_generator`; batch norm offsets fixed at zero), a
discriminator D and a classifier C that share every layer but their output
heads (`kmgan.nets.mgan_discriminator`, outputs `[d_logit, c_logits]`).

The game (paper eq. 2, general JSD, mixture weights pi_k = 1/K):

    min_{G,C} max_D  J = E_data[log D(x)] + E_model[log(1 - D(x))]
                         - beta * (1/K) sum_k E_{x ~ G_k}[log C_k(x)]

with p_model = (1/K) sum_k p_Gk and C_k(x) = softmax(C(x))_k (the ICLR
version writes sum_k pi_k E_{G_k}[log C_k] with mixture weights pi_k; they
are uniform here and in its experiments). Variants (from the extract's
equations 3 and 4, the "MGGAN" preprint):

- "one_vs_all" (eq. 3; K sigmoid classifiers C_k):
      - beta * sum_k ( E_{G_k}[log C_k(x)] + E_{G_-k}[log(1 - C_k(x))] ),
      p_G-k = (1/(K-1)) sum_{j != k} p_Gj
- "pairwise" (eq. 4; K(K-1)/2 sigmoid classifiers C_ij, i < j):
      - beta * sum_{i<j} ( E_{G_i}[log C_ij(x)] + E_{G_j}[log(1 - C_ij(x))] )

(The equations are implemented literally: eq. 2's term carries 1/K, eqs.
3 and 4 do not.) Writing L_C for the classifier term without its -beta
sign, so that C and G minimise beta * L_C, one round is:

    fakes: block k of the batch from G_k (the same count per generator)
    D and C descend   L_D(D(x), D(G(z))) + beta * L_C    (one backward pass
                      through the shared trunk; D's head sees L_D, C's head
                      sees beta * L_C)
    G descends        L_G(D(G(z))) + beta * L_C          (fresh z)

L_D and L_G are `kmgan.losses` (the default "non_saturating" is the
paper's practice: G maximises log D(G(z)) instead of minimising
log(1 - D(G(z))); "minimax" gives eq. 2 exactly). Paper defaults: Adam
2e-4 with beta_1 = 0.5 for every player, batch 64, N(0, 0.02) init,
beta = 0.1 on CIFAR-10 (1.0 on STL-10).

Where the authors' TensorFlow code (qhoangdl/MGAN) differs from the
equation, an option reproduces it: its D/C step minimises L_D + L_C
(`classifier_weight=1.0`; by default the weight is beta, as in eq. 2), it
feeds all K generators the same z (`same_noise=True`) and draws 32 fakes per
generator against 64 real examples (`samples_per_generator=32`). Its first
layer also has a batch norm per generator (with offset); ours shares the
batch norms across generators, all with the offset fixed at zero, which is
the paper's stated rationale (ReLU gates open for the top half of a batch
"across all locations and generators").

With `augment` (DiffAugment or ADA) D's head judges augmented images, real
and fake, and C's head the fakes as they are (a second pass through the
shared trunk): augmentation keeps D from overfitting a small real set, and C
never sees real data. Measured on 6,000 MNIST digits (width 32, 15-30
epochs, seeds 0 and 1): with C on augmented fakes C stays at chance (c_loss
2.32 against ln 10 = 2.303), D wins from epoch 2 (d_loss 1e-4) and every
generator draws a black image; with C on the fakes as they are, c_loss falls
to 0.71-0.89 by epoch 15 and D settles at 0.56-0.72. `augment_classifier=True`
keeps the first form.

For GAM battles the MGAN's discriminator is D: P(real | x) = sigmoid(D(x)).
"""

import itertools

import keras
import numpy as np
from keras import ops

from kmgan import losses
from kmgan.games.base import check_input_shape
from kmgan.games.base import loss_config
from kmgan.games.base import real_data
from kmgan.games.multi import MultiGeneratorGame
from kmgan.games.multi import per_generator_mean
from kmgan.nets.multi import MGAN_VARIANTS
from kmgan.nets.multi import classifier_outputs


def classifier_loss(c_logits, assignment, variant="general"):
    """L_C: MGAN's classifier term without its -beta sign (C and G minimise it).

    Args:
        c_logits: (batch, M) classifier logits on fake examples.
        assignment: (batch, K) one-hot: which generator made each example.
        variant: "general" (eq. 2), "one_vs_all" (eq. 3) or "pairwise"
            (eq. 4).

    Returns:
        Scalar:
        general:    (1/K) sum_k E_{G_k}[-log softmax(c)_k]
        one_vs_all: sum_k E_{G_k}[-log s(c_k)] + E_{G_-k}[-log(1 - s(c_k))]
        pairwise:   sum_{i<j} E_{G_i}[-log s(c_ij)] + E_{G_j}[-log(1 - s(c_ij))]
        with s the sigmoid and E_{G_k} the mean over G_k's examples.
    """
    if variant not in MGAN_VARIANTS:
        raise ValueError(f"variant must be one of {MGAN_VARIANTS}, got {variant!r}.")
    c_logits = ops.cast(c_logits, "float32")
    assignment = ops.cast(assignment, "float32")
    k = int(assignment.shape[-1])
    expected = classifier_outputs(k, variant)
    if int(c_logits.shape[-1]) != expected:
        raise ValueError(
            f"The {variant} classifier of K={k} generators has {expected} "
            f"outputs, got {int(c_logits.shape[-1])}."
        )
    if variant == "general":
        nll = -ops.sum(assignment * ops.log_softmax(c_logits, axis=-1), axis=-1)
        return ops.mean(per_generator_mean(nll, assignment))
    pos = per_generator_mean(ops.softplus(-c_logits), assignment)  # (K, M): -log s(c)
    neg = per_generator_mean(ops.softplus(c_logits), assignment)  # (K, M): -log(1 - s(c))
    if variant == "one_vs_all":
        eye = ops.eye(k, dtype=pos.dtype)
        own = ops.sum(pos * eye)
        others = ops.sum(neg * (1.0 - eye)) / (k - 1)
        return own + others
    first, second = (ops.convert_to_tensor(m, pos.dtype) for m in _pair_masks(k))
    return ops.sum(pos * first) + ops.sum(neg * second)


def mgan_losses(
    d_real, d_fake, c_fake, assignment, beta=0.1, variant="general", loss="non_saturating"
):
    """The three players' losses on fixed network outputs.

    Args:
        d_real: D logits on real data.
        d_fake: D logits on the fakes.
        c_fake: C logits on the fakes.
        assignment: (batch, K) one-hot generator of each fake.
        beta: diversity weight.
        variant: classifier variant.
        loss: adversarial loss (name or `AdversarialLoss`).

    Returns:
        dict: `d_loss` = L_D(D(x), D(G(z))) (D maximises the GAN part of J,
        i.e. minimises this); `c_loss` = L_C; `g_loss` = L_G(D(G(z))) +
        beta * L_C. D and C together minimise d_loss + beta * c_loss.
    """
    loss = losses.get(loss)
    c_loss = classifier_loss(c_fake, assignment, variant)
    return {
        "d_loss": loss.discriminator(d_real, d_fake),
        "c_loss": c_loss,
        "g_loss": loss.generator(d_fake) + beta * c_loss,
    }


def _pair_masks(k):
    pairs = list(itertools.combinations(range(k), 2))
    first = np.zeros((k, len(pairs)), "float32")
    second = np.zeros((k, len(pairs)), "float32")
    for p, (i, j) in enumerate(pairs):
        first[i, p] = 1.0
        second[j, p] = 1.0
    return first, second


def classifier_pairs(num_generators):
    """The (i, j) pair of each output of a pairwise classifier, in order."""
    return list(itertools.combinations(range(num_generators), 2))


@keras.saving.register_keras_serializable(package="kmgan")
class MGAN(MultiGeneratorGame):
    """Mixture of K generators against a discriminator and a classifier.

    Args:
        generator: a multi-generator model `[z, one-hot] -> x` (e.g.
            `kmgan.nets.mgan_generator` or `mgan_mlp_generator`), or a list
            of K models z -> x.
        discriminator: model x -> `[d_logit (1,), c_logits (M,)]` with M = K
            (general, one_vs_all) or K(K-1)/2 (pairwise), D and C sharing
            their trunk (e.g. `kmgan.nets.mgan_discriminator`).
        beta: the diversity weight (0.1 on CIFAR-10 in the paper).
        variant: "general", "one_vs_all" or "pairwise".
        loss: adversarial loss of D and G (name in `kmgan.losses.LOSSES`).
        label_smoothing: one-sided smoothing of D's real target.
        d_steps: D/C steps per generator step.
        classifier_weight: weight of L_C in the D/C step; None gives beta
            (eq. 2: C minimises beta * L_C); the authors' code uses 1.0 here
            (its D/C loss is L_D + L_C) and beta only in G's loss.
        classifier_layer: name of the classifier head layer (its variables
            are the classifier player's; every other variable of
            `discriminator` is the discriminator's). Falls back to the
            layer producing the second output.
        augment_classifier: with `augment`, whether C's head also judges
            augmented fakes (one trunk pass for both heads). False (the
            default) gives C the fakes as they are, in a second pass: C
            learns nothing from augmented fakes here (module docstring).
        seed: seed of the game's noise.
        name: model name.
        **kwargs: `kmgan.games.multi.MultiGeneratorGame`'s
            `samples_per_generator` (default ceil(batch / K); the authors'
            code uses 32 per generator against 64 real examples) and
            `same_noise` (the authors' code feeds every generator the same
            z), and the shared hooks (`kmgan.games.hooks`): `evaluator`,
            `score_weight`, `score_cap`, `gp_weight` (on D's head).

    `compile()` without optimizers gives every player the paper's Adam(2e-4,
    beta_1=0.5); `c_optimizer` defaults to a clone of `d_optimizer` when
    that is given (D and C train together).
    """

    log_names = ("d_loss", "c_loss", "g_loss")
    optimizer_roles = MultiGeneratorGame.optimizer_roles + ("classifier",)
    tied_optimizers = {"classifier": "discriminator"}

    def __init__(
        self,
        generator,
        discriminator,
        beta=0.1,
        variant="general",
        loss="non_saturating",
        label_smoothing=0.0,
        d_steps=1,
        classifier_weight=None,
        classifier_layer="classifier",
        augment_classifier=False,
        seed=None,
        name="mgan",
        **kwargs,
    ):
        super().__init__(generator, d_steps=d_steps, seed=seed, name=name, **kwargs)
        if variant not in MGAN_VARIANTS:
            raise ValueError(f"variant must be one of {MGAN_VARIANTS}, got {variant!r}.")
        if beta < 0:
            raise ValueError(f"beta must be >= 0, got {beta}.")
        self.variant = variant
        self.num_classifier_outputs = classifier_outputs(self.num_generators, variant)
        _check_discriminator(discriminator, self.data_shape, self.num_classifier_outputs)
        self.discriminator = discriminator
        self.classifier_head = _classifier_head(discriminator, classifier_layer)
        self.beta = float(beta)
        self.classifier_weight = None if classifier_weight is None else float(classifier_weight)
        self.loss = losses.get(loss, label_smoothing)
        self.augment_classifier = bool(augment_classifier)

    def game_config(self):
        return {
            "beta": self.beta,
            "variant": self.variant,
            **loss_config(self.loss),
            "samples_per_generator": self.samples_per_generator,
            "same_noise": self.same_noise,
            "classifier_weight": self.classifier_weight,
            "classifier_layer": self.classifier_head.name,
            "augment_classifier": self.augment_classifier,
        }

    def player_variables(self):
        head = {id(v) for v in self.classifier_head.trainable_variables}
        return {
            "discriminator": [
                v for v in self.discriminator.trainable_variables if id(v) not in head
            ],
            "classifier": list(self.classifier_head.trainable_variables),
            "generator": self.generator_variables(),
        }

    def judge_fakes(self, fake):
        """D's logits and C's logits on a fake batch, in training mode.

        Args:
            fake: the fakes.

        Returns:
            `(d_logits, c_logits)`: D's head on `judge_input(fake)`; C's on
            the same pass with `augment_classifier` or without `augment`,
            else on `fake` as it is (a second pass through the trunk).
        """
        d_fake, c_fake = self.judged(self.discriminator)(fake, training=True)
        if self.augment_policy is not None and not self.augment_classifier:
            _, c_fake = self.discriminator(fake, training=True)
        return d_fake, c_fake

    def play(self, data):
        real = real_data(data)
        per_gen = self.block_size(ops.shape(real)[0])
        D = self.judged(self.discriminator)
        c_weight = self.beta if self.classifier_weight is None else self.classifier_weight

        def d_head(x, training=False):
            return D(x, training=training)[0]

        for _ in range(self.d_steps):
            fake, assignment = self.d_step_fakes(per_gen)

            def d_and_c_loss():
                d_real, _ = D(real, training=True)
                d_fake, c_fake = self.judge_fakes(fake)
                terms = mgan_losses(
                    d_real, d_fake, c_fake, assignment, self.beta, self.variant, self.loss
                )
                d_loss, c_loss = terms["d_loss"], terms["c_loss"]
                d_loss = d_loss + self.gp_weight * self.penalty(d_head, real, fake)
                d_loss = d_loss + self.d_regularizers(d_head, real, fake)
                return d_loss + c_weight * c_loss, (d_loss, c_loss)

            _, (d_loss, c_loss) = self.minimize(["discriminator", "classifier"], d_and_c_loss)

        z = self.block_noise(per_gen)

        def generator_loss():
            fake, assignment = self.generate_blocks(z, per_gen, training=True)
            d_fake, c_fake = self.judge_fakes(fake)
            c_loss = classifier_loss(c_fake, assignment, self.variant)
            return self.guide(self.loss.generator(d_fake) + self.beta * c_loss, fake, real)

        g_loss = self.minimize("generator", generator_loss)
        return {"d_loss": d_loss, "c_loss": c_loss, "g_loss": g_loss}

    def real_probability(self, x):
        d_logit, _ = self.discriminator(x, training=False)
        return ops.sigmoid(ops.reshape(d_logit, (-1,)))

    def classify(self, x):
        """C's output on a batch: softmax probabilities over the K
        generators (general) or the sigmoid of each binary classifier."""
        _, c = self.discriminator(x, training=False)
        return ops.softmax(c, axis=-1) if self.variant == "general" else ops.sigmoid(c)


def _check_discriminator(discriminator, data_shape, m):
    check_input_shape(discriminator, data_shape, "discriminator", maker="the generators produce")
    outs = [tuple(o.shape[1:]) for o in discriminator.outputs]
    if len(outs) != 2 or outs[0] not in ((1,), ()) or outs[1] != (m,):
        raise ValueError(
            "MGAN's discriminator returns [d_logit (1,), c_logits "
            f"({m},)] (D and C share the trunk); got outputs {outs}."
        )


def _classifier_head(discriminator, layer_name):
    try:
        return discriminator.get_layer(layer_name)
    except ValueError:
        return discriminator.outputs[1]._keras_history.operation
