"""Miniature copies of the official dataset layouts, for tests of dfbench and of plugins.

Each ``make_*`` function writes, under a given directory, a tree with the real folder and file
names and the official list/label files in their real formats, filled with tiny but decodable
videos (64×64, a few MPEG-4 frames; written once and hard-linked, so even the full-size FF++ test
split costs a few milliseconds). Every tree also contains the traps the index must survive: a
zero-byte video, a truncated one, a listed-but-missing one, and where the real layout has them,
mask videos, leftover temp files of interrupted downloads and unrelated datasets in the same root.

Each function returns a :class:`Miniature` manifest: for every split the keys and labels an
index must produce, and which keys are missing or broken on disk.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..datasets.ffpp import METHODS as FFPP_METHODS

__all__ = [
    "Miniature",
    "write_tiny_video",
    "make_ffpp",
    "make_dfd",
    "make_celebdf",
    "make_dfdc",
    "make_dfw",
]


@dataclass
class Miniature:
    """What a miniature tree holds: ``expected[split] = {key: label}`` plus the planted failures."""

    root: Path
    expected: dict[str, dict[str, int]] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)
    broken: set[str] = field(default_factory=set)
    splits_dir: Path | None = None

    def add(self, split: str, key: str, label: int) -> None:
        self.expected.setdefault(split, {})[key] = label


def write_tiny_video(path: Path | str, frames: int = 4, size: int = 64, seed: int = 0) -> Path:
    """Write a small decodable MPEG-4 video of noisy grey frames (OpenCV's ``mp4v`` encoder)."""
    import cv2

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (size, size))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path}: no mp4v encoder")
    rng = np.random.default_rng(seed)
    for i in range(frames):
        frame = np.full((size, size, 3), 60 + 30 * i, np.uint8)
        frame += rng.integers(0, 20, frame.shape, dtype=np.uint8)
        writer.write(frame)
    writer.release()
    return path


