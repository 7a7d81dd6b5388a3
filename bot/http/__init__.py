"""The HTTP front end: ``python -m bot serve`` (see docs/http.md).

Like the console and Telegram it renders the one answer core (``retrieval.AnswerEngine``):

* ``app.py``: the FastAPI application, built around one engine and a bounded worker pool;
* ``service.py``: the engine in worker threads, timeouts, switching to new index versions;
* ``guard.py``: API keys, per-key rate limits, body size (a pure ASGI middleware);
* ``api.py`` (``/api``), ``dify.py`` (``/retrieval``), ``openai_compat.py`` (``/v1``),
  ``pages.py`` (the web page in ``static/``); ``models.py`` the request/response types;
  ``markdown.py`` an answer as Markdown, in the order of :mod:`bot.answer_layout`;
* ``cli.py``: the ``serve`` command's options and runner.
"""
