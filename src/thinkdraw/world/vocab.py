"""The vocabulary and the knowledge of the built-in world.

Everything the planner, the layout solver and the world renderer need to agree on lives here:
the categories with their habitat, typical size and aspect, the named colors, the sizes, the
backgrounds. It is plain data so that it can be read (and audited) in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# ---------------------------------------------------------------------------------------------
# Colors: a fixed named set (RGB, 0..255). Order is stable: index = color id in masks/embeddings.
# ---------------------------------------------------------------------------------------------
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "orange": (245, 140, 30),
    "yellow": (245, 215, 40),
    "green": (50, 170, 60),
    "blue": (40, 90, 220),
    "purple": (140, 60, 190),
    "pink": (245, 130, 190),
    "brown": (135, 85, 45),
    "black": (25, 25, 25),
    "white": (245, 245, 245),
    "gray": (130, 130, 130),
}
COLOR_NAMES: tuple[str, ...] = tuple(COLORS)
COLOR_SYNONYMS: dict[str, str] = {"grey": "gray", "violet": "purple", "golden": "yellow", "gold": "yellow"}

SIZES: dict[str, float] = {"small": 0.7, "medium": 1.0, "large": 1.4}
SIZE_SYNONYMS: dict[str, str] = {
    "tiny": "small", "little": "small", "mini": "small", "big": "large", "huge": "large",
    "giant": "large", "enormous": "large", "medium-sized": "medium", "average": "medium",
}

# Habitats: where a category lives.
#   sky    - floats in the sky band (not grounded)
#   ground - stands on the ground line (grounded)
#   water  - inside the water band (fish)
#   surface- floats on the water line (boat)
#   table  - small object that rests on a table top or the ground
#   free   - abstract shapes; anywhere on the canvas, not grounded
HABITATS = ("sky", "ground", "water", "surface", "table", "free")


@dataclass(frozen=True)
class Category:
    name: str
    kind: str  # "shape" | "thing"
    habitat: str
    width: float  # typical width as a fraction of the canvas width at size "medium"
    aspect: float  # height / width
    grounded: bool  # rests on a support (gravity)
    default_color: str | None = None  # natural color when the prompt names none
    natural_colors: tuple[str, ...] = ()  # plausible colors for random sampling
    can_support: bool = False  # other things can stand "on" it
    carries_text: bool = False  # signs, banners, posters
    plural: str | None = None
    synonyms: tuple[str, ...] = field(default_factory=tuple)


_ALL = COLOR_NAMES
CATEGORIES: dict[str, Category] = {
    c.name: c
    for c in [
        # shapes
        Category("circle", "shape", "free", 0.22, 1.0, False, None, _ALL, synonyms=("disc", "disk", "dot")),
        Category("square", "shape", "free", 0.22, 1.0, False, None, _ALL, synonyms=("box", "cube", "block")),
        Category("triangle", "shape", "free", 0.24, 0.9, False, None, _ALL, synonyms=("pyramid",)),
        Category("star", "shape", "free", 0.24, 1.0, False, "yellow", _ALL),
        Category("heart", "shape", "free", 0.22, 0.95, False, "red", _ALL),
        # sky things
        Category("sun", "thing", "sky", 0.22, 1.0, False, "yellow", ("yellow", "orange", "red")),
        Category("moon", "thing", "sky", 0.18, 1.0, False, "yellow", ("yellow", "white", "gray")),
        Category("cloud", "thing", "sky", 0.32, 0.55, False, "white", ("white", "gray", "pink")),
        Category("bird", "thing", "sky", 0.14, 0.8, False, "blue", _ALL),
        Category("balloon", "thing", "sky", 0.12, 1.7, False, "red", _ALL),
        Category("kite", "thing", "sky", 0.14, 1.6, False, "orange", _ALL),
        # ground things
        Category("tree", "thing", "ground", 0.24, 1.45, True, "green", ("green", "orange", "pink", "yellow")),
        Category("house", "thing", "ground", 0.30, 0.95, True, "red", _ALL),
        Category("car", "thing", "ground", 0.30, 0.5, True, "red", _ALL, can_support=True),
        Category("flower", "thing", "ground", 0.10, 1.7, True, "pink", _ALL),
        Category("mountain", "thing", "ground", 0.45, 0.65, True, "gray", ("gray", "brown", "white", "blue")),
        Category("sign", "thing", "ground", 0.30, 0.85, True, "white", _ALL, carries_text=True,
                 synonyms=("signpost", "placard")),
        Category("banner", "thing", "sky", 0.55, 0.3, False, "white", _ALL, carries_text=True,
                 synonyms=("flag",)),
        Category("poster", "thing", "ground", 0.30, 1.2, True, "white", _ALL, carries_text=True,
                 synonyms=("billboard",)),
        Category("table", "thing", "ground", 0.45, 0.45, True, "brown", ("brown", "white", "black", "gray"),
                 can_support=True, synonyms=("desk",)),
        # water things
        Category("boat", "thing", "surface", 0.30, 0.65, True, "red", _ALL, synonyms=("ship", "sailboat")),
        Category("fish", "thing", "water", 0.16, 0.55, False, "orange", _ALL, plural="fish"),
        # small things (table or ground)
        Category("apple", "thing", "table", 0.11, 1.0, True, "red", ("red", "green", "yellow")),
        Category("ball", "thing", "table", 0.12, 1.0, True, "red", _ALL),
        Category("cup", "thing", "table", 0.11, 1.05, True, "white", _ALL, synonyms=("mug",)),
        Category("book", "thing", "table", 0.16, 0.45, True, "blue", _ALL, can_support=True),
    ]
}
CATEGORY_NAMES: tuple[str, ...] = tuple(CATEGORIES)

# Nouns that name a category under another word.
CATEGORY_SYNONYMS: dict[str, str] = {s: c.name for c in CATEGORIES.values() for s in c.synonyms}

# Backgrounds. `horizon` is the y (0..1, from the top) where the upper band ends; ground things stand
# between `horizon` and the bottom. `sky` means the canvas is all sky with a thin ground strip.
BACKGROUND_KINDS = ("sky", "grass", "sea", "table", "wall", "plain")
TIMES = ("day", "sunset", "night")


@dataclass(frozen=True)
class BackgroundKind:
    name: str
    horizon: float  # where the lower band (ground/sea/table top) begins
    lower: str  # "ground" | "water" | "table" | "floor" | "none"


BACKGROUNDS: dict[str, BackgroundKind] = {
    "sky": BackgroundKind("sky", 0.9, "ground"),
    "grass": BackgroundKind("grass", 0.6, "ground"),
    "sea": BackgroundKind("sea", 0.5, "water"),
    "table": BackgroundKind("table", 0.55, "table"),
    "wall": BackgroundKind("wall", 0.85, "floor"),
    "plain": BackgroundKind("plain", 1.0, "none"),
}

BACKGROUND_WORDS: dict[str, str] = {
    "sky": "sky", "skies": "sky", "air": "sky",
    "grass": "grass", "meadow": "grass", "field": "grass", "park": "grass", "lawn": "grass",
    "garden": "grass", "countryside": "grass", "hill": "grass", "hills": "grass",
    "sea": "sea", "ocean": "sea", "lake": "sea", "water": "sea", "river": "sea", "beach": "sea",
    "kitchen": "table", "tabletop": "table",
    "wall": "wall", "room": "wall", "indoors": "wall", "indoor": "wall", "studio": "wall",
    "white background": "plain", "plain background": "plain", "blank background": "plain",
}
TIME_WORDS: dict[str, str] = {
    "day": "day", "daytime": "day", "sunny": "day", "morning": "day", "noon": "day", "afternoon": "day",
    "sunset": "sunset", "dusk": "sunset", "evening": "sunset", "sunrise": "sunset", "dawn": "sunset",
    "twilight": "sunset", "golden hour": "sunset",
    "night": "night", "nighttime": "night", "midnight": "night", "starry": "night", "dark": "night",
}
STYLES = ("flat", "photo", "sketch", "watercolor", "cartoon", "pixel art", "3d render", "oil painting",
          "minimalist", "line art", "poster", "vintage")
LIGHT_DIRECTIONS = ("left", "right", "top", "none")

MAX_COUNT = 12

# Open-vocabulary nouns (category None) still need a habitat for layout: a few hints, ground otherwise.
OPEN_HABITAT_HINTS: dict[str, str] = {
    **{n: "sky" for n in ("airplane", "plane", "aeroplane", "helicopter", "drone", "butterfly", "bee",
                          "dragonfly", "rocket", "ufo", "eagle", "owl", "parrot", "bat", "blimp", "zeppelin",
                          "star", "planet", "rainbow", "lightning", "snowflake", "frisbee")},
    **{n: "water" for n in ("shark", "whale", "dolphin", "octopus", "jellyfish", "seahorse", "squid", "submarine")},
    **{n: "surface" for n in ("duck", "swan", "canoe", "kayak", "surfboard", "raft", "yacht", "ship", "ferry")},
}

# Where text goes on a text-carrying entity: a sub-box of the entity's box, in 0..1 of that box.
# Fixed per category (independent of the seed) and inside what the world renderer draws as the board.
TEXT_AREAS: dict[str, tuple[float, float, float, float]] = {
    "sign": (0.08, 0.08, 0.92, 0.54),  # the board; the post is below
    "banner": (0.14, 0.18, 0.86, 0.70),
    "poster": (0.10, 0.10, 0.90, 0.78),
}
DEFAULT_TEXT_AREA = (0.12, 0.2, 0.88, 0.8)

# Minimum legible glyph height (font size in px) at the native 256 px canvas; scales with canvas height.
MIN_FONT_PX_256 = 14
MAX_FONT_PX_256 = 40
