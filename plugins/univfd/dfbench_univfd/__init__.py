"""UnivFD ("Towards Universal Fake Image Detectors that Generalize Across Generative Models",
Ojha, Li & Lee, CVPR 2023) for dfbench."""
