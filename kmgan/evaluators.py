"""Frozen pretrained evaluators, and the evaluator as a player of any game.

An **evaluator** is a frozen `keras.Model` mapping a batch of generator
output (images in [-1, 1]) to class probabilities. ScoreGAN (Lee & Seok)
uses `keras.applications.MobileNetV2` with ImageNet weights
(`mobilenet_v2()` below); any frozen classifier with the same contract works
(e.g. a classifier trained beforehand on MNIST).

`EvaluatorGuidance` turns an evaluator into a player: it computes the
Inception-score formula of the evaluator's probabilities over the generated
batch, regularised so that it cannot be pushed past the real data's score,
and hands the generator the term `-weight * L_score` to add to its loss. It is
a Keras layer, so assigning it to a game attribute makes the evaluator's
variables part of the game's state (carried through `fit` on JAX, saved with
the game) while, being frozen, they are in no player's variables and no
optimizer. See `EvaluatorGuidance` for the exact score.

Weights: `mobilenet_v2(weights="imagenet")` fetches Keras' published
MobileNetV2 file once into `~/.keras/models/`. Where it cannot be fetched it
raises `PretrainedWeightsError` naming the file, its URL and how to pass a
local copy (`weights="/path/to/<file>.h5"`); it never falls back to random
weights. `weights=None` (random) is for tests only.
"""

import os

import keras
from keras import layers
from keras import ops

from kmgan import pretrained

#: Where Keras publishes the MobileNetV2 ImageNet weights.
MOBILENET_V2_WEIGHTS_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"
)

#: Input sizes MobileNetV2 ImageNet weights are published for.
MOBILENET_V2_SIZES = (96, 128, 160, 192, 224)

#: Width multipliers MobileNetV2 ImageNet weights are published for.
MOBILENET_V2_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)

#: Number of ImageNet classes (the evaluator's output width).
IMAGENET_CLASSES = 1000


class PretrainedWeightsError(RuntimeError):
    """Pretrained weights were asked for and cannot be obtained."""


def mobilenet_v2_weights_file(alpha=1.0, input_size=224):
    """File name of Keras' MobileNetV2 ImageNet weights (with the classifier).

    Sizes without published weights use the 224 file, as Keras does.
    """
    rows = input_size if input_size in MOBILENET_V2_SIZES else 224
    return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}.h5"


def _fetch_mobilenet_v2_weights(alpha, input_size):
    fname = mobilenet_v2_weights_file(alpha, input_size)
    return pretrained.fetch_keras_weights(
        fname,
        MOBILENET_V2_WEIGHTS_URL + fname,
        "ImageNet MobileNetV2 weights for the evaluator",
        f'kmgan.evaluators.mobilenet_v2(weights="/path/to/{fname}", '
        f"alpha={alpha}, input_size={input_size})",
        error=PretrainedWeightsError,
    )


