"""``from tunegate import load_config, run, RunOptions`` works, as the README writes it
(issue 20), and ``import tunegate`` alone still imports neither the config schema nor the
pipeline (they load on first use of one of those names)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap


def test_the_readme_names_import_from_the_package_lazily() -> None:
    script = textwrap.dedent(
        """
        import json, sys
        import tunegate
        before = sorted(m for m in ("tunegate.config", "tunegate.pipeline.flow", "pydantic")
                        if m in sys.modules)
        from tunegate import RunOptions, load_config, run
        import tunegate.config, tunegate.pipeline.flow
        print(json.dumps({
            "before": before,
            "same": [load_config is tunegate.config.load_config,
                     run is tunegate.pipeline.flow.run,
                     RunOptions is tunegate.pipeline.flow.RunOptions],
            "listed": [n in dir(tunegate) and n in tunegate.__all__
                       for n in ("load_config", "run", "RunOptions")],
        }))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found == {"before": [], "same": [True, True, True], "listed": [True, True, True]}


def test_readme_shows_that_import() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert "from tunegate import load_config, run, RunOptions" in readme
