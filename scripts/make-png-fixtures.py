#!/usr/bin/env python3
"""Small PNG files with known pixels, written by a pure-Python encoder (zlib + struct, independent of
libpng), for the PNG reader's tests, plus malformed files for its error tests.
Pixel (x, y), channel c of the "good" files holds ((x * 37 + y * 11 + c * 53) % 256) scaled to the bit depth;
alpha is (x * 50 + y * 20) % 256. Run: python3 scripts/make-png-fixtures.py
"""
import os, struct, zlib

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out_dir = os.path.join(root, "Tests", "Fixtures", "png")
os.makedirs(out_dir, exist_ok=True)
W, H = 7, 5

def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

def png(width, height, depth, color_type, rows, extra=b""):
    raw = b"".join(b"\x00" + r for r in rows)
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")

def v8(x, y, c): return (x * 37 + y * 11 + c * 53) % 256
def a8(x, y): return (x * 50 + y * 20) % 256

def rows(channels, depth, alpha=False):
    out = []
    for y in range(H):
        r = b""
        for x in range(W):
            vals = [v8(x, y, c) for c in range(channels)] + ([a8(x, y)] if alpha else [])
            for v in vals:
                r += struct.pack(">H", v * 257) if depth == 16 else bytes([v])
        out.append(r)
    return out

files = {
    "gray8.png": png(W, H, 8, 0, rows(1, 8)),
    "gray16.png": png(W, H, 16, 0, rows(1, 16)),
    "graya8.png": png(W, H, 8, 4, rows(1, 8, alpha=True)),
    "rgb8.png": png(W, H, 8, 2, rows(3, 8)),
    "rgb16.png": png(W, H, 16, 2, rows(3, 16)),
    "rgba8.png": png(W, H, 8, 6, rows(3, 8, alpha=True)),
}
# Palette: index (x + y) % 4 into four colours, entry 2 half transparent.
palette = [(10, 20, 30), (200, 100, 0), (0, 255, 128), (77, 77, 77)]
plte = chunk(b"PLTE", b"".join(bytes(c) for c in palette)) + chunk(b"tRNS", bytes([255, 255, 128, 255]))
files["palette.png"] = png(W, H, 8, 3, [bytes([(x + y) % 4 for x in range(W)]) for y in range(H)], extra=plte)

good = files["rgb8.png"]
bad_crc = bytearray(good); bad_crc[29] ^= 0xFF          # last byte of IHDR's CRC
files["bad-crc.png"] = bytes(bad_crc)
files["truncated.png"] = good[: len(good) // 2]
files["not-a-png.png"] = b"GIF89a this is not a png at all"
files["empty.png"] = b""
files["absurd.png"] = png(100000, 100000, 8, 2, [])[:33] + chunk(b"IEND", b"")
for name, data in files.items():
    with open(os.path.join(out_dir, name), "wb") as f:
        f.write(data)
print(f"wrote {len(files)} files to {out_dir}")
