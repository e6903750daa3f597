"""``file:PATH``: the token lands in a file that a sidecar, a script or an operator picks up.

The file is replaced atomically (write a private temporary file in the same directory, fsync,
rename over the old one), so a reader sees the old token or the new one, never half of either,
and it is created with mode 0600 from the first byte. A path ending in ``.json`` receives
``{"token", "id", "expires_at", "endpoint_url"}``; any other path just the token and a newline,
ready for ``$(cat PATH)``. Missing directories are created, private to this user.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from connectors.delivery.message import TokenDelivery
from connectors.outbound.errors import DeliveryRefusedError, DeliveryUnavailableError

FILE_MODE = 0o600


class FileSink:
    def __init__(self, path: str) -> None:
        self.path = Path(path).expanduser().absolute()

    def content(self, delivery: TokenDelivery) -> bytes:
        if self.path.suffix == ".json":
            return (json.dumps(delivery.to_json(), indent=2) + "\n").encode()
        return (delivery.token + "\n").encode()

    def deliver(self, delivery: TokenDelivery) -> None:
        folder = self.path.parent
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(
                dir=folder, prefix=f".{self.path.name}.", suffix=".tmp"
            )
        except OSError as exc:
            raise _failure(f"file sink: cannot write in {folder}", exc) from exc
        try:
            with os.fdopen(fd, "wb") as handle:
                os.fchmod(handle.fileno(), FILE_MODE)
                handle.write(self.content(delivery))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except OSError as exc:
            Path(temporary).unlink(missing_ok=True)
            raise _failure(f"file sink: cannot replace {self.path}", exc) from exc
        self._sync_folder(folder)

    @staticmethod
    def _sync_folder(folder: Path) -> None:
        """Make the rename itself durable, so a power cut cannot bring the old token back."""
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _failure(message: str, exc: OSError) -> DeliveryRefusedError | DeliveryUnavailableError:
    """A path or permission problem needs an operator; anything else (a full disk) may pass."""
    text = f"{message}: {exc.strerror}"
    if isinstance(exc, PermissionError | FileExistsError | NotADirectoryError | IsADirectoryError):
        return DeliveryRefusedError(text)
    return DeliveryUnavailableError(text)
