"""Inference: the unifier, shape propagation, the explanation of every number, and the
reference interpreter."""
