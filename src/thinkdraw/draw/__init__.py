"""thinkdraw.draw"""
