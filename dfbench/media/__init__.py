"""The face pipeline: decode -> sample -> detect/landmarks -> crop -> cache.

Public API (import from the submodules; nothing heavy is imported here):

- ``decode.probe(path) -> VideoInfo``, ``decode.read_frames(path, indices) -> uint8 [T, H, W, 3]``
- ``sampling.sample_indices(n_frames, input_spec, max_frames=None) -> list[int]``
- ``faces.FaceAnalyzer``, ``faces.select_faces``, ``faces.extend_forehead``
- croppers ``dlib_align``, ``laanet``, ``mouth``, ``precropped`` (registered by ``media.plugin``;
  ``croppers.build_cropper(name, **settings)``), returning :class:`types.FaceCrops`
- ``policy.apply_missing_policy(crops, policy, clip_length=1)``
- ``cache.CropCache``, ``cache.open_run_cache``; ``prepare.prepare(...)`` / ``dfbench prepare``

See docs/face-pipeline.md.
"""
