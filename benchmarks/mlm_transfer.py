"""Does MLM pretraining pay off downstream? WikiText-2 pretraining -> SST-2 transfer.

1. Pretrains a BERT encoder with masked-LM through the library runner
   (``tfssl.pretrain(method="mlm")``; ``--method=electra``: ELECTRA's replaced-token
   detection, or any registered text method on masked tokens) on WikiText-2 train for a
   wall-clock budget (``--minutes``), masking 40% of the tokens (``--mask_rate``), and
   reads its masked-token accuracy on WikiText-2 valid (fixed masks at the same rate;
   for ELECTRA the generator's).
2. (``--method=mlm``) Trains keras-hub's ``BertMaskedLM`` at the same configuration
   (layers, width, heads, vocabulary, rows, masks, optimizer, schedule, precision) for
   the same number of steps and scores it on the same validation masks.
   ``--task_text_weight=N`` adds SST-2 train's sentences (labels dropped) N times to the
   pretraining text: task-adaptive pretraining on the downstream task's unlabelled text.
3. Fine-tunes the pretrained encoder and the same architecture from random
   initialisation on 1%, 10% and 100% of SST-2 train (class-balanced, seeded, nested
   subsets), each side with its learning rate chosen from ``--finetune_lrs`` on a
   class-balanced slice of ``--select_size`` sentences held out of SST-2 train, and
   scores the chosen models on ``--eval_file`` (SST-2 dev by default, never used for a
   choice). Each of ``--finetune_seeds`` (three by default) repeats this step; the gain
   is pretrained minus scratch, paired by seed.

Prints one JSON line (``sst2_f0.1_pretrained``, ``sst2_f0.1_scratch``, ...); everything
else goes to stderr.

    python benchmarks/mlm_transfer.py --minutes=15
"""

import contextlib
import json
import os
import sys
import tempfile
import time

from absl import flags

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data")
flags.DEFINE_string("data_dir", DATA, "Folder with wikitext2/ and sst2/.")
flags.DEFINE_float("minutes", 15.0, "Wall-clock budget of the MLM pretraining.")
flags.DEFINE_string("train_text", None, "Pretraining text spec (default: "
                    "textfile:DATA_DIR/wikitext2/wiki.train.raw).")
flags.DEFINE_integer("task_text_weight", 0, "Task-adaptive pretraining: also pretrain "
                     "on the sentences of --train_file (labels dropped; --eval_file is "
                     "never read), each read this many times (0: --train_text alone).")
flags.DEFINE_string("valid_text", None, "Validation text spec (default: "
                    "textfile:DATA_DIR/wikitext2/wiki.valid.raw).")
flags.DEFINE_string("train_file", None, "Labelled training text (default: "
                    "labeled_text:DATA_DIR/sst2/train.txt).")
flags.DEFINE_string("eval_file", None, "Labelled text the report is scored on (default: "
                    "labeled_text:DATA_DIR/sst2/dev.txt).")
flags.DEFINE_string("method", "mlm", "Pretraining method: a registered text method on "
                    "masked tokens (mlm, electra).")
flags.DEFINE_string("encoder", "bert_tiny", "bert_tiny | bert_mini | bert_small | bert_base")
flags.DEFINE_integer("vocab_size", 8192, "WordPiece vocabulary size (cached per corpus).")
flags.DEFINE_integer("max_length", 128, "Tokens per pretraining row.")
flags.DEFINE_integer("batch_size", 32, "Pretraining batch size.")
flags.DEFINE_float("learning_rate", 2e-3, "Peak pretraining learning rate (AdamW).")
flags.DEFINE_bool("whole_word_masking", False, "Mask whole words.")
flags.DEFINE_integer("max_span_length", 1, "Mask spans of up to N tokens (SpanBERT: 10); "
                     "1 = single tokens.")
flags.DEFINE_float("mask_rate", 0.4, "Share of tokens masked in pretraining (the validation "
                   "masks use the same rate). 0.4, not BERT's 0.15 (the mlm method's "
                   "default): at this budget the pretrained side scored 1.9 points "
                   "higher at 10% labels (three seeds).")
flags.DEFINE_bool("pre_norm", None, "Pre-layer-norm blocks (default: the mlm method's "
                  "default); --nopre_norm is BERT's post-norm layout, as keras-hub's.")
flags.DEFINE_enum("precision", "mixed_bfloat16", ["float32", "mixed_bfloat16"],
                  "Pretraining and keras-hub precision.")
