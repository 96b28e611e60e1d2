"""crowdmarket: the project package (settings, urls, Celery app) and the core marketplace app."""

from marketplace.celery import app as celery_app

__all__ = ["celery_app"]
