"""Public skill ids: the ids a taxonomy skill has in external frameworks, so HR systems can join on them.

A skill in a taxonomy may carry ``external_ids``::

    - id: critique_review
      ...
      external_ids:
        esco: [http://data.europa.eu/esco/skill/<uuid>]   # ESCO skill/competence or knowledge concept URIs
        onet: [2.A.2.a]                                    # O*NET content model element ids
        lightcast: [<id>]                                  # Lightcast Open Skills ids

Every list is optional. The formats checked:

* ``esco``: an ESCO concept URI, ``http://data.europa.eu/esco/skill/`` followed by the concept's UUID (lower-case
  hex, 8-4-4-4-12), exactly as ESCO publishes it (``conceptUri`` in the ESCO CSV downloads).
* ``onet``: an O*NET content model element id, such as ``2.A.2.a`` (Critical Thinking), ``2.B.3.e``
  (Programming), ``2.C.3.a`` (a knowledge area) or ``4.A.2.a.4`` (a generalized work activity); the intermediate
  and detailed work activity ids built on them (``4.A.2.a.4.I09``, ``4.A.2.a.4.I09.D02``) are accepted too.
  O*NET-SOC occupation codes (``15-2051.00``) are *not* skill ids and are refused.
* ``lightcast``: a Lightcast (formerly Emsi) Open Skills id, as Lightcast's Skills API returns it. Their exact
  format could not be checked against a public source when this was written, so the check is loose: 2 to 40
  letters and digits (no spaces, dashes or URLs).

The reports export them (``report.json`` ``skills``, ``skill_external_ids.csv``, the HTML "About" tab). Where the
ids of the shipped taxonomy come from: ``datasets/skills/EXTERNAL_IDS.md``.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

#: The frameworks a skill may name ids in, in export order.
FRAMEWORKS: tuple[str, ...] = ("esco", "onet", "lightcast")

_ESCO = re.compile(r"^http://data\.europa\.eu/esco/skill/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_ONET = re.compile(r"^[1-7]\.[A-Z](\.(?:[a-z]|[0-9]{1,2}))*(\.I[0-9]{2}(\.D[0-9]{2})?)?$")
_LIGHTCAST = re.compile(r"^[A-Za-z0-9]{2,40}$")


def _esco(value: str) -> str:
    if not _ESCO.match(value):
        raise ValueError(
            f"'{value}' is not an ESCO skill URI: use http://data.europa.eu/esco/skill/<uuid> "
            "(the concept's conceptUri as ESCO publishes it, lower-case)"
        )
    return value


def _onet(value: str) -> str:
    if not _ONET.match(value):
        raise ValueError(
            f"'{value}' is not an O*NET content model element id: use ids such as 2.A.2.a (Critical Thinking) "
            "or 4.A.2.a.4 (a work activity); O*NET-SOC occupation codes are not skill ids"
        )
    return value


def _lightcast(value: str) -> str:
    if not _LIGHTCAST.match(value):
        raise ValueError(
            f"'{value}' is not a Lightcast skill id: use the skill's id from Lightcast Open Skills "
            "(letters and digits only, as the Skills API returns it)"
        )
    return value


EscoUri = Annotated[str, AfterValidator(_esco)]
OnetElementId = Annotated[str, AfterValidator(_onet)]
LightcastId = Annotated[str, AfterValidator(_lightcast)]


class ExternalIds(BaseModel):
    """A skill's ids in ESCO, O*NET and Lightcast (each a tuple, empty when the skill has none there)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    esco: tuple[EscoUri, ...] = ()
    onet: tuple[OnetElementId, ...] = ()
    lightcast: tuple[LightcastId, ...] = ()

    def as_dict(self) -> dict[str, list[str]]:
        """``{framework: [ids]}`` for the frameworks that have ids (``{}`` when none)."""
        return {name: list(getattr(self, name)) for name in FRAMEWORKS if getattr(self, name)}

    def pairs(self) -> list[tuple[str, str]]:
        """``(framework, id)`` for every id, frameworks in :data:`FRAMEWORKS` order."""
        return [(name, value) for name in FRAMEWORKS for value in getattr(self, name)]

