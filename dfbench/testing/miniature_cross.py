"""Miniature official trees of the cross-dataset test sets: Celeb-DF v1, DFDC preview,
DeeperForensics-1.0 (+ the FF++ originals it needs), FFIW-10K and UADFV.

Same contract as :mod:`dfbench.testing.miniature` (re-exported there): real folder and file names,
list/label files in their real formats, tiny decodable videos (hard links of one template), and
the traps an index must survive — decoys (files on disk the official list does not name), a
listed-but-missing video and an empty one. Where the official test split is small (DFDCP 777,
FFIW 500, UADFV 98) the tree has it at full size, so the official counts are checked for real.
"""

from __future__ import annotations

import json
from pathlib import Path

from .miniature import Miniature, _png, _temp_leftover, _Writer

__all__ = ["make_celebdf_v1", "make_dfdcp", "make_deeperforensics", "make_ffiw", "make_uadfv"]


def _key(dataset: str, label: int, method: str, video: str) -> str:
    return f"{dataset}/{'fake' if label else 'real'}/{method}/{video}"


# -- Celeb-DF v1 -------------------------------------------------------------------------------


def make_celebdf_v1(root: Path | str, n_test: tuple[int, int, int] = (4, 6, 10)) -> Miniature:
    """``<root>/Celeb-DF`` (the v1 README's root name) with its own test list: ``n_test`` lines per
    folder (YouTube-real, Celeb-real, Celeb-synthesis); two more videos per folder are not listed
    (train). Planted: a missing listed Celeb-synthesis video, a zero-byte listed real."""
    base = Path(root) / "Celeb-DF"
    mini = Miniature(root=base)
    folders = (("YouTube-real", 0), ("Celeb-real", 0), ("Celeb-synthesis", 1))
    names = {
        "YouTube-real": [f"{i:05d}" for i in range(100, 120)],
        "Celeb-real": [f"id{k}_{c:04d}" for k in range(10) for c in (2, 5)],
        "Celeb-synthesis": [f"id{k}_id{k + 3}_{c:04d}" for k in range(10) for c in (2, 5)],
    }
    lines = []
    with _Writer() as w:
        for (folder, label), n in zip(folders, n_test, strict=True):
            for i, stem in enumerate(names[folder][: n + 2]):
                split = "test" if i < n else "train"
                key = _key("celebdf_v1", label, folder, stem)
                mini.add(split, key, label)
                if split == "test":
                    lines.append(f"{1 - label} {folder}/{stem}.mp4")
                path = base / folder / f"{stem}.mp4"
                if split == "test" and folder == "Celeb-synthesis" and i == 1:
                    mini.missing.add(key)
                elif split == "test" and folder == "Celeb-real" and i == 0:
                    w.empty(path)
                    mini.broken.add(key)
                else:
                    w.video(path)
    (base / "List_of_testing_videos.txt").write_text("\n".join(lines))
    _temp_leftover(base / "Celeb-synthesis")
    return mini


# -- DFDC preview ------------------------------------------------------------------------------


