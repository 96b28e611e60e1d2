"""What an operator watches: request ids (django-guid, wired in settings), Prometheus metrics (`metrics`), Celery's
share of both (`celery`) and optional Sentry (`sentry`). Nothing here holds a business rule."""
