"""``tfds:NAME[:SPLIT]`` specs through tensorflow-datasets, with a clear offline failure."""

import os

from tfssl.errors import UsageError


def parse_tfds_spec(spec, default_split="train"):
    """``"tfds:NAME[:SPLIT]"`` -> ``(name, split)``; NAME may carry ``/config:version``."""
    body = spec[len("tfds:"):]
    if not body:
        raise UsageError(f"dataset spec {spec!r}: expected tfds:NAME[:SPLIT]")
    name, _, split = body.partition(":")
    return name, (split or default_split)


def tfds_builder(name, data_dir=None, download=False):
    """The prepared tfds builder of ``name`` (see :func:`load_tfds` for the failures)."""
    import tensorflow_datasets as tfds

    if data_dir:  # "--data_dir=~/x": the shell expands no "~" after "="
        data_dir = os.path.expanduser(str(data_dir))
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as e:  # unknown name, bad config
        raise UsageError(f"tfds dataset {name!r}: {str(e).splitlines()[0]}") from None
    if not builder.is_prepared():
        if not download:
            raise UsageError(
                f"tfds dataset {name!r} is not prepared in data_dir "
                f"{str(getattr(builder, 'data_dir_root', None) or data_dir)}; "
                "pass --download to fetch it (needs network) or --data_dir=DIR where it is prepared"
            )
        try:
            builder.download_and_prepare()
        except Exception as e:
            first = (str(e).splitlines() or [type(e).__name__])[0]
            raise UsageError(
                f"tfds dataset {name!r}: download failed ({type(e).__name__}: {first}); "
                "check the network or prepare it elsewhere and pass --data_dir"
            ) from None
    return builder


def load_tfds(name, split, data_dir=None, download=False):
    """Returns ``(builder, tf.data.Dataset of feature dicts)`` for a tfds dataset.

    With ``download=False`` the dataset must already be prepared in ``data_dir``;
    otherwise a :class:`UsageError` says so. With ``download=True`` a failed download
    (for example on a machine without network) is also reported in one line.
    """
    builder = tfds_builder(name, data_dir, download)
    splits = builder.info.splits
    base_split = split.split("[")[0]
    if base_split not in splits:
        raise UsageError(
            f"tfds dataset {name!r} has no split {base_split!r}; "
            f"available: {', '.join(sorted(splits.keys()))}"
        )
    return builder, builder.as_dataset(split=split, shuffle_files=False)
