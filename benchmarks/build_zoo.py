"""Trains the zoo's catalogue entries, evaluates them and packs each as a zoo entry.

    python benchmarks/build_zoo.py --out=/tmp/tfssl-zoo                  # every entry
    python benchmarks/build_zoo.py --out=/tmp/tfssl-zoo --entries=deepcluster_digits \\
        --minutes=5 --write_results=tfssl/zoo/results.py
    python benchmarks/build_zoo.py --out=/tmp/tfssl-zoo --entries=simclr_cifar10_convnet \\
        --reuse_run=simclr_cifar10_convnet=/tmp/runs/simclr     # adopt a finished run

For each entry of ``tfssl.zoo``'s catalogue (``--entries``, default all): its full
settings (``tfssl.zoo.entry_settings``; ``--minutes`` overrides the wall-clock budget,
``--settings=KEY=VALUE`` any setting the entry has), trained through the library runner
(``tfssl.runs.pretrain``) into ``OUT/_runs/NAME``, or a copy of an already finished run
folder (``--reuse_run=NAME=DIR``); then ``tfssl.eval.evaluate_run`` (images:
``--protocol``, default knn,linear; text: only with ``--sst2_train`` and ``--sst2_dev``)
and ``tfssl.zoo.export_run`` into ``OUT/NAME`` (encoder, SavedModel, card).

Catalogue data paths are relative to the checkout (``../shared/data/...``): they are
resolved against ``--checkout`` (default: the checkout this script is in), so the script
runs from any directory. ``--out`` must lie outside the checkout.

Prints one JSON line per entry on stdout (headline numbers, wall time), then the Python
dict literal of the entries' ``tfssl/zoo/results.py`` values, unless ``--write_results``
writes (merges into) that file atomically. Everything else goes to stderr. Missing data:
one line on stderr, exit 2.
"""

import ast
import json
import os
import shutil
import sys
import time

from absl import flags

from _common import REPO  # benchmarks/_common.py
from tfssl.errors import UsageError
from tfssl.runs.files import write_text_atomic

flags.DEFINE_string("out", None, "Directory for the packed entries (OUT/NAME) and their "
                    "run folders (OUT/_runs/NAME); outside the checkout. Required.")
flags.DEFINE_list("entries", ["all"], "Catalogue entries to build, or all.")
flags.DEFINE_float("minutes", None, "Wall-clock training budget per entry in minutes "
                   "(overrides the entry's budget_minutes; epochs stay a cap).")
flags.DEFINE_list("settings", [], "KEY=VALUE run settings applied to every entry that "
                  "has KEY (e.g. epochs=1,steps_per_epoch=2 for a smoke run).")
flags.DEFINE_multi_string("reuse_run", [], "NAME=DIR: adopt the finished run folder DIR "
                          "for entry NAME instead of training it (it is copied).")
flags.DEFINE_string("protocol", "knn,linear", "Evaluation protocols of image entries.")
flags.DEFINE_string("text_protocol", "knn,linear", "Evaluation protocols of text "
                    "entries (with --sst2_train and --sst2_dev).")
flags.DEFINE_list("eval_settings", [], "KEY=VALUE settings of tfssl.eval.evaluate_run "
                  "(linear_epochs, finetune_steps, label_fractions, ...).")
flags.DEFINE_string("sst2_train", None, "Labelled text (label<TAB>text lines) for the "
                    "text entries' kNN bank / probe; without it text entries are not "
                    "evaluated.")
flags.DEFINE_string("sst2_dev", None, "Labelled text for evaluating text entries.")
flags.DEFINE_string("checkout", None, "Directory the catalogue's relative data paths "
                    "are relative to (default: this checkout).")
flags.DEFINE_string("write_results", None, "Write the measured results into this "
                    "results.py (merged with the entries already there), atomically.")
flags.DEFINE_bool("overwrite", False, "Replace existing OUT/NAME and OUT/_runs/NAME.")

FLAGS = flags.FLAGS

RUNS = "_runs"
# Data-spec prefixes whose rest is a file system path.
_PATH_SPECS = ("folder:", "textfile:", "labeled_text:")
# The checkout's results.py: the header (docstring) a new results file starts with.
RESULTS_FILE = os.path.join(REPO, "tfssl", "zoo", "results.py")


