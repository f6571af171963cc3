"""The CUFS frame: the size every training sketch and photo has, and so the frame the
networks draw in, alignment warps to and the preprocessing box defaults to. Defined here
once; everything else imports it."""

from __future__ import annotations

#: (width, height) in pixels.
CUFS_SIZE: tuple[int, int] = (200, 250)
CUFS_WIDTH, CUFS_HEIGHT = CUFS_SIZE
