"""Thin absl entry points and ml_collections configs for ltjax jobs."""
