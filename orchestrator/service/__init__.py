"""``orch serve``: the HTTP API (``app``), its keys (``keys``) and its run queue (``queue``).

The only package of orch that imports FastAPI and uvicorn (besides ``dropboxmini``).
"""
