"""Evaluation: 2015-Inception FID/KID/precision-recall/density-coverage, domain classifiers,
IS, MS-SSIM, GAM battles, mode coverage, specialization."""

from kmgan.metrics.domain import DomainClassifier
from kmgan.metrics.domain import classification_accuracy_score
from kmgan.metrics.domain import domain_classifier
from kmgan.metrics.features import extract_features
from kmgan.metrics.features import real_features
from kmgan.metrics.gam import BattleResult
from kmgan.metrics.gam import battle
from kmgan.metrics.inception import InceptionFeatures
from kmgan.metrics.inception import fid
from kmgan.metrics.inception import frechet_distance
from kmgan.metrics.inception import inception_score
from kmgan.metrics.inception import real_statistics
from kmgan.metrics.inception_2015 import Inception2015Features
from kmgan.metrics.inception_2015 import inception_2015
from kmgan.metrics.kid import kid
from kmgan.metrics.mode_coverage import kl_to_uniform
from kmgan.metrics.mode_coverage import mean_distance_to_modes
from kmgan.metrics.mode_coverage import mixture_coverage
from kmgan.metrics.prdc import density_coverage
from kmgan.metrics.prdc import precision_recall
from kmgan.metrics.scores import evaluate
from kmgan.metrics.specialization import specialization_report
from kmgan.metrics.ssim import ms_ssim
from kmgan.metrics.ssim import ms_ssim_diversity
from kmgan.metrics.stacked_mnist import stacked_mnist_coverage

__all__ = [
    "BattleResult",
    "DomainClassifier",
    "Inception2015Features",
    "InceptionFeatures",
    "battle",
    "classification_accuracy_score",
    "density_coverage",
    "domain_classifier",
    "evaluate",
    "extract_features",
    "fid",
    "frechet_distance",
    "inception_2015",
    "inception_score",
    "kid",
    "kl_to_uniform",
    "mean_distance_to_modes",
    "mixture_coverage",
    "ms_ssim",
    "ms_ssim_diversity",
    "precision_recall",
    "real_features",
    "real_statistics",
    "specialization_report",
    "stacked_mnist_coverage",
]
