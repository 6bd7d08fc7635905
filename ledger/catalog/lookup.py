"""Find a chemical by what a person types: its id, CAS number, UN number or name. Pure.

Events name a chemical by its catalog code (``"26"``, or a form ``"26.3"``); people know it
by a CAS number (``7697-37-2``), a UN number (``UN2032``, ``2032``) or a name in Chinese or
English (``硝酸``, ``Nitric acid``, an alias in the name like ``液氯``). :class:`ChemicalLookup`
answers every spelling with the chemical's ``seq`` (stable across catalog versions: a
version keeps its predecessor's numbering), or says that the text matches none, or several.

Matching, in order, stops at the first rule that matches anything:

1. a catalog code (``26``, ``26.3``);
2. a CAS number, the main one or an alternative (the check digit is not required to be
   right: a mistyped one matches nothing);
3. a UN number (``UN1017``, ``un 1017``, ``1017``): every chemical with a form under it;
4. a whole name, or one of the aliases a name lists (``氯(液氯、氯气)`` is also ``液氯``
   and ``氯气``), compared after Unicode NFKC folding and case folding;
5. a part of a name (``汽油`` in ``甲醇汽油``), for names at least two characters long.

A UN number can cover several chemicals, and a part of a name usually does: the answer is
then :class:`AmbiguousChemicalError` with the candidates, for the caller to choose from.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from ledger.catalog.model import Catalog, Chemical, ChemicalForm
from ledger.catalog.registry import CatalogRegistry
from ledger.errors import InvalidInputError

_CODE: Final = re.compile(r"([1-9][0-9]{0,2})(?:\.([1-9][0-9]{0,2}))?")
_CAS: Final = re.compile(r"[0-9]{2,7}-[0-9]{2}-[0-9]")
_UN: Final = re.compile(r"(?:UN)?\s*([0-9]{4})", re.IGNORECASE)
_SEPARATORS: Final = re.compile(r"[()\[\]、,，;；/]|\s+or\s+")
_MIN_PART: Final = 2
"""Shorter texts match a name only whole (``氯`` is chlorine, not every chloride)."""


class UnknownChemicalQueryError(InvalidInputError):
    """The text matches no chemical of the catalog."""

    code = "unknown_chemical"


class AmbiguousChemicalError(InvalidInputError):
    """The text matches several chemicals; ``candidates`` lists them (seq, names, CAS)."""

    code = "ambiguous_chemical"

    def __init__(
        self, message: str, *, candidates: list[dict[str, object]], **context: object
    ) -> None:
        super().__init__(message, **context)
        self.candidates = candidates


@dataclass(frozen=True, slots=True)
class ChemicalNames:
    """What to show beside a chemical code: its names, CAS and (for one form) UN number."""

    seq: int
    name_cn: str
    name_en: str
    cas: str
    un: str | None
    """``UN…`` of the form the code names, or of the chemical's only form; else ``None``."""