def parse_pairs(items, flag):
    """``["k=v", ...]`` -> dict, values parsed as JSON numbers/booleans where they are."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--{flag}={item!r}: expected KEY=VALUE")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def absolute_spec(spec, root):
    """A data spec with a relative path made absolute against ``root``."""
    if not isinstance(spec, str):
        return spec
    for prefix in _PATH_SPECS:
        if spec.startswith(prefix):
            path = spec[len(prefix):]
            if "://" not in path and not os.path.isabs(path):
                path = os.path.normpath(os.path.join(root, path))
            return prefix + path
    return spec


def spec_path(spec):
    """The file system path of a data spec, or None (embedded / tfds data)."""
    for prefix in _PATH_SPECS:
        if isinstance(spec, str) and spec.startswith(prefix):
            path = spec[len(prefix):]
            return None if "://" in path else path
    return None


def _inside(path, directory):
    path, directory = os.path.realpath(path), os.path.realpath(directory)
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def entry_run_settings(name, root, model_dir, minutes, extra):
    """The entry's full settings with paths resolved and the overrides applied."""
    from tfssl.zoo import entry_settings

    base = entry_settings(name)
    own = {k: v for k, v in extra.items() if k in base}
    if minutes is not None:
        own["budget_minutes"] = minutes
    settings = entry_settings(name, model_dir=model_dir, **own)
    for key in ("dataset", "eval_dataset"):
        settings[key] = absolute_spec(settings.get(key), root)
    return settings


def results_entry(card):
    """The ``tfssl/zoo/results.py`` value of a packed entry's card."""
    out = dict(card.get("results") or {})
    for evaluation in card.get("evaluations") or []:
        for key in ("linear_top1", "linear_top1_random_init"):
            if evaluation.get(key) is not None:
                out[key] = evaluation[key]
    training = card.get("training") or {}
    for key in ("train_seconds", "steps", "epochs_done"):
        if training.get(key) is not None:
            out[key] = training[key]
    hw = card.get("hardware") or {}
    out["hardware"] = {k: hw[k] for k in ("cpu", "cpu_cores", "gpus", "platform")
                       if k in hw}
    out["versions"] = dict(card.get("versions") or {})
    return out


def python_literal(value, indent=0):
    """``value`` (JSON-like) as Python source: dicts one key a line, 4-space indents."""
    pad = " " * (indent + 4)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{pad}{json.dumps(str(k))}: {python_literal(v, indent + 4)},"
                 for k, v in sorted(value.items())]
        return "{\n" + "\n".join(items) + "\n" + " " * indent + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(python_literal(v, indent) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, float) and value != value:
        return 'float("nan")'
    return repr(value)


def read_results(path):
    """(header source, RESULTS dict) of an existing results.py; for a new file, the
    header of the checkout's ``tfssl/zoo/results.py`` and no results."""
    if not os.path.isfile(path):
        header, _ = read_results(RESULTS_FILE)
        return header, {}
    with open(path, encoding="utf-8") as f:
        source = f.read()
    tree = ast.parse(source)
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and getattr(node.targets[0], "id", None) == "RESULTS"):
            header = "".join(source.splitlines(keepends=True)[:node.lineno - 1])
            return header, ast.literal_eval(node.value)
    raise UsageError(f"--write_results={path}: no RESULTS = {{...}} in it")


def write_results(path, new):
    """Merges ``new`` into the RESULTS of ``path`` and writes it (temporary + rename)."""
    header, results = read_results(path)
    results.update(new)
    text = header + "RESULTS = " + python_literal(results) + "\n"
    ast.literal_eval(text.split("RESULTS = ", 1)[1])  # never write what cannot be read
    write_text_atomic(path, text)
    return results


def check_data(names, settings, reused):
    """Exits 2 with one line on stderr when an entry's data is missing."""
    for name in names:
        if name in reused:
            continue
        for key in ("dataset", "eval_dataset"):
            path = spec_path(settings[name].get(key))
            if path is not None and not os.path.exists(path):
                print(f"build_zoo: entry {name}: no data at {path} (--{key})",
                      file=sys.stderr)
                sys.exit(2)
    for flag in ("sst2_train", "sst2_dev"):
        path = getattr(FLAGS, flag)
        if path and not os.path.isfile(path):
            print(f"build_zoo: --{flag}: no file at {path}", file=sys.stderr)
            sys.exit(2)


def adopt_run(src, model_dir):
    """Copies a finished run folder (without its backups) to ``model_dir``."""
    if not os.path.isfile(os.path.join(src, "metrics.json")):
        raise UsageError(f"--reuse_run: {src} has no metrics.json (not a finished "
                         "tfssl-pretrain run)")
    shutil.copytree(src, model_dir, ignore=shutil.ignore_patterns("backup"))


