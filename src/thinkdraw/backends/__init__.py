"""Clients for real-model backends, shared by the stages that use them (think/llm.py, reflect/vlm.py, ...).

They import nothing of the stages: only the settings (thinkdraw.config) and the errors.
"""
