"""thinkdraw.eval"""
