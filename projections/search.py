"""Search: one index of the people a grantee's lists are searched by (participants, mentors).

A row holds a person's name folded (lower case, accents removed, spaces collapsed: `fold`;
what duplicate detection compares), the words a search finds in it (`search_words`: the parts
of a name joined by a hyphen or an apostrophe are words too, decision 147), and their program
number and BOP register number reduced to letters and digits. Folding happens here, in
Python, when the event is applied, so matching is case- and accent-insensitive on every server
(decision 55). A query's words are found in any order, each by a word's prefix or one letter
off a whole word, in plain SQL: every server answers alike, with pg_trgm or without it
(decision 133). Without a `sort`, what a search finds comes closest first (`Find.closest`,
decision 141).

An erased participant's row is deleted: erasure removes the person from every search (a
rebuild decrypts the shredded name as the placeholder, then deletes the row all the same).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import msgspec
from psycopg import sql

from domain.corrections import MentorNameCorrected, PersonalDetailsCorrected
from domain.mentors import Mentor
from domain.participants import Participant, PersonalDetails
from projections.base import Projection, Tables, handles
from projections.ops import Writer
from projections.query import Column, Reader, Sort

# The shortest word a misspelling is matched for ("Lee" is not "Leo").
CLOSE_FROM = 4


def fold(text: str) -> str:
    """`text` for matching: accents removed, case folded, runs of spaces made one."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


# Signs that join the parts of one name: "O'Brien" is also "obrien", where a hyphen's parts
# ("García-López") are two names.
_APOSTROPHES = re.compile(r"['\u2019\u02bc`\u00b4]")
_SIGNS = re.compile(r"[\W_]+")


def search_words(text: str) -> str:
    """The words of `text` a search finds (decision 147): `fold`ed, then each part between
    signs a word ("o'brien-nguyen": o, brien, nguyen) and a part joined by apostrophes one
    more (obrien); a word of signs alone stays what it is ("%" finds only a "%"). What a query
    and a name are matched by alike."""
    out: list[str] = []
    for token in fold(text).split():
        parts = [part for part in _SIGNS.split(token) if part]
        parts += [part for part in _SIGNS.split(_APOSTROPHES.sub("", token)) if part]
        out += parts or [token]
    return " ".join(dict.fromkeys(out))


def key(text: str | None) -> str | None:
    """A number for matching: its letters and digits, lower case (`12345-678` → `12345678`)."""
    if text is None:
        return None
    return re.sub(r"[^0-9a-z]", "", text.casefold()) or None


class Search(Projection):
    name = "search"
    tables = {
        "people": (
            "person_id uuid PRIMARY KEY, kind text NOT NULL, folded text NOT NULL,"
            " first_folded text, last_folded text NOT NULL, number_key text, register_key text,"
            " born date, words text NOT NULL"
        ),
    }
    order = {"people": "person_id"}

    @handles(Participant.Enrolled)
    def enrolled(self, w: Writer, e: Participant.Enrolled, position: int) -> None:
        w.insert(
            "people",
            {
                "person_id": e.originator_id,
                "kind": "participant",
                "number_key": key(e.number),
                **_personal(e.personal),
            },
        )

    @handles(PersonalDetailsCorrected)
    def corrected(self, w: Writer, e: PersonalDetailsCorrected, position: int) -> None:
        w.update("people", _personal(e.personal), person_id=e.originator_id)

    @handles(Mentor.Registered)
    def mentor(self, w: Writer, e: Mentor.Registered, position: int) -> None:
        w.insert(
            "people",
            {
                "person_id": e.originator_id,
                "kind": "mentor",
                "folded": fold(e.display_name),
                "last_folded": fold(e.display_name),
                "words": search_words(e.display_name),
            },
        )

    @handles(MentorNameCorrected)
    def mentor_renamed(self, w: Writer, e: MentorNameCorrected, position: int) -> None:
        name = fold(e.display_name)
        w.update(
            "people",
            {"folded": name, "last_folded": name, "words": search_words(e.display_name)},
            person_id=e.originator_id,
        )

    @handles(Participant.Erased)
    def erased(self, w: Writer, e: Participant.Erased, position: int) -> None:
        w.delete("people", person_id=e.originator_id)


def _personal(p: PersonalDetails) -> dict[str, Any]:
    return {
        "folded": fold(f"{p.first_name} {p.last_name}"),
        "first_folded": fold(p.first_name),
        "last_folded": fold(p.last_name),
        "words": search_words(f"{p.first_name} {p.last_name}"),
        "register_key": key(p.bop_register_number),
        "born": p.date_of_birth,
    }


