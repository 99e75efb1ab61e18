"""Speed of grade, as a ratio to starting `python -c "import numpy"` on the same machine, in the
same run (these machines are shared and noisy: every figure is a median).

    python benchmarks/bench.py            # the full run: submit, batch of 200, memory
    python benchmarks/bench.py --quick    # fewer repetitions and a class of 50

Measures:
  submit   `grade submit examples/student.py` (a complete correct solution)
  batch    `grade batch` of N copies of it with --jobs 2, per submission
  memory   the grader process's own peak RSS in `grade batch` of 50, 100 and 200 submissions
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STUDENT = ROOT / "examples" / "student.py"
#: The console script a user runs (``grader.launch:main``), with this interpreter.
GRADE = [sys.executable, "-c", "import sys; sys.argv[0] = 'grade'; from grader.launch import main; main()"]


def timed(command: list[str], **kwargs) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)
    return time.perf_counter() - start


def median_of(command: list[str], runs: int) -> float:
    timed(command)  # warm the page cache
    return statistics.median(timed(command) for _ in range(runs))


def make_class(folder: Path, count: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        shutil.copyfile(STUDENT, folder / f"student_{index:03d}.py")
    return folder


def batch_peak_rss(submissions: Path, out: Path) -> tuple[float, int]:
    """(seconds, peak RSS in KiB of the grader's own process, learner processes excluded)."""
    script = (
        "import resource, sys, time\n"
        "from grader import api\n"
        "start = time.perf_counter()\n"
        f"api.run_batch({str(submissions)!r}, {str(out)!r}, jobs=2, seed=1, progress=False)\n"
        "print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    output = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout
    seconds, rss = output.split()
    return float(seconds), int(rss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    runs = 5 if args.quick else 15
    class_size = 50 if args.quick else 200
    figures: dict = {"machine": {"cores": os.cpu_count(), "python": sys.version.split()[0]}}
    # numpy's modules come precompiled; ours too, as after any run that may write bytecode
    # (an editable install under PYTHONDONTWRITEBYTECODE=1 would otherwise recompile them
    # on every start, which is not what a learner's machine does).
    subprocess.run([sys.executable, "-m", "compileall", "-q", *(str(ROOT / p) for p in ("grader", "exercises", "reference"))],
                   check=True)

    baseline = median_of([sys.executable, "-c", "import numpy"], runs)
    figures["numpy_import_s"] = round(baseline, 4)

    submit = median_of([*GRADE, "submit", str(STUDENT), "--seed", "1"], runs)
    figures["submit_s"] = round(submit, 4)
    figures["submit_ratio"] = round(submit / baseline, 2)

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        submissions = make_class(scratch / "class", class_size)
        batch_runs = []
        for attempt in range(3 if args.quick else 5):
            out = scratch / f"out{attempt}" / "results.csv"
            batch_runs.append(timed([*GRADE, "batch", str(submissions), "--out", str(out), "--jobs", "2", "--seed", "1"]))
        rows = (scratch / "out0" / "results.csv").read_text(encoding="utf-8-sig").splitlines()[1:]
        assert len(rows) == class_size and all(",100,100,graded," in row for row in rows), "the batch must grade every copy 100"
        batch = statistics.median(batch_runs)
        figures["batch_submissions"] = class_size
        figures["batch_s"] = round(batch, 3)
        figures["batch_per_submission_s"] = round(batch / class_size, 4)
        figures["batch_per_submission_ratio"] = round(batch / class_size / baseline, 3)

        memory = {}
        for size in (50, 100, 200) if not args.quick else (25, 50):
            folder = make_class(scratch / f"mem{size}", size)
            _, rss = batch_peak_rss(folder, scratch / f"mem{size}-out" / "results.csv")
            memory[size] = round(rss / 1024, 1)
        figures["grader_peak_rss_mb"] = memory

    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"python -c 'import numpy' (median of {runs}): {baseline * 1000:.0f} ms")
    print(f"grade submit, complete correct solution: {submit * 1000:.0f} ms = {figures['submit_ratio']:.2f}x  (target <= 2.5x)")
    print(f"grade batch, {class_size} submissions, --jobs 2: {batch:.2f} s = {figures['batch_per_submission_s'] * 1000:.1f} ms "
          f"per submission = {figures['batch_per_submission_ratio']:.3f}x  (target <= 0.1x)")
    print("grader process peak RSS in grade batch: " + ", ".join(f"{n} submissions {mb} MB" for n, mb in memory.items())
          + "  (target < 400 MB, flat)")


if __name__ == "__main__":
    main()
