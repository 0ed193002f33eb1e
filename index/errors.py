"""The errors the index raises for a user to act on, in one place so front ends catch one base class.

`IndexProblem` is the base: the message is written for the user (what is wrong and the command that fixes
it), and front ends show it as is (`newsdesk` exits with status 1, /reindex and /add reply with it).
Errors that belong to one step stay with the module that raises them: `fetching.FetchError` (web fetches),
`loaders.DocumentError` (a file that cannot be read; skipped and reported, never raised out of an index run),
`feeds.FollowError`, `feed_articles.ArticleError`, `politeness.RobotsRefused`; `backup.BackupError` is an
`IndexProblem`.
"""
from __future__ import annotations


class IndexProblem(RuntimeError):
    """A user-facing problem with the index (damaged, built with another model, locked by another writer,
    no corpus folder)."""


class IndexDamaged(IndexProblem):
    """The index on disk fails its checks; `newsdesk index --rebuild` (or a restore) makes a new one."""


class ModelMismatch(IndexProblem):
    """The index was built with another embedding model than the one configured."""


class IndexLocked(IndexProblem):
    """Another writer holds the index lock longer than NEWSDESK_LOCK_TIMEOUT."""
