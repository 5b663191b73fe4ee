"""Experiments over whole runs: the ablation ladder and layer sweeps (``clmlf ablate``), figures (``clmlf visualize``)."""
