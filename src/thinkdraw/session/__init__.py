"""Sessions: conversations kept as a tree of turns (SQLite + images stored by hash), a stage above the Engine.

    from thinkdraw.session import Session
"""

from thinkdraw.session.store import Session, SessionError, SessionStore, TurnOutcome, default_data_dir

__all__ = ["Session", "SessionError", "SessionStore", "TurnOutcome", "default_data_dir"]
