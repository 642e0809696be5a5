"""How well the reply reader understands people: precision and recall per intent and language.

    python -m bench.replies                                   # the whole corpus, and the held-out part
    python -m bench.replies tests/fixtures/replies/heldout.jsonl --errors
    python -m bench.replies --markdown > out/replies.md       # the tables in docs/replies.md

Each corpus line is one labelled reply (JSON): text, language ("en"/"zh"), zone (IANA), now (UTC
instant), intent, promise_date ("YYYY-MM-DD" or null), amount (decimal string or null), and an
optional locale. A reply is *right* when the intent, the promise date and the amount all match.
The safety counts are the ones that must stay at zero: a STOP read as anything else, and a
non-promise read as a promise (an intent of PROMISE, or any promise date, where none was said).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from dunning.domain.intents import Classification, Intent, classify
from dunning.domain.models import parse_instant

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "fixtures" / "replies"
DEV = CORPUS / "dev.jsonl"  # written first and tuned on


def heldout_files() -> list[Path]:
    """The held-out rounds (heldout.jsonl, heldout2.jsonl, ...), each written after the last tuning."""
    return sorted(CORPUS.glob("heldout*.jsonl"), key=lambda p: (len(p.name), p.name))


def corpus_files() -> list[Path]:
    return [DEV, *heldout_files()]


@dataclass(frozen=True)
class Reply:
    """One labelled reply of the corpus."""

    text: str
    language: str
    zone: str
    now: str
    intent: Intent
    promise_date: date | None
    amount: Decimal | None
    locale: str | None
    source: str
    line: int

    def read(self) -> Classification:
        return classify(self.text, parse_instant(self.now), self.zone, locale=self.locale)


def load(path: Path) -> list[Reply]:
    replies: list[Reply] = []
    for number, raw in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if not raw.strip():
            continue
        row = json.loads(raw)
        replies.append(Reply(
            text=row["text"], language=row["language"], zone=row["zone"], now=row["now"],
            intent=Intent(row["intent"]),
            promise_date=date.fromisoformat(row["promise_date"]) if row.get("promise_date") else None,
            amount=Decimal(row["amount"]) if row.get("amount") else None,
            locale=row.get("locale"), source=path.name, line=number,
        ))
    return replies


@dataclass(frozen=True)
class Outcome:
    reply: Reply
    got: Classification

    @property
    def intent_right(self) -> bool:
        return self.got.intent is self.reply.intent

    @property
    def date_right(self) -> bool:
        return self.got.promise_date == self.reply.promise_date

    @property
    def amount_right(self) -> bool:
        return self.got.promise_amount == self.reply.amount

    @property
    def right(self) -> bool:
        return self.intent_right and self.date_right and self.amount_right

    @property
    def stop_missed(self) -> bool:
        return self.reply.intent is Intent.STOP and self.got.intent is not Intent.STOP

    @property
    def false_promise(self) -> bool:
        said_none = self.reply.promise_date is None
        return (self.got.intent is Intent.PROMISE and self.reply.intent is not Intent.PROMISE) or (
            said_none and self.got.promise_date is not None)


@dataclass
class Scores:
    """Counts over a set of outcomes, and the figures computed from them."""

    outcomes: list[Outcome] = field(default_factory=list)

    def of(self, language: str | None) -> list[Outcome]:
        return [o for o in self.outcomes if language is None or o.reply.language == language]

    def accuracy(self, language: str | None = None) -> tuple[int, int]:
        chosen = self.of(language)
        return sum(o.right for o in chosen), len(chosen)

    def per_intent(self, language: str | None = None) -> dict[Intent, tuple[int, int, int]]:
        """intent -> (true positives, predicted, expected)."""
        chosen = self.of(language)
        predicted = Counter(o.got.intent for o in chosen)
        expected = Counter(o.reply.intent for o in chosen)
        hits = Counter(o.reply.intent for o in chosen if o.intent_right)
        return {i: (hits[i], predicted[i], expected[i]) for i in Intent if predicted[i] or expected[i]}

    def dates(self, language: str | None = None) -> tuple[int, int]:
        stated = [o for o in self.of(language) if o.reply.promise_date is not None]
        return sum(o.got.promise_date == o.reply.promise_date for o in stated), len(stated)

    def amounts(self, language: str | None = None) -> tuple[int, int]:
        stated = [o for o in self.of(language) if o.reply.amount is not None]
        return sum(o.amount_right for o in stated), len(stated)

    def stop_missed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.stop_missed]

    def false_promises(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.false_promise]

    def errors(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.right]


def score(replies: Iterable[Reply]) -> Scores:
    return Scores([Outcome(reply, reply.read()) for reply in replies])


def _pct(hit: int, total: int) -> str:
    return f"{100 * hit / total:.1f}%" if total else "-"


def _ratio(hit: int, total: int) -> str:
    return f"{hit}/{total} ({_pct(hit, total)})" if total else "-"


def report_lines(title: str, scores: Scores) -> list[str]:
    """A markdown section: overall figures, safety counts, and the per-intent table per language."""
    lines = [f"### {title}", ""]
    lines += ["| | all | en | zh |", "|---|---|---|---|"]
    lines.append("| replies | " + " | ".join(str(len(scores.of(lang))) for lang in (None, "en", "zh")) + " |")
    lines.append("| right (intent, date and amount) | "
                 + " | ".join(_ratio(*scores.accuracy(lang)) for lang in (None, "en", "zh")) + " |")
    lines.append("| stated dates exact | " + " | ".join(_ratio(*scores.dates(lang)) for lang in (None, "en", "zh"))
                 + " |")
    lines.append("| stated amounts exact | "
                 + " | ".join(_ratio(*scores.amounts(lang)) for lang in (None, "en", "zh")) + " |")
    lines.append(f"| STOP read as anything else | {len(scores.stop_missed())} | | |")
    lines.append(f"| non-promise read as a promise | {len(scores.false_promises())} | | |")
    lines += ["", "| intent | precision en | recall en | precision zh | recall zh | n en | n zh |",
              "|---|---|---|---|---|---|---|"]
    en, zh = scores.per_intent("en"), scores.per_intent("zh")
    for intent in Intent:
        if intent not in en and intent not in zh:
            continue
        cells = []
        for table in (en, zh):
            hit, predicted, expected = table.get(intent, (0, 0, 0))
            cells += [_pct(hit, predicted), _pct(hit, expected)]
        n_en, n_zh = en.get(intent, (0, 0, 0))[2], zh.get(intent, (0, 0, 0))[2]
        lines.append(f"| {intent.value} | " + " | ".join(cells) + f" | {n_en} | {n_zh} |")
    lines.append("")
    return lines


def error_lines(scores: Scores) -> list[str]:
    lines = []
    for o in scores.errors():
        r, g = o.reply, o.got
        lines.append(
            f"{r.source}:{r.line} [{r.language}] want {r.intent.value} {r.promise_date} {r.amount} "
            f"got {g.intent.value} {g.promise_date} {g.promise_amount} ({g.matched}) | {r.text}"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replies", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", type=Path,
                        help="corpus files (default: each held-out round, then the whole corpus)")
    parser.add_argument("--errors", action="store_true", help="also list every reply read wrong")
    parser.add_argument("--markdown", action="store_true", help="print only the markdown tables")
    args = parser.parse_args(argv)
    if args.files:
        sections = [(", ".join(p.name for p in args.files), [r for p in args.files for r in load(p)])]
    else:
        sections = [(path.name, load(path)) for path in heldout_files()]
        sections.append(("whole corpus", [r for path in corpus_files() for r in load(path)]))
    failed = False
    for title, replies in sections:
        if not replies:
            continue
        scores = score(replies)
        print("\n".join(report_lines(title, scores)))
        if args.errors and not args.markdown:
            print("\n".join(error_lines(scores)) or "no errors", end="\n\n")
        failed = failed or bool(scores.stop_missed() or scores.false_promises())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
