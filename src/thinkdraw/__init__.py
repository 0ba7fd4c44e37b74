"""thinkdraw: reasoning-first image generation and editing (think, plan, draw, reflect, refine, edit)."""

__version__ = "0.1.0"

__all__ = ["Engine", "GenerateResult", "__version__"]


def __getattr__(name: str):
    if name in ("Engine", "GenerateResult"):  # lazy: `import thinkdraw` stays light (no torch)
        from thinkdraw import engine

        return getattr(engine, name)
    raise AttributeError(name)
