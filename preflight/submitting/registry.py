"""One entry per provider: everything the rest of preflight needs to know about it.

`submit`, `resume`, `animate`, `status`, `tasks`, the CLI's ``--provider`` choices, the batch's
concurrency default and the library's "which provider is this client?" all read this table. Adding
a provider is an entry here, a client in `preflight.client`, an adapter in
`preflight.submitting.providers` and a profile in ``rules/`` declaring ``provider = "NAME"`` and
``default_for = ["text", "audio"]`` (or one profile per mode): nothing else. Which profile a
mode is checked against is written only there (`preflight.rules.profiles.default_profile`, which
``check --jobs`` reads too); ``tests/test_registry_defaults.py`` fails when the two disagree.

Client and adapter classes are named as ``module:Class`` and imported on first use, so reading the
table (for ``--help``, say) stays light.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from preflight.model.errors import ConfigError, ProviderMismatchError

if TYPE_CHECKING:
    from preflight.submitting.providers import Provider

__all__ = [
    "PROVIDERS",
    "REGISTRY",
    "ProviderEntry",
    "entry",
    "entry_for_client",
    "make_provider",
    "providers_for_task_id",
]


@dataclass(frozen=True, slots=True)
class ProviderEntry:
    """What preflight knows about one provider.

    ``profiles`` maps a lip-sync mode (``text``/``audio``) to the profile checked by default, as
    the shipped profiles declare it (``default_for``); an ``advanced`` one says the provider
    offers advanced lip-sync (``submit --advanced``).
    ``inline`` names the roles a local file may be sent for inline (base64 in the create body);
    ``uploads`` says whether the provider has its own upload endpoint. Any other local file needs
    ``--upload-to`` (S3). ``concurrency`` is the batch default (tasks holding a slot at once).
    ``task_id`` is the shape of the provider's task ids (for `preflight status` without
    ``--provider``). ``task_kinds`` are the endpoints `status`/`tasks` can look a task up on;
    ``can_list`` says whether the API lists tasks at all. (Neither provider documents a way to
    cancel a task; see `preflight.submitting.admin`.)
    ``result_days`` is how long the provider keeps a result file (None: not documented), with
    ``result_days_source`` saying where that is written; ``billed_unit`` names what the task's
    reported charge (`Task.cost_units`) counts, e.g. Kling's resource-pack units.
    """

    name: str
    title: str
    client: str
    adapter: str
    inline: frozenset[str] = frozenset()
    uploads: bool = False
    concurrency: int = 3
    task_id: re.Pattern[str] = field(default=re.compile(r".+"))
    task_kinds: tuple[str, ...] = ("lip-sync",)
    can_list: bool = False
    can_cancel: bool = False  # the adapter's `cancel(task_id)` asks the provider to stop a task
    result_days: float | None = None
    result_days_source: str = ""
    billed_unit: str = ""

    @property
    def profiles(self) -> Mapping[str, str]:
        """The default profile by mode, read from the shipped profiles' ``default_for``."""
        from preflight.rules.profiles import default_profiles

        return default_profiles(self.name)

    def profile(self, mode: str) -> str:
        """The default profile for ``mode`` (``text``, ``audio`` or ``advanced``)."""
        from preflight.rules.profiles import default_profile

        return default_profile(self.name, mode)

    def hosting(self, role: str, *, upload_to: bool) -> str | None:
        """How a local file for ``role`` reaches the provider: ``inline``, ``s3`` (the user's
        ``--upload-to``), ``upload`` (the provider's own endpoint), or None (no way)."""
        if role in self.inline and not upload_to:
            return "inline"
        if upload_to:
            return "s3"
        return "upload" if self.uploads else None

    def client_class(self) -> type[Any]:
        found: type[Any] = _load(self.client)
        return found

    def make_client(self, **kwargs: Any) -> Any:
        """A client configured from ``kwargs`` and the environment."""
        return self.client_class()(**kwargs)

    def adapt(self, client: Any) -> Provider:
        """The pipeline's `Provider` over ``client``."""
        adapter: Provider = _load(self.adapter)(client)
        return adapter


