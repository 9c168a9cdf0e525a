"""Tests of the built-in corruption plugin (DeeperForensics-1.0 suite + extras).

The reference functions below restate the official DeeperForensics perturbation procedure in its
plainest form — BGR frames, the *global* ``random`` / ``np.random`` state seeded with
``random.seed(s); np.random.seed(s)``, the step-by-step float32 recipe — independently of the
implementation, and the library must match them pixel for pixel.
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys

import cv2
import numpy as np
import pytest
import skimage.data

import dfbench.corruptions as C
from dfbench.corruptions import deeperforensics as DF
from dfbench.errors import DfbenchError, UnknownCorruptionError

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SEED = 1234
LEVELS = (1, 2, 3, 4, 5)
OFFICIAL_TABLE = {  # get_distortion_parameter of the official code, restated
    "CS": [0.4, 0.3, 0.2, 0.1, 0.0],
    "CC": [0.85, 0.725, 0.6, 0.475, 0.35],
    "BW": [16, 32, 48, 64, 80],
    "GNC": [0.001, 0.002, 0.005, 0.01, 0.05],
    "GB": [7, 9, 13, 17, 21],
    "JPEG": [2, 3, 4, 5, 6],
    "VC": [30, 32, 35, 38, 40],
}
OURS = {
    "CS": "saturation",
    "CC": "contrast",
    "BW": "block",
    "GNC": "noise",
    "GB": "blur",
    "JPEG": "pixelation",
    "VC": "compression",
}
FRAME_TYPES = ["CS", "CC", "BW", "GNC", "GB", "JPEG"]
ALL_NAMES = sorted(C.BUILTIN)


# -- the reference: the procedure of shared/reference/corruptions.md, stated as plainly as we can --
# (BGR frames, Python's and numpy's *global* RNGs, float32 OpenCV colour conversion), independent of
# dfbench.corruptions so that agreement checks the product code against the written semantics.
_MAP = np.array([219.0, 224.0, 224.0], np.float32)  # Y spans 16..235, chroma 16..240


def _bgr_to_mapped_ycbcr(bgr):
    ycrcb = cv2.cvtColor(bgr.astype(np.float32), cv2.COLOR_BGR2YCrCb)
    y_cb_cr = np.stack([ycrcb[..., 0], ycrcb[..., 2], ycrcb[..., 1]], axis=-1)
    return (y_cb_cr * _MAP + 16) / 255.0


def _mapped_ycbcr_to_bgr(mapped):
    y_cb_cr = (mapped.astype(np.float32) * 255.0 - 16) / _MAP
    ycrcb = np.stack([y_cb_cr[..., 0], y_cb_cr[..., 2], y_cb_cr[..., 1]], axis=-1).astype(np.float32)
    return cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2BGR)


def ref_cs(bgr, factor):
    m = _bgr_to_mapped_ycbcr(bgr)
    m[..., 1:] = 0.5 + (m[..., 1:] - 0.5) * factor
    return _mapped_ycbcr_to_bgr(m).astype(np.uint8)  # truncation, no rounding


def ref_cc(bgr, factor):
    return (bgr.astype(np.float32) * factor).astype(np.uint8)


def ref_bw(bgr, per_256px):  # modifies its argument, as the notes say the official one does
    h, w = bgr.shape[:2]
    for _ in range(min(h, w) // 256 * per_256px):
        x0 = random.randint(0, w - 9)  # column first, inclusive bounds
        y0 = random.randint(0, h - 9)
        bgr[y0 : y0 + 8, x0 : x0 + 8] = 128
    return bgr


def ref_gnc(bgr, variance):
    m = _bgr_to_mapped_ycbcr(bgr) / 255
    noisy = (m + np.sqrt(variance) * np.random.randn(*m.shape)) * 255
    return np.clip(_mapped_ycbcr_to_bgr(noisy), 0, 255).astype(np.uint8)


def ref_gb(bgr, k):
    return cv2.GaussianBlur(bgr, (k, k), k / 6)


def ref_jpeg(bgr, q):  # the official "JPEG" is a down/up resize
    h, w = bgr.shape[:2]
    return cv2.resize(cv2.resize(bgr, (w // q, h // q)), (w, h))


REFERENCE = {
    "CS": ref_cs,
    "CC": ref_cc,
    "BW": ref_bw,
    "GNC": ref_gnc,
    "GB": ref_gb,
    "JPEG": ref_jpeg,
}


def official_video(frames_rgb, kind, level, seed=SEED):
    """The official video driver: seed the global RNGs once, then each frame in turn (BGR)."""
    random.seed(seed)
    np.random.seed(seed)
    fn, p = REFERENCE[kind], OFFICIAL_TABLE[kind][level - 1]
    out = [fn(np.ascontiguousarray(f[:, :, ::-1]).copy(), p)[:, :, ::-1] for f in frames_rgb]
    return np.stack(out)


# -- media -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def astronaut():
    img = skimage.data.astronaut()
    assert img.shape == (512, 512, 3) and img.dtype == np.uint8
    return img


@pytest.fixture(scope="module")
def frame_640x360(astronaut):
    return np.ascontiguousarray(cv2.resize(astronaut, (640, 640))[140:500])


@pytest.fixture(scope="module")
def clip(astronaut):
    """A small moving clip (a pan over the photograph): 6 frames of 96x128."""
    return np.stack(
        [astronaut[40 + 6 * i : 136 + 6 * i, 180 + 4 * i : 308 + 4 * i] for i in range(6)]
    )


@pytest.fixture(scope="module")
def clip256(astronaut):
    """Two 256x320 frames: large enough for BW's one-block-unit rule."""
    return np.stack(
        [astronaut[20 + 8 * i : 276 + 8 * i, 100 + 8 * i : 420 + 8 * i] for i in range(2)]
    )


