"""The game engine: the only package that touches a backend directly."""

from kmgan.engine.backend_step import input_gradient
from kmgan.engine.game_model import GameModel
from kmgan.engine.optimizers import PlayerOptimizers
from kmgan.engine.optimizers import clone_optimizer

__all__ = ["GameModel", "PlayerOptimizers", "clone_optimizer", "input_gradient"]