def make_dfdcp(root: Path | str, n_train: tuple[int, int] = (3, 5)) -> Miniature:
    """``<root>/fb_dfd_release_0.1_final`` with ``dataset.json`` and the full-size test split
    (276 real, 501 fake over method_A and method_B) plus ``n_train`` (real, fake) train entries.

    Planted: a listed test fake missing on disk, a zero-byte listed real, a decoy video on disk
    that dataset.json does not name, and one test entry stored in SBI's ``<top>/videos/`` layout.
    """
    base = Path(root) / "fb_dfd_release_0.1_final"
    mini = Miniature(root=base)
    entries: dict[str, dict] = {}

    def real(i: int) -> str:
        tid = 1000000 + i // 4
        return f"original_videos/{tid}/{tid}_{'ABCD'[i % 4]}_{i % 7:03d}.mp4"

    def fake(i: int) -> str:
        tid, sid = 1000000 + i // 6, 2000000 + i % 13
        method, ctx = ("method_A", "A") if i % 2 == 0 else ("method_B", "C")
        return f"{method}/{tid}/{tid}_{ctx}/{sid}_{tid}_{ctx}_{i % 9:03d}.mp4"

    plan = [
        ("test", 0, [real(i) for i in range(276)]),
        ("test", 1, [fake(i) for i in range(501)]),
        ("train", 0, [real(i) for i in range(276, 276 + n_train[0])]),
        ("train", 1, [fake(i) for i in range(501, 501 + n_train[1])]),
    ]
    with _Writer() as w:
        for split, label, rels in plan:
            for j, rel in enumerate(rels):
                top, rest = rel.split("/", 1)
                tid = int(rest.split("/", 1)[0])
                info = {"label": "fake" if label else "real", "set": split, "target_id": tid}
                if label:
                    info["swapped_id"] = int(Path(rel).name.split("_", 1)[0])
                entries[rel] = info
                key = _key("dfdcp", label, top, rest[: -len(".mp4")])
                mini.add(split, key, label)
                if split == "test" and label == 1 and j == 7:
                    mini.missing.add(key)
                elif split == "test" and label == 0 and j == 3:
                    w.empty(base / rel)
                    mini.broken.add(key)
                elif split == "test" and label == 1 and j == 10:
                    w.video(base / top / "videos" / rest)  # SBI's re-arranged layout
                else:
                    w.video(base / rel)
        w.video(base / "method_A" / "1000000" / "1000000_A" / "9999999_1000000_A_999.mp4")  # decoy
    (base / "dataset.json").write_text(json.dumps(entries))
    return mini


# -- DeeperForensics-1.0 -----------------------------------------------------------------------


def make_deeperforensics(root: Path | str, n: tuple[int, int, int] = (8, 3, 5)) -> Miniature:
    """``<root>/DeeperForensics-1.0`` (lists/splits, manipulated_videos/end_to_end and
    end_to_end_level_2, a source_videos decoy) next to ``<root>/original_sequences/youtube/c23``
    (the FF++ targets, found from the parent folder by default).

    ``n`` fakes per split (train, val, test). Planted: a listed test fake missing in
    ``end_to_end``, the FF++ original of one test target missing, an unlisted fake decoy, a
    source-video decoy; test.txt lines carry the ``.mp4`` suffix, val.txt lines do not.
    """
    root = Path(root)
    base = root / "DeeperForensics-1.0"
    mini = Miniature(root=base)
    actors = ("M004", "W101", "M030", "W113", "M012")
    real_dir = root / "original_sequences" / "youtube" / "c23" / "videos"
    with _Writer() as w:
        start = 0
        for split, count in zip(("train", "val", "test"), n, strict=True):
            stems = [f"{start + i:03d}_{actors[i % len(actors)]}" for i in range(count)]
            start += count
            suffix = "" if split == "val" else ".mp4"
            (base / "lists" / "splits").mkdir(parents=True, exist_ok=True)
            (base / "lists" / "splits" / f"{split}.txt").write_text(
                "".join(f"{s}{suffix}\n" for s in stems)
            )
            for i, stem in enumerate(stems):
                for variant in ("end_to_end", "end_to_end_level_2"):
                    key = _key("deeperforensics", 1, variant, stem)
                    if variant == "end_to_end":
                        mini.add(split, key, 1)
                    if split == "test" and i == 2 and variant == "end_to_end":
                        mini.missing.add(key)
                    else:
                        w.video(base / "manipulated_videos" / variant / f"{stem}.mp4")
                target = stem.split("_", 1)[0]
                key = _key("deeperforensics", 0, "youtube", target)
                mini.add(split, key, 0)
                if split == "test" and i == 0:
                    mini.missing.add(key)
                else:
                    w.video(real_dir / f"{target}.mp4")
        w.video(base / "manipulated_videos" / "end_to_end" / "999_M004.mp4")  # in no list
        w.video(base / "source_videos" / "M004" / "light_uniform" / "M004_light_uniform_neutral.mp4")
        w.video(real_dir / "998.mp4")  # an FF++ original no listed fake targets
    return mini


