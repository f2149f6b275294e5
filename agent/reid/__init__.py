"""Appearance re-identification: embeddings of object crops for the tracker's re-entry linking."""

from agent.reid.embedder import CropEmbedder, Embedder, open_embedder

__all__ = ["CropEmbedder", "Embedder", "open_embedder"]
