"""One ASGI app per framework for ``benchmarks/gee_http.py``, each as ``http_apps.<module>:app``.

Every app serves the same two routes and nothing else, written the way that framework's
documentation writes them, so the benchmark compares frameworks rather than tricks:

* ``GET /plaintext`` answers ``Hello, World!`` as ``text/plain``;
* ``GET /users/{id}`` answers ``{"id": <id as a string>, "name": "gee"}`` as ``application/json``.

No app adds middleware, logging or debug mode; uvicorn's access log is off as well.
"""
