"""Regenerate the inpainting masks for the bundled sample photos.

Each photo ``NAME.jpg`` in this folder gets ``NAME_mask.png``: a mode "L"
image of the same size where 255 (white) marks the hole to fill and 0 (black)
the pixels to keep. Shapes are given as fractions of the image width/height,
so the output is deterministic. Rerun from the repository root with:

    python edge_sdk/samples/make_masks.py

Only Pillow is needed.
"""

import math
from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).parent

# ("box", x0, y0, x1, y1) / ("ellipse", x0, y0, x1, y1): fractions of w, h.
# ("blob", cx, cy, rx, ry): a wobbly, object-like outline around a centre.
# ("stroke", width, points): a thick brush line; width is a fraction of min(w, h).
SHAPES = {
    "astronaut": [("box", 0.55, 0.64, 0.99, 0.99)],  # the helmet
    "brick": [("stroke", 0.07, [(0.10, 0.20), (0.45, 0.35), (0.30, 0.60), (0.80, 0.85)]),
              ("stroke", 0.05, [(0.85, 0.10), (0.65, 0.45)])],
    "camera": [("box", 0.45, 0.22, 0.70, 0.48)],  # the camera on its tripod
    "cat": [("blob", 0.43, 0.38, 0.15, 0.20)],  # the left eye
    "coffee": [("blob", 0.63, 0.64, 0.10, 0.18)],  # the spoon
    "deep_field": [("ellipse", 0.06, 0.06, 0.30, 0.30),  # two far-apart holes
                   ("box", 0.70, 0.72, 0.94, 0.94)],
    "retina": [("stroke", 0.06, [(0.20, 0.30), (0.50, 0.45), (0.75, 0.35)]),
               ("stroke", 0.04, [(0.35, 0.75), (0.60, 0.60), (0.70, 0.80)])],
    "rocket": [("stroke", 0.08, [(0.50, 0.12), (0.50, 0.80)]),  # the rocket
               ("stroke", 0.05, [(0.10, 0.90), (0.40, 0.86), (0.90, 0.92)])],
}


def blob_points(cx, cy, rx, ry, n=48):
    """Outline of a smooth irregular blob (a circle with a few fixed wobbles)."""
    pts = []
    for i in range(n):
        t = 2 * math.pi * i / n
        r = 1 + 0.18 * math.sin(3 * t) + 0.08 * math.cos(5 * t + 1)
        pts.append((cx + rx * r * math.cos(t), cy + ry * r * math.sin(t)))
    return pts


def draw_mask(size, shapes):
    w, h = size
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)

    def scale(pts):
        return [(x * w, y * h) for x, y in pts]

    for kind, *args in shapes:
        if kind in ("box", "ellipse"):
            x0, y0, x1, y1 = args
            box = (x0 * w, y0 * h, x1 * w, y1 * h)
            (draw.rectangle if kind == "box" else draw.ellipse)(box, fill=255)
        elif kind == "blob":
            draw.polygon(scale(blob_points(*args)), fill=255)
        elif kind == "stroke":
            width, pts = round(args[0] * min(w, h)), scale(args[1])
            draw.line(pts, fill=255, width=width, joint="curve")
            r = width / 2  # round caps at both ends
            for x, y in (pts[0], pts[-1]):
                draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
        else:
            raise ValueError(f"unknown shape {kind!r}")
    return mask


def main():
    for name, shapes in sorted(SHAPES.items()):
        with Image.open(HERE / f"{name}.jpg") as photo:
            mask = draw_mask(photo.size, shapes)
        mask.save(HERE / f"{name}_mask.png", optimize=True)
        hole = mask.histogram()[255] / (mask.width * mask.height)
        print(f"{name}_mask.png {mask.width}x{mask.height} hole {hole:.1%}")


if __name__ == "__main__":
    main()
