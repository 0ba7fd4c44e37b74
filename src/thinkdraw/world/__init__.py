"""thinkdraw.world"""
