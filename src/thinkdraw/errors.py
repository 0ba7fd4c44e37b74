"""Errors any stage may raise that a front end turns into one clear line (the CLI, the coming server).

They sit below every stage folder (plan, think, draw, reflect, eval, ...) and import nothing of thinkdraw.
"""

from __future__ import annotations


class MissingToolError(RuntimeError):
    """An external program a command needs is not installed (e.g. Tesseract for the eval's text judge)."""

    def __init__(self, tool: str, install: str, needed_for: str) -> None:
        self.tool, self.install, self.needed_for = tool, install, needed_for
        super().__init__(f"{tool} is not installed; {needed_for} needs it ({install})")


class ToolTimeoutError(RuntimeError):
    """An external program did not answer in time."""

    def __init__(self, tool: str, seconds: float) -> None:
        self.tool, self.seconds = tool, seconds
        super().__init__(f"{tool} did not answer within {seconds:g} s")


class BackendError(RuntimeError):
    """A real-model backend (an LLM or VLM server, a diffusers checkpoint) failed after its retry, or is
    missing what it needs: one line saying what, where and what to do."""
