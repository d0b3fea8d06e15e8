"""Evaluation: GAM battles, mode coverage, IS / FID, MS-SSIM."""

from kmgan.metrics.gam import BattleResult
from kmgan.metrics.gam import battle
from kmgan.metrics.mode_coverage import kl_to_uniform
from kmgan.metrics.mode_coverage import mean_distance_to_modes
from kmgan.metrics.mode_coverage import mixture_coverage