def fold(text: str) -> str:
    """Text as it is compared: NFKC (full-width to half-width), case-folded, trimmed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def aliases(chemical: Chemical) -> frozenset[str]:
    """The names a chemical is known by: its whole names and the parts they list."""
    found = {fold(chemical.name_cn), fold(chemical.name_en)}
    for name in (chemical.name_cn, chemical.name_en):
        for part in _SEPARATORS.split(unicodedata.normalize("NFKC", name)):
            part = fold(part).removeprefix("含")  # 汽油(含甲醇汽油…): "including …"
            if part:
                found.add(part)
    return frozenset(found)


class ChemicalLookup:
    """Every chemical of every catalog version, findable by code, CAS, UN number or name.

    A chemical's names come from the newest version that has it.
    """

    def __init__(self, catalogs: CatalogRegistry | Iterable[Catalog]) -> None:
        self._chemicals: dict[int, Chemical] = {}
        self._forms: dict[int, dict[str, ChemicalForm]] = {}
        for catalog in catalogs:  # oldest first: newer names overwrite
            for chemical in catalog.chemicals:
                self._chemicals[chemical.seq] = chemical
                forms = self._forms.setdefault(chemical.seq, {})
                for form in catalog.forms_of(chemical.seq):
                    forms[form.form_id] = form
        self._cas: dict[str, set[int]] = {}
        self._un: dict[str, set[int]] = {}
        self._aliases: dict[str, set[int]] = {}
        for seq, chemical in self._chemicals.items():
            for cas in (chemical.cas, *chemical.cas_alt):
                if cas:
                    self._cas.setdefault(cas, set()).add(seq)
            for form in self._forms[seq].values():
                self._un.setdefault(form.un_number, set()).add(seq)
            for alias in aliases(chemical):
                self._aliases.setdefault(alias, set()).add(seq)

    def chemical(self, seq: int) -> Chemical | None:
        return self._chemicals.get(seq)

    def forms(self, seq: int) -> tuple[ChemicalForm, ...]:
        return tuple(self._forms.get(seq, {}).values())

    def codes(self, seq: int) -> frozenset[str]:
        """Every code an event may name the chemical by: ``"26"`` and each form's id."""
        return frozenset({str(seq), *self._forms.get(seq, {})})

    def find(self, text: str) -> tuple[int, ...]:
        """The seqs of the chemicals ``text`` names (by the first rule that matches any)."""
        query = fold(text)
        if not query:
            return ()
        code = _CODE.fullmatch(query)
        if code is not None:
            seq = int(code.group(1))
            known = seq in self._chemicals and (
                code.group(2) is None or query in self._forms.get(seq, {})
            )
            return (seq,) if known else ()
        if _CAS.fullmatch(query):
            return tuple(sorted(self._cas.get(query, ())))
        un = _UN.fullmatch(query)
        if un is not None:
            return tuple(sorted(self._un.get(un.group(1), ())))
        if query in self._aliases:
            return tuple(sorted(self._aliases[query]))
        if len(query) < _MIN_PART:
            return ()
        return tuple(
            sorted({seq for alias, seqs in self._aliases.items() if query in alias for seq in seqs})
        )

    def resolve(self, text: str, *, field: str = "chemical") -> int:
        """The one chemical ``text`` names.

        Raises:
            UnknownChemicalQueryError: it names none.
            AmbiguousChemicalError: it names several (``candidates`` lists them).
        """
        found = self.find(text)
        if not found:
            raise UnknownChemicalQueryError(
                f"no chemical in the catalog is called or numbered {text!r}", field=field,
                value=text,
            )  # fmt: skip
        if len(found) > 1:
            raise AmbiguousChemicalError(
                f"{text!r} names {len(found)} chemicals; name one by its id or CAS number",
                candidates=[self.candidate(seq) for seq in found], field=field, value=text,
            )  # fmt: skip
        return found[0]

    def candidate(self, seq: int) -> dict[str, object]:
        """A chemical as listed among the candidates of an ambiguous text."""
        chemical = self._chemicals[seq]
        return {
            "chemical": str(seq),
            "name": chemical.name_cn,
            "name_en": chemical.name_en,
            "cas": chemical.cas or None,
            "un": sorted({form.un for form in self._forms[seq].values()}),
        }

    def names(self, code: str | None) -> ChemicalNames | None:
        """The names of the chemical an event's ``code`` (``"26"`` or ``"26.3"``) names."""
        match = _CODE.fullmatch(code or "")
        if match is None:
            return None
        seq = int(match.group(1))
        chemical = self._chemicals.get(seq)
        if chemical is None:
            return None
        forms = self._forms[seq]
        form = forms.get(code or "") if match.group(2) else None
        if form is None and match.group(2) is None and len(forms) == 1:
            form = next(iter(forms.values()))
        return ChemicalNames(
            seq=seq, name_cn=chemical.name_cn, name_en=chemical.name_en, cas=chemical.cas,
            un=None if form is None else form.un,
        )  # fmt: skip