# -- exactness against the official procedure -----------------------------------------------------
@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("kind", FRAME_TYPES)
def test_single_frame_matches_official(astronaut, kind, level):
    before = astronaut.copy()
    ours = C.apply(OURS[kind], astronaut, level, seed=SEED)
    expected = official_video(astronaut[None], kind, level)[0]
    assert ours.shape == astronaut.shape and ours.dtype == np.uint8
    np.testing.assert_array_equal(ours, expected)
    np.testing.assert_array_equal(astronaut, before)  # the caller's frame is untouched


@pytest.mark.parametrize("kind", [k for k in FRAME_TYPES if k != "JPEG"])
def test_official_name_and_clip_level_function_agree(astronaut, kind):
    via_alias = C.apply(kind, astronaut, 3, seed=SEED)
    spec = C.get_spec(OURS[kind])
    from dfbench.specs import load_object

    direct = load_object(spec.apply)(astronaut[None], 3, SEED)[0]
    np.testing.assert_array_equal(via_alias, direct)


def test_official_rgb_channel_order_matters(astronaut):
    # Guards the RGB->BGR swap: feeding RGB to the BGR formulas gives a visibly different image.
    swapped = official_video(astronaut[:, :, ::-1][None], "CS", 1)[0][:, :, ::-1]
    ours = C.apply("saturation", astronaut, 1)
    assert np.abs(ours.astype(int) - swapped).max() > 10


@pytest.mark.parametrize("level", LEVELS)
def test_block_resolution_rule_640x360(frame_640x360, level):
    ours = C.apply("block", frame_640x360, level, seed=SEED)
    np.testing.assert_array_equal(ours, official_video(frame_640x360[None], "BW", level)[0])
    # Short side 360 -> 360 // 256 = 1 unit of blocks: exactly param draws of 2 numbers each.
    rng = random.Random(SEED)
    for _ in range(OFFICIAL_TABLE["BW"][level - 1]):
        col, row = rng.randint(0, 640 - 9), rng.randint(0, 360 - 9)
        assert (ours[row : row + 8, col : col + 8] == 128).all()


def test_block_small_frame_gets_no_blocks(astronaut):
    small = np.ascontiguousarray(astronaut[:200, :300])
    for level in LEVELS:
        np.testing.assert_array_equal(C.apply("block", small, level, seed=SEED), small)
    assert DF.block_count(255, 1000, 80) == 0 and DF.block_count(512, 300, 16) == 16