def evaluate(name, model_dir, modality, eval_settings):
    """The entry's evaluation summary, or None when it is not evaluated."""
    from tfssl.eval import evaluate_run

    kwargs = dict(eval_settings)
    if modality == "text":
        if not (FLAGS.sst2_train and FLAGS.sst2_dev):
            print(f"build_zoo: {name}: text entry not evaluated (give --sst2_train and "
                  "--sst2_dev)", file=sys.stderr)
            return None
        kwargs.update(protocol=FLAGS.text_protocol,
                      train_dataset="labeled_text:" + os.path.abspath(FLAGS.sst2_train),
                      dataset="labeled_text:" + os.path.abspath(FLAGS.sst2_dev))
    else:
        kwargs["protocol"] = FLAGS.protocol
    try:
        return evaluate_run(model_dir, **kwargs)["summary"]
    except TypeError as e:  # an unknown --eval_settings key
        raise UsageError(f"--eval_settings: {e}") from None


def main(argv):
    del argv
    stdout, sys.stdout = sys.stdout, sys.stderr  # keep stdout for the JSON lines
    if not FLAGS.out:
        raise UsageError("--out=DIR is required (a directory outside the checkout)")
    out = os.path.abspath(FLAGS.out)
    if _inside(out, REPO):
        raise UsageError(f"--out={FLAGS.out}: inside the checkout {REPO}; choose a "
                         "directory outside it (e.g. /tmp/tfssl-zoo)")
    root = os.path.abspath(FLAGS.checkout or REPO)
    import keras

    from tfssl.zoo import entry_names, export_run

    known = entry_names()
    names = known if FLAGS.entries in ([], ["all"]) else FLAGS.entries
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(f"--entries: unknown {', '.join(unknown)}; expected all or "
                         f"some of {', '.join(known)}")
    reused = {}
    for item in FLAGS.reuse_run:
        name, sep, path = item.partition("=")
        if not sep or name not in names:
            raise UsageError(f"--reuse_run={item!r}: expected NAME=DIR with NAME one "
                             f"of the entries built ({', '.join(names)})")
        reused[name] = os.path.abspath(path)
    extra = parse_pairs(FLAGS.settings, "settings")
    eval_settings = parse_pairs(FLAGS.eval_settings, "eval_settings")
    settings = {n: entry_run_settings(n, root, os.path.join(out, RUNS, n), FLAGS.minutes,
                                      extra) for n in names}
    stray = [k for k in extra if not any(k in s for s in settings.values())]
    if stray:
        raise UsageError(f"--settings: {', '.join(stray)} is a setting of none of "
                         f"the entries {', '.join(names)}")
    check_data(names, settings, reused)

    from tfssl.methods import registry
    from tfssl.runs import pretrain

    for name in names:  # before anything is trained
        for path in (settings[name]["model_dir"], os.path.join(out, name)):
            if os.path.exists(path) and os.listdir(path) and not FLAGS.overwrite:
                raise UsageError(f"{path} exists and is not empty; give --overwrite "
                                 "to rebuild it")
    measured = {}
    for name in names:
        start = time.time()
        model_dir, target = settings[name]["model_dir"], os.path.join(out, name)
        if os.path.exists(model_dir):
            shutil.rmtree(model_dir)
        keras.backend.clear_session()
        if name in reused:
            adopt_run(reused[name], model_dir)
        else:
            pretrain(settings[name])
        modality = registry.get(settings[name]["method"]).modality
        summary = evaluate(name, model_dir, modality, eval_settings)
        card = export_run(model_dir, target, overwrite=FLAGS.overwrite, name=name)
        measured[name] = results_entry(card)
        line = {"benchmark": "build_zoo", "entry": name, "method": card["method"],
                "encoder": card["encoder"], "modality": card["modality"],
                "out": target, "reused_run": reused.get(name),
                **{k: v for k, v in measured[name].items()
                   if k not in ("hardware", "versions")},
                "evaluation": summary and {k: v for k, v in summary.items()
                                           if isinstance(v, (int, float))},
                "wall_seconds": round(time.time() - start, 1)}
        print(json.dumps(line), file=stdout, flush=True)
    if FLAGS.write_results:
        write_results(FLAGS.write_results, measured)
        print(f"build_zoo: wrote {', '.join(measured)} into {FLAGS.write_results}",
              file=sys.stderr)
    else:
        print("# RESULTS entries for tfssl/zoo/results.py (or --write_results=PATH):",
              file=stdout)
        print(python_literal(measured), file=stdout, flush=True)


if __name__ == "__main__":
    from tfssl.cli.common import run_main

    run_main(main)
