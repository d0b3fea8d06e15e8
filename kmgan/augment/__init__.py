"""Generative data augmentation: GAN samples as training data for classifiers.

This package turns the study of Reinhart's thesis ("Multi-Agent Diverse
Generative Adversarial Networks for Generative Data Augmentation", HdM
Stuttgart 2025) into a tool for your own data. It answers one question: does
adding generated images to a classifier's training set beat traditional
augmentation, and does a MAD-GAN's (unlabelled, diverse) output beat a
conditional GAN's (labelled) output?

The pieces, usable on their own, one module each:

* **Samplers** (`samplers`; two tiny protocols, so any model works):
  an unlabelled sampler ``sample_fn(n, seed) -> images in [-1, 1]`` (a
  MAD-GAN `.keras` sampler, ``game.sample``, any unconditional generator) is
  wrapped in :class:`UnlabelledSampler`; a labelled sampler
  ``conditional_sample_fn(labels, seed) -> images`` (a conditional generator
  ``G(z, y)``) in :class:`ConditionalSampler`. :func:`load_sampler` builds
  either from a `.keras` file, :func:`sampler_from_model` from a model.
* **Labelling** (`labelling`; :func:`label_with_classifier`, :func:`draw_labelled`): an
  auxiliary classifier, trained on the real data with traditional
  augmentation, labels unlabelled samples; only samples whose top class
  probability reaches a confidence threshold are kept, and how many were kept
  per class is reported.
* **Mixing** (`mixing`; :func:`mix`, :func:`as_dataset`): a real fraction of the real
  set per class plus ``generated_ratio`` times as many generated examples,
  stratified by class with exact, documented rounding, as a ``tf.data``
  pipeline with optional on-the-fly augmentation.
* **Traditional augmentation** (`traditional`; :func:`traditional_augmentation`): the
  thesis's three families, geometric (rotation, scaling, flip where the
  domain allows it, crop, shear), photometric (brightness, contrast, hue for
  RGB, blur) and noise (Gaussian, speckle, salt-and-pepper), built from Keras
  preprocessing layers plus kmgan's layers (`kmgan.layers`) (:class:`RandomBlur`,
  :class:`RandomGaussianNoise`, :class:`RandomSpeckleNoise`,
  :class:`RandomSaltAndPepper`) that, like Keras' own, run inside a
  ``tf.data`` pipeline whatever the Keras backend.
* **Classifiers** (`classifiers`; :func:`simple_cnn`, :func:`train_and_evaluate`,
  :func:`classification_metrics`): the thesis's simple CNNs (conv, batch
  norm, ReLU, max-pool blocks, softmax head) or any Keras model; accuracy,
  macro precision / recall / F1 and the confusion matrix, in NumPy.
* **Generative-model quality** (`quality`; :func:`generative_metrics`): per-class FID,
  KID, precision / recall / density / coverage and Inception Score
  (``kmgan.metrics``) and MS-SSIM diversity (the thesis's outlook) of each
  model's labelled samples.
* **Resume** (`cells`): each finished cell of the sweep on disk, skipped by a
  repeated sweep, refused when its settings differ.
* **The sweep** (`sweep`; :func:`run_sweep`, settings in a
  :class:`SweepConfig`) and its **reports** (`reports`): every method at every real fraction,
  generated ratio and seed; writes ``results.csv``, ``results.md``,
  ``results.json``, ``accuracy_vs_ratio.png`` and sample grids. A sampler
  trained once on the whole training set leaks the images a small real
  fraction withholds; :class:`PerSubset` trains the generative model on each
  real subset instead.

Example::

    import kmgan
    from kmgan import augment

    real = kmgan.data.load_arrays("mnist", "train")
    test = kmgan.data.load_arrays("mnist", "test")
    rows = augment.run_sweep(
        real, test,
        methods={
            "none": None,
            "geometric": "geometric",
            "photometric": "photometric",
            "noise": "noise",
            "cgan": augment.load_sampler("cgan_generator.keras"),
            "madgan": augment.load_sampler("madgan_sampler.keras"),
        },
        real_fractions=(1.0, 0.5, 0.1), generated_ratios=(0, 0.5, 1, 2),
        seeds=(0, 1, 2), epochs=10, out_dir="runs/gda_mnist")

All images handed to or returned by this package are channels-last float32
in ``[-1, 1]`` (the ``tanh`` range of kmgan's generators); uint8 arrays
(``kmgan.data.load_arrays``) are scaled on the way in.
"""

from kmgan.augment.arrays import VALUE_RANGE
from kmgan.augment.arrays import to_model_range
from kmgan.augment.classifiers import classification_metrics
from kmgan.augment.classifiers import evaluate_classifier
from kmgan.augment.classifiers import simple_cnn
from kmgan.augment.classifiers import train_and_evaluate
from kmgan.augment.classifiers import train_classifier
from kmgan.augment.labelling import draw_labelled
from kmgan.augment.labelling import label_with_classifier
from kmgan.augment.labelling import predict_proba
from kmgan.augment.mixing import apportion
from kmgan.augment.mixing import as_dataset
from kmgan.augment.mixing import mix
from kmgan.augment.mixing import stratified_counts
from kmgan.augment.quality import generative_metrics
from kmgan.augment.reports import GEN_METRIC_COLUMNS
from kmgan.augment.reports import RESULT_COLUMNS
from kmgan.augment.reports import plot_accuracy
from kmgan.augment.reports import write_results
from kmgan.augment.samplers import ConditionalSampler
from kmgan.augment.samplers import PerSubset
from kmgan.augment.samplers import UnlabelledSampler
from kmgan.augment.samplers import load_sampler
from kmgan.augment.samplers import sampler_from_model
from kmgan.augment.sweep import DEFAULT_METHODS
from kmgan.augment.sweep import SweepConfig
from kmgan.augment.sweep import run_sweep
from kmgan.augment.traditional import FAMILIES
from kmgan.augment.traditional import traditional_augmentation
from kmgan.layers.noise import RandomGaussianNoise
from kmgan.layers.noise import RandomSaltAndPepper
from kmgan.layers.noise import RandomSpeckleNoise
from kmgan.layers.random_image import RandomBlur
from kmgan.layers.random_image import RandomShear

__all__ = [
    "DEFAULT_METHODS",
    "FAMILIES",
    "GEN_METRIC_COLUMNS",
    "RESULT_COLUMNS",
    "VALUE_RANGE",
    "ConditionalSampler",
    "PerSubset",
    "RandomBlur",
    "RandomGaussianNoise",
    "RandomSaltAndPepper",
    "RandomShear",
    "RandomSpeckleNoise",
    "SweepConfig",
    "UnlabelledSampler",
    "apportion",
    "as_dataset",
    "classification_metrics",
    "draw_labelled",
    "evaluate_classifier",
    "generative_metrics",
    "label_with_classifier",
    "load_sampler",
    "mix",
    "plot_accuracy",
    "predict_proba",
    "run_sweep",
    "sampler_from_model",
    "simple_cnn",
    "stratified_counts",
    "to_model_range",
    "traditional_augmentation",
    "train_and_evaluate",
    "train_classifier",
    "write_results",
]