def _load(target: str) -> Any:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


REGISTRY: Mapping[str, ProviderEntry] = MappingProxyType(
    {
        "kling": ProviderEntry(
            name="kling",
            title="Kling",
            client="preflight.client.kling:KlingClient",
            adapter="preflight.submitting.providers:KlingProvider",
            inline=frozenset({"audio"}),  # audio_file: raw base64
            uploads=False,
            concurrency=3,  # a resource pack allows a few tasks at once; more only earns 1303s
            task_id=re.compile(r"\d{6,}"),  # long numeric strings
            task_kinds=("lip-sync", "image2video", "advanced-lip-sync"),
            can_list=True,
            result_days=30,
            result_days_source="KL-EN: result files are deleted after 30 days",
            billed_unit="units",  # final_unit_deduction: resource-pack units, not money
        ),
        "wavespeed": ProviderEntry(
            name="wavespeed",
            title="WaveSpeedAI",
            client="preflight.client.wavespeed:WaveSpeedClient",
            adapter="preflight.submitting.providers:WaveSpeedProvider",
            uploads=True,  # POST /api/v3/media/uploads + PUT; older hosts: /media/upload/binary
            concurrency=5,
            # 32 hex digits, or the same as a dashed UUID
            task_id=re.compile(
                r"[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                re.IGNORECASE,
            ),
            task_kinds=("lip-sync",),
            can_list=False,  # no listing: a lost submit answer cannot be found again
        ),
        "fal": ProviderEntry(
            name="fal",
            title="fal",
            client="preflight.client.fal:FalClient",
            adapter="preflight.submitting.providers:FalProvider",
            uploads=True,  # fal's CDN: POST /storage/auth/token, then POST /files/upload
            concurrency=3,  # fal publishes no per-key figure for this model: Kling's own default
            # request ids are dashed UUIDs, which WaveSpeed's pattern also takes: `status ID`
            # without --provider finds fal's in the ledger, else asks which of the two it is
            task_id=re.compile(
                r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE
            ),
            task_kinds=("lip-sync",),
            can_list=False,  # the queue API looks a request up by its id only
            can_cancel=True,  # PUT .../requests/{id}/cancel
        ),
    }
)

PROVIDERS: tuple[str, ...] = tuple(REGISTRY)


def entry(name: str) -> ProviderEntry:
    """The entry for ``name``; ConfigError naming the known ones otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown provider {name!r}; known: {', '.join(PROVIDERS)}") from None


def entry_for_client(client: Any, provider: str | None = None) -> ProviderEntry:
    """The entry whose client ``client`` is; with ``provider`` given, it must agree.

    Raises `ProviderMismatchError` for an object that is no known client, or a client of another
    provider than the one named: found before anything is written or sent.
    """
    for candidate in REGISTRY.values():
        if isinstance(client, candidate.client_class()):
            if provider is not None and provider != candidate.name:
                raise ProviderMismatchError(
                    f"provider={provider!r} was given a {type(client).__name__}, which talks "
                    f"to {candidate.name}: pass provider={candidate.name!r} or a "
                    f"{entry(provider).client_class().__name__}"
                )
            return candidate
    known = ", ".join(e.client.rpartition(":")[2] for e in REGISTRY.values())
    raise ProviderMismatchError(f"client must be one of {known}, not {type(client).__name__}")


def make_provider(name: str, **client_kwargs: Any) -> Provider:
    """A provider adapter with a client configured from ``client_kwargs`` and the environment."""
    found = entry(name)
    return found.adapt(found.make_client(**client_kwargs))


def providers_for_task_id(task_id: str) -> list[ProviderEntry]:
    """The providers whose task ids look like ``task_id`` (none, one, or several)."""
    return [e for e in REGISTRY.values() if e.task_id.fullmatch(task_id)]
