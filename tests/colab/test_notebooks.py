"""The notebooks in colab/ run top to bottom in a real Jupyter kernel (short settings)."""

import pathlib

import pytest

NOTEBOOKS = sorted((pathlib.Path(__file__).resolve().parents[2] / "colab").glob("*.ipynb"))
#: What each notebook must print (its headline result).
EXPECTED = {
    "simclr_digits.ipynb": ["kNN top-1: pretrained", "SavedModel at"],
    "mlm_transfer.ipynb": ["masked-token accuracy", "label fraction | pretrained | scratch",
                           "pretrained vs scratch, accuracy gain per label fraction"],
}


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
    for needle in EXPECTED[path.name]:
        assert needle in text, needle
