"""GAN and DCGAN (Goodfellow et al. 2014; Radford et al. 2015).

One round (the algorithm box of Goodfellow et al., with `d_steps` = k):

    for k steps:
        D descends  L_D(D(x), D(G(z)))          # fresh z each step
    G descends      L_G(D(G(z)))                # fresh z

DCGAN is this game with `kmgan.nets.dcgan_generator` / `dcgan_discriminator`.
"""

import keras
from keras import ops

from kmgan import losses
from kmgan.evaluators import EvaluatorGuidance
from kmgan.evaluators import guidance_log_names
from kmgan.evaluators import guided_loss
from kmgan.games.base import GeneratorGame
from kmgan.games.base import check_discriminator
from kmgan.games.base import real_data


@keras.saving.register_keras_serializable(package="kmgan")
class GAN(GeneratorGame):
    """One generator against one discriminator.

    Args:
        generator: `keras.Model` z -> data.
        discriminator: `keras.Model` data -> one logit.
        loss: name in `kmgan.losses.LOSSES` or an `AdversarialLoss`.
        label_smoothing: one-sided smoothing of D's real target ("soft
            labels"; 0.1 gives the target 0.9).
        d_steps: discriminator steps per generator step; each sees the
            round's real batch and fresh fakes.
        evaluator: optional frozen scorer (e.g. `kmgan.evaluators.mobilenet_v2()`)
            whose Inception-style score of the fakes, capped at the real
            batch's, the generator also maximises (ScoreGAN's evaluator
            player; see `kmgan.evaluators.EvaluatorGuidance`).
        score_weight: delta, the weight of the evaluator's score.
        score_cap: "real", a number, or None (see `EvaluatorGuidance`).
        seed: seed of the game's noise.
        name: model name.
    """

    log_names = ("d_loss", "g_loss")
    network_args = ("generator", "discriminator", "evaluator")

    def __init__(
        self,
        generator,
        discriminator,
        loss="non_saturating",
        label_smoothing=0.0,
        d_steps=1,
        evaluator=None,
        score_weight=0.5,
        score_cap="real",
        seed=None,
        name="gan",
    ):
        guidance = EvaluatorGuidance.wrap(evaluator, weight=score_weight, cap=score_cap)
        super().__init__(
            generator,
            log_names=type(self).log_names + guidance_log_names(guidance),
            seed=seed,
            name=name,
        )
        self.evaluator = guidance
        check_discriminator(discriminator, self.data_shape)
        if int(d_steps) < 1:
            raise ValueError(f"d_steps must be >= 1, got {d_steps}.")
        self.discriminator = discriminator
        self.loss = losses.get(loss, label_smoothing)
        self.d_steps = int(d_steps)

    def game_config(self):
        return {
            "loss": self.loss.name,
            "label_smoothing": self.loss.label_smoothing,
            "d_steps": self.d_steps,
        }

    def compile(self, d_optimizer, g_optimizer, **kwargs):
        """Args: one optimizer per player; kwargs as `GameModel.compile`."""
        super().compile(
            {"discriminator": d_optimizer, "generator": g_optimizer}, **kwargs
        )

    def player_variables(self):
        return {
            "discriminator": self.discriminator.trainable_variables,
            "generator": self.generator.trainable_variables,
        }

    def play(self, data):
        real = real_data(data)
        batch_size = ops.shape(real)[0]
        D, G = self.discriminator, self.generator

        for _ in range(self.d_steps):
            fake = ops.stop_gradient(G(self.sample_z(batch_size), training=True))
            d_loss = self.minimize(
                "discriminator",
                lambda: self.loss.discriminator(
                    D(real, training=True), D(fake, training=True)
                ),
            )

        z = self.sample_z(batch_size)

        def generator_loss():
            fake = G(z, training=True)
            loss = self.loss.generator(D(fake, training=True))
            return guided_loss(self.evaluator, loss, fake, real)

        g_loss, score_logs = self.minimize("generator", generator_loss)
        return {"d_loss": d_loss, "g_loss": g_loss, **score_logs}

    def real_probability(self, x):
        return ops.sigmoid(ops.reshape(self.discriminator(x, training=False), (-1,)))
