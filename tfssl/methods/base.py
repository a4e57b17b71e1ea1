"""What every self-supervised method shares: the Keras training skeleton.

A method is a ``keras.Model`` subclass of :class:`Method` that writes only what is its
own: :meth:`Method.compute_loss_and_logs`, how one batch becomes a loss and the values it
logs. The base owns the rest, once for every method:

- the encoder (``self.encoder``) and the named child layers (``child_names``), their
  ``get_config`` / ``from_config`` through ``keras.saving.serialize_keras_object``;
- the ``train_step`` / ``test_step`` skeleton of Keras
  (``keras/src/backend/tensorflow/trainer.py``): gradient tape, regularisation losses,
  replica scaling through :mod:`tfssl.distribute`, ``optimizer.scale_loss`` for loss
  scaling under ``mixed_float16``, metric tracking through the ``metrics`` property;
- the float32 rule: the loss is cast to float32 whatever the dtype policy;
- the collapse monitor helper :func:`embedding_std`.

Loss convention. ``compute_loss_and_logs`` returns the loss of *this replica*; the
class attribute ``loss_reduction`` says what it is:

- ``"example_mean"`` (default): the mean over this replica's examples. The base weighs
  it by the replica's share of the global batch (``R * n_local / N``, one scalar
  all-reduce), so that the mean over the replicas is the loss of the global batch also
  when replicas hold different numbers of examples (a global batch of 5 on 2 replicas is
  split 3 + 2);
- ``"global"``: already such that the mean over the replicas is the global loss, e.g. a
  loss of global-batch statistics (gathered with :func:`tfssl.distribute.all_gather`)
  that is the same value on every replica, or one normalised by a global count.

With one device both are the loss of the batch. The base divides by the replica count
before differentiating, since gradients are summed over replicas.

:class:`MomentumMethod` adds an exponential-moving-average copy of the encoder and of
chosen heads (the target network of BYOL and MoCo), updated after every optimizer step
with the cosine momentum schedule of BYOL.
"""

import math

import keras
import tensorflow as tf

from tfssl.distribute import replicas
from tfssl.optimizers.factory import build_before_fit

__all__ = ["Method", "MomentumMethod", "build_child", "embedding_std", "split_batch"]


def embedding_std(z):
    """Mean per-dimension std of the L2-normalised rows of ``z``: a collapse monitor.

    About ``1 / sqrt(D)`` for embeddings spread over the sphere, 0 when every input maps
    to the same point (Chen & He 2021, section 4.1).
    """
    zn = tf.math.l2_normalize(tf.cast(z, tf.float32), axis=-1)
    return tf.reduce_mean(tf.math.reduce_std(zn, axis=0))


def build_child(layer, input_shape):
    """Builds ``layer`` for ``input_shape`` unless it is built (e.g. just deserialised);
    returns its output shape."""
    if not layer.built:
        layer.build(input_shape)
    return layer.compute_output_shape(input_shape)


def split_batch(data):
    """``(views, extra)``: a batch of views with or without a second element.

    Image methods receive ``views`` (a tuple of view batches) or ``(views, index)`` where
    the dataset carries each image's index (``MethodSpec.with_index``).
    """
    if isinstance(data, (tuple, list)) and len(data) == 2 and isinstance(
            data[0], (tuple, list)):
        return tuple(data[0]), data[1]
    return tuple(data), None