class Duplicate(msgspec.Struct):
    """An enrolled participant a new enrolment may duplicate, and by which rule."""

    participant_id: UUID
    number: str
    rule: str


class PersonKeys(msgspec.Struct, frozen=True):
    """What duplicate detection compares of one indexed person."""

    person_id: UUID
    kind: str
    folded: str
    register_key: str | None
    born: Any


def person_keys(db: Reader, t: Tables) -> list[PersonKeys]:
    """Every indexed person's matching keys (an import compares a whole file against them)."""
    rows = db.fetchall(
        sql.SQL("SELECT person_id, kind, folded, register_key, born FROM {}").format(t["people"])
    )
    return [PersonKeys(*r) for r in rows]


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def words(q: str) -> list[str]:
    """The words of `q` (`search_words`), in any order; a roster's comma ("Lee, Ann") is a
    space."""
    return search_words(q.replace(",", " ")).split()


def searches(q: str) -> bool:
    """Whether `q` has anything to search by: a word or a number. Text that folds to nothing
    (spaces, a lone accent, a comma) is no search: the list is the unfiltered one."""
    return bool(words(q)) or key(q) is not None


def one_letter_off(word: str) -> list[str]:
    """LIKE patterns of a name word `word` with one letter wrong, missing, extra or two
    letters swapped, its first letter kept, as a whole word of `' ' || words || ' '`;
    none for words shorter than `CLOSE_FROM` or with a digit (a number is not misspelt)."""
    if len(word) < CLOSE_FROM or any(c.isdigit() for c in word):
        return []
    w = [_like(c) for c in word]
    forms = [[*w[:i], "_", *w[i + 1 :]] for i in range(1, len(w))]
    forms += [[*w[:i], "_", *w[i:]] for i in range(1, len(w) + 1)]
    forms += [w[:i] + w[i + 1 :] for i in range(1, len(w))]
    forms += [[*w[:i], w[i + 1], w[i], *w[i + 2 :]] for i in range(1, len(w) - 1)]
    return list(dict.fromkeys("% " + "".join(f) + " %" for f in forms))


_PREFIX = sql.SQL("(words LIKE %s OR words LIKE %s)")
# The first letter's LIKE comes first: it leaves the misspellings a few rows to test.
_PREFIX_OR_MISSPELT = sql.SQL(
    "(words LIKE %s OR words LIKE %s"
    " OR ((' ' || words) LIKE %s AND (' ' || words || ' ') LIKE ANY (%s)))"
)


def matching(t: Tables, kind: str, q: str) -> tuple[sql.Composable, tuple[object, ...]]:
    """`SELECT person_id` of the `kind` people `q` finds, and its parameters: every word of
    `q`, in any order, begins a word of the name or is one letter off a whole word of it with
    the same first letter; or a program or register number by prefix. `q` must search
    (`searches`)."""
    said = words(q)
    number = key(q)
    clauses: list[sql.Composable] = []
    params: list[object] = []
    each: list[sql.Composable] = []
    for word in said:
        params += [_like(word) + "%", "% " + _like(word) + "%"]
        misspelt = one_letter_off(word)
        if misspelt:
            each.append(_PREFIX_OR_MISSPELT)
            params += ["% " + _like(word[0]) + "%", misspelt]
        else:
            each.append(_PREFIX)
    if each:
        clauses.append(sql.SQL("({})").format(sql.SQL(" AND ").join(each)))
    if number is not None:
        clauses.append(sql.SQL("number_key LIKE %s OR register_key LIKE %s"))
        params += [_like(number) + "%", _like(number) + "%"]
    query = sql.SQL("SELECT person_id FROM {} WHERE kind = %s AND ({})").format(
        t["people"], sql.SQL(" OR ").join(clauses)
    )
    return query, (kind, *params)


def folded_name(id_column: str, which: str = "last_folded") -> str:
    """A sort expression (`projections.query.Column`): the folded name of the person whose id
    is in `id_column`, read from the search index (NULL once erased: sorted last)."""
    return f"(SELECT s.{which} FROM {{people}} s WHERE s.person_id = {id_column})"


def find(t: Tables, q: str | None) -> Find | None:
    """A list's search for `q` over the search view's live build `t`; None (no search, the
    unfiltered list) when there is no `q` or it folds to nothing (`searches`)."""
    return None if q is None or not searches(q) else Find(t, q)


