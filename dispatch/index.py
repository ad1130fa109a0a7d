"""An in-memory responder index with the same shape as the database's.

Candidates sorted by position cell; a search's cell ranges become bisections.
It serves the benchmarks and the tests of `choose_responder` without a database,
and answers exactly what the `(agency, kind, status, position_cell)` index does;
`fetch_speaking` what that query does filtered by a language.
"""

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence

from dispatch.cells import CellRange, position_cell
from dispatch.ranking import Candidate


class ResponderIndex:
    def __init__(self, candidates: Iterable[Candidate]) -> None:
        filed = sorted(((position_cell(c.lat, c.lon), c) for c in candidates), key=lambda p: p[0])
        self._cells = [cell for cell, _ in filed]
        self._candidates = [cand for _, cand in filed]
        self._speaking: dict[str, ResponderIndex] = {}

    @classmethod
    def filed(cls, pairs: Iterable[tuple[int, Candidate]]) -> "ResponderIndex":
        """An index of candidates whose cells are known already (as the database files
        them), without computing them again."""
        index = cls(())
        filed = sorted(pairs, key=lambda p: p[0])
        index._cells = [cell for cell, _ in filed]
        index._candidates = [cand for _, cand in filed]
        index._speaking = {}
        return index

    def __len__(self) -> int:
        return len(self._cells)

    def fetch(self, ranges: Sequence[CellRange]) -> Iterator[Candidate]:
        """The candidates filed under any of `ranges` (a `ranking.Fetch`)."""
        for r in ranges:
            lo = bisect_left(self._cells, r.lo)
            hi = bisect_right(self._cells, r.hi, lo=lo)
            yield from self._candidates[lo:hi]

    def fetch_speaking(self, ranges: Sequence[CellRange], language: str) -> Iterator[Candidate]:
        """The candidates filed under any of `ranges` who speak `language` (a
        `by_road.FetchSpeaking`)."""
        return self._speakers(language).fetch(ranges)

    def _speakers(self, language: str) -> "ResponderIndex":
        """Each language's speakers are filed apart when first asked for, once."""
        speakers = self._speaking.get(language)
        if speakers is None:
            speakers = ResponderIndex.filed(
                (cell, cand)
                for cell, cand in zip(self._cells, self._candidates, strict=True)
                if language in cand.languages
            )
            self._speaking[language] = speakers
        return speakers
