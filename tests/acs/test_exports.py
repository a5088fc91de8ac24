"""The public surface of acs/."""

from __future__ import annotations

import acs


def test_all_lists_every_public_name_once() -> None:
    """__all__ names each public object of the package exactly once, and nothing else."""
    public = {n for n in vars(acs) if not n.startswith("_")}
    assert len(acs.__all__) == len(set(acs.__all__))
    assert set(acs.__all__) == public
