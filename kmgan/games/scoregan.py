"""ScoreGAN (Lee & Seok, "Score-Guided Generative Adversarial Networks").

ScoreGAN is ControlGAN (`kmgan.games.controlgan`) plus a fourth player, the
**evaluator** E: a frozen network pretrained on ImageNet
(`keras.applications.MobileNetV2`, see `kmgan.evaluators.mobilenet_v2`) that
never trains. The generator minimises (eq. 8)

    L_G - delta * L_score,        delta = 0.5

with L_G ControlGAN's generator objective (eq. 4: hinge adversarial term
plus gamma_t times the classifier's cross-entropy on the fakes) and

    S(X)     = exp( mean_i KL( E(x_i) || mean_j E(x_j) ) )     (eq. 6, per batch)
    L_score  = min{ S(X_real), S(G(z, y)) }                    (eq. 9, see below)

the Inception-score formula computed on the evaluator's class probabilities
over the generated batch, capped at the score of the round's real batch (same
batch size; no gradient through the real score). While the fakes score below
the real data the generator climbs the score's gradient; at the cap the term
is constant and gives no gradient, so the score cannot be pushed past the
real data's. The extract of the paper prints eq. (9) as max{S(X), S(X_hat)},
which would do the opposite (no gradient below the real score, unbounded
above it); we implement the paper's stated intent. Details and the
alternatives (`score_cap=<float>` or None) in
`kmgan.evaluators.EvaluatorGuidance`.

One round: D x5 (hinge + gradient penalty 10), C x1 on augmented real data,
G x1 (the objective above), then the gamma_t update (capped at 0.1). The
evaluator runs in inference mode inside G's move only; its variables are
non-trainable state of the game, in no player's variables and no optimizer.

Defaults are Table 1 / section 3.2: hinge loss, GP weight 10, 5 D steps,
gamma_max 0.1, delta 0.5 and, with `compile()`, Adam(0, 0.9) with TTUR
rates D 4e-4 / G 2e-4 (C 2e-4) halved after 50k rounds. Train with batches
of 64 for 100k rounds to match the paper.

Example:

```python
from kmgan.nets import sngan
from kmgan import evaluators
gan = ScoreGAN(
    sngan.sngan_generator(num_classes=10),
    sngan.sngan_discriminator(),
    sngan.sngan_classifier(num_classes=10),
    evaluator=evaluators.mobilenet_v2(weights="imagenet"),
)
gan.compile()
gan.fit(kmgan.data.load("cifar10", batch_size=64), epochs=...)
```
"""

import keras

from kmgan.games.controlgan import ControlGAN


@keras.saving.register_keras_serializable(package="kmgan")
class ScoreGAN(ControlGAN):
    """ControlGAN whose generator is also guided by a frozen evaluator's score.

    Args:
        generator, discriminator, classifier: as `ControlGAN`.
        evaluator: frozen `keras.Model` mapping generator output to class
            probabilities (`kmgan.evaluators.mobilenet_v2(...)` for the
            paper), or a `kmgan.evaluators.EvaluatorGuidance`.
        num_classes: number of classes (None: read from the networks).
        score_weight: delta in eq. (8) (0.5).
        score_cap: "real" (eq. 9: the real batch's score), a float, or None.
        **kwargs: any other `ControlGAN` argument (loss, gp_weight, d_steps,
            c_steps, gamma_max, augmentation, fake_labels, seed, ...).
    """

    def __init__(
        self,
        generator,
        discriminator,
        classifier,
        evaluator,
        num_classes=None,
        score_weight=0.5,
        score_cap="real",
        name="scoregan",
        **kwargs,
    ):
        if evaluator is None:
            raise ValueError(
                "ScoreGAN needs an evaluator (e.g. kmgan.evaluators.mobilenet_v2()); "
                "without one it is ControlGAN."
            )
        super().__init__(
            generator,
            discriminator,
            classifier,
            num_classes=num_classes,
            evaluator=evaluator,
            score_weight=score_weight,
            score_cap=score_cap,
            name=name,
            **kwargs,
        )
