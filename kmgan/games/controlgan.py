"""ControlGAN (Lee & Seok, "Controllable generative adversarial network", 2019).

Players: a conditional generator G(z, y) (conditional batch norm in
`kmgan.nets.sngan.sngan_generator`), an *unconditional* discriminator D and
an independent classifier C, trained only on (augmented) real data.

One round (real batch x with labels y):

    for d_steps:                               # 5 in ScoreGAN's Table 1
        D descends  L_D(D(x), D(G(z, y')))  + gp_weight * GP(D; x, G(z, y'))
    for c_steps:
        C descends  CE(y, C(A(x)))             # A: random augmentation, real data only
    G descends      L_G(D(G(z, y'))) + gamma_t * CE(y', C(G(z, y')))
                    [ - delta * L_score(G(z, y'); x)   with an evaluator: ScoreGAN ]
    gamma_{t+1} = clip(gamma_t + r * (CE(y', C(G(z, y'))) - alpha * CE(y, C(x))), 0, gamma_max)

(eqs. 3-5 of the ScoreGAN paper.) y' are the fakes' labels, drawn uniformly
(`fake_labels="uniform"`, as the ControlGAN reference code) or the batch's.

**The adaptive gamma_t** is ControlGAN's equilibrium rule (in the spirit of
BEGAN's k_t): the classification term's weight grows while the classifier
finds the fakes harder to classify than alpha times the real data, and
shrinks when the fakes are classified as well as the real data. Both losses
are measured in the round: the real-data loss on the un-augmented real batch
(no gradient, after C's step), the fake loss in G's step; gamma starts at
`gamma_init` (0), moves by `gamma_rate` (r = 1e-3) once per round with
alpha = 1 (the reference code's values), and is clipped to
[0, gamma_max]; gamma_max is 0.1 in ScoreGAN ("the maximum threshold for the
training from the classifier"). gamma_t is a non-trainable variable of the
game: it is saved and resumed with it, and logged as "gamma".

**Defaults** are ScoreGAN's Table 1 / section 3.2 settings (ControlGAN is its
baseline with the evaluator off): hinge loss, gradient penalty weight 10,
five D steps per G step, and, through `compile()` without arguments, Adam
with beta = (0, 0.9), TTUR learning rates D 4e-4 / G 2e-4 (C 2e-4: the
paper gives none for C) halved after 50,000 rounds (`halve_after`). The
paper's batch (64) and length (100k generator iterations) belong to the data
and `fit`.

**Evaluator** (optional, any game's player): pass `evaluator=` (a frozen
model giving class probabilities, e.g. `kmgan.evaluators.mobilenet_v2()`)
and G's loss gains `-score_weight * L_score` (see
`kmgan.evaluators.EvaluatorGuidance`); that is `kmgan.ScoreGAN`.

The hinge-loss discriminator's P(real | x), for GAM battles, is
sigmoid(D(x)) of its raw logit.
"""

import keras
from keras import ops

from kmgan import losses
from kmgan.games.base import _check_model
from kmgan.games.base import check_discriminator
from kmgan.games.base import check_input_shape
from kmgan.games.base import real_data
from kmgan.games.conditional import ConditionalGame
from kmgan.games.conditional import infer_num_classes
from kmgan.games.hooks import check_steps
from kmgan.losses import gradient_penalty  # noqa: F401  (its former home)

#: Iterations after which the paper halves the learning rates.
HALVE_AFTER = 50_000

#: Table 1 / section 3.2 learning rates.
D_LEARNING_RATE = 4e-4
G_LEARNING_RATE = 2e-4
C_LEARNING_RATE = 2e-4


def paper_adam(learning_rate, halve_after=HALVE_AFTER, steps_per_round=1):
    """Adam(beta_1=0, beta_2=0.9) whose rate halves after `halve_after` rounds.

    The schedule counts the optimizer's own steps, so a player that moves
    `steps_per_round` times per round (D with 5 steps) halves after
    `halve_after * steps_per_round` of them: all players halve together,
    after `halve_after` rounds (generator iterations).

    Args:
        learning_rate: initial rate.
        halve_after: rounds before halving; None or 0 keeps it constant.
        steps_per_round: optimizer steps the player takes per round.
    """
    rate = learning_rate
    if halve_after:
        rate = keras.optimizers.schedules.PiecewiseConstantDecay(
            [int(halve_after) * int(steps_per_round)], [learning_rate, learning_rate / 2.0]
        )
    return keras.optimizers.Adam(rate, beta_1=0.0, beta_2=0.9)


