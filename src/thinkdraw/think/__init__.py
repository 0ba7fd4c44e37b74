"""thinkdraw.think"""
