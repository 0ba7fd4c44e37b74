"""thinkdraw.models"""
