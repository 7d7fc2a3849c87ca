"""Backbones: ``build(inputs, width) -> feature tensor`` from RGB 0..255 inputs, one file each.

A backbone rescales its own input (the exported model takes raw pixel values), so the runtime
never needs to know the preprocessing.
"""

from ..registry import Registry

backbones = Registry("backbone", __name__, __path__)
register = backbones.register