@dataclass(frozen=True)
class Find:
    """A list's `q`: the search view's live build and the text searched for (`find`)."""

    t: Tables
    q: str

    def ids(self, kind: str) -> tuple[sql.Composable, tuple[object, ...]]:
        """`SELECT person_id` of the `kind` people found, and its parameters."""
        return matching(self.t, kind, self.q)

    def clause(self, kind: str, column: str) -> tuple[sql.Composable, tuple[object, ...]]:
        """`column IN (the ids q finds)` and its parameters."""
        query, params = self.ids(kind)
        return sql.SQL("{} IN ({})").format(sql.Identifier(column), query), params

    def rank(self, person: str | sql.Composable) -> sql.Composable:
        """The closeness (`closeness`) of the person whose id is in the column `person`."""
        column = sql.Identifier(person) if isinstance(person, str) else person
        return sql.SQL("(SELECT {} FROM {} s WHERE s.person_id = {})").format(
            closeness(self.q), self.t["people"], column
        )

    def pairing_rank(
        self, members: sql.Composable, pairing: sql.Composable, mentor: sql.Composable
    ) -> sql.Composable:
        """The closeness of a pairing: its mentor's or its closest member's (the members'
        table `members`, the pairing's and its mentor's ids `pairing` and `mentor`)."""
        closest_member = sql.SQL(
            "(SELECT min({}) FROM {} m JOIN {} s ON s.person_id = m.participant_id"
            " WHERE m.pairing_id = {})"
        ).format(closeness(self.q), members, self.t["people"], pairing)
        return sql.SQL("LEAST({}, {})").format(self.rank(mentor), closest_member)

    def closest(self, rank: sql.Composable, cast: str = "int") -> Sort:
        """The order of a list searched without a `sort` (decision 141): by `rank`, closest
        first, ties in the page key's order; its cursors carry the rank and are marked with
        the search (`mark`)."""
        return Sort(Column(rank, cast), False, None, self.mark(CLOSENESS))

    def sorted(self, sort: Sort) -> Sort:
        """A `sort` chosen for a search: its cursors are marked with the search too."""
        return sort._replace(mark=self.mark(SEARCHED))

    def mark(self, order: str) -> str:
        """`order` and a short digest of what the search looks for (its folded words, and its
        letters and digits as a number): a cursor it marks is refused by a search for other
        words, and accepted by the same text in another case or with other spaces around it
        ("Garcia" and " GARCIA ")."""
        looked_for = msgspec.json.encode([sorted(set(words(self.q))), key(self.q)])
        return f"{order}:{hashlib.sha256(looked_for).hexdigest()[:12]}"


# The marks of a search's orders in its cursors (`Sort.mark`, `Keyset.mark`): closest first, or
# by a chosen sort.
CLOSENESS = "closeness"
SEARCHED = "search"


def _text(value: str) -> sql.Composable:
    """`value` as a text constant written by its UTF-8 bytes in hex: a sort expression is
    repeated in a keyset page's condition and order, where it takes no parameters, and hex
    holds no quote, `%` or brace whatever was typed."""
    hexed = sql.Literal(value.encode().hex())
    return sql.SQL("convert_from(decode({}, 'hex'), 'UTF8')").format(hexed)


def closeness(q: str) -> sql.Composable:
    """How close the search index's row `s` is to `q`, for a row `q` finds (`matching`): 0 an
    exact program or register number, 1 every word of `q` a whole word of the name, 2 every
    word a word's prefix (or a number's prefix), 3 a word one letter off."""
    said, number = words(q), key(q)
    cases: list[sql.Composable] = []
    if number is not None:
        n = _text(number)
        cases.append(sql.SQL("WHEN s.number_key = {n} OR s.register_key = {n} THEN 0").format(n=n))
    if said:
        exact = [
            sql.SQL("strpos(' ' || s.words || ' ', {}) > 0").format(_text(f" {w} ")) for w in said
        ]
        cases.append(sql.SQL("WHEN {} THEN 1").format(sql.SQL(" AND ").join(exact)))
        prefix = [sql.SQL("strpos(' ' || s.words, {}) > 0").format(_text(f" {w}")) for w in said]
        cases.append(sql.SQL("WHEN {} THEN 2").format(sql.SQL(" AND ").join(prefix)))
    if number is not None:
        cases.append(
            sql.SQL(
                "WHEN starts_with(s.number_key, {n}) OR starts_with(s.register_key, {n}) THEN 2"
            ).format(n=_text(number))
        )
    return sql.SQL("CASE {} ELSE 3 END").format(sql.SQL(" ").join(cases))
