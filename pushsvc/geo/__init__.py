"""Municipal boundaries and the one question everything asks: which municipality is this point in?"""
