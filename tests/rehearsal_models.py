"""Tiny random stand-ins for the `full` profile's pretrained models, written with ``save_pretrained``.

The `full` rehearsal loads them through the same ``from_pretrained`` code as XLM-R large and the CLIP
tower (a local directory instead of the Hub, pinned by its hash): same classes, same file layout,
random weights of a tiny geometry. The XLM-R tokenizer is the real one (bundled offline).
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import CLIPVisionConfig, CLIPVisionModel, XLMRobertaConfig, XLMRobertaModel

from benchmark.models.tokenizer import load_xlmr_tokenizer


def save_tiny_xlmr(folder: Path, seed: int = 0) -> Path:
    """An XLM-R-class encoder (XLMRobertaModel, real vocabulary) of 2 layers x 32 hidden."""
    config = XLMRobertaConfig(vocab_size=250002, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                              intermediate_size=64, max_position_embeddings=514, type_vocab_size=1,
                              pad_token_id=1, bos_token_id=0, eos_token_id=2)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = XLMRobertaModel(config, add_pooling_layer=False)
    model.save_pretrained(folder, safe_serialization=True)
    load_xlmr_tokenizer().save_pretrained(folder)
    return folder


def save_tiny_clip(folder: Path, seed: int = 0) -> Path:
    """A CLIP-class vision tower (CLIPVisionModel + its image processor): ViT-B/32 geometry of the
    patch grid (224 px, 32 px patches: 7 x 7 = 49 tokens, the `full` prefix), 2 layers x 32 hidden."""
    try:  # transformers 5 names the PIL/numpy processor separately (as benchmark/models/image.py)
        from transformers import CLIPImageProcessorPil as Processor
    except ImportError:  # pragma: no cover - older transformers
        from transformers import CLIPImageProcessor as Processor

    config = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                              image_size=224, patch_size=32, projection_dim=32)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CLIPVisionModel(config)
    model.save_pretrained(folder, safe_serialization=True)
    Processor(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224}).save_pretrained(folder)
    return folder