class _Writer:
    """Places copies of one template video cheaply (hard link, else copy) and plants failures."""

    def __init__(self) -> None:
        self._tmp = Path(tempfile.mkdtemp(prefix="dfbench-mini-"))
        self.template = write_tiny_video(self._tmp / "template.mp4")

    def video(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            path.unlink()
        try:
            os.link(self.template, path)
        except OSError:  # other file system, or links not allowed
            shutil.copyfile(self.template, path)

    @staticmethod
    def empty(path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            path.unlink()
        path.write_bytes(b"")

    def truncated(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            path.unlink()
        path.write_bytes(self.template.read_bytes()[:64])

    def close(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _temp_leftover(folder: Path) -> None:
    """What ``tempfile.mkstemp`` leaves when the FF++ download script is killed mid-file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tmpk3x9_q2a").write_bytes(b"\x00" * 100)


# -- FaceForensics++ / DFD ---------------------------------------------------------------------


def make_ffpp(
    root: Path | str,
    splits_source: Path | str,
    splits: Iterable[str] = ("test",),
    compressions: Iterable[str] = ("c23",),
    methods: Iterable[str] = FFPP_METHODS,
) -> Miniature:
    """FF++ tree at the full official count of ``splits`` (e.g. test: 140 reals, 140 fakes per method).

    ``splits_source`` holds the official ``train/val/test.json``; they are copied to
    ``<root>/splits``. Planted: for each compression the first real of the first split is zero
    bytes, the second fake of Face2Face (or the first method) is truncated and the first
    Deepfakes fake is missing; mask videos, a temp file and a DFD corner share the tree.
    """
    root, splits_source = Path(root), Path(splits_source)
    methods, splits = list(methods), list(splits)
    mini = Miniature(root=root, splits_dir=root / "splits")
    mini.splits_dir.mkdir(parents=True, exist_ok=True)
    for name in ("train.json", "val.json", "test.json"):
        if (splits_source / name).is_file():
            shutil.copyfile(splits_source / name, mini.splits_dir / name)
    with _Writer() as w:
        for comp in compressions:
            dataset = f"ffpp_{'raw' if comp in ('c0', 'raw') else comp}"
            real_dir = root / "original_sequences" / "youtube" / comp / "videos"
            first = True
            for split in splits:
                pairs = json.loads((splits_source / f"{split}.json").read_text())
                reals = list(dict.fromkeys(x for p in pairs for x in p))
                fakes = list(dict.fromkeys(n for a, b in pairs for n in (f"{a}_{b}", f"{b}_{a}")))
                for i, vid in enumerate(reals):
                    key = f"{dataset}/real/youtube/{vid}"
                    mini.add(split, key, 0)
                    if first and i == 0:
                        w.empty(real_dir / f"{vid}.mp4")
                        mini.broken.add(key)
                    else:
                        w.video(real_dir / f"{vid}.mp4")
                for method in methods:
                    fake_dir = root / "manipulated_sequences" / method / comp / "videos"
                    for i, vid in enumerate(fakes):
                        key = f"{dataset}/fake/{method}/{vid}"
                        mini.add(split, key, 1)
                        if first and method == "Deepfakes" and i == 0:
                            mini.missing.add(key)
                        elif (
                            first
                            and method == ("Face2Face" if "Face2Face" in methods else methods[0])
                            and i == 1
                        ):
                            w.truncated(fake_dir / f"{vid}.mp4")
                            mini.broken.add(key)
                        else:
                            w.video(fake_dir / f"{vid}.mp4")
                    if method != "FaceShifter":  # the server has no FaceShifter masks
                        for vid in fakes[:3]:
                            w.video(
                                root
                                / "manipulated_sequences"
                                / method
                                / "masks"
                                / "videos"
                                / f"{vid}.mp4"
                            )
                first = False
            _temp_leftover(real_dir)
            _temp_leftover(root / "manipulated_sequences" / methods[0] / comp / "videos")
        # A few videos of another id that is in no split file: must not be picked up either.
        _make_dfd_files(w, root, compressions, n_real=2, n_fake=2)
    return mini


_DFD_SCENES = (
    "exit_phone_room",
    "hugging_happy",
    "kitchen_pan",
    "meeting_serious",
    "talking_against_wall",
)


def _make_dfd_files(w: _Writer, root: Path, compressions: Iterable[str], n_real: int, n_fake: int):
    reals, fakes = [], []
    for i in range(n_real):
        reals.append(f"{1 + i // len(_DFD_SCENES):02d}__{_DFD_SCENES[i % len(_DFD_SCENES)]}")
    for i in range(n_fake):
        target, source = 1 + i // len(_DFD_SCENES), 2 + i // len(_DFD_SCENES)
        exp = "YVGY8LOK" if i % 2 == 0 else "480LQD1C"
        fakes.append(f"{target:02d}_{source:02d}__{_DFD_SCENES[i % len(_DFD_SCENES)]}__{exp}")
    for comp in compressions:
        for name in reals:
            w.video(root / "original_sequences" / "actors" / comp / "videos" / f"{name}.mp4")
        for name in fakes:
            w.video(
                root
                / "manipulated_sequences"
                / "DeepFakeDetection"
                / comp
                / "videos"
                / f"{name}.mp4"
            )
    for name in fakes:
        w.video(
            root
            / "manipulated_sequences"
            / "DeepFakeDetection"
            / "masks"
            / "videos"
            / f"{name}.mp4"
        )
    return reals, fakes


def make_dfd(
    root: Path | str, compression: str = "c23", n_real: int = 6, n_fake: int = 9
) -> Miniature:
    """DFD corner of an FF++ tree: actors + DeepFakeDetection videos and masks, a temp file,
    a zero-byte fake; FF++ youtube/method videos in the same root must be ignored."""
    root = Path(root)
    mini = Miniature(root=root)
    dataset = f"dfd_{compression}"
    with _Writer() as w:
        reals, fakes = _make_dfd_files(w, root, [compression], n_real, n_fake)
        for name in reals:
            mini.add("test", f"{dataset}/real/actors/{name}", 0)
        for name in fakes:
            mini.add("test", f"{dataset}/fake/DeepFakeDetection/{name}", 1)
        broken = (
            root
            / "manipulated_sequences"
            / "DeepFakeDetection"
            / compression
            / "videos"
            / f"{fakes[0]}.mp4"
        )
        w.empty(broken)
        mini.broken.add(f"{dataset}/fake/DeepFakeDetection/{fakes[0]}")
        _temp_leftover(broken.parent)
        w.video(root / "original_sequences" / "youtube" / compression / "videos" / "000.mp4")
        w.video(
            root / "manipulated_sequences" / "Deepfakes" / compression / "videos" / "000_003.mp4"
        )
    return mini


# -- Celeb-DF v2 -------------------------------------------------------------------------------


def make_celebdf(root: Path | str, n_train: tuple[int, int, int] = (3, 3, 4)) -> Miniature:
    """``<root>/Celeb-DF-v2`` with a full-size synthetic test list (70 + 108 real, 340 fake lines).

    The list is in the official format (``1 YouTube-real/00170.mp4``, 1 = real, no header, no
    final newline), starting with the line that ``pandas.read_csv`` would eat as a header.
    ``n_train`` videos per folder (YouTube-real, Celeb-real, Celeb-synthesis) are not listed.
    Planted: a missing YouTube-real test video, a zero-byte Celeb-synthesis test video, a
    truncated Celeb-real test video, a temp file.
    """
    base = Path(root) / "Celeb-DF-v2"
    mini = Miniature(root=base)
    yt = [f"{i:05d}" for i in range(170, 240)]
    celeb = [f"id{k}_{c:04d}" for k in range(54) for c in (1, 7)]
    synth = [f"id{k}_id{(k + 1) % 59}_{c:04d}" for k in range(34) for c in range(10)]
    lines = (
        [f"1 YouTube-real/{v}.mp4" for v in yt]
        + [f"1 Celeb-real/{v}.mp4" for v in celeb]
        + [f"0 Celeb-synthesis/{v}.mp4" for v in synth]
    )
    base.mkdir(parents=True, exist_ok=True)
    (base / "List_of_testing_videos.txt").write_text("\n".join(lines))
    train = (
        [("YouTube-real", f"{i:05d}", 0) for i in range(n_train[0])]
        + [("Celeb-real", f"id{k}_{0:04d}", 0) for k in range(n_train[1])]
        + [("Celeb-synthesis", f"id{k}_id{(k + 2) % 59}_{0:04d}", 1) for k in range(n_train[2])]
    )
    test = (
        [("YouTube-real", v, 0) for v in yt]
        + [("Celeb-real", v, 0) for v in celeb]
        + [("Celeb-synthesis", v, 1) for v in synth]
    )
    with _Writer() as w:
        for split, entries in (("test", test), ("train", train)):
            for folder, stem, label in entries:
                key = f"celebdf_v2/{'fake' if label else 'real'}/{folder}/{stem}"
                mini.add(split, key, label)
                path = base / folder / f"{stem}.mp4"
                if split == "test" and (folder, stem) == ("YouTube-real", yt[5]):
                    mini.missing.add(key)
                elif split == "test" and (folder, stem) == ("Celeb-synthesis", synth[3]):
                    w.empty(path)
                    mini.broken.add(key)
                elif split == "test" and (folder, stem) == ("Celeb-real", celeb[2]):
                    w.truncated(path)
                    mini.broken.add(key)
                else:
                    w.video(path)
    _temp_leftover(base / "Celeb-synthesis")
    return mini


# -- DFDC --------------------------------------------------------------------------------------


def _dfdc_names(seed: int = 0):
    """Endless unique DFDC-style names: 10 random lowercase letters."""
    import random

    rng, seen = random.Random(seed), set()
    while True:
        name = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(10))
        if name not in seen:
            seen.add(name)
            yield name


def make_dfdc(root: Path | str) -> Miniature:
    """``<root>/DFDC`` with train parts (one nested as after unzipping ``dfdc_train_part_01.zip``),
    ``validation/labels.csv`` and ``test/labels.csv`` + ``test/metadata.json``.

    Formats: labels.csv ``filename,label`` with 1 = fake; train ``metadata.json`` on one line
    with ``"REAL"/"FAKE"`` and ``original``; test metadata with ``is_fake`` and augmentations.
    Test videos sit in ``test/videos/``. Planted: a zero-byte test video, a missing validation
    video, a truncated train video; Kaggle's unlabelled ``test_videos/`` and
    ``sample_submission.csv`` lie next to them and must be ignored.
    """
    base = Path(root) / "DFDC"
    mini = Miniature(root=base)
    names = _dfdc_names()
    with _Writer() as w:
        # test
        test = [(next(names) + ".mp4", label) for label in (0, 1, 1, 0, 1, 0)]
        rows = ["filename,label"] + [f"{n},{lab}" for n, lab in test]
        (base / "test").mkdir(parents=True, exist_ok=True)
        (base / "test" / "labels.csv").write_text("\n".join(rows) + "\n")
        meta = {}
        for i, (n, lab) in enumerate(test):
            aug = {"augmenter": {"framerate_change": {"fps": 20}}} if i % 2 else {}
            meta[n] = {"augmentations": aug, "is_fake": lab}
            key = f"dfdc/{'fake' if lab else 'real'}/test/{n[:-4]}"
            mini.add("test", key, lab)
            if i == 1:
                w.empty(base / "test" / "videos" / n)
                mini.broken.add(key)
            else:
                w.video(base / "test" / "videos" / n)
        (base / "test" / "metadata.json").write_text(json.dumps(meta))
        # validation
        val = [(f"{4000 + i}.mp4", i % 2) for i in range(6)]
        (base / "validation").mkdir(parents=True, exist_ok=True)
        (base / "validation" / "labels.csv").write_text(
            "filename,label\n" + "".join(f"{n},{lab}\n" for n, lab in val)
        )
        for i, (n, lab) in enumerate(val):
            key = f"dfdc/{'fake' if lab else 'real'}/validation/{n[:-4]}"
            mini.add("val", key, lab)
            if i == 2:
                mini.missing.add(key)
            else:
                w.video(base / "validation" / n)
        # train: part 0 in place, part 1 nested one level as unzipping the padded archive does
        for part, folder in (
            (0, base / "train" / "dfdc_train_part_0"),
            (1, base / "train" / "dfdc_train_part_01" / "dfdc_train_part_1"),
        ):
            originals = [next(names) + ".mp4" for _ in range(2)]
            entries = {o: {"label": "REAL", "split": "train"} for o in originals}
            entries[originals[1]]["original"] = None  # REAL entries may carry a null original
            for j in range(3):
                entries[next(names) + ".mp4"] = {
                    "label": "FAKE",
                    "split": "train",
                    "original": originals[j % 2],
                }
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "metadata.json").write_text(json.dumps(entries))  # one line, as shipped
            for j, (n, info) in enumerate(entries.items()):
                lab = 1 if info["label"] == "FAKE" else 0
                key = f"dfdc/{'fake' if lab else 'real'}/dfdc_train_part_{part}/{n[:-4]}"
                mini.add("train", key, lab)
                if part == 1 and j == 3:
                    w.truncated(folder / n)
                    mini.broken.add(key)
                else:
                    w.video(folder / n)
        # Kaggle leftovers that carry no labels
        w.video(base / "test_videos" / (next(names) + ".mp4"))
        (base / "sample_submission.csv").write_text("filename,label\n" + f"{test[0][0]},0.5\n")
    return mini


# -- WildDeepfake ------------------------------------------------------------------------------


def _png(path: Path, value: int) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((16, 16, 3), value, np.uint8))


def make_dfw(root: Path | str) -> Miniature:
    """``<root>/deepfake_in_the_wild`` with extracted archives, archives kept next to them and
    one archive not extracted (``fake_test/2.tar.gz``).

    Sequences are ``<folder>/<archive>/<real|fake>/<sequence>/<frame>.png`` with frame names
    998, 999, 1000 (numeric order differs from string order). Planted: an empty sequence folder
    and a truncated frame. The unextracted archive's sequence is in ``expected`` and in
    ``Miniature.missing``: it is indexed only with ``extract=True``.
    """
    base = Path(root) / "deepfake_in_the_wild"
    mini = Miniature(root=base)
    layout = {
        ("real_train", "real"): {"0": ["5", "12"]},
        ("fake_train", "fake"): {"0": ["9"], "1": ["9"]},
        ("real_test", "real"): {"0": ["0", "1"], "3": ["0"]},
        ("fake_test", "fake"): {"0": ["0"], "1": ["131", "200"]},
    }
    for (folder, cls), archives in layout.items():
        split = folder.split("_")[1]
        for idx, seqs in archives.items():
            for seq in seqs:
                seq_dir = base / folder / idx / cls / seq
                for k, frame in enumerate((998, 999, 1000)):
                    _png(seq_dir / f"{frame}.png", 40 * k + 10)
                mini.add(split, f"dfw/{cls}/{folder}/{idx}/{seq}", 0 if cls == "real" else 1)
        # Keep the archive of the first index next to its extracted folder (count once).
        first = next(iter(archives))
        with tarfile.open(base / folder / f"{first}.tar.gz", "w:gz") as tar:
            tar.add(base / folder / first, arcname=f"./{first}")
    # broken sequences
    empty = base / "fake_test" / "1" / "fake" / "300"
    empty.mkdir(parents=True)
    mini.add("test", "dfw/fake/fake_test/1/300", 1)
    mini.broken.add("dfw/fake/fake_test/1/300")
    (base / "fake_test" / "1" / "fake" / "200" / "999.png").write_bytes(
        b"\x89PNG\r\n\x1a\n\x00\x00"
    )
    mini.broken.add("dfw/fake/fake_test/1/200")
    # an archive that was downloaded but not extracted
    with tempfile.TemporaryDirectory() as tmp:
        seq_dir = Path(tmp) / "2" / "fake" / "7"
        for frame in (5, 6):
            _png(seq_dir / f"{frame}.png", 100)
        with tarfile.open(base / "fake_test" / "2.tar.gz", "w:gz") as tar:
            tar.add(Path(tmp) / "2", arcname="./2")
    mini.add("test", "dfw/fake/fake_test/2/7", 1)
    mini.missing.add("dfw/fake/fake_test/2/7")
    return mini


# -- Hugging Face ------------------------------------------------------------------------------


# The cross-dataset test sets (Celeb-DF v1, DFDCP, DeeperForensics-1.0, FFIW-10K, UADFV) and the
# Hugging Face save_to_disk tree live in
# their own module to keep this one small; they are part of the same public kit. Resolved on first
# use (PEP 562) because miniature_cross builds on this module: a top-level import would be a cycle.
_CROSS = ("make_celebdf_v1", "make_dfdcp", "make_deeperforensics", "make_ffiw", "make_uadfv", "make_hf")
__all__ += list(_CROSS)


def __getattr__(name: str):
    if name in _CROSS:
        from . import miniature_cross

        return getattr(miniature_cross, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
