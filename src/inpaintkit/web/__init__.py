"""The local web app: ``inpaintkit serve`` (FastAPI + uvicorn) and its single page.

* :mod:`inpaintkit.web.app` - ``create_app(model="default", ...)``, the endpoints;
* :mod:`inpaintkit.web.jobs` - one request's work (decode, check, inpaint, encode);
* :mod:`inpaintkit.web.schemas` - response bodies and documented statuses (OpenAPI);
* :mod:`inpaintkit.web.defaults` - the default limits (shared with ``inpaintkit serve``);
* :mod:`inpaintkit.web.catalog` - the model names a request may use, loaded lazily;
* :mod:`inpaintkit.web.limits` - bounded work queue, upload limit, origin check, headers;
* ``static/`` - ``index.html``, ``app.js``, ``style.css`` (plain JS + canvas, no build step).
"""
