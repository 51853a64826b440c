def score(sample, item):
    return 1.0
