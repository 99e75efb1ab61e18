"""Removing a folder tree a learner's code shaped: however deep, whatever its modes.

``shutil.rmtree`` recurses once per level (RecursionError past about a thousand, which
``ignore_errors`` does not catch) and builds full paths (ENAMETOOLONG past PATH_MAX). A learner
makes a tree thousands of levels deep in a fraction of a second, renaming a folder into a new one
over and over. So each folder's subfolders are first moved up beside it, into the tree's root,
and only then is it removed: no path is ever more than two names below the root.
"""
from __future__ import annotations

import os
import stat

#: Prefix of the names subfolders get when moved up into the root.
_MOVED = ".grade-removing-"


def remove_tree(root: str) -> None:
    """Remove ``root`` and all it holds, as far as the file system lets this process; never
    raises (what cannot be removed stays)."""
    try:
        if stat.S_ISLNK(os.lstat(root).st_mode):
            os.unlink(root)  # a link is removed, never followed
            return
    except OSError:
        return
    pending = [root]
    moved = 0
    while pending:
        folder = pending.pop()
        _make_listable(folder)
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError:
            entries = []
        for entry in entries:
            try:
                if not entry.is_dir(follow_symlinks=False):
                    os.unlink(entry.path)
                    continue
                if folder == root:
                    pending.append(entry.path)
                    continue
                # (moving a folder to another parent rewrites its "..": it must be writable)
                _make_listable(entry.path)
                while True:  # up into the root, under a name nothing there has
                    moved += 1
                    target = os.path.join(root, f"{_MOVED}{moved}")
                    if not os.path.lexists(target):
                        break
                os.rename(entry.path, target)
                pending.append(target)
            except OSError:
                continue
        if folder != root:
            try:
                os.rmdir(folder)
            except OSError:
                pass
    try:
        os.rmdir(root)
    except OSError:
        pass  # what could not be removed stays


def _make_listable(folder: str) -> None:
    """A learner may have taken its own permissions away from a folder (chmod 000): give them
    back, as the owner may, so it can be listed and emptied."""
    try:
        mode = os.lstat(folder).st_mode
        if stat.S_ISDIR(mode) and mode & 0o700 != 0o700:
            os.chmod(folder, stat.S_IMODE(mode) | 0o700)
    except OSError:
        pass
