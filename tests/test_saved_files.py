"""`.keras` files saved by an earlier kmgan still load, and sampler kinds are stored.

`tests/data/legacy_*.keras` were saved on TensorFlow by kmgan at commit
bace07f, before the custom layers moved to `kmgan.layers` and before samplers
stored their kind (see tests/data/README.md). They must load on both backends
and compute what they computed then.
"""

import os

import keras
import numpy as np
import pytest

import kmgan
from kmgan import samplers

DATA = os.path.join(os.path.dirname(__file__), "data")


def legacy(name):
    return os.path.join(DATA, f"legacy_{name}.keras")


@pytest.fixture(scope="module")
def outputs():
    return np.load(os.path.join(DATA, "legacy_outputs.npz"))


def close(got, want):
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["mgan", "madgan", "megan"])
def test_legacy_multi_generator_samplers_load_and_are_inferred_multi(name, outputs):
    sampler = samplers.load(legacy(f"{name}_sampler"))
    assert not isinstance(sampler, samplers.Sampler)  # saved before the kind was stored
    assert samplers.sampler_kind(sampler) == "multi"
    assert samplers.num_generators(sampler) == 2
    z = outputs["z"]
    got = [sampler.predict([z, np.full(len(z), k, "int32")], verbose=0) for k in range(2)]
    close(np.stack(got), outputs[f"{name}_sampler"])


@pytest.mark.parametrize("name", ["conditional_generator", "sngan_generator"])
def test_legacy_conditional_generators_load_and_are_inferred_conditional(name, outputs):
    generator = samplers.load(legacy(name))
    assert samplers.sampler_kind(generator) == "conditional"
    close(generator.predict([outputs["z"], outputs["labels"]], verbose=0), outputs[name])


def test_legacy_generator_and_discriminators_load(outputs):
    generator = samplers.load(legacy("generator"))
    assert samplers.sampler_kind(generator) == "unlabelled"
    close(generator.predict(outputs["z"], verbose=0), outputs["generator"])
    for name, x in (("sngan_discriminator", "x8"), ("stacked_discriminator", "x28")):
        model = keras.saving.load_model(legacy(name), safe_mode=True)
        close(model.predict(outputs[x], verbose=0), outputs[name])


def test_legacy_augmentation_pipeline_loads_with_kmgan_layers():
    model = keras.saving.load_model(legacy("augmentation"), safe_mode=True)
    names = {type(layer).__name__: type(layer) for layer in model.layers[0].layers}
    for cls in (
        kmgan.layers.RandomBlur,
        kmgan.layers.RandomShear,
        kmgan.layers.RandomGaussianNoise,
        kmgan.layers.RandomSpeckleNoise,
        kmgan.layers.RandomSaltAndPepper,
    ):
        assert names[cls.__name__] is cls


def test_exported_samplers_store_their_kind(tmp_path):
    z = np.random.default_rng(0).standard_normal((3, 4)).astype("float32")
    gan = kmgan.GAN(
        kmgan.nets.mlp_generator(4, hidden_units=(4,), seed=0),
        kmgan.nets.mlp_discriminator(hidden_units=(4,), seed=1),
    )
    conditional = kmgan.nets.conditional_generator(
        3, latent_dim=4, embedding_dim=2, base_filters=2, seed=2
    )
    madgan = kmgan.MADGAN(
        [kmgan.nets.mlp_generator(4, hidden_units=(4,), name=f"g{i}", seed=i) for i in range(2)],
        kmgan.nets.madgan_mlp_discriminator(2, hidden_units=(4,), seed=3),
    )
    for source, kind, inputs in (
        (gan, "unlabelled", z),
        (conditional, "conditional", [z, np.arange(3, dtype="int32")]),
        (madgan, "multi", [z, np.zeros(3, "int32")]),
    ):
        sampler = samplers.export_sampler(source)
        assert isinstance(sampler, samplers.Sampler) and sampler.kind == kind
        path = str(tmp_path / f"{kind}.keras")
        sampler.save(path)
        loaded = samplers.load(path)
        assert isinstance(loaded, samplers.Sampler) and samplers.sampler_kind(loaded) == kind
        close(loaded.predict(inputs, verbose=0), sampler.predict(inputs, verbose=0))
    # The stored kind wins over the inputs' names.
    renamed = samplers.as_sampler(conditional, "multi")
    assert samplers.sampler_kind(renamed) == "multi"
    with pytest.raises(ValueError, match="kind must be"):
        samplers.as_sampler(conditional, "labelled")
