"""DeepfakeBench's reference baselines (Xception, EfficientNet-B4) for dfbench."""