class Method(keras.Model):
    """Base class of the tfssl methods.

    Subclasses set:

    - ``child_names``: constructor arguments that are Keras objects (``"encoder"`` and the
      heads); they are serialised by :meth:`get_config` and rebuilt by :meth:`from_config`.
      The subclass's ``get_config`` adds its plain hyper-parameters.
    - ``metric_names``: the values :meth:`compute_loss_and_logs` logs besides ``loss``.

    and implement :meth:`compute_loss_and_logs`. ``call(inputs)`` runs the encoder: the
    heads are training devices only.

    Args:
        encoder: a ``keras.Model`` from inputs to the representation.
    """

    child_names = ("encoder",)
    metric_names = ()
    loss_reduction = "example_mean"  # or "global": see the module docstring

    def __init__(self, encoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self._trackers = [self.make_metric("loss")] + [
            self.make_metric(n) for n in self.metric_names]

    # --- what a method writes -----------------------------------------------------
    def compute_loss_and_logs(self, data, training):
        """``(loss, logs)`` for one batch on this replica.

        ``loss``: a scalar (see the module docstring for the replica convention).
        ``logs``: ``{name: value}`` or ``{name: (value, weight)}`` for the names in
        ``metric_names``; a ``"loss"`` entry replaces the logged loss (e.g. a weighted one).
        """
        raise NotImplementedError

    def project_views(self, views, training, encoder=None, head=None):
        """All view batches through an encoder and a head in one pass, as float32.

        Defaults: ``self.encoder`` and ``self.projection_head``. Returns the stacked
        outputs ``(sum of the view batch sizes, D)``, views in order (one pass keeps the
        batch-norm statistics shared by the views, as the papers' implementations do).
        """
        encoder = encoder or self.encoder
        head = head or self.projection_head
        h = encoder(tf.concat(list(views), axis=0), training=training)
        return tf.cast(head(h, training=training), tf.float32)

    def after_train_step(self):
        """Hook after the optimizer step (EMA targets, queues). Default: nothing."""

    def training_callbacks(self, task):
        """Keras callbacks the method needs during ``fit`` (e.g. DeepCluster's clustering).

        ``task`` is the runner's data side (:class:`tfssl.runs.image.ImageTask`: its
        ``train`` holds the un-augmented training images). Default: none.
        """
        return []

    def make_metric(self, name):
        """The tracker of one logged value (default ``keras.metrics.Mean``)."""
        return keras.metrics.Mean(name=name)

    def gradient_variables(self):
        """The variables the optimizer trains (default: ``trainable_weights``)."""
        return self.trainable_weights

    # --- the Keras skeleton -------------------------------------------------------
    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Builds what ``fit`` still needs (the optimizer) without reading a batch.

        Keras's version averages the first distributed batch over the replicas to build
        the model symbolically, which fails under ``MultiWorkerMirroredStrategy``
        (keras-team/keras#20585) and when replicas hold different batch sizes. A
        method builds all its layers in ``__init__`` and compiles no loss or metrics,
        so no batch is needed.

        The optimizer is built here on one device too (Keras defers it to the first
        trace there): variables created inside the first trace make ``tf.function``
        trace the whole train step twice.
        """
        if not all(layer.built for layer in self._flatten_layers()):
            return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
        build_before_fit(self, self.gradient_variables())

    @property
    def metrics(self):
        return list(self._trackers)

    def call(self, inputs, training=False):
        return self.encoder(inputs, training=training)

    def train_step(self, data):
        with tf.GradientTape() as tape:
            loss, logs = self.compute_loss_and_logs(data, training=True)
            loss = self._global_share(tf.cast(loss, tf.float32), data)
            total = loss
            if self.losses:  # regularisers: the same on every replica
                total = total + tf.cast(tf.add_n(self.losses), tf.float32)
            scaled = replicas.scale_loss(total)  # gradients are summed over replicas
            if self.optimizer is not None:
                scaled = self.optimizer.scale_loss(scaled)
        variables = self.gradient_variables()  # after the forward pass has built them
        grads = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(zip(grads, variables))
        self.after_train_step()
        return self._update_metrics(loss, logs)

    def test_step(self, data):
        loss, logs = self.compute_loss_and_logs(data, training=False)
        return self._update_metrics(self._global_share(tf.cast(loss, tf.float32), data),
                                    logs)

    def _global_share(self, loss, data):
        """An ``"example_mean"`` loss weighted by this replica's share of the batch."""
        count = replicas.num_replicas()
        if self.loss_reduction == "global" or count == 1:
            return loss
        local = tf.cast(tf.shape(tf.nest.flatten(data)[0])[0], tf.float32)
        return loss * local * count / replicas.all_reduce_sum(local)

    def _update_metrics(self, loss, logs):
        values = {"loss": loss, **logs}
        for tracker in self._trackers:
            value = values[tracker.name]
            if isinstance(value, tuple):
                tracker.update_state(tf.cast(value[0], tf.float32), sample_weight=value[1])
            else:
                tracker.update_state(tf.cast(value, tf.float32))
        results = {m.name: m.result() for m in self._trackers}
        if replicas.across_workers():
            # Keras averages the logs of several workers with reduce(axis=0), which
            # needs a batch axis: each scalar gets one (it comes back a scalar).
            results = {k: tf.reshape(v, [1]) for k, v in results.items()}
        return results

    # --- serialisation -------------------------------------------------------------
    def compile_from_config(self, config):
        """Compiles a loaded model and builds its optimizer on ``gradient_variables()``.

        Keras builds it on every trainable variable, which for BYOL / MoCo (EMA targets
        are trainable but not trained) does not fit the saved state: Keras then skips
        it and training would resume with fresh optimizer moments.
        """
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            build_before_fit(self, self.gradient_variables())

    def get_config(self):
        config = super().get_config()
        for name in self.child_names:
            config[name] = keras.saving.serialize_keras_object(getattr(self, name))
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in cls.child_names:
            config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)


def _copy_layer(layer, input_shape=None):
    """A fresh layer (or functional model) with ``layer``'s architecture and weights."""
    if isinstance(layer, keras.Model) and hasattr(layer, "inputs") and layer.inputs:
        copy = keras.models.clone_model(layer)
    else:
        copy = layer.__class__.from_config(layer.get_config())
        copy.build(input_shape)
    copy.set_weights(layer.get_weights())
    return copy


class MomentumMethod(Method):
    """A method with an exponential-moving-average target of some of its children.

    ``target_of(name)`` is the EMA copy of child ``name`` (one of ``momentum_children``).
    After every optimizer step each trainable weight ``t`` of a target moves towards its
    online weight ``o``: ``t <- m t + (1 - m) o``, with the momentum ``m`` rising from
    ``base_momentum`` to 1 along a cosine over ``total_steps`` (BYOL; ``total_steps=0``
    keeps it constant, as in MoCo v2). Target weights are never trained by the
    optimizer; the target runs in training mode (its batch norm uses batch statistics).

    Args:
        base_momentum: ``m`` at step 0, in [0, 1].
        total_steps: length of the cosine schedule (0: constant momentum).
    """

    momentum_children = ("encoder",)

    def __init__(self, encoder, base_momentum=0.99, total_steps=0, **kwargs):
        super().__init__(encoder, **kwargs)
        base_momentum = float(base_momentum)
        if not 0.0 <= base_momentum <= 1.0:
            from tfssl.errors import UsageError
            raise UsageError(f"base_momentum={base_momentum}: expected 0 <= m <= 1")
        self.base_momentum = base_momentum
        self.total_steps = int(total_steps or 0)

    def build_targets(self, **input_shapes):
        """Creates the EMA copies, as ``self.target_<name>``.

        Call it in the constructor once every child in ``momentum_children`` is built;
        ``input_shapes`` gives the input shape of each child that is a plain layer.
        """
        for name in self.momentum_children:
            setattr(self, "target_" + name,
                    _copy_layer(getattr(self, name), input_shapes.get(name)))

    def target_of(self, name):
        return getattr(self, "target_" + name)

    def _target_pairs(self):
        for name in self.momentum_children:
            yield from zip(self.target_of(name).trainable_weights,
                           getattr(self, name).trainable_weights)

    def gradient_variables(self):
        target_ids = {id(t) for t, _ in self._target_pairs()}
        return [v for v in self.trainable_weights if id(v) not in target_ids]

    def current_momentum(self):
        """The EMA momentum for the step just taken (float32 scalar)."""
        m = tf.constant(self.base_momentum, tf.float32)
        if not self.total_steps:
            return m
        step = tf.cast(self.optimizer.iterations, tf.float32)
        progress = tf.minimum(step / float(self.total_steps), 1.0)
        return 1.0 - (1.0 - m) * (tf.cos(math.pi * progress) + 1.0) / 2.0

    def after_train_step(self):
        m = self.current_momentum()
        for t, o in self._target_pairs():
            mt = tf.cast(m, t.dtype)
            t.assign(mt * t + (1.0 - mt) * tf.cast(o, t.dtype))

    def get_config(self):
        config = super().get_config()
        config.update(base_momentum=self.base_momentum, total_steps=self.total_steps)
        return config
