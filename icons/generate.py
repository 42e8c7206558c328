#!/usr/bin/env python3
"""Draws the Stormdesk icon (a lightning bolt on a storm-blue tile) as RGBA PNGs.

Standard library only (zlib + struct), so it runs anywhere Python does:
    python3 icons/generate.py
"""
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))

# Lightning bolt in a 0..1 unit square (clockwise).
BOLT = [
    (0.58, 0.10), (0.26, 0.56), (0.47, 0.56), (0.40, 0.90),
    (0.75, 0.40), (0.53, 0.40), (0.63, 0.10),
]
TOP = (0x4F, 0x7C, 0xFF)     # tile gradient, top
BOTTOM = (0x1E, 0x2A, 0x6E)  # tile gradient, bottom
BOLT_RGB = (0xFF, 0xD4, 0x3B)
RADIUS = 0.22                # tile corner radius
SAMPLES = 4                  # supersampling per axis, for smooth edges


def inside_polygon(x, y, poly):
    hit = False
    j = len(poly) - 1
    for i, (xi, yi) in enumerate(poly):
        xj, yj = poly[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            hit = not hit
        j = i
    return hit


def inside_tile(x, y):
    m = 0.04  # margin so the tile does not touch the edge
    if not (m <= x <= 1 - m and m <= y <= 1 - m):
        return False
    cx = min(max(x, m + RADIUS), 1 - m - RADIUS)
    cy = min(max(y, m + RADIUS), 1 - m - RADIUS)
    return (x - cx) ** 2 + (y - cy) ** 2 <= RADIUS ** 2


def pixel(px, py, size):
    tile = bolt = 0
    for sy in range(SAMPLES):
        for sx in range(SAMPLES):
            x = (px + (sx + 0.5) / SAMPLES) / size
            y = (py + (sy + 0.5) / SAMPLES) / size
            if inside_tile(x, y):
                tile += 1
                if inside_polygon(x, y, BOLT):
                    bolt += 1
    if tile == 0:
        return (0, 0, 0, 0)
    t = py / max(size - 1, 1)
    bg = [round(a + (b - a) * t) for a, b in zip(TOP, BOTTOM)]
    f = bolt / tile
    rgb = [round(c * (1 - f) + b * f) for c, b in zip(bg, BOLT_RGB)]
    alpha = round(255 * tile / SAMPLES ** 2)
    return (*rgb, alpha)


def png(size):
    rows = bytearray()
    for y in range(size):
        rows.append(0)  # filter: none
        for x in range(size):
            rows.extend(pixel(x, y, size))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


def main():
    for name, size in [("32x32.png", 32), ("128x128.png", 128), ("128x128@2x.png", 256), ("icon.png", 512)]:
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(png(size))
        print(f"wrote icons/{name} ({size}x{size})")


if __name__ == "__main__":
    main()