flags.DEFINE_bool("jit_compile", None, "XLA-compile the tfssl and keras-hub train steps "
                  "(default: the runner's per-device rule, on for BERT on CPU).")
flags.DEFINE_integer("max_epochs", 1000, "Cap on pretraining epochs (the budget decides).")
flags.DEFINE_bool("kerashub", None, "Train keras-hub's BertMaskedLM for the same steps "
                  "(default: on with --method=mlm, which it compares with).")
flags.DEFINE_list("fractions", ["0.01", "0.1", "1.0"], "Label fractions of SST-2 train.")
flags.DEFINE_list("finetune_lrs", ["3e-4", "1e-3"], "Fine-tuning rate grid, the same "
                  "for both sides (the README's: 1e-4 helped scratch only, 3e-3 neither).")
flags.DEFINE_integer("finetune_steps", 600, "Fine-tuning steps (every fraction).")
flags.DEFINE_integer("finetune_batch_size", 32, "Fine-tuning batch size.")
flags.DEFINE_integer("finetune_head_steps", 0, "LP-FT: train the classifier alone on the "
                     "frozen encoder for this many steps before --finetune_steps of "
                     "every weight (both sides; 0 = off).")
flags.DEFINE_integer("finetune_select_every", 0, "Also score the selection split every "
                     "this many fine-tuning steps and keep the best weights (a divisor "
                     "of --finetune_steps; 0 = the last weights).")
flags.DEFINE_integer("finetune_max_length", 64, "Tokens per SST-2 sentence.")
flags.DEFINE_enum("finetune_mode", "finetune", ["finetune", "linear"], "Transfer protocol.")
flags.DEFINE_enum("pooling", "encoder", ["encoder", "mean", "cls"],
                  "What the classifier reads (encoder = the encoder's pooled_output).")
flags.DEFINE_list("layer_decay", ["1.0"], "Layer-wise learning-rate decay (1 = off); "
                  "several values are a grid with --finetune_lrs, chosen per side.")
flags.DEFINE_integer("reinit_layers", 0, "Re-initialise the top K transformer blocks "
                     "of the pretrained encoder before fine-tuning (0 = off).")
flags.DEFINE_integer("select_size", 872, "SST-2 train sentences held out for the choice "
                     "of learning rate.")
flags.DEFINE_list("finetune_seeds", ["0", "1", "2"], "Fine-tuning seeds: each repeats "
                  "the whole transfer curve (selection split, label subsets, classifier "
                  "and scratch initialisation, data order); every accuracy is the mean "
                  "over seeds, with its standard deviation and the per-seed values (one "
                  "seed's gain at 10% labels ranged from -1.4 to +2.8 points over ten).")
flags.DEFINE_string("model_dir", None, "Run directory (default: a temporary one).")
flags.DEFINE_bool("overwrite", False, "Pretrain into a --model_dir that holds a finished "
                  "run (replaced once the new one is complete).")
flags.DEFINE_bool("reuse_run", False, "Skip the pretraining and fine-tune the finished run "
                  "in --model_dir (its config.json and metrics.json), e.g. with other "
                  "--finetune_seeds; the pretraining flags are then the run's own.")
flags.DEFINE_integer("seed", 0, "Seed.")
FLAGS = flags.FLAGS


