"""The class summary: how the scores fall, how each check fared, which mistakes to re-teach."""
from __future__ import annotations

import bisect
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

from grader.formats.text import plain

#: Named mistakes listed in the summary.
TOP_MISTAKES = 10
#: Submissions not read or graded named in the summary (the first, by name); the rest counted.
NAMED_NOT_GRADED = 10
#: The CSV's statuses of a submission that could not be read or graded at all.
NOT_GRADED = ("unreadable", "internal error")


@dataclass
class ClassSummary:
    """Built from records one at a time, in any order (the same data whatever the order):
    memory grows with checks and mistakes, not learners (save one number per learner for the
    median). ``check_order``: the catalogue's check ids, the order the checks are listed in."""

    check_order: tuple = ()
    submissions: int = 0
    statuses: Counter = field(default_factory=Counter)
    scores: list = field(default_factory=list)
    max_score: float = 0.0
    check_passed: Counter = field(default_factory=Counter)
    check_seen: Counter = field(default_factory=Counter)
    mistakes: Counter = field(default_factory=Counter)
    mistake_texts: dict = field(default_factory=dict)
    seeds: set = field(default_factory=set)
    #: The first ``NAMED_NOT_GRADED`` names, sorted, of those ``NOT_GRADED``: the same whatever
    #: order the records come in, and as few whatever the class's size.
    not_graded: list = field(default_factory=list)
    #: The run's seed: the one a class of no records says it was graded with.
    seed: Optional[int] = None

    def add(self, record: dict) -> None:
        self.submissions += 1
        self.statuses[record["row"]["status"]] += 1
        if record["row"]["status"] in NOT_GRADED and isinstance(record.get("name"), str):
            bisect.insort(self.not_graded, record["name"])
            del self.not_graded[NAMED_NOT_GRADED:]
        self.seeds.add(record.get("seed"))
        report = record.get("report") or {}
        if "score" in report:
            self.scores.append(float(report["score"]))
            self.max_score = max(self.max_score, float(report.get("max_score", 0)))
        seen_hints = {}
        # A submission that could not be read or graded ran no check: its checks say nothing
        # of what the class has learnt (its score of 0 still counts in the distribution).
        checks = () if record["row"]["status"] in NOT_GRADED else report.get("checks", ())
        for check in checks:
            self.check_seen[check["id"]] += 1
            self.check_passed[check["id"]] += check["status"] == "passed"
            for hint in check.get("hints", ()):
                seen_hints[hint["id"]] = hint["text"]
        for problem in report.get("errors", ()):
            for hint in problem.get("hints", ()):
                seen_hints[hint["id"]] = hint["text"]
        for hint_id, text in seen_hints.items():
            self.mistakes[hint_id] += 1
            self.mistake_texts.setdefault(hint_id, text)

    def data(self) -> dict:
        scores = self.scores
        bins = Counter()
        for score in scores:
            percent = 100.0 * score / self.max_score if self.max_score else 0.0
            bins[min(int(percent // 10) * 10, 90)] += 1
        return {
            "submissions": self.submissions,
            "statuses": dict(sorted(self.statuses.items())),
            "seed": self._seed(),
            "scores": {
                "max_score": self.max_score,
                "mean": round(statistics.fmean(sorted(scores)), 3) if scores else None,  # (a sum in one order)
                "median": statistics.median(scores) if scores else None,
                "min": min(scores) if scores else None,
                "max": max(scores) if scores else None,
                "full_marks": sum(score >= self.max_score for score in scores) if self.max_score > 0 else 0,
                "distribution": {f"{low}-{low + 10 if low < 90 else 100}%": bins.get(low, 0) for low in range(0, 100, 10)},
            },
            "not_graded": {"count": sum(self.statuses[status] for status in NOT_GRADED), "names": list(self.not_graded)},
            "checks": {
                check_id: {"passed": self.check_passed[check_id], "graded": self.check_seen[check_id],
                           "pass_rate": round(self.check_passed[check_id] / self.check_seen[check_id], 4)}
                for check_id in self._checks_in_order()
            },
            "mistakes": [
                {"id": hint_id, "submissions": count, "hint": self.mistake_texts.get(hint_id, "")}
                for hint_id, count in sorted(self.mistakes.items(), key=lambda item: (-item[1], item[0]))
            ],
        }


    def _seed(self):
        """The records' seed; all of them, sorted, if they differ; the run's if there are none."""
        if not self.seeds:
            return self.seed
        if len(self.seeds) == 1:
            return next(iter(self.seeds))
        return sorted(s for s in self.seeds if s is not None)

    def _checks_in_order(self) -> list[str]:
        """``check_order`` first, then any other in the order first seen."""
        known = [check_id for check_id in self.check_order if check_id in self.check_seen]
        return known + [check_id for check_id in self.check_seen if check_id not in set(known)]


#: The CSV's statuses (``formats.csv.report_status``), each with its words in ``messages``.
CSV_STATUSES = ("graded", "load errors", "unreadable", "internal error")


def render(data: dict, messages, lang: str = "en") -> str:
    """The summary as text, for the instructor's terminal."""
    def say(message_id: str, **params) -> str:
        return messages.text(message_id, lang, **params)

    scores = data["scores"]
    # (the CSV's status words stay English, for the tools that read them; here, the instructor's)
    statuses = ", ".join(
        say("summary.status_count", count=count, status=say(f"csv_status.{status.replace(' ', '_')}"))
        if status in CSV_STATUSES else f"{count} {status}"
        for status, count in data["statuses"].items())
    if statuses:
        lines = [say("summary.graded", count=data["submissions"], seed=data["seed"], statuses=statuses)]
    else:
        lines = [say("summary.graded_none", seed=data["seed"])]
    not_graded = data.get("not_graded") or {}
    if not_graded.get("count"):
        lines.append(say("summary.not_graded", count=not_graded["count"], names=_some(not_graded, say)))
    if scores["mean"] is not None:
        lines.append(say("summary.scores", max_score=f"{scores['max_score']:g}", mean=f"{scores['mean']:g}",
                         median=f"{scores['median']:g}", min=f"{scores['min']:g}", max=f"{scores['max']:g}",
                         full_marks=scores["full_marks"]))
        widest = max(scores["distribution"].values()) or 1
        for label, count in scores["distribution"].items():
            lines.append(f"  {label:>8} {'#' * round(30 * count / widest):<30} {count}")
    hardest = sorted(data["checks"].items(), key=lambda item: (item[1]["pass_rate"] or 0, item[0]))[:5]
    if hardest:
        lines.append(say("summary.hardest"))
        # (from the counts: the JSON's pass_rate is rounded already, and rounding it again is off by one)
        lines += [f"  {100 * rate['passed'] / rate['graded']:5.1f}%  {check_id}" for check_id, rate in hardest if rate["graded"]]
    if data["mistakes"]:
        lines.append(say("summary.mistakes"))
        lines += [f"  {m['submissions']:4d}  {m['id']}" for m in data["mistakes"][:TOP_MISTAKES]]
    return "\n".join(lines) + "\n"


def _some(not_graded: dict, say) -> str:
    """The names kept, and how many more there are. (Learners' names: their control characters
    are shown, not obeyed, by the terminal this is printed on.)"""
    names = ", ".join(plain(name) for name in not_graded.get("names", ()))
    more = not_graded["count"] - len(not_graded.get("names", ()))
    return say("summary.and_more", names=names, count=more) if more > 0 else names
