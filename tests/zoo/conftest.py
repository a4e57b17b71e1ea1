"""Tiny finished runs (one image, one text) and their packed entries, built once."""

import pytest

from zoo_helpers import CORPUS


@pytest.fixture(scope="session")
def image_run(tmp_path_factory):
    """A finished tfssl-pretrain image run (SimCLR, digits, tiny convnet at 8 px)."""
    import tfssl

    run = tmp_path_factory.mktemp("zoo_image") / "simclr_tiny"
    tfssl.runs.pretrain(method="simclr", dataset="digits", encoder="convnet", width=0.25,
                        image_size=8, epochs=1, steps_per_epoch=2, batch_size=16,
                        projection_dim=8, projection_hidden_dim=16, model_dir=str(run))
    return run


@pytest.fixture(scope="session")
def text_run(tmp_path_factory):
    """A finished tfssl-pretrain --method=mlm run on a tiny corpus."""
    import tfssl

    d = tmp_path_factory.mktemp("zoo_text")
    (d / "train.txt").write_text(CORPUS)
    run = d / "mlm_tiny"
    tfssl.runs.pretrain(method="mlm", dataset=f"textfile:{d / 'train.txt'}",
                        encoder="bert_tiny", max_length=16, vocab_size=120, epochs=1,
                        steps_per_epoch=2, batch_size=4, jit_compile=False,
                        model_dir=str(run))
    return run


@pytest.fixture(scope="session")
def image_entry(image_run, tmp_path_factory):
    """The image run packed by tfssl.zoo.export_run (what tfssl-export writes)."""
    from tfssl.zoo import export_run

    out = tmp_path_factory.mktemp("zoo_packed") / "simclr_entry"
    export_run(str(image_run), str(out))
    return out
