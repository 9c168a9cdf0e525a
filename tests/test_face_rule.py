"""Datasets that ask for every face (FFIW-10K, ``multi_face: all``): each face of a frame is
scored and the frame keeps the maximum, before the video's aggregation (SBI's rule)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

TESTING = "dfbench.testing:TESTING_PLUGIN"


@pytest.fixture(scope="module")
def two_faces(tmp_path_factory):
    """One video, two people per frame: a pristine face (largest, left) beside a smaller
    green-cast "swapped" face (right), which the oracle scores as fake."""
    import cv2

    from dfbench.registry import get_registry
    from dfbench.specs import DatasetSpec, VideoItem
    from dfbench.testing import make_face_frames, write_video

    mp = pytest.MonkeyPatch()
    mp.setenv("DFBENCH_EXTRA_PLUGINS", TESTING)
    reg = get_registry(refresh=True)
    root = tmp_path_factory.mktemp("faces")
    real, fake = make_face_frames(8, seed=1), make_face_frames(8, fake=True, seed=2)
    frames = np.full((8, 240, 600, 3), 128, np.uint8)
    frames[:, :, :320] = real
    frames[:, 24:216, 330:586] = [cv2.resize(f, (256, 192), interpolation=cv2.INTER_AREA) for f in fake]
    path = write_video(root / "two.avi", frames)
    items = [VideoItem(key="pair/fake/two", label=1, method="swap", path=str(path))]
    every = DatasetSpec(name="pairs", index=lambda *a: items, options={"multi_face": "all"})
    yield reg, root, items, every
    mp.undo()
    get_registry(refresh=True)


def _run(reg, root, items, spec, name, **kw):
    from dfbench.runner import evaluate

    res = evaluate("oracle", spec, items=items, output=root / name, cache_dir=root / "cache", progress=False,
                   registry=reg, **kw)
    return res, pd.read_parquet(root / name / "predictions.parquet").sort_values("frame_index")


def test_frame_score_is_the_max_over_its_faces(two_faces):
    from dataclasses import replace

    from dfbench.build import build_detector
    from dfbench.media.decode import read_frames
    from dfbench.pipeline import ModelStage

    reg, root, items, every = two_faces
    res, preds = _run(reg, root, items, every, "every")
    plain_res, plain = _run(reg, root, items, replace(every, options={}), "largest")

    # What each face scores on its own: crop every face of the sampled frames, score each crop.
    det = build_detector("oracle", registry=reg)
    cropper, _ = reg.build_cropper("dlib_align", {**det.input_spec.crop_settings, "multi_face": "all"})
    faces = cropper(read_frames(items[0].path, list(preds["frame_index"])), det.input_spec.size)
    stage = ModelStage(det)
    chw = lambda c: np.ascontiguousarray(c.transpose(2, 0, 1))  # noqa: E731
    primary = stage.logits(np.stack([chw(c) for c in faces.crops]))
    assert all(len(o) == 1 for o in faces.others), "the test video must show two faces in every frame"
    other = stage.logits(np.stack([chw(o[0]) for o in faces.others]))
    assert (other > primary).all()  # the swapped face is the smaller one: largest-face misses it

    np.testing.assert_allclose(preds["logit"], np.maximum(primary, other), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(plain["logit"], primary, rtol=1e-5, atol=1e-5)
    # The video's aggregation (mean_logit here) reads these per-frame maxima from predictions.parquet.
    from dfbench.run_inputs import FACE_RULE_ALL

    assert res["protocol"]["face_rule"] == FACE_RULE_ALL
    assert res["protocol"]["cropper"]["recipe"]["multi_face"] == "all"
    assert "face_rule" not in plain_res["protocol"]
    assert res["protocol_hash"] != plain_res["protocol_hash"]
    assert res["protocol_core_hash"] != plain_res["protocol_core_hash"]
    saved = json.loads((root / "every" / "protocol.json").read_text())
    assert saved["protocol"]["face_rule"] == FACE_RULE_ALL


def test_the_user_can_turn_the_rule_off_and_clip_detectors_say_they_cannot(two_faces, caplog):
    from dfbench.run_inputs import resolve_face_rule as _face_rule

    reg, _, _, every = two_faces
    from dfbench.build import build_detector

    spec = build_detector("oracle", registry=reg).input_spec
    assert _face_rule(every, {"multi_face": "largest"}, spec, "dlib_align", reg) == (False, None,
                                                                                    dict(spec.crop_settings))
    on, rule, settings = _face_rule(every, None, spec, "dlib_align", reg)
    assert on and settings["multi_face"] == "all"
    from dataclasses import replace

    clip = replace(spec, unit="clip", clip_length=4, cropper="mouth")
    on, rule, settings = _face_rule(every, None, clip, "mouth", reg)
    assert not on and rule.startswith("primary face only (a clip detector") and "multi_face" not in settings
    assert "only the primary face is scored" in caplog.text


def test_ffiw_asks_for_every_face():
    from dfbench.registry import get_registry

    assert get_registry().dataset("ffiw").options["multi_face"] == "all"
