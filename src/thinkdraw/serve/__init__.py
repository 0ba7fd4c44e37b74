"""thinkdraw.serve"""
