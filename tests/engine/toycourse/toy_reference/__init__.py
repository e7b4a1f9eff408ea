"""A three-line reference for a toy sheet: proves the engine knows nothing of the bundled course."""
def scale(x, factor): return x * factor
def scale__forgot_factor(x, factor): return x
ANSWER = 42
