"""Built-in dataset plugin: FaceForensics++, DFD, Celeb-DF v2, DFDC, WildDeepfake, Hugging Face.

Registered through the public ``register_datasets`` hook like any third-party dataset
(:mod:`dfbench.datasets.plugin`). Each module exposes ``index(root, split, options)`` returning
:class:`~dfbench.specs.VideoItem` lists (label 1 = fake, keys ``dataset/label/method/video``);
:func:`dfbench.datasets.common.index_dataset` is the entry point that validates, sorts and checks
them, and :mod:`dfbench.datasets.miniature` writes tiny copies of every official layout for tests.
"""