def test_block_count_on_512(astronaut):
    assert [DF.block_count(512, 512, p) for p in OFFICIAL_TABLE["BW"]] == [32, 64, 96, 128, 160]


# -- video semantics: one RNG stream over the frames ----------------------------------------------
@pytest.mark.parametrize("kind", ["BW", "GNC"])
def test_random_types_continue_the_stream_over_frames(astronaut, kind):
    frames = np.stack([astronaut] * 3)
    ours = C.apply(OURS[kind], frames, 2, seed=SEED)
    single = C.apply(OURS[kind], astronaut, 2, seed=SEED)
    np.testing.assert_array_equal(ours[0], single)
    assert not np.array_equal(ours[1], ours[0]) and not np.array_equal(ours[2], ours[1])
    np.testing.assert_array_equal(ours, official_video(frames, kind, 2))


@pytest.mark.parametrize("kind", ["BW", "GNC"])
def test_seed_reproduces_and_differs(astronaut, kind):
    a = C.apply(OURS[kind], astronaut, 1, seed=7)
    np.testing.assert_array_equal(a, C.apply(OURS[kind], astronaut, 1, seed=7))
    assert not np.array_equal(a, C.apply(OURS[kind], astronaut, 1, seed=8))


def test_library_rng_leaves_global_state_alone(astronaut):
    random.seed(5)
    np.random.seed(5)
    expected = (random.random(), np.random.rand())
    random.seed(5)
    np.random.seed(5)
    C.apply("block", astronaut, 5, seed=1)
    C.apply("noise", astronaut, 5, seed=1)
    assert (random.random(), np.random.rand()) == expected


@pytest.mark.parametrize("kind", ["CS", "CC", "GB", "JPEG"])
def test_deterministic_types_are_per_frame(clip, kind):
    ours = C.apply(OURS[kind], clip, 4)
    for t in range(len(clip)):
        np.testing.assert_array_equal(ours[t], C.apply(OURS[kind], clip[t], 4))


# -- the API contract over every built-in ---------------------------------------------------------
@pytest.mark.parametrize("name", ALL_NAMES)
def test_shape_dtype_and_input_untouched(clip, name):
    before = clip.copy()
    out = C.apply(name, clip, 3, seed=11)
    assert out.shape == clip.shape and out.dtype == np.uint8
    assert out is not clip and not np.shares_memory(out, clip)
    np.testing.assert_array_equal(clip, before)
    one = C.apply(name, clip[0], 3, seed=11)
    assert one.shape == clip[0].shape and one.dtype == np.uint8
    np.testing.assert_array_equal(clip, before)


@pytest.mark.parametrize("name", ALL_NAMES)
def test_level_strength_grows(clip256, name):
    clip = clip256
    # Mean absolute change from the original grows with the level (noise/blocks average out over
    # the clip; CS/CC/GB/pixelation are monotone by construction).
    errs = [np.abs(C.apply(name, clip, lv, seed=3).astype(int) - clip).mean() for lv in LEVELS]
    assert errs == sorted(errs) and errs[0] < errs[-1], errs


def test_non_contiguous_input(astronaut):
    view = astronaut[::2, ::2]  # strided view
    for name in ("saturation", "noise", "blur", "pixelation", "jpeg", "downscale"):
        out = C.apply(name, view, 2, seed=SEED)
        np.testing.assert_array_equal(out, C.apply(name, view.copy(), 2, seed=SEED))