def default_augmentation(image_shape, seed=None):
    """The classifier's default augmentation, as Keras preprocessing layers.

    Random translations of up to 10% of the height and width (nearest fill)
    and, for RGB images, random horizontal flips: the ControlGAN reference
    code's `ImageDataGenerator(width_shift_range=0.1,
    height_shift_range=0.1, horizontal_flip=True)`. Grey images (digits,
    letters) are not flipped.

    Args:
        image_shape: (height, width, channels).
        seed: optional int seed (each layer gets its own derived seed).

    Returns:
        A built `keras.Sequential`.
    """
    seeds = iter(range(seed, seed + 2)) if seed is not None else iter((None, None))
    pipeline = []
    if image_shape[-1] == 3:
        pipeline.append(keras.layers.RandomFlip("horizontal", seed=next(seeds), name="flip"))
    pipeline.append(
        keras.layers.RandomTranslation(
            0.1, 0.1, fill_mode="nearest", seed=next(seeds), name="translate"
        )
    )
    model = keras.Sequential(pipeline, name="augmentation")
    model.build((None,) + tuple(image_shape))
    return model


def _augmentation(augmentation, image_shape, seed):
    if augmentation is None:
        return None
    if isinstance(augmentation, str):
        if augmentation != "default":
            raise ValueError(
                f"augmentation must be 'default', a Keras layer or None; got {augmentation!r}."
            )
        return default_augmentation(image_shape, seed=None if seed is None else seed + 1)
    if isinstance(augmentation, (list, tuple)):
        augmentation = keras.Sequential(list(augmentation), name="augmentation")
    if not isinstance(augmentation, keras.layers.Layer):
        raise TypeError(
            "augmentation must be a Keras layer (keras.layers preprocessing "
            "layers, keras_cv layers, a keras.Sequential of them) or a list "
            f"of layers; got {type(augmentation)}."
        )
    if not augmentation.built:
        augmentation.build((None,) + tuple(image_shape))
    return augmentation


def classification_loss(labels, logits):
    """Mean sparse categorical cross-entropy of classifier logits."""
    labels = ops.reshape(ops.cast(labels, "int32"), (-1,))
    return ops.mean(
        ops.sparse_categorical_crossentropy(labels, ops.cast(logits, "float32"), from_logits=True)
    )


