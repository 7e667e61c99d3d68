"""Synthetic period maps of Paris with exact masks: the only source of text-label ground truth.

Public API: :func:`generate_sample` (one tile), :func:`generate_dataset` (a folder), :class:`SynthConfig`,
:data:`STYLES`; :func:`load_network` reads any GIS line layer as a street network.
"""

from jadis.segment.synth.generate import SynthConfig, generate_dataset, generate_sample
from jadis.segment.synth.networks import load_network
from jadis.segment.synth.render import Sample
from jadis.segment.synth.styles import STYLES

__all__ = ["STYLES", "Sample", "SynthConfig", "generate_dataset", "generate_sample", "load_network"]