def frozen(model):
    """Marks `model` as an evaluator: not trainable (BN in inference mode).

    Returns:
        The same model.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"An evaluator must be a keras.Model, got {type(model)}.")
    model.trainable = False
    return model


def mobilenet_v2(
    weights="imagenet",
    input_size=224,
    channels=3,
    alpha=1.0,
    name="mobilenet_v2_evaluator",
):
    """ScoreGAN's evaluator: frozen `keras.applications.MobileNetV2`.

    The returned model takes generator output of any spatial size (channels
    last, values in [-1, 1], the range MobileNetV2's own preprocessing
    produces, so no rescaling is needed), repeats a single channel to RGB,
    resizes bilinearly to `input_size` x `input_size` and returns the
    1000 ImageNet class probabilities (softmax).

    Args:
        weights: "imagenet" (Keras' published file, fetched once into
            ~/.keras/models/; `PretrainedWeightsError` when impossible),
            a local path to that `.h5` file (or any MobileNetV2 weights file
            with the 1000-class top and the same `alpha`), or None (random,
            for tests only).
        input_size: side of the square MobileNetV2 input (>= 32). ImageNet
            weights are published for 96, 128, 160, 192 and 224; other sizes
            load the 224 weights (the network is fully convolutional).
        channels: channels of the generator's images (1 or 3).
        alpha: MobileNetV2 width multiplier (1.0 in ScoreGAN).
        name: model name.

    Returns:
        A frozen functional `keras.Model`: images (batch, H, W, channels) ->
        probabilities (batch, 1000).
    """
    input_size = int(input_size)
    if input_size < 32:
        raise ValueError(f"input_size must be at least 32 for MobileNetV2; got {input_size}.")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3; got {channels}.")
    if weights is None:
        weights_path = None
    elif isinstance(weights, str) and weights == "imagenet":
        if float(alpha) not in MOBILENET_V2_ALPHAS:
            raise ValueError(
                f"ImageNet MobileNetV2 weights exist for alpha in {MOBILENET_V2_ALPHAS}; "
                f"got {alpha}."
            )
        weights_path = _fetch_mobilenet_v2_weights(alpha, input_size)
    else:
        weights_path = os.path.abspath(os.path.expanduser(os.fspath(weights)))
        if not os.path.isfile(weights_path):
            fname = mobilenet_v2_weights_file(alpha, input_size)
            raise FileNotFoundError(
                f"MobileNetV2 weights file not found: {weights_path}. Pass "
                'weights="imagenet", None, or the path of an existing .h5 file '
                f"(e.g. {fname} from {MOBILENET_V2_WEIGHTS_URL + fname})."
            )
    base = keras.applications.MobileNetV2(
        input_shape=(input_size, input_size, 3),
        alpha=alpha,
        include_top=True,
        weights=weights_path,
        classes=IMAGENET_CLASSES,
        classifier_activation="softmax",
    )
    images = keras.Input((None, None, channels), name="images")
    x = images
    if channels == 1:
        x = layers.Concatenate(axis=-1, name="grey_to_rgb")([x, x, x])
    x = layers.Resizing(input_size, input_size, interpolation="bilinear", name="resize")(x)
    model = keras.Model(images, base(x), name=name)
    return frozen(model)


# --------------------------------------------------------------------------
# The score.


def _xlogy_ratio(p, q, epsilon):
    # p * (log p - log q) with 0 log 0 = 0 (one-hot rows are allowed).
    return p * (ops.log(ops.maximum(p, epsilon)) - ops.log(ops.maximum(q, epsilon)))


def batch_inception_score(probs, epsilon=1e-12):
    """Inception-score formula on one batch of class probabilities.

        S = exp( (1/N) sum_i KL( p(y|x_i) || p(y) ) ),  p(y) = (1/N) sum_i p(y|x_i)

    (Salimans et al. 2016; ScoreGAN eq. (6)), as a differentiable backend
    scalar over the whole batch (one split). N equally frequent one-hot rows
    give N, identical rows give 1.

    Args:
        probs: tensor (N, classes) of probabilities.
        epsilon: floor inside the logarithms.

    Returns:
        A scalar tensor.
    """
    p = ops.cast(probs, "float32")
    marginal = ops.mean(p, axis=0, keepdims=True)
    kl = ops.sum(_xlogy_ratio(p, marginal, epsilon), axis=-1)
    return ops.exp(ops.mean(kl))


def regularized_score(fake_probs, real_probs=None, cap="real", epsilon=1e-12):
    """ScoreGAN's regularised score L_score (eq. 9, as implemented here).

        L_score = min{ S(X), S(X_hat) }

    S(X_hat) is `batch_inception_score(fake_probs)`, S(X) the cap: the score
    of the real batch (`cap="real"`, computed from `real_probs` with no
    gradient), a fixed float, or None (no cap: L_score = S(X_hat)). See
    `EvaluatorGuidance` for why eq. (9)'s printed "max" is read as "min".

    Returns:
        `(l_score, s_fake, s_real)`; `s_real` is the cap used (None when
        uncapped).
    """
    s_fake = batch_inception_score(fake_probs, epsilon)
    if cap is None:
        return s_fake, s_fake, None
    if isinstance(cap, str):
        if cap != "real":
            raise ValueError(f"cap must be 'real', a number or None; got {cap!r}.")
        if real_probs is None:
            raise ValueError("cap='real' needs the real batch's probabilities.")
        s_real = ops.stop_gradient(batch_inception_score(real_probs, epsilon))
    else:
        s_real = ops.convert_to_tensor(float(cap), "float32")
    return ops.minimum(s_fake, s_real), s_fake, s_real


@keras.saving.register_keras_serializable(package="kmgan")
class EvaluatorGuidance(layers.Layer):
    """The evaluator as a player: a frozen scorer guiding the generator.

    The generator of a guided game minimises `L_G - weight * L_score`
    (ScoreGAN eq. 8; `weight` is delta = 0.5), where

        S(X)      = exp( mean_i KL( E(x_i) || mean_j E(x_j) ) )   per batch
        L_score   = min{ S(X_real), S(G(z)) }        (cap="real", default)

    E is the evaluator's class probabilities, the fake batch is the
    generator's batch of this move and the real batch is the round's real
    data (same batch size, so both scores carry the same small-batch bias;
    the real score is computed without gradient). Below the cap the
    generator receives the gradient of the score; once its batch scores as
    high as the real batch the term is constant and the gradient is zero, so
    the score cannot be pushed past the real data's.

    Eq. (9) of the paper prints `max{S(X), S(X_hat)}`. Taken literally the
    term would be constant (no gradient) while the fakes score *below* the
    real data and would pull the score up without bound once they score
    above it: the opposite of what the paper says eq. (9) is for ("the
    maximum value of the score that a GAN model can attain is the score of
    real data ... reducing the overfitting"). We implement that stated
    intent, the min, i.e. the fake score clipped from above at the real
    score. (The paper also says S is computed "in the same manner in (7)";
    (7) is the FID, the Inception score is (6), which is what the score
    is.) `cap` may also be a fixed float (e.g. a real-data score estimated
    once) or None (uncapped, Barratt & Sharma's failure mode, for
    ablations).

    The evaluator is frozen here (`trainable=False`, called with
    `training=False`): its variables are non-trainable state of the game,
    never a player's variables, never in an optimizer.

    Args:
        evaluator: frozen `keras.Model` mapping generator output to class
            probabilities (e.g. `mobilenet_v2()`), or to logits with
            `from_logits=True`.
        weight: delta, the weight of the score in the generator's loss.
        cap: "real", a float, or None (see above).
        from_logits: whether the evaluator returns logits (softmax applied).
        epsilon: floor inside the score's logarithms.
        name: layer name.
    """

    #: The scalars `score_loss` returns for a game's logs.
    log_names = ("score", "real_score")

    def __init__(
        self,
        evaluator,
        weight=0.5,
        cap="real",
        from_logits=False,
        epsilon=1e-12,
        name="evaluator",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        self.evaluator = frozen(evaluator)
        self.weight = float(weight)
        if weight < 0:
            raise ValueError(f"The score weight must be >= 0; got {weight}.")
        if isinstance(cap, str) and cap != "real":
            raise ValueError(f"cap must be 'real', a number or None; got {cap!r}.")
        self.cap = cap if (cap is None or isinstance(cap, str)) else float(cap)
        self.from_logits = bool(from_logits)
        self.epsilon = float(epsilon)
        self.trainable = False
        self.built = True

    @classmethod
    def wrap(cls, evaluator, **kwargs):
        """None -> None; an `EvaluatorGuidance` as is; a model -> wrapped."""
        if evaluator is None or isinstance(evaluator, cls):
            return evaluator
        return cls(evaluator, **kwargs)

    def probabilities(self, images):
        """Evaluator class probabilities of a batch (inference mode)."""
        out = self.evaluator(images, training=False)
        out = ops.cast(out, "float32")
        return ops.softmax(out, axis=-1) if self.from_logits else out

    def score(self, images):
        """The batch Inception-style score S of `images` under the evaluator."""
        return batch_inception_score(self.probabilities(images), self.epsilon)

    def score_loss(self, fake, real=None):
        """The generator's evaluator term and its logs.

        Args:
            fake: the generator's batch (gradients flow back through it).
            real: the round's real batch (needed when `cap="real"`).

        Returns:
            `(term, logs)`: `term = -weight * L_score`, a scalar to add to
            the generator's loss, and `{"score": S(fake), "real_score": cap}`
            (the cap is 0 in the logs when there is none).
        """
        real_probs = None
        if isinstance(self.cap, str):
            if real is None:
                raise ValueError("cap='real' needs the real batch.")
            real = ops.convert_to_tensor(real)
            real_probs = ops.stop_gradient(self.probabilities(ops.stop_gradient(real)))
        l_score, s_fake, s_real = regularized_score(
            self.probabilities(fake), real_probs, self.cap, self.epsilon
        )
        if s_real is None:  # uncapped; logs must stay finite (TerminateOnNaN)
            s_real = ops.zeros((), "float32")
        logs = {"score": ops.stop_gradient(s_fake), "real_score": s_real}
        return -self.weight * l_score, logs

    def call(self, fake, real=None):
        return self.score_loss(fake, real)[0]

    def get_config(self):
        config = super().get_config()
        config.update(
            evaluator=keras.saving.serialize_keras_object(self.evaluator),
            weight=self.weight,
            cap=self.cap,
            from_logits=self.from_logits,
            epsilon=self.epsilon,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["evaluator"] = keras.saving.deserialize_keras_object(config["evaluator"])
        return cls(**config)


def guidance_log_names(evaluator):
    """Log names a game adds for an evaluator (none when it has none)."""
    return EvaluatorGuidance.log_names if evaluator is not None else ()


def guided_loss(guidance, loss, fake, real=None):
    """Adds an evaluator's term to a generator loss, for any game.

    Args:
        guidance: an `EvaluatorGuidance`, or None (no evaluator).
        loss: the generator's loss without the evaluator.
        fake: the generator's batch that produced `loss`.
        real: the round's real batch.

    Returns:
        `(loss + term, logs)`; `(loss, {})` when `guidance` is None. Return it
        from a `minimize` loss function; the logs come back as its aux.
    """
    if guidance is None:
        return loss, {}
    term, logs = guidance.score_loss(fake, real)
    return loss + term, logs
