"""Helpers every app may use, below all of them: what the database can store (`storable`), how a cell is written
to a spreadsheet (`spreadsheets`), and the API field that holds JSON to the first rule (`fields`).

No models, no settings, no app imports: `lint-imports` keeps `common` under `payments` in the layers.
"""
