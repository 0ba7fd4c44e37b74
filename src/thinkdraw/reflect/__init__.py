"""thinkdraw.reflect"""