def test_bad_inputs_raise_actionable_errors(astronaut):
    with pytest.raises(C.CorruptionInputError, match="uint8"):
        C.apply("blur", astronaut.astype(np.float32), 1)
    with pytest.raises(C.CorruptionInputError, match=r"\[T, H, W, 3\]"):
        C.apply("blur", astronaut.transpose(2, 0, 1), 1)
    with pytest.raises(C.CorruptionInputError, match="seed"):
        C.apply("noise", astronaut, 1, seed=-1)
    with pytest.raises(C.CorruptionInputError, match="seed"):
        C.apply("block", astronaut, 1, seed=2**32)
    with pytest.raises(C.CorruptionLevelError, match="1, 2, 3, 4, 5"):
        C.apply("blur", astronaut, 0)
    with pytest.raises(C.CorruptionLevelError):
        C.apply("blur", astronaut, True)
    with pytest.raises(UnknownCorruptionError, match="Did you mean 'blur'"):
        C.apply("blurr", astronaut, 1)


# -- codec corruptions ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["compression", "h265"])
def test_codec_sizes_fall_strictly_and_output_decodes(clip, name):
    sizes, outs = [], []
    for level in LEVELS:
        out, size = C.apply_with_size(name, clip, level)
        assert out.shape == clip.shape and out.dtype == np.uint8
        sizes.append(size)
        outs.append(out)
    assert all(a > b for a, b in zip(sizes[:-1], sizes[1:], strict=True)), sizes
    assert C.encoded_size_bytes(name, clip, 1) == sizes[0]  # deterministic encoder
    np.testing.assert_array_equal(C.apply(name, clip, 1), outs[0])
    # A lossy copy of the clip, not garbage: PSNR of level 1 well above noise.
    mse = np.mean((outs[0].astype(float) - clip) ** 2)
    assert 10 * np.log10(255**2 / mse) > 26
    # Frames come back in display order (B-frames are reordered by the decoder): decoded frame t
    # is closest to input frame t of the panning clip, even at the worst level.
    dist = ((outs[-1][:, None].astype(float) - clip[None]) ** 2).mean(axis=(2, 3, 4))
    assert list(dist.argmin(axis=1)) == list(range(len(clip)))


def test_compression_crf_table_and_odd_sizes(clip):
    assert [C.BUILTIN["compression"].parameters[lv] for lv in LEVELS] == OFFICIAL_TABLE["VC"]
    odd = np.ascontiguousarray(clip[:3, :95, :127])
    out = C.apply("compression", odd, 2)
    assert out.shape == odd.shape
    assert np.abs(out.astype(int) - odd).mean() < 12
    single = C.apply("compression", odd[0], 2)  # a one-frame "video"
    assert single.shape == odd[0].shape


def test_apply_with_size_rejects_frame_corruptions(clip):
    with pytest.raises(C.CorruptionInputError, match="compression"):
        C.apply_with_size("blur", clip, 1)


