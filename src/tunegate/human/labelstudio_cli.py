"""``tunegate human push`` and ``tunegate human pull``: a study's round trip through a
running Label Studio, over its REST API (:mod:`tunegate.human.labelstudio`).

The token comes from ``$LABEL_STUDIO_API_KEY`` only: never an option (it would land in
the shell's history), never printed, never stored."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from tunegate.errors import TunegateError
from tunegate.human.cli import DEFAULT_STORE, StoreOpt, _errors, _need_store, human_app, out
from tunegate.human.labelstudio import TOKEN_ENV, LabelStudio

UrlOpt = Annotated[
    str,
    typer.Option(
        "--label-studio",
        help=f"Label Studio's address, e.g. http://localhost:8080 (the token comes from "
        f"${TOKEN_ENV}).",
    ),
]


def _client(url: str) -> LabelStudio:
    token = os.environ.get(TOKEN_ENV, "")
    if not token.strip():
        raise TunegateError(
            f"${TOKEN_ENV} is not set: set it to a Label Studio access token (Account & "
            "Settings > Personal Access Token, or a legacy token)"
        )
    return LabelStudio(url, token)


@human_app.command("push")
def push(
    study: str,
    label_studio: UrlOpt,
    title: Annotated[
        str | None, typer.Option(help="The project's title (default: the study's name).")
    ] = None,
    store: StoreOpt = DEFAULT_STORE,
) -> None:
    """Create a Label Studio project for a study (its labeling config) and import its
    tasks; annotators log in to Label Studio with their study names as emails."""
    from tunegate.human.exchange import export_labelstudio
    from tunegate.human.store import HumanStore

    with _errors():
        _need_store(store)
        with HumanStore(store) as hs:
            info = hs.study(study)
            exported = export_labelstudio(hs.items(study), info.criteria)
        name = title or f"tunegate {study}"
        with _client(label_studio) as ls:
            project = ls.create_project(
                name[:50], exported["label_config"], description=f"tunegate study {study}"
            )
            count = ls.import_tasks(project, exported["tasks"])
            url = ls.url
    out.print(
        f"Created Label Studio project {project} ({url}/projects/{project}/) with {count} tasks"
    )
    out.print(
        f"When the votes are in: tunegate human pull {study} --label-studio {url} "
        f"--project {project}",
        soft_wrap=True,
    )


@human_app.command("pull")
def pull(
    study: str,
    label_studio: UrlOpt,
    project: Annotated[int, typer.Option(help="The Label Studio project's id.")],
    store: StoreOpt = DEFAULT_STORE,
) -> None:
    """Import a Label Studio project's annotations into a study: its JSON export, with the
    user ids mapped to the annotators' emails through Label Studio's user list. Pulling
    again replaces each vote with its latest value."""
    from tunegate.human.exchange import import_labelstudio_tasks, users_from_list
    from tunegate.human.store import HumanStore

    with _errors():
        _need_store(store)
        with HumanStore(store) as hs:
            info = hs.study(study)
            items = hs.items(study)
            annotators = hs.annotators(study)
        with _client(label_studio) as ls:
            tasks = ls.export(project)
            users = users_from_list(ls.users(), f"{ls.url}/api/users/")
            where = f"Label Studio project {project} ({ls.url})"
        votes = import_labelstudio_tasks(tasks, where, items, annotators, info.criteria, users)
        with HumanStore(store) as hs:
            hs.record_votes(study, votes)
    people = len({v.annotator for v in votes})
    out.print(
        f"Pulled {len(votes)} votes by {people} annotators on {len(tasks)} tasks from Label "
        f"Studio project {project} into study {study}"
    )