# -- FFIW-10K ----------------------------------------------------------------------------------


def make_ffiw(root: Path | str, n_train: int = 3) -> Miniature:
    """``<root>/FFIW10K-v1-release`` with the full-size val folders (250 source + 250 target, SBI's
    ``videos/`` level), ``n_train`` pairs of train videos (distributed layout, no ``videos/``),
    target masks, and decoys (a non-video file, a download temp file). Planted: one zero-byte
    target video."""
    base = Path(root) / "FFIW10K-v1-release"
    mini = Miniature(root=base)
    with _Writer() as w:
        for split, sub, count, nested in (("test", "val", 250, True), ("train", "train", n_train, False)):
            for folder, label in (("source", 0), ("target", 1)):
                directory = base / folder / sub / ("videos" if nested else "")
                for i in range(count):
                    stem = f"{sub}_{i:05d}"
                    key = _key("ffiw", label, folder, stem)
                    mini.add(split, key, label)
                    if split == "test" and label == 1 and i == 4:
                        w.empty(directory / f"{stem}.mp4")
                        mini.broken.add(key)
                    else:
                        w.video(directory / f"{stem}.mp4")
                    if label == 1 and i < 2:
                        w.video(base / "target_mask" / sub / ("videos" if nested else "") / f"{stem}.mp4")
            (base / "source" / sub / "README.txt").parent.mkdir(parents=True, exist_ok=True)
            (base / "source" / sub / "README.txt").write_text("not a video\n")
        _temp_leftover(base / "target" / "val" / "videos")
    return mini


# -- UADFV -------------------------------------------------------------------------------------


def make_uadfv(root: Path | str) -> Miniature:
    """``<root>/UADFV/{real,fake}`` with all 49 + 49 videos; planted: a zero-byte fake, a
    frames/ folder and a .txt decoy (neither is a video)."""
    base = Path(root) / "UADFV"
    mini = Miniature(root=base)
    with _Writer() as w:
        for folder, label in (("real", 0), ("fake", 1)):
            for i in range(49):
                stem = f"{i:04d}" + ("_fake" if label else "")
                key = _key("uadfv", label, folder, stem)
                mini.add("test", key, label)
                if label and i == 5:
                    w.empty(base / folder / f"{stem}.mp4")
                    mini.broken.add(key)
                else:
                    w.video(base / folder / f"{stem}.mp4")
            (base / folder / "frames" / "0000").mkdir(parents=True, exist_ok=True)
            (base / folder / "notes.txt").write_text("decoy\n")
    return mini


def make_hf(root: Path | str, n: int = 6) -> Miniature:
    """A ``save_to_disk`` DatasetDict (``train``/``test``) with an Image column and string labels
    ``"original"``/``"swapped"`` (which need a ``label_map``), plus a video-path column."""
    import datasets

    base = Path(root) / "hf_dataset"
    mini = Miniature(root=base)
    media = Path(root) / "hf_media"
    splits = {}
    with _Writer() as w:
        for split in ("train", "test"):
            images, labels, videos, ids = [], [], [], []
            for i in range(n):
                img = media / split / f"{i}.png"
                _png(img, 20 * i)
                vid = media / split / f"{i}.mp4"
                w.video(vid)
                images.append(str(img))
                videos.append(str(vid))
                labels.append("swapped" if i % 2 else "original")
                ids.append(f"{split}_{i:02d}")
            splits[split] = datasets.Dataset.from_dict(
                {"image": images, "video_path": videos, "kind": labels, "uid": ids},
                features=datasets.Features(
                    {
                        "image": datasets.Image(),
                        "video_path": datasets.Value("string"),
                        "kind": datasets.Value("string"),
                        "uid": datasets.Value("string"),
                    }
                ),
            )
            for i, uid in enumerate(ids):
                mini.add(split, uid, 1 if i % 2 else 0)
    datasets.DatasetDict(splits).save_to_disk(str(base))
    return mini
