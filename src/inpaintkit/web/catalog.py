"""The models a web server offers, loaded lazily (once per name) and shared read-only.

A request names a model from a fixed list built when the app is created (asked from
:func:`inpaintkit.inference.available_models`): ``default``, the classical ``telea`` /
``ns`` / ``smooth``, every registry network (listed as *untrained*: without a
checkpoint they load with random weights) and any module injected by the caller (tests,
embedding applications). A request can never name a file-system path: the only path that
reaches a loader is the operator's ``--model PATH``, which is loaded (and so checked) when
the app is created and listed as ``file:<name>``.

Each name is loaded by an :class:`~inpaintkit.inference.Inpainter` the first time it is
asked for, under a per-name lock so that concurrent first requests load it once. Requests
never use that cached Inpainter directly: :meth:`ModelCatalog.inpainter` hands out a
shallow copy, so the per-call attributes an Inpainter keeps (``notes``,
``last_strategy``, ``strategy``) are private to the request while the weights are shared.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
from pathlib import Path
from typing import Any

from inpaintkit.errors import InpaintError, LoadFailed, NotFound
from inpaintkit.inference import STRATEGIES, Inpainter, available_models, check_generator
from inpaintkit.inference import ModelChoice as ModelInfo  # one entry of GET /api/models

logger = logging.getLogger(__name__)


class UnknownModel(NotFound):
    """A request named a model that is not in the list, or one without weights (HTTP 404)."""


class ModelLoadError(LoadFailed):
    """A listed model could not be loaded (a server-side problem: HTTP 500)."""


class ModelCatalog:
    """Names -> lazily loaded, cached Inpainters (see the module docstring).

    ``default``: the model used when a request names none: a listed name, or a checkpoint
    folder / ``.safetensors`` / ``.onnx`` path given by the operator (loaded now).
    ``extra``: name -> module following the generator protocol (added to the list, and
    replacing a listed entry of the same name).
    """

    def __init__(
        self,
        default: str | os.PathLike = "default",
        extra: dict[str, Any] | None = None,
        device: str = "auto",
        max_pixels: int | None = None,
    ) -> None:
        self.device = device
        self.max_pixels = max_pixels
        self._infos: dict[str, ModelInfo] = {}
        self._sources: dict[str, Any] = {}
        for choice in available_models():
            self._add(choice, choice.name)
        for name, module in (extra or {}).items():
            try:
                check_generator(module)
            except InpaintError as exc:
                raise InpaintError(f"injected model '{name}': {exc}") from None
            self._add(
                ModelInfo(name, "injected", module.pluralistic, False,
                          f"{type(module).__name__} (given to the server)"),
                module,
            )
        self._cache: dict[str, Inpainter] = {}
        self._locks = {name: threading.Lock() for name in self._infos}
        key = os.fspath(default)
        if key in self._infos:
            self.default = key
        else:
            self.default = self._add_file(Path(key))

    def _add(self, info: ModelInfo, source: Any) -> None:
        self._infos[info.name] = info
        self._sources[info.name] = source

    def _add_file(self, path: Path) -> str:
        """The operator's checkpoint / ONNX path: loaded now, so a bad path fails at start."""
        if not path.exists():
            known = ", ".join(self._infos)
            raise InpaintError(f"unknown model '{path}': not a model name ({known}) nor an existing path")
        name = f"file:{path.name}"
        base = self._make(os.fspath(path), name)
        info = ModelInfo(name, "file", base.pluralistic, False, f"{base.model_name} loaded from {path.name}")
        self._add(info, os.fspath(path))
        self._cache[name] = base
        self._locks[name] = threading.Lock()
        return name

    # --- queries -------------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        return list(self._infos)

    def __contains__(self, name: object) -> bool:
        return name in self._infos

    def info(self, name: str) -> ModelInfo:
        if name not in self._infos:
            raise UnknownModel(f"unknown model '{name}' (available: {', '.join(self._infos)})")
        return self._infos[name]

    def infos(self) -> list[ModelInfo]:
        return list(self._infos.values())

    def loaded(self) -> list[str]:
        return [name for name in self._infos if name in self._cache]

    # --- loading -------------------------------------------------------------------------

    def _make(self, source: Any, name: str) -> Inpainter:
        try:
            return Inpainter(source, device=self.device, max_pixels=self.max_pixels)
        except NotFound as exc:  # e.g. a network without trained weights
            raise UnknownModel(f"cannot use model '{name}': {exc}") from None
        except InpaintError as exc:
            raise ModelLoadError(f"cannot load model '{name}': {exc}") from None

    def _load(self, name: str) -> Inpainter:
        self.info(name)
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        with self._locks[name]:
            # Another request may have loaded it while this one waited for the lock.
            cached = self._cache.get(name)
            if cached is None:
                logger.info("loading model %s", name)
                cached = self._make(self._sources[name], name)
                self._cache[name] = cached
        return cached

    def inpainter(self, name: str, strategy: str = "auto") -> Inpainter:
        """A request-private Inpainter for ``name`` (loads the model on first use).

        Blocking (loading can take seconds): call it from a worker thread.
        """
        if strategy not in STRATEGIES:
            raise InpaintError(f"unknown strategy '{strategy}' (use one of {', '.join(STRATEGIES)})")
        worker = copy.copy(self._load(name))
        worker.strategy = strategy
        worker.notes = []
        worker.last_strategy = None
        return worker