def kerashub_masked_accuracy(task, settings, steps, jit_compile, log):
    """keras-hub ``BertMaskedLM`` at the run's configuration (XLA as the run's step:
    ``jit_compile``), ``steps`` steps, scored on the run's validation masks. Returns
    ``(masked_accuracy, seconds)``."""
    import keras
    import keras_hub
    import numpy as np
    import tensorflow as tf

    from tfssl.encoders.bert import BERT_PRESETS
    from tfssl.runs import dtype_policy

    p = BERT_PRESETS[settings["encoder"]]
    peak, warmup = settings["learning_rate"], max(1, int(0.05 * steps))

    def to_hub(x, y, w):
        ids = x["token_ids"]
        return ({"token_ids": ids, "segment_ids": tf.zeros_like(ids),
                 "padding_mask": ids != 0, "mask_positions": x["mask_positions"]}, y, w)

    with dtype_policy(settings["precision"]):
        keras.utils.set_random_seed(settings["seed"])
        backbone = keras_hub.models.BertBackbone(
            vocabulary_size=len(task.vocab), num_layers=p["num_layers"],
            num_heads=p["num_heads"], hidden_dim=p["hidden_dim"],
            intermediate_dim=4 * p["hidden_dim"], max_sequence_length=task.positions)
        model = keras_hub.models.BertMaskedLM(backbone=backbone, preprocessor=None)
        # The runner's schedule: 5% linear warm-up, cosine to 0 at the last step.
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0, max(1, steps - warmup), alpha=0.0, warmup_target=peak,
            warmup_steps=warmup)
        opt = keras.optimizers.AdamW(schedule, weight_decay=settings["weight_decay"])
        opt.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
        model.compile(optimizer=opt,
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(
                          name="masked_accuracy")],
                      jit_compile=jit_compile)
        start = time.time()
        model.fit(task.train_dataset().map(to_hub), epochs=1, steps_per_epoch=steps,
                  verbose=0)
        seconds = time.time() - start
        val = tf.data.Dataset.from_tensor_slices(
            (task.val_x, task.val_y, task.val_w)).batch(settings["batch_size"]).map(to_hub)
        result = model.evaluate(val, verbose=0, return_dict=True)
    log(f"keras-hub BertMaskedLM: {steps} steps in {seconds:.0f} s, masked accuracy "
        f"{result['masked_accuracy']:.4f}")
    return float(result["masked_accuracy"]), seconds, float(np.mean(task.val_w > 0))


def curve_report(curves):
    """The JSON keys of one or several seeds' transfer curves (``transfer_curve``
    results): ``sst2_fF_SIDE`` (accuracy; the mean over seeds), ``_lr`` and ``_select``
    (the chosen rate and its selection accuracy), ``_step`` (with
    ``--finetune_select_every``: the kept step), ``_decay`` (with several
    ``--layer_decay`` values: the chosen one), ``sst2_fF_num_train``; with several
    seeds also ``_std`` and ``_seeds`` (per-seed accuracies, ``_lr`` then a list too)
    and ``sst2_fF_gain`` / ``_gain_std`` (pretrained minus scratch, paired by seed)."""
    import numpy as np

    out = {}
    for fraction in curves[0]:
        rows = [curve[fraction] for curve in curves]
        prefix = f"sst2_f{fraction:g}"
        for side in rows[0]:
            acc = [r[side]["accuracy"] for r in rows]
            key = f"{prefix}_{side}"
            out[key] = round(float(np.mean(acc)), 4)
            lrs = [r[side]["learning_rate"] for r in rows]
            out[f"{key}_lr"] = lrs[0] if len(rows) == 1 else lrs
            sel = [round(r[side]["select_accuracy"], 4) for r in rows]
            out[f"{key}_select"] = sel[0] if len(rows) == 1 else sel
            decays = {g["layer_decay"] for g in rows[0][side]["grid"]}
            for name, field in (("step", "select_step"), ("decay", "layer_decay")):
                values = [r[side].get(field) for r in rows]
                if values[0] is not None and (name == "step" or len(decays) > 1):
                    out[f"{key}_{name}"] = values[0] if len(rows) == 1 else values
            if len(rows) > 1:
                out[f"{key}_std"] = round(float(np.std(acc)), 4)
                out[f"{key}_seeds"] = [round(a, 4) for a in acc]
        if len(rows) > 1 and "scratch" in rows[0]:
            gain = [r["pretrained"]["accuracy"] - r["scratch"]["accuracy"] for r in rows]
            out[f"{prefix}_gain"] = round(float(np.mean(gain)), 4)
            out[f"{prefix}_gain_std"] = round(float(np.std(gain)), 4)
        out[f"{prefix}_num_train"] = rows[0]["pretrained"]["num_train"]
    return out


def short_spec(spec):
    """``textfile:/long/path/wiki.train.raw`` -> ``textfile:wiki.train.raw``."""
    kind, sep, path = spec.partition(":")
    return f"{kind}:{os.path.basename(path)}" if sep and kind != "tfds" else spec


def text_methods():
    """Registered text methods on masked tokens (what ``--method`` accepts)."""
    from tfssl.methods import registry

    return [n for n in registry.names("text")
            if registry.get(n).inputs == "masked_tokens"]


