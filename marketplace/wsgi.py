import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
application = get_wsgi_application()

# Load every view now: a broken import then stops the server at start instead of failing requests, and no worker's
# first request pays for the imports. Then take what start-up allocated out of the garbage collector's sight
# (`gc.freeze`): those objects live as long as the process, and a full collection, rare but in the middle of some
# request, walked all of them (about 140,000: some 50 ms of CPU here).
get_resolver().url_patterns  # noqa: B018 -- the access imports the URLconf and its views
gc.freeze()
