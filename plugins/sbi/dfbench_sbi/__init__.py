"""SBI (Shiohara & Yamasaki, "Detecting Deepfakes with Self-Blended Images", CVPR 2022) for dfbench."""
