"""The method registry: name -> class, modality, inputs, views and default settings.

Each method file registers its class with :func:`register`; ``tfssl/methods/__init__.py``
imports every method file (that import line is the method's registry entry). Everything
outside ``tfssl/methods`` (runner, command line, presets, evaluation, export) looks
methods up here and never names one.

A registered class implements ``from_settings(encoder, settings)``, which builds the
method (its heads and loss) from the resolved run settings; the runner adds
``settings["total_steps"]`` and ``settings["num_train"]`` before calling it.
"""

import dataclasses

from tfssl.errors import UsageError

__all__ = ["MethodSpec", "register", "get", "names", "spec_of", "INPUTS", "MODALITIES"]

MODALITIES = ("image", "text")
# How the runner feeds a method: "views": tuples of augmented views of each image
# (``views`` gives each view's augmentation overrides); "masked_tokens": packed token
# rows with dynamic BERT masks (``tfssl.text.MLMMasker``).
INPUTS = ("views", "masked_tokens")


@dataclasses.dataclass(frozen=True)
class MethodSpec:
    """One registered method.

    Attributes:
        name: the registered name (``--method=NAME``).
        cls: the :class:`tfssl.methods.base.Method` subclass.
        modality: ``"image"`` or ``"text"``.
        inputs: one of :data:`INPUTS`.
        defaults: the method's own settings and the recipe values it changes (learning
            rate, epochs, ...) over the modality's defaults in :mod:`tfssl.presets`.
        views: for ``inputs="views"``: one dict per view of overrides of the run's
            augmentation settings (``min_crop_scale``, ``blur``, ``solarize``,
            ``color_jitter``, ``flip``, ``grayscale``, ``size``).
        with_index: the dataset also yields each image's index in the training set.
        summary: one line for listings.
    """

    name: str
    cls: type
    modality: str
    inputs: str
    defaults: dict
    views: tuple = ({}, {})
    with_index: bool = False
    summary: str = ""


_REGISTRY = {}


def register(name, *, modality, inputs="views", defaults=None, views=({}, {}),
             with_index=False, summary=""):
    """Class decorator: registers a method under ``name``."""
    if modality not in MODALITIES:
        raise ValueError(f"modality {modality!r}: expected one of {MODALITIES}")
    if inputs not in INPUTS:
        raise ValueError(f"inputs {inputs!r}: expected one of {INPUTS}")

    def decorate(cls):
        if name in _REGISTRY and _REGISTRY[name].cls is not cls:
            raise ValueError(f"method {name!r} is registered twice")
        doc = (cls.__doc__ or "").strip().splitlines()
        _REGISTRY[name] = MethodSpec(
            name=name, cls=cls, modality=modality, inputs=inputs,
            defaults=dict(defaults or {}), views=tuple(dict(v) for v in views),
            with_index=with_index, summary=summary or (doc[0] if doc else name))
        cls.registered_name = name
        return cls

    return decorate


def get(name):
    """The :class:`MethodSpec` registered as ``name``."""
    import tfssl.methods  # noqa: F401  (imports every method file)

    if name not in _REGISTRY:
        raise UsageError(f"--method={name!r}: expected one of {', '.join(names())}")
    return _REGISTRY[name]


def names(modality=None):
    """Registered names, in registration order (optionally of one modality)."""
    import tfssl.methods  # noqa: F401

    return [n for n, s in _REGISTRY.items() if modality in (None, s.modality)]


def spec_of(model):
    """The spec of a method instance (or class)."""
    cls = model if isinstance(model, type) else type(model)
    return get(getattr(cls, "registered_name"))
