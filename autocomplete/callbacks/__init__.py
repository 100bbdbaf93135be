"""Keras callbacks of the training loop (importing them imports TensorFlow)."""
