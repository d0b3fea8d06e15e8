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
from kmgan.games.base import GMAN_REPORT_ADAM
from kmgan.games.base import GeneratorGame
from kmgan.games.base import check_discriminator
from kmgan.games.base import loss_config
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
        seed: seed of the game's noise.
        name: model name.
        **hooks: the shared hooks every game takes (`kmgan.games.hooks`):
            `evaluator` (a frozen scorer, e.g.
            `kmgan.evaluators.mobilenet_v2()`, whose Inception-style score
            of the fakes, capped at the real batch's, the generator also
            maximises: ScoreGAN's evaluator player), `score_weight`,
            `score_cap`, `gp_weight` (WGAN-GP on D).

    `compile()` without optimizers gives both players the GMAN report's
    Adam(1e-4, beta_1=0.5) (Xu et al.; kmgan's GAN/DCGAN presets).
    """

    log_names = ("d_loss", "g_loss")
    optimizer_defaults = GMAN_REPORT_ADAM

    def __init__(
        self,
        generator,
        discriminator,
        loss="non_saturating",
        label_smoothing=0.0,
        d_steps=1,
        seed=None,
        name="gan",
        **hooks,
    ):
        super().__init__(generator, d_steps=d_steps, seed=seed, name=name, **hooks)
        check_discriminator(discriminator, self.data_shape)
        self.discriminator = discriminator
        self.loss = losses.get(loss, label_smoothing)

    def game_config(self):
        return loss_config(self.loss)

    def play(self, data):
        real = real_data(data)
        batch_size = ops.shape(real)[0]
        D, G = self.judged(self.discriminator), self.generator

        for _ in range(self.d_steps):
            fake = ops.stop_gradient(G(self.sample_z(batch_size), training=True))
            d_loss = self.minimize(
                "discriminator",
                lambda: (
                    self.loss.discriminator(D(real, training=True), D(fake, training=True))
                    + self.gp_weight * self.penalty(D, real, fake)
                    + self.d_regularizers(D, real, fake)
                ),
            )

        z = self.sample_z(batch_size)

        def generator_loss():
            fake = G(z, training=True)
            return self.guide(self.loss.generator(D(fake, training=True)), fake, real)

        g_loss = self.minimize("generator", generator_loss)
        return {"d_loss": d_loss, "g_loss": g_loss}

    def real_probability(self, x):
        return ops.sigmoid(ops.reshape(self.discriminator(x, training=False), (-1,)))
