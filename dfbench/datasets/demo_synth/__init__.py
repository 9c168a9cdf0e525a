"""Synthesis of the embedded ``demo`` dataset: real face photos turned into short talking videos.

Split in small modules so that each stays readable:

- :mod:`.faces` - the source photographs, their dlib landmarks and the identity variants;
- :mod:`.animate` - speech-like mouth motion, camera path, lighting, noise and compression;
- :mod:`.fakes` - the forgery methods (``selfblend``, ``faceswap``, ``lowres``, ``lipsync``);
- :mod:`.plan` - the fixed list of videos (split, method, identity, donor, seed);
- :mod:`.encode` - deterministic H.264 writing with PyAV;
- :mod:`.preview` - a contact sheet for eyeballing what was generated.

Only :mod:`dfbench.datasets.demo` is public API; these modules may change with the dataset
version (``demo-v1``).
"""
