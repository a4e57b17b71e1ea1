"""Linear probe: a softmax classifier trained on frozen, cached features."""

import keras
import numpy as np

from tfssl.optimizers.factory import build_before_fit


def linear_probe(train_features, train_labels, test_features, test_labels,
                 num_classes=None, epochs=100, batch_size=256, learning_rate=1e-2,
                 weight_decay=1e-4, seed=0):
    """Trains ``Dense(num_classes)`` on standardised features.

    Returns:
        ``{"top1": test accuracy, "predictions": (N_test,) predicted class ids,
        "confusion_matrix": (C, C) counts, true class on rows}``.
    """
    num_classes = num_classes or int(max(np.max(train_labels), np.max(test_labels))) + 1
    mean = train_features.mean(0, keepdims=True)
    std = train_features.std(0, keepdims=True) + 1e-6
    x_train = (train_features - mean) / std
    x_test = (test_features - mean) / std
    keras.utils.set_random_seed(seed)
    probe = keras.Sequential([keras.Input((x_train.shape[1],)),
                              keras.layers.Dense(num_classes)])
    probe.compile(optimizer=keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    build_before_fit(probe)
    probe.fit(x_train, np.asarray(train_labels), epochs=epochs,
              batch_size=min(batch_size, len(x_train)), verbose=0, shuffle=True)
    predictions = np.argmax(probe.predict(x_test, batch_size=batch_size, verbose=0), axis=1)
    test_labels = np.asarray(test_labels)
    matrix = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(matrix, (test_labels, predictions), 1)
    return {"top1": float(np.mean(predictions == test_labels)), "predictions": predictions,
            "confusion_matrix": matrix}


def linear_probe_accuracy(train_features, train_labels, test_features, test_labels,
                          num_classes=None, epochs=100, batch_size=256, learning_rate=1e-2,
                          weight_decay=1e-4, seed=0):
    """Top-1 of :func:`linear_probe`."""
    return linear_probe(train_features, train_labels, test_features, test_labels,
                        num_classes, epochs, batch_size, learning_rate, weight_decay,
                        seed)["top1"]


def evaluate_linear(encoder, train_data, test_data, epochs=100, batch_size=256, seed=0):
    """Linear-probe top-1 of a frozen ``encoder`` (features extracted once)."""
    from tfssl.eval.features import extract_features

    train_f = extract_features(encoder, train_data)
    test_f = extract_features(encoder, test_data)
    return linear_probe_accuracy(train_f, train_data.labels, test_f, test_data.labels,
                                 max(train_data.num_classes, test_data.num_classes),
                                 epochs=epochs, batch_size=batch_size, seed=seed)
