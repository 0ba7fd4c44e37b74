"""thinkdraw.train"""