# -- extras ------------------------------------------------------------------------------------------
def test_jpeg_is_real_libjpeg_coding(astronaut):
    for level, quality in zip(LEVELS, (90, 70, 50, 30, 10), strict=True):
        ok, buf = cv2.imencode(".jpg", astronaut[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        expected = cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]
        np.testing.assert_array_equal(C.apply("jpeg", astronaut, level), expected)


def test_downscale_is_area_down_bilinear_up(astronaut):
    out = C.apply("downscale", astronaut, 5)  # factor 4
    small = cv2.resize(astronaut, (128, 128), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(
        out, cv2.resize(small, (512, 512), interpolation=cv2.INTER_LINEAR)
    )


# -- names, suites, seeds, registry ------------------------------------------------------------------
def test_parse_and_expand():
    assert C.parse_corruption("saturation:3") == ("saturation", 3)
    assert C.parse_corruption(" GB:5 ") == ("blur", 5)
    assert C.parse_corruption("jpeg:1") == ("jpeg", 1)
    assert C.parse_corruption("cs:2") == ("saturation", 2)
    # The official "JPEG" type is a rescale, not our real-JPEG "jpeg": refuse to guess.
    for ambiguous in ("JPEG:1", "Jpeg:1"):
        with pytest.raises(C.CorruptionInputError, match="pixelation"):
            C.parse_corruption(ambiguous)
    with pytest.raises(UnknownCorruptionError, match="Did you mean 'saturation'"):
        C.parse_corruption("saturaton:3")
    with pytest.raises(C.CorruptionLevelError, match="valid levels are 1, 2, 3, 4, 5"):
        C.parse_corruption("saturation:6")
    with pytest.raises(C.CorruptionLevelError):
        C.parse_corruption("saturation:high")
    with pytest.raises(C.CorruptionInputError, match="name:level"):
        C.parse_corruption("saturation")
    suite = C.expand_corruption("df1.0")
    assert len(suite) == 35 and suite[0] == ("saturation", 1) and suite[-1] == ("compression", 5)
    assert C.expand_corruption("blur, jpeg:2") == [("blur", lv) for lv in LEVELS] + [("jpeg", 2)]
    assert C.SUITES == {"df1.0": [OURS[k] for k in OFFICIAL_TABLE]}


def test_derive_seed_is_stable_and_independent():
    s = C.derive_seed(0, "ffpp/fake/Deepfakes/000_003", "noise", 3)
    assert s == C.derive_seed(0, "ffpp/fake/Deepfakes/000_003", "GNC", 3)  # aliases canonicalised
    assert 0 <= s < 2**32
    others = {
        C.derive_seed(1, "ffpp/fake/Deepfakes/000_003", "noise", 3),
        C.derive_seed(0, "ffpp/fake/Face2Face/000_003", "noise", 3),
        C.derive_seed(0, "ffpp/fake/Deepfakes/000_003", "block", 3),
        C.derive_seed(0, "ffpp/fake/Deepfakes/000_003", "noise", 4),
    }
    assert s not in others and len(others) == 4
    # Same value in a fresh interpreter with a different hash salt: no hash() involved.
    code = "import dfbench.corruptions as C; print(C.derive_seed(0, 'ffpp/fake/Deepfakes/000_003', 'noise', 3))"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert int(out.stdout.strip()) == s
    # Pinned: a change of derivation silently changes every published corrupted result.
    message = b"dfbench/corruption-seed/v1\x000\x00ffpp/fake/Deepfakes/000_003\x00noise\x003"
    assert s == int.from_bytes(hashlib.sha256(message).digest()[:4], "big")


def test_registry_lists_builtins():
    from dfbench.registry import get_registry

    reg = get_registry(refresh=True)
    for official, ours in OURS.items():
        spec = reg.corruption(ours)
        assert spec.official_name == official and spec.suites == ("df1.0",)
        assert [spec.parameters[lv] for lv in LEVELS] == OFFICIAL_TABLE[official]
        assert spec.levels == LEVELS
    assert {c.name for c in reg.suite("df1.0")} == set(OURS.values())
    for extra in ("jpeg", "downscale", "h265"):
        assert reg.corruption(extra).suites == ()
    assert {n for n, s in reg.corruptions.items() if s.scope == "video"} >= {"compression", "h265"}
    assert reg.corruption("blur").scope == "frame"


def test_third_party_corruption_through_the_api(monkeypatch, clip):
    import dfbench.registry as registry
    from dfbench import hookimpl
    from dfbench.plugins import get_plugin_manager
    from dfbench.specs import CorruptionSpec

    class Plugin:
        @hookimpl
        def register_corruptions(self, register):
            register(CorruptionSpec(name="invert", apply=lambda f, lv, s: 255 - f, levels=(1,)))
            register(CorruptionSpec(name="broken", apply=lambda f, lv, s: f[..., :1], levels=(1,)))

    pm = get_plugin_manager(extra_plugins=[Plugin()], load_entrypoints=False)
    monkeypatch.setattr(registry, "_default", registry.Registry(pm))
    np.testing.assert_array_equal(C.apply("invert", clip[0], 1), 255 - clip[0])
    assert C.expand_corruption("invert") == [("invert", 1)]
    with pytest.raises(C.CorruptionLevelError, match="valid levels are 1"):
        C.parse_corruption("invert:2")
    with pytest.raises(DfbenchError, match="shape and dtype"):
        C.apply("broken", clip, 1)


def test_import_is_light():
    code = (
        "import sys, dfbench.corruptions, dfbench.corruptions.plugin; "
        "print(sorted(m for m in ('cv2', 'av', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
