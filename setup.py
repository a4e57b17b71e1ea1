"""tfssl: self-supervised learning for TensorFlow / Keras 3."""

from setuptools import find_packages, setup

setup(
    name="tfssl",
    version="0.1.0",
    description="A TensorFlow/Keras model zoo for self-supervised learning "
    "(SimCLR, masked language modelling, clustering).",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10,<3.13",
    packages=find_packages(include=["tfssl", "tfssl.*"]),
    install_requires=[
        # The full tensorflow package: tensorflow-text depends on it and the two
        # conflict with tensorflow-cpu.
        "tensorflow>=2.21,<2.22",
        "tensorflow-text>=2.21,<2.22",
        "keras>=3.10,<4",
        "keras-hub>=0.22,<1",
        "tensorflow-datasets>=4.9,<5",
        # tfds imports it when it prepares a catalogue dataset (imagenet2012, cifar10, ...)
        # but does not declare it.
        "importlib_resources>=6",
        "absl-py>=2.0",
        "tensorboard>=2.19",  # TensorBoard logging (no longer pulled in by tensorflow)
        "scikit-learn>=1.3",
        "matplotlib>=3.7",  # evaluation report plots (tfssl.eval.plots)
        "numpy>=1.26",
    ],
    extras_require={
        "test": [
            "pytest>=8",
            "pytest-xdist>=3.5",
            "nbformat>=5.9",
            "nbclient>=0.10",
            "ipykernel>=6.29",
        ],
    },
    entry_points={
        "console_scripts": [
            "tfssl-pretrain=tfssl.cli.pretrain:run_main",
            "tfssl-evaluate=tfssl.cli.evaluate:run_main",
            "tfssl-finetune=tfssl.cli.finetune:run_main",
            "tfssl-export=tfssl.cli.export:run_main",
        ],
    },
)