@keras.saving.register_keras_serializable(package="kmgan")
class ControlGAN(ConditionalGame):
    """Conditional generator, unconditional discriminator, independent classifier.

    Args:
        generator: conditional `keras.Model` [z, labels] -> images in [-1, 1]
            (`kmgan.nets.sngan.sngan_generator`).
        discriminator: `keras.Model` images -> one logit
            (`kmgan.nets.sngan.sngan_discriminator`).
        classifier: `keras.Model` images -> class logits (num_classes,)
            (`kmgan.nets.sngan.sngan_classifier`).
        num_classes: number of classes (None: read from the generator's
            label layers, else the classifier's output width).
        augmentation: "default" (`default_augmentation`), None (no
            augmentation), a Keras layer (preprocessing layers, keras_cv
            layers, a `keras.Sequential`) or a list of layers. Random layers
            keep their own seed state, carried and saved with the game.
        loss: adversarial loss name or `AdversarialLoss` ("hinge").
        gp_weight: gradient-penalty weight (10); 0 disables it.
        d_steps: D steps per round (5).
        c_steps: C steps per round (1).
        gamma_max: cap of gamma_t (0.1 in ScoreGAN).
        gamma_rate: r, gamma's step size per round (1e-3).
        gamma_alpha: alpha, the target ratio of fake to real classification
            loss (1.0).
        gamma_init: gamma_0 (0.0).
        fake_labels: "uniform" or "data" (labels of the fakes).
        log_names: names of extra logs a subclass's `play` returns.
        seed: seed of the game's noise (and of the default augmentation).
        name: model name.
        **hooks: the shared hooks (`kmgan.games.hooks`): `evaluator` (a
            frozen evaluator or `EvaluatorGuidance`; with it the game is
            ScoreGAN), `score_weight` (delta, 0.5), `score_cap` ("real", a
            float or None; see `EvaluatorGuidance`).
    """

    log_names = ("d_loss", "gp", "c_loss", "g_loss", "g_adv", "g_class", "gamma")
    # Saved inside the game's config (whole-game .keras files).
    network_args = ("generator", "discriminator", "classifier", "augmentation", "evaluator")

    def __init__(
        self,
        generator,
        discriminator,
        classifier,
        num_classes=None,
        augmentation="default",
        loss="hinge",
        gp_weight=10.0,
        d_steps=5,
        c_steps=1,
        gamma_max=0.1,
        gamma_rate=1e-3,
        gamma_alpha=1.0,
        gamma_init=0.0,
        fake_labels="uniform",
        log_names=None,
        seed=None,
        name="controlgan",
        **hooks,
    ):
        names = ControlGAN.log_names + tuple(log_names or ())
        _check_model(classifier, "classifier")
        num_classes = num_classes or infer_num_classes(generator) or classifier.outputs[0].shape[-1]
        super().__init__(
            generator,
            num_classes=num_classes,
            fake_labels=fake_labels,
            d_steps=d_steps,
            gp_weight=gp_weight,
            log_names=names,
            seed=seed,
            name=name,
            **hooks,
        )
        check_discriminator(discriminator, self.data_shape)
        check_input_shape(classifier, self.data_shape, "classifier")
        if tuple(classifier.outputs[0].shape[1:]) != (self.num_classes,):
            raise ValueError(
                f"The classifier must output {self.num_classes} class logits; got "
                f"shape {tuple(classifier.outputs[0].shape[1:])}."
            )
        self.c_steps = check_steps(c_steps, "c_steps")
        if not 0.0 <= gamma_init <= gamma_max:
            raise ValueError(f"Need 0 <= gamma_init <= gamma_max; got {gamma_init}, {gamma_max}.")
        self.discriminator = discriminator
        self.classifier = classifier
        self.augmentation = _augmentation(augmentation, self.data_shape, seed)
        self.loss = losses.get(loss)
        self.gamma_max = float(gamma_max)
        self.gamma_rate = float(gamma_rate)
        self.gamma_alpha = float(gamma_alpha)
        self.gamma_init = float(gamma_init)
        self.gamma = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(float(gamma_init)),
            trainable=False,
            name="gamma",
        )

    def game_config(self):
        return {
            "num_classes": self.num_classes,
            "loss": self.loss.name,
            "c_steps": self.c_steps,
            "gamma_max": self.gamma_max,
            "gamma_rate": self.gamma_rate,
            "gamma_alpha": self.gamma_alpha,
            "gamma_init": self.gamma_init,
            "fake_labels": self.fake_labels,
        }

    # Whole-game saving keeps gamma_t by name, not by index. The augmentation's random state
    # (which Keras does not save with preprocessing layers) is kept too, so a
    # resumed game augments as the original would have.
    def _augmentation_state(self):
        if self.augmentation is None:
            return []
        return list(self.augmentation.non_trainable_variables)

    def save_own_variables(self, store):
        super().save_own_variables(store)
        store["gamma"] = self.gamma
        for i, v in enumerate(self._augmentation_state()):
            store[f"augmentation_{i}"] = v

    def load_own_variables(self, store):
        keys = set(store.keys())
        if "gamma" not in keys:
            raise ValueError(f"{self.name}: the saved game state has no gamma_t.")
        self.gamma.assign(store["gamma"])
        if "noise_state" in keys:
            self.seed_generator.state.assign(store["noise_state"])
        for i, v in enumerate(self._augmentation_state()):
            if f"augmentation_{i}" in keys:
                v.assign(store[f"augmentation_{i}"])

    optimizer_roles = ("discriminator", "generator", "classifier")

    def default_optimizers(self, halve_after=HALVE_AFTER):
        """The paper's optimizers (`paper_adam`): Adam(0, 0.9) at 4e-4 / 2e-4
        / 2e-4 for D / G / C, halved after `halve_after` rounds.

        Args:
            halve_after: rounds before the rates halve (None: never); also
                a keyword of `compile()`, for the optimizers it defaults.
        """
        return {
            "discriminator": paper_adam(D_LEARNING_RATE, halve_after, steps_per_round=self.d_steps),
            "generator": paper_adam(G_LEARNING_RATE, halve_after),
            "classifier": paper_adam(C_LEARNING_RATE, halve_after, steps_per_round=self.c_steps),
        }

    def player_variables(self):
        # The evaluator (if any) is no player: frozen, in no optimizer.
        return {
            "discriminator": self.discriminator.trainable_variables,
            "classifier": self.classifier.trainable_variables,
            "generator": self.generator.trainable_variables,
        }

    def augment(self, images):
        """The classifier's random augmentation of a real batch."""
        if self.augmentation is None:
            return images
        return self.augmentation(images, training=True)

    def play(self, data):
        real = real_data(data)
        labels = self.batch_labels(data)
        batch_size = ops.shape(real)[0]
        # C keeps its own augmentation A of the reals (the paper's).
        D, C = self.judged(self.discriminator), self.classifier

        for _ in range(self.d_steps):
            y_fake = self.labels_for_fakes(labels)
            fake = ops.stop_gradient(
                self.generate_batch(self.sample_z(batch_size), y_fake, training=True)
            )

            def discriminator_loss():
                adv = self.loss.discriminator(D(real, training=True), D(fake, training=True))
                gp = self.penalty(D, real, fake)
                return adv + self.gp_weight * gp + self.d_regularizers(D, real, fake), (adv, gp)

            _, (d_loss, gp) = self.minimize("discriminator", discriminator_loss)

        for _ in range(self.c_steps):
            augmented = ops.stop_gradient(self.augment(real))
            c_loss = self.minimize(
                "classifier", lambda: classification_loss(labels, C(augmented, training=True))
            )
        c_loss_real = ops.stop_gradient(classification_loss(labels, C(real, training=False)))

        z = self.sample_z(batch_size)
        y_fake = self.labels_for_fakes(labels)

        def generator_loss():
            fake = self.generate_batch(z, y_fake, training=True)
            adv = self.loss.generator(D(fake, training=True))
            g_class = classification_loss(y_fake, C(fake, training=False))
            loss = adv + ops.convert_to_tensor(self.gamma) * g_class
            return self.guide(loss, fake, real), (adv, g_class)

        g_loss, (g_adv, g_class) = self.minimize("generator", generator_loss)

        self.gamma.assign(self.next_gamma(self.gamma, ops.stop_gradient(g_class), c_loss_real))

        logs = {
            "d_loss": d_loss,
            "gp": gp,
            "c_loss": c_loss,
            "g_loss": g_loss,
            "g_adv": g_adv,
            "g_class": g_class,
            "gamma": ops.convert_to_tensor(self.gamma),
        }
        return logs

    def next_gamma(self, gamma, fake_class_loss, real_class_loss):
        """ControlGAN's update of the classification weight gamma_t.

            gamma_{t+1} = clip(gamma_t + r * (L_C(fake) - alpha * L_C(real)), 0, gamma_max)

        Args:
            gamma: gamma_t.
            fake_class_loss: the classifier's cross-entropy on G's batch.
            real_class_loss: its cross-entropy on the real batch.

        Returns:
            gamma_{t+1}, a scalar tensor.
        """
        gamma = ops.convert_to_tensor(gamma) + self.gamma_rate * (
            fake_class_loss - self.gamma_alpha * real_class_loss
        )
        return ops.clip(gamma, 0.0, self.gamma_max)

    def real_probability(self, x):
        """sigmoid of the (hinge-loss) discriminator's logit."""
        return ops.sigmoid(ops.reshape(self.discriminator(x, training=False), (-1,)))
