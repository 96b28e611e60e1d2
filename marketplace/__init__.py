"""crowdmarket: the project package (settings, urls, Celery app) and the core marketplace app.

The Celery app is loaded by `MarketplaceConfig.ready()`, not here, so that importing the pure aggregation
engine (`marketplace.aggregation`) loads neither Django nor Celery.
"""
