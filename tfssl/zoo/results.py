"""Measured results of trained zoo entries: entry name -> the headline numbers of its
card (``knn_top1``, ``knn_top1_random_init``, ``masked_accuracy``, ``train_seconds``,
``hardware``, ...), written by a script from a trained run's ``card.json``
(:func:`tfssl.zoo.card_from_run`). Nothing is entered by hand: an entry that has not been
trained and measured is absent.
"""

RESULTS = {
    "deepcluster_digits": {
        "epochs_done": 30,
        "hardware": {
            "cpu": "Intel(R) Xeon(R) Processor",
            "cpu_cores": 2,
            "gpus": [],
            "platform": "Linux-6.18.44-fc-v657-x86_64-with-glibc2.36",
        },
        "knn_k": 20,
        "knn_top1": 0.8969359331476323,
        "knn_top1_random_init": 0.649025069637883,
        "linear_top1": 0.958217270194986,
        "linear_top1_random_init": 0.7688022284122563,
        "steps": 330,
        "train_seconds": 234.4,
        "versions": {
            "keras": "3.15.1",
            "python": "3.11.7",
            "tensorflow": "2.21.0",
            "tfssl": "0.1.0",
        },
    },
    "mlm_bert_tiny_wikitext2": {
        "baseline_masked_accuracy": 0.05110468952649662,
        "epochs_done": 2,
        "hardware": {
            "cpu": "Intel(R) Xeon(R) Processor",
            "cpu_cores": 2,
            "gpus": [],
            "platform": "Linux-6.18.44-fc-v657-x86_64-with-glibc2.36",
        },
        "masked_accuracy": 0.12457621097564697,
        "perplexity": 573.6354370117188,
        "steps": 1201,
        "train_seconds": 622.0,
        "unigram_perplexity": 909.3011848685122,
        "versions": {
            "keras": "3.15.1",
            "python": "3.11.7",
            "tensorflow": "2.21.0",
            "tfssl": "0.1.0",
        },
    },
    "moco_cifar10_convnet": {
        "epochs_done": 2,
        "hardware": {
            "cpu": "Intel(R) Xeon(R) Processor",
            "cpu_cores": 2,
            "gpus": [],
            "platform": "Linux-6.18.44-fc-v657-x86_64-with-glibc2.36",
        },
        "knn_k": 20,
        "knn_top1": 0.4344,
        "knn_top1_random_init": 0.4116,
        "linear_top1": 0.4838,
        "linear_top1_random_init": 0.4636,
        "steps": 202,
        "train_seconds": 603.4,
        "versions": {
            "keras": "3.15.1",
            "python": "3.11.7",
            "tensorflow": "2.21.0",
            "tfssl": "0.1.0",
        },
    },
    "simclr_cifar10_convnet": {
        "epochs_done": 3,
        "hardware": {
            "cpu": "Intel(R) Xeon(R) Processor",
            "cpu_cores": 2,
            "gpus": [],
            "platform": "Linux-6.18.44-fc-v657-x86_64-with-glibc2.36",
        },
        "knn_k": 20,
        "knn_top1": 0.5314,
        "knn_top1_random_init": 0.4116,
        "linear_top1": 0.5526,
        "linear_top1_random_init": 0.4636,
        "steps": 414,
        "train_seconds": 770.0,
        "versions": {
            "keras": "3.15.1",
            "python": "3.11.7",
            "tensorflow": "2.21.0",
            "tfssl": "0.1.0",
        },
    },
    "vicreg_cifar10_convnet": {
        "epochs_done": 1,
        "hardware": {
            "cpu": "Intel(R) Xeon(R) Processor",
            "cpu_cores": 2,
            "gpus": [],
            "platform": "Linux-6.18.44-fc-v657-x86_64-with-glibc2.36",
        },
        "knn_k": 20,
        "knn_top1": 0.4704,
        "knn_top1_random_init": 0.4116,
        "linear_top1": 0.4904,
        "linear_top1_random_init": 0.4636,
        "steps": 153,
        "train_seconds": 604.5,
        "versions": {
            "keras": "3.15.1",
            "python": "3.11.7",
            "tensorflow": "2.21.0",
            "tfssl": "0.1.0",
        },
    },
}
