"""Face models beyond dlib: RetinaFace, FAN 68-point landmarks and MTCNN, with their weight sources.

The modules here hold networks and their decoding only; croppers that use them live in
:mod:`dfbench.media`. Nothing downloads weights: official checkpoints come from the user
(path, environment variable or ``hf://``), MTCNN's from the facenet-pytorch wheel.
"""
