"""Serve the dashboard: bundled pages, scripts and styles, no CDN, no internet.

Everything the browser loads lives under ``static/`` and ships in the wheel: ``index.html``,
``app.css``, the shell in ``js/`` (router, API calls, live stream, SVG charts, plant-time
formatting) and one ES module per page in ``pages/``. The API mounts :func:`static_app` at
``/`` after its ``/api/v1`` routes (see :func:`werk.api.create_app`), so the dashboard is at
``http://host:port/`` and calls the API on the same origin.

Adding a page (predictions, the data-sharing console, ...) takes a file and one line:

1. Write ``static/pages/<name>.js``, an ES module whose default export is a page::

       export default {
         id: "sharing",                 // the route: #/sharing/<rest...>
         title: "Data sharing",         // shown in the navigation and the tab title
         nav: true,                     // list it in the top navigation
         order: 70,                     // position in the navigation (lower first)
         async render(ctx, el, args) {  // fill `el`; `args` are the route's path segments
           const data = await ctx.api.get("/agreements");
           el.append(ctx.h("h1", {}, "Data sharing"), ...);
           return () => {};             // optional: called when the page is left
         },
       };

   ``ctx`` gives ``api`` (``get(route, params)``, ``post(route, body)``, ``stream(route,
   params, onMessage)`` — all with the caller's credentials), ``h`` (element builder),
   ``charts`` (line, timeline, bars, waterfall, pareto), ``fmt`` (numbers, percentages,
   plant-time formatting through ``ctx.fmt.time(ts, tz)``), ``tzOf(path)`` and ``go(hash)``.
2. Add one line to ``static/pages/index.js``: ``import sharing from "./sharing.js";`` and put
   ``sharing`` in the ``PAGES`` list.

Nothing else: the router, the navigation and the login wall pick the page up.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from starlette.staticfiles import StaticFiles

__all__ = ["STATIC", "static_app"]

STATIC = Path(str(files("werk.web") / "static"))
"""Folder of the dashboard's files (inside the installed package)."""


def static_app() -> StaticFiles:
    """Return the ASGI app serving the dashboard (``index.html`` at ``/``)."""
    return StaticFiles(directory=STATIC, html=True)
