"""Server-rendered pages for people: workers (`worker/`), requesters (`requester/`) and staff (`staff/`).

Views here are as thin as the API's: they read through `marketplace.selectors` (and the other apps' selectors) and
write through the same services the API calls; no rule lives in a view or a template. Templates extend
`web/base.html`; assets are vendored under `static/web/` (no CDN, no build step).
"""
