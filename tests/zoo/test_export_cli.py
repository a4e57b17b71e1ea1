"""tfssl-export as a real process: the packed directory, refusals with one line, exit 2."""

import json
import os
import shutil

import numpy as np

from suite_helpers import raises_one_line_usage_error
from zoo_helpers import cli, error_lines


def test_export_packs_a_loadable_entry(image_run, tmp_path):
    """A first export and the refusal to write over it in the test process (export_run is
    the one call the command line makes; its one-line exit 2: the next test); then
    ``tfssl-export --overwrite --name`` as a real process replaces it."""
    import tensorflow as tf

    from tfssl.zoo import export_run, load

    out = tmp_path / "zoo" / "simclr"
    export_run(str(image_run), str(out))
    with raises_one_line_usage_error(f"--to={out}: exists and is not empty; give --overwrite"):
        export_run(str(image_run), str(out))
    (out / "stale.txt").write_text("x")
    proc = cli("export", f"--model_dir={image_run}", f"--to={out}", "--overwrite",
               "--name=digits_simclr")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "tfssl-export: wrote" in proc.stdout
    assert sorted(os.listdir(out)) == ["README.md", "card.json", "encoder.keras",
                                       "saved_model"]  # the stale file is gone
    assert sorted(os.listdir(out.parent)) == ["simclr"]  # no temporary left behind
    card = json.loads((out / "card.json").read_text())
    assert card["name"] == "digits_simclr" and card["method"] == "simclr"
    entry = load(str(out))
    images = np.random.default_rng(1).integers(0, 256, (2, 8, 8, 1), dtype=np.uint8)
    served = tf.saved_model.load(str(out / "saved_model"))
    np.testing.assert_allclose(served.serve_uint8(images).numpy(),
                               entry.model.predict(images, verbose=0), atol=1e-5)


def test_missing_or_unfinished_run(image_run, tmp_path):
    """The command line's report (one line, exit 2) once; the other refusals through the
    same library call it makes."""
    import pytest

    from tfssl.errors import UsageError
    from tfssl.zoo import export_run

    proc = cli("export", f"--model_dir={tmp_path / 'nothing'}", f"--to={tmp_path / 'o'}")
    assert proc.returncode == 2
    (line,) = error_lines(proc, "tfssl-export")
    assert "no config.json" in line
    run = tmp_path / "run"
    shutil.copytree(image_run, run)
    os.remove(run / "metrics.json")
    with pytest.raises(UsageError, match="no metrics.json; the run has not finished"):
        export_run(str(run), str(tmp_path / "o"))
    with pytest.raises(UsageError, match="--to=DIR is required"):
        export_run(str(image_run), None)
    assert not (tmp_path / "o").exists()


def test_refuses_to_write_over_the_run(image_run, tmp_path):
    from tfssl.errors import UsageError
    from tfssl.zoo import export_run

    import pytest

    with pytest.raises(UsageError, match="is \\(or contains\\) the run folder"):
        export_run(str(image_run), str(image_run.parent), overwrite=True)
    assert (image_run / "metrics.json").is_file()
