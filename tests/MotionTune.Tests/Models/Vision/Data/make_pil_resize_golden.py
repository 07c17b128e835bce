"""Writes pil_resize_golden.bin: Pillow's own resize of small random RGB images, to check PilResample against.

Run with any Pillow (checked in with Pillow 9.4.0 from Debian 12's python3-pil):  python3 make_pil_resize_golden.py
Each record: six little-endian int32 (height, width, channels, out_height, out_width, PIL filter number),
the input bytes (H*W*C, row-major, interleaved), then PIL's output bytes.
"""
import struct

import numpy as np
from PIL import Image

CASES = [  # (height, width, out_height, out_width, filter): down and up, one axis only, every filter
    (48, 64, 32, 42, 3), (100, 40, 80, 32, 3), (128, 96, 56, 42, 3), (37, 91, 60, 148, 3),
    (64, 64, 64, 32, 3), (64, 64, 32, 64, 3), (30, 20, 15, 10, 2), (20, 24, 21, 23, 1),
    (16, 16, 8, 16, 5), (10, 14, 5, 7, 4),
]

rng = np.random.default_rng(0)
with open("pil_resize_golden.bin", "wb") as f:
    for h, w, oh, ow, filt in CASES:
        base = rng.integers(0, 256, (h // 4 + 2, w // 4 + 2, 3), dtype=np.uint8)
        img = np.array(Image.fromarray(base).resize((w, h), Image.BILINEAR)).astype(int)
        img = np.clip(img + rng.integers(-20, 21, img.shape), 0, 255).astype(np.uint8)
        out = np.array(Image.fromarray(img).resize((ow, oh), filt))
        f.write(struct.pack("<6i", h, w, 3, oh, ow, filt))
        f.write(img.tobytes())
        f.write(out.tobytes())
