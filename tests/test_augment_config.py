"""`augment.run_sweep` takes a `SweepConfig` or the same settings as keywords."""

import dataclasses

import numpy as np
import pytest

from kmgan import augment


def _data():
    x = np.zeros((4, 8, 8, 1), np.uint8)
    return (x, np.arange(4) % 2), (x, np.arange(4) % 2)


def test_keywords_and_config_give_the_same_settings(captured):
    real, test = _data()
    augment.run_sweep(real, test, seeds=(1, 2), epochs=3, out_dir="x", log=None)
    config = augment.SweepConfig(seeds=(1, 2), epochs=3, out_dir="x", log=None)
    augment.run_sweep(real, test, config)
    assert captured[0] == captured[1] == config
    # Keywords override a config's fields; the config itself is not changed.
    augment.run_sweep(real, test, config, epochs=7)
    assert captured[2] == dataclasses.replace(config, epochs=7) and config.epochs == 3
    assert augment.SweepConfig().real_fractions == (1.0, 0.5, 0.1)


def test_unknown_setting_is_a_clear_error(captured):
    real, test = _data()
    with pytest.raises(TypeError, match="unknown settings \\['epoch'\\].*SweepConfig"):
        augment.run_sweep(real, test, epoch=3)
    assert not captured
