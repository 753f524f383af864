"""Subcommands for OCI image layouts and registries (convert-image, pull, remote cat)."""

from __future__ import annotations

import argparse
from typing import Any


def register_image_commands(sub: Any) -> None:
    """Add the image and registry subcommands to the CLI's subparsers."""
    del sub  # none yet


__all__ = ["register_image_commands", "argparse"]
