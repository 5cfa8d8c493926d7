"""An example tunegate plugin: an ``echo`` backend and a ``max_words`` scorer.

tunegate finds them through the entry points in this package's ``pyproject.toml``
(groups ``tunegate.models`` and ``tunegate.scorers``); importing this package is not
needed to use them.
"""
