"""The notebooks in colab/ run top to bottom in a real Jupyter kernel (short settings)."""

import pathlib

import pytest

COLAB = pathlib.Path(__file__).resolve().parents[2] / "colab"
NOTEBOOKS = sorted(COLAB.glob("*.ipynb"))

# What each notebook must print (stream output) when it has run to the end; a notebook
# missing here fails, so every new notebook states what it shows.
MARKERS = {
    "simclr_digits.ipynb": ["kNN top-1: pretrained", "SavedModel at"],
    "image_ssl_methods.ipynb": ["simclr     kNN top-1: pretrained",
                                "byol       kNN top-1: pretrained", "features of simclr"],
    "zoo_finetune.ipynb": ["ZooEntry('deepcluster_digits'", "fine-tuned with",
                           "labels (1%): pretrained", "labels (10%): pretrained"],
    "evaluation_report.ipynb": ["report written to", "figures: knn_history, "
                                "embedding_map, confusion_matrix, robustness, "
                                "label_fractions"],
    "mlm_transfer.ipynb": ["masked-token accuracy", "label fraction | pretrained | scratch",
                           "pretrained vs scratch, accuracy gain per label fraction"],
}
# Rich outputs (figures, tables) each notebook must display at least this many of.
IMAGES = {"simclr_digits.ipynb": 0, "image_ssl_methods.ipynb": 2,
          "zoo_finetune.ipynb": 1, "evaluation_report.ipynb": 5, "mlm_transfer.ipynb": 1}


def test_every_notebook_has_markers():
    assert sorted(p.name for p in NOTEBOOKS) == sorted(MARKERS) == sorted(IMAGES)


def test_first_code_cell_installs_tfssl_when_missing():
    import nbformat

    for path in NOTEBOOKS:
        if path.name == "simclr_digits.ipynb":
            continue  # predates the install cell; its first markdown cell says how
        first = next(c for c in nbformat.read(path, as_version=4).cells
                     if c.cell_type == "code")
        assert "pip', 'install'" in first.source, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes(path, tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("TFSSL_NOTEBOOK_SMOKE", "1")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    # The notebooks find ../shared/data through this (they run in tmp_path); without
    # it they use their embedded fallbacks.
    monkeypatch.setenv("TFSSL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TFSSL_SHARED_DATA", str(path.parents[2] / "shared" / "data"))
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    for marker in MARKERS[path.name]:
        assert marker in text, f"{path.name}: {marker!r} not printed"
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= IMAGES[path.name], f"{path.name}: {len(images)} figures"
