"""Training and evaluation: inputs, optimisation, the trainer loop, run directories, metrics and plots."""