def finished_run(model_dir):
    """``(settings, metrics)`` of the finished MLM run in ``model_dir``."""
    from tfssl.errors import UsageError
    from tfssl.runs import RUN_FILES, load_run_config
    from tfssl.zoo.card import _read_json  # the run readers' one-line JSON errors

    if not model_dir:
        raise UsageError("--reuse_run needs --model_dir=DIR (a finished mlm run)")
    config, spec = load_run_config(model_dir)
    if spec.inputs != "masked_tokens":
        raise UsageError(f"--model_dir={model_dir}: method {spec.name!r}, expected a text "
                         "method on masked tokens (mlm, electra)")
    return config, _read_json(os.path.join(model_dir, RUN_FILES["metrics"]),
                              f"--model_dir={model_dir}", "the pretraining did not finish")


def main(argv):
    del argv
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tfssl  # noqa: F401
    from tfssl.data.text import load_labeled_text, split_specs
    from tfssl.distribute import default_jit_compile
    from tfssl.encoders.bert import BERT_PRESETS
    from tfssl.errors import UsageError
    from tfssl.methods import registry
    from tfssl.methods.text_classifier import (check_finetune_settings,
                                               check_reinit_layers, load_run,
                                               transfer_curve)
    from tfssl.presets import resolve_settings
    from tfssl.runs import pretrain
    from tfssl.runs.text import TextTask

    def log(msg):
        print(f"[mlm_transfer] {msg}", file=sys.stderr, flush=True)

    t0 = time.time()
    wiki = os.path.join(FLAGS.data_dir, "wikitext2")
    sst = os.path.join(FLAGS.data_dir, "sst2")
    train_text = FLAGS.train_text or f"textfile:{os.path.join(wiki, 'wiki.train.raw')}"
    valid_text = FLAGS.valid_text or f"textfile:{os.path.join(wiki, 'wiki.valid.raw')}"
    train_file = FLAGS.train_file or f"labeled_text:{os.path.join(sst, 'train.txt')}"
    eval_file = FLAGS.eval_file or f"labeled_text:{os.path.join(sst, 'dev.txt')}"
    if FLAGS.task_text_weight < 0:
        raise UsageError(f"--task_text_weight={FLAGS.task_text_weight}: expected a whole "
                         "number >= 0")
    task_text = train_file if train_file.startswith("labeled_text:") else (
        f"labeled_text:{train_file}")
    train_text += f",{task_text}" * FLAGS.task_text_weight
    try:  # checked before the pretraining spends its budget
        seeds = [int(seed) for seed in FLAGS.finetune_seeds]
    except ValueError:
        raise UsageError(f"--finetune_seeds={','.join(FLAGS.finetune_seeds)}: expected "
                         "integers") from None
    decays = check_finetune_settings(  # the fine-tuning's own rule, in flag names
        steps=FLAGS.finetune_steps, layer_decays=FLAGS.layer_decay,
        head_steps=FLAGS.finetune_head_steps, select_every=FLAGS.finetune_select_every,
        selecting=True, names={"steps": "--finetune_steps", "layer_decay": "--layer_decay",
                               "head_steps": "--finetune_head_steps",
                               "select_every": "--finetune_select_every"})
    spec = registry.get(FLAGS.method)
    if spec.inputs != "masked_tokens":
        raise UsageError(f"--method={FLAGS.method}: expected a text method on masked "
                         f"tokens ({', '.join(text_methods())})")
    tmp = None
    model_dir = FLAGS.model_dir
    if FLAGS.reuse_run:
        settings, metrics = finished_run(model_dir)
    else:
        if not model_dir:
            tmp = tempfile.TemporaryDirectory(prefix="mlm_transfer_")
            model_dir = tmp.name
        settings = resolve_settings(
            method=FLAGS.method, dataset=train_text, eval_dataset=valid_text,
            encoder=FLAGS.encoder, vocab_size=FLAGS.vocab_size, max_length=FLAGS.max_length,
            batch_size=FLAGS.batch_size, learning_rate=FLAGS.learning_rate,
            whole_word_masking=FLAGS.whole_word_masking, mask_rate=FLAGS.mask_rate,
            max_span_length=FLAGS.max_span_length,
            pre_norm=FLAGS.pre_norm, precision=FLAGS.precision, jit_compile=FLAGS.jit_compile,
            epochs=FLAGS.max_epochs, budget_minutes=FLAGS.minutes, model_dir=model_dir,
            overwrite=FLAGS.overwrite, seed=FLAGS.seed)
    if settings["encoder"] in BERT_PRESETS:  # before the budget (else the runner says)
        check_reinit_layers(FLAGS.reinit_layers,
                            BERT_PRESETS[settings["encoder"]]["num_layers"])
    train = load_labeled_text(train_file)
    evaluate = load_labeled_text(eval_file, label_names=train.label_names)
    if not FLAGS.reuse_run:
        with contextlib.redirect_stdout(sys.stderr):  # the runner's progress is for people
            metrics = pretrain(settings)
    # What the runner's XLA rule chose for this run (runs before it recorded it: the
    # rule then, on with no accelerator).
    jit_compile = metrics.get("jit_compile", default_jit_compile(settings["jit_compile"],
                                                                 cpu=True))
    steps = int(metrics["steps"])
    s = settings
    out = {
        "benchmark": "mlm_transfer", "method": s["method"], "encoder": s["encoder"],
        "minutes": s["budget_minutes"], "precision": s["precision"],
        "pre_norm": bool(s["pre_norm"]), "jit_compile": jit_compile,
        "xla_speedup": metrics.get("xla_speedup"),
        "pretrain_text": [short_spec(part) for part in split_specs(s["dataset"])],
        "max_length": s["max_length"], "batch_size": s["batch_size"],
        "mask_rate": s["mask_rate"], "max_span_length": s.get("max_span_length", 1),
        "pretrain_steps": steps,
        "pretrain_seconds": metrics["train_seconds"],
        "pretrain_tokens": steps * s["batch_size"] * s["max_length"],
        "mlm_masked_accuracy": round(metrics["validation"]["masked_accuracy"], 4),
        "mlm_perplexity": round(metrics["validation"]["perplexity"], 2),
        "mlm_baseline_most_frequent": round(metrics["baseline"]["masked_accuracy"], 4),
    }
    for name in ("replaced_accuracy", "replaced_recall"):  # ELECTRA's discriminator
        if name in metrics["validation"]:
            out[name] = round(metrics["validation"][name], 4)
    log(f"pretrained: {json.dumps(out)}")
    kerashub = settings["method"] == "mlm" if FLAGS.kerashub is None else FLAGS.kerashub
    if kerashub and settings["method"] != "mlm":
        raise UsageError(f"--kerashub compares masked-LM with keras-hub's BertMaskedLM: "
                         f"it needs --method=mlm, not {settings['method']}")
    if kerashub:
        # The runner's own data: the same rows, vocabulary and validation masks.
        with contextlib.redirect_stdout(sys.stderr):
            task = TextTask(registry.get(settings["method"]), dict(settings))
        acc, seconds, _ = kerashub_masked_accuracy(task, settings, steps, jit_compile, log)
        out["kerashub_masked_accuracy"] = round(acc, 4)
        out["kerashub_seconds"] = round(seconds, 1)

    _, vocab, encoder = load_run(model_dir)
    t1 = time.time()
    curves = []
    for seed in seeds:
        curves.append(transfer_curve(
            encoder, vocab, train, evaluate, fractions=FLAGS.fractions,
            learning_rates=FLAGS.finetune_lrs, select_size=FLAGS.select_size, seed=seed,
            steps=FLAGS.finetune_steps, batch_size=FLAGS.finetune_batch_size,
            select_every=FLAGS.finetune_select_every,
            head_steps=FLAGS.finetune_head_steps,
            max_length=FLAGS.finetune_max_length, mode=FLAGS.finetune_mode,
            pooling=FLAGS.pooling, layer_decays=decays,
            reinit_layers=FLAGS.reinit_layers, verbose=0))
        for fraction, row in curves[-1].items():
            log(f"seed {seed}, fraction {fraction:g}: {json.dumps(row)}")
    out.update(curve_report(curves))
    out.update(finetune_steps=FLAGS.finetune_steps,
               finetune_select_every=FLAGS.finetune_select_every,
               finetune_head_steps=FLAGS.finetune_head_steps,
               finetune_mode=FLAGS.finetune_mode,
               pooling=FLAGS.pooling, layer_decay=decays if len(decays) > 1 else decays[0],
               reinit_layers=FLAGS.reinit_layers, eval_file=os.path.basename(eval_file),
               select_size=FLAGS.select_size, finetune_seeds=seeds,
               finetune_s=round(time.time() - t1, 1), wall_s=round(time.time() - t0, 1))
    if tmp is not None:
        tmp.cleanup()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    from tfssl.cli.common import run_main

    run_main(main, "mlm_transfer")
