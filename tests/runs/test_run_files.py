"""A run folder's own files, damaged or foreign: one line naming the file, before work."""

import pytest
from suite_helpers import raises_one_line_usage_error


@pytest.mark.parametrize("content,message", [
    ('{"method": "simclr", "dataset": "dig', "is not valid JSON"),
    ("[]", "expected a JSON object, found list"),
    ('{"foo": 1}', "names no registered method"),
])
def test_damaged_config_named_in_one_line(tmp_path, content, message):
    """Was a JSONDecodeError / AttributeError traceback in tfssl-evaluate, -export and
    -finetune, or a line about '--method=None' that did not name the file."""
    from tfssl.runs import load_run_config

    (tmp_path / "config.json").write_text(content)
    with raises_one_line_usage_error(str(tmp_path / "config.json"), message):
        load_run_config(str(tmp_path))


def test_evaluate_refuses_a_damaged_metrics_file_before_the_protocols(tmp_path):
    """evaluate_run appends its report to metrics.json: a truncated one used to fail
    with a traceback after every protocol had run, losing the results."""
    from tfssl.eval.run import evaluate_run
    from tfssl.runs.files import write_json_atomic

    write_json_atomic(str(tmp_path / "config.json"), {"method": "simclr"})
    (tmp_path / "metrics.json").write_text('{"knn_top1": 0.9, "knn_hist')
    # No encoder in the folder: had the call got as far as the work, it would say so.
    with raises_one_line_usage_error(str(tmp_path / "metrics.json"), "is not valid JSON"):
        evaluate_run(str(tmp_path), write_report=False, verbose=False)


def test_damaged_encoder_file_named_in_one_line(tmp_path):
    from tfssl.zoo.card import load_encoder_file

    path = tmp_path / "encoder.keras"
    path.write_bytes(b"PK\x03\x04 not a whole zip archive")
    with raises_one_line_usage_error("--model_dir=x", str(path),
                                     "cannot be loaded as a Keras model"):
        load_encoder_file(str(path), "--model_dir=x")


def test_evaluate_checks_its_settings_before_reading_data(tmp_path):
    """A bad protocol setting was found only after the data and the encoder had been
    read (minutes for a large evaluation set)."""
    from tfssl.eval.run import evaluate_run
    from tfssl.runs.files import write_json_atomic

    write_json_atomic(str(tmp_path / "config.json"), {"method": "simclr"})
    # No data settings and no encoder in the folder: reading them would fail otherwise.
    with raises_one_line_usage_error("severities"):
        evaluate_run(str(tmp_path), protocol="robustness", severities="9",
                     write_report=False, verbose=False)
