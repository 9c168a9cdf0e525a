"""Decoding and frame sampling: true frame counts, damaged files, frame folders, sampling rules."""

from __future__ import annotations

import numpy as np
import pytest

from dfbench.errors import MediaError
from dfbench.media.decode import list_frame_files, probe, read_frames
from dfbench.media.sampling import consecutive_clips, evenly_spaced, sample_indices, sampling_plan
from dfbench.media.synthetic import face_frames, noise_frames, write_frames_folder, write_video
from dfbench.specs import InputSpec


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("media")
    frames = face_frames(30, 160, 120, seed=1)
    out = {"frames": frames}
    out["mp4"] = write_video(d / "face.mp4", frames)
    out["h264"] = write_video(d / "face_h264.mp4", frames[:20], codec="h264")
    out["avi"] = write_video(d / "face.avi", frames, codec="MJPG")
    (d / "empty.mp4").write_bytes(b"")
    out["empty"] = d / "empty.mp4"
    (d / "notes.mp4").write_text("this is a text file, not a video\n" * 20)
    out["text"] = d / "notes.mp4"
    data = out["mp4"].read_bytes()
    (d / "truncated.mp4").write_bytes(data[: len(data) // 2])
    out["truncated"] = d / "truncated.mp4"
    # An AVI cut in half keeps a header that still claims 30 frames: the container lies.
    avi = out["avi"].read_bytes()
    (d / "cut.avi").write_bytes(avi[: len(avi) // 2])
    out["cut_avi"] = d / "cut.avi"
    out["folder"] = write_frames_folder(d / "frames", frames[:12])
    (d / "nofaces").mkdir()
    (d / "nofaces" / "readme.txt").write_text("no images")
    out["empty_folder"] = d / "nofaces"
    import cv2

    cv2.imwrite(str(d / "still.png"), cv2.cvtColor(frames[0], cv2.COLOR_RGB2BGR))
    out["image"] = d / "still.png"
    out["noise"] = write_video(d / "noise.mp4", noise_frames(10))
    return out


def test_probe_counts_frames_and_geometry(media):
    info = probe(media["mp4"])
    assert (info.n_frames, info.width, info.height, info.kind) == (30, 160, 120, "video")
    assert info.fps == pytest.approx(25.0)
    assert probe(media["h264"]).n_frames == 20
    assert probe(media["avi"]).n_frames == 30


def test_probe_counts_true_frames_when_container_lies(media):
    import cv2

    cap = cv2.VideoCapture(str(media["cut_avi"]))
    claimed = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    n = probe(media["cut_avi"]).n_frames
    assert 0 < n < 30
    assert claimed != n  # the header still says 30
    assert len(read_frames(media["cut_avi"])) == n


def test_read_frames_returns_requested_rgb_frames(media):
    frames = read_frames(media["mp4"], [0, 7, 29])
    assert frames.shape == (3, 120, 160, 3) and frames.dtype == np.uint8
    # mp4v is lossy; the decoded frame must still be close to what was written, in RGB order
    ref = media["frames"][[0, 7, 29]].astype(np.float32)
    assert np.abs(frames.astype(np.float32) - ref).mean() < 12
    swapped = ref[..., ::-1]
    assert np.abs(frames - ref).mean() < np.abs(frames - swapped).mean()
    # order and duplicates follow the request
    again = read_frames(media["mp4"], [29, 0, 0])
    np.testing.assert_array_equal(again[0], frames[2])
    np.testing.assert_array_equal(again[1], again[2])
    assert read_frames(media["mp4"]).shape[0] == 30


def test_pyav_fallback_matches_opencv(media):
    from dfbench.media import decode

    cv = decode._read_opencv(media["h264"], [0, 5, 19])
    av = decode._read_pyav(media["h264"], [0, 5, 19])
    assert cv.shape == av.shape
    assert np.abs(cv.astype(int) - av.astype(int)).mean() < 3  # different YUV->RGB rounding only


def test_frame_folder_is_naturally_sorted_and_reads_like_a_video(media):
    names = [p.name for p in list_frame_files(media["folder"])]
    assert names[:3] == ["1.png", "2.png", "3.png"] and names[-1] == "12.png"
    info = probe(media["folder"])
    assert (info.n_frames, info.kind, info.width, info.height) == (12, "frames", 160, 120)
    frames = read_frames(media["folder"], [0, 11])
    np.testing.assert_array_equal(frames, media["frames"][[0, 11]])  # PNG is lossless


def test_single_image_is_a_one_frame_video(media):
    assert probe(media["image"]).n_frames == 1
    assert read_frames(media["image"], [0]).shape == (1, 120, 160, 3)


@pytest.mark.parametrize(
    "name, reason",
    [
        ("empty", "zero-byte file"),
        ("text", "not a video or image"),
        ("truncated", "truncated/undecodable video"),
        ("empty_folder", "no frames"),
    ],
)
def test_broken_media_raise_media_error_with_reason(media, name, reason):
    for fn in (probe, read_frames):
        with pytest.raises(MediaError) as exc:
            fn(media[name])
        assert reason in str(exc.value)
        assert str(media[name]) in str(exc.value)


def test_missing_file_and_out_of_range_frame(media, tmp_path):
    with pytest.raises(MediaError, match="file not found"):
        probe(tmp_path / "nope.mp4")
    with pytest.raises(MediaError, match="truncated/undecodable"):
        read_frames(media["mp4"], [0, 30])


# -- sampling ------------------------------------------------------------------------------------
def test_evenly_spaced_uses_the_whole_video():
    idx = evenly_spaced(300, 32)
    assert len(idx) == 32 and idx[0] == 0 and idx[-1] == 299
    assert idx == sorted(set(idx))
    steps = np.diff(idx)
    assert steps.min() >= 9 and steps.max() <= 10  # evenly spaced, not the first 32 frames
    assert evenly_spaced(20, 32) == list(range(20))
    assert evenly_spaced(0, 32) == []


def test_sample_indices_frame_unit_uses_spec_and_override():
    spec = InputSpec(frames_per_video=32)
    assert len(sample_indices(300, spec)) == 32
    assert sample_indices(300, spec, max_frames=4) == [0, 99, 199, 299]
    assert sample_indices(5, spec) == [0, 1, 2, 3, 4]


def test_sample_indices_clip_unit_rules():
    spec = InputSpec(unit="clip", clip_length=25, frames_per_video=0)
    # FF++ rule: only the first 110 frames -> 4 non-overlapping clips of 25
    assert sample_indices(300, spec, max_frames=110) == list(range(100))
    assert sample_indices(300, spec) == list(range(300))
    assert sample_indices(60, spec) == list(range(50))
    assert sample_indices(24, spec) == []  # shorter than one clip: "too short"
    limited = InputSpec(unit="clip", clip_length=25, frames_per_video=60)
    assert sample_indices(300, limited) == list(range(50))
    assert consecutive_clips(30, 10, None) == list(range(30))


def test_sampling_plan_distinguishes_rules():
    a = sampling_plan(InputSpec(frames_per_video=32))
    b = sampling_plan(InputSpec(frames_per_video=8))
    c = sampling_plan(InputSpec(unit="clip", clip_length=25, frames_per_video=0), max_frames=110)
    assert a != b and c == {"rule": "consecutive_clips", "clip_length": 25, "max_frames": 110}
