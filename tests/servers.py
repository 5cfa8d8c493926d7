"""The loopback servers of the test-suite, from :mod:`tunegate.testing.servers`.

``tests/`` is not a package: pytest puts it on ``sys.path`` (``pythonpath = ["tests"]``
in pyproject.toml), so test modules in any of its folders import this file as ``servers``. As a script it runs a server in the foreground::

    python tests/servers.py openai --port 0 --latency-ms 50
"""

from __future__ import annotations

from tunegate.testing.servers import (
    ACTIONS,
    GOOD_ACTIONS,
    NEGATIVE_WORDS,
    POSITIVE_WORDS,
    Answer,
    FaultPlan,
    RequestLog,
    classify_app,
    keyword_sentiment,
    last_user_text,
    main,
    openai_app,
    sentiment_answer,
    serve,
)

__all__ = [
    "ACTIONS",
    "GOOD_ACTIONS",
    "NEGATIVE_WORDS",
    "POSITIVE_WORDS",
    "Answer",
    "FaultPlan",
    "RequestLog",
    "classify_app",
    "keyword_sentiment",
    "last_user_text",
    "main",
    "openai_app",
    "sentiment_answer",
    "serve",
]

if __name__ == "__main__":
    main()
