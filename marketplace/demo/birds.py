"""The demo's pictures, drawn here with Pillow: no photograph is bundled, so there is no licence to cite.

- `species_picture`: a stylised bird of one of the bluebirds set's two species, for the species job (species 0,
  the Indigo Bunting: small, blue all over, a small beak; species 1, the Blue Grosbeak: larger, brown wing bars, a
  heavy beak), in a few variants (pose and background), 120 x 80 pixels, under 4 KB each.
- `scene`: a 240 x 120 picture of one to three birds at random places, with the box around each, for the box job.

Deterministic: the same arguments give the same bytes (Pillow writes no timestamp into a PNG), so seeding twice
uploads nothing new (media files are stored by content).
"""

import io
import random
from typing import Any

from PIL import Image, ImageDraw

SPECIES = ("0", "1")  # the bluebirds set's classes
VARIANTS = 3
SCENE = (240, 120)
SKY = ((214, 232, 245), (228, 238, 214), (240, 232, 220))  # one background per variant
BLUE, DEEP_BLUE, BROWN, BEAK, BRANCH = (40, 80, 190), (25, 45, 130), (150, 95, 50), (70, 70, 80), (110, 80, 50)


def species_picture(species: str, variant: int) -> bytes:
    """A bird of `species` ("0" or "1"), in `variant` (0 .. VARIANTS - 1), as PNG bytes."""
    image = Image.new("RGB", (120, 80), SKY[variant % VARIANTS])
    draw = ImageDraw.Draw(image)
    draw.line((0, 66, 120, 60), fill=BRANCH, width=4)
    grosbeak = species == "1"
    scale = 1.25 if grosbeak else 1.0
    facing = -1 if variant % 2 else 1  # every other variant looks the other way
    _bird(draw, centre=(60 + 6 * (variant - 1), 44), scale=scale, facing=facing, grosbeak=grosbeak)
    return _png(image)


def picture_name(species: str, variant: int) -> str:
    """The media file name the demo jobs give `species_picture(species, variant)`."""
    return f"bird-species-{species}-{variant}.png"


def scene(seed: int) -> tuple[bytes, list[list[Any]]]:
    """A picture with one to three birds and the box `[x, y, w, h, "bird"]` around each (image pixels)."""
    rng = random.Random(seed)  # noqa: S311 -- a demo's layout, not security
    image = Image.new("RGB", SCENE, SKY[seed % VARIANTS])
    draw = ImageDraw.Draw(image)
    boxes: list[list[Any]] = []
    for column in rng.sample(range(3), rng.randint(1, 3)):  # one bird per third at most (62 px wide at most)
        scale = rng.choice((0.7, 0.85, 1.0))
        centre = (40 + 80 * column + rng.randint(-4, 4), rng.randint(25, 100))
        x0, y0, x1, y1 = _bird(
            draw, centre=centre, scale=scale, facing=rng.choice((-1, 1)), grosbeak=rng.random() < 0.5
        )
        boxes.append([x0, y0, x1 - x0, y1 - y0, "bird"])
    return _png(image), sorted(boxes)


def _bird(
    draw: ImageDraw.ImageDraw, *, centre: tuple[int, int], scale: float, facing: int, grosbeak: bool
) -> tuple[int, int, int, int]:
    """Draw one bird; returns its bounding box (x0, y0, x1, y1), the corners included."""
    cx, cy = centre

    def s(value: float) -> int:
        return round(value * scale)

    body = (cx - s(18), cy - s(10), cx + s(14), cy + s(10))
    head = (cx + facing * s(16) - s(8), cy - s(18), cx + facing * s(16) + s(8), cy - s(2))
    tip = cx + facing * (s(16) + s(8 + (8 if grosbeak else 5)))
    beak = [(cx + facing * (s(16) + s(6)), cy - s(13)), (tip, cy - s(10)), (cx + facing * (s(16) + s(6)), cy - s(6))]
    tail = [(cx - facing * s(16), cy - s(4)), (cx - facing * s(30), cy - s(8)), (cx - facing * s(28), cy + s(4))]
    draw.polygon(tail, fill=DEEP_BLUE)
    draw.ellipse(body, fill=BLUE)
    draw.ellipse(head, fill=DEEP_BLUE if grosbeak else BLUE)
    draw.polygon(beak, fill=BEAK)
    wing = (cx - s(8), cy - s(5), cx + s(6), cy + s(4))
    draw.ellipse(wing, fill=BROWN if grosbeak else DEEP_BLUE)
    draw.ellipse(
        (head[0] + s(8) + facing * s(3) - 1, cy - s(12) - 1, head[0] + s(8) + facing * s(3) + 1, cy - s(12) + 1),
        fill=(0, 0, 0),
    )
    xs = [body[0], body[2], head[0], head[2], tip, *(x for x, _ in tail)]
    ys = [body[1], body[3], head[1], head[3], *(y for _, y in tail)]
    return min(xs), min(ys), max(xs), max(ys)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
