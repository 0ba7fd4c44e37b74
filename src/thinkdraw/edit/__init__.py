"""thinkdraw.edit"""
