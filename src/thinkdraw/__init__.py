"""thinkdraw: reasoning-first image generation and editing (think, plan, draw, reflect, refine, edit)."""

__version__ = "0.1.0"
