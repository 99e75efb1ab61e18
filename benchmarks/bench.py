"""Speed of grade, as a ratio to starting `python -c "import numpy"` on the same machine, in the
same run (these machines are shared and noisy: every figure is a median, and the baseline is
timed in turn with what it is compared to).

    python benchmarks/bench.py            # the full run: submit, batch of 200, memory
    python benchmarks/bench.py --quick    # fewer repetitions and a class of 50

Measures:
  submit   `grade submit examples/student.py` (a complete correct solution)
  batch    `grade batch` of N copies of it with --jobs 2, per submission
  memory   the grader process's own peak RSS in `grade batch` of 50, 100 and 200 submissions
  cpu      CPU per submission in the batch of 200: the grader's, and the sandbox's (host and learners)
  faults   page faults per submission in that batch (host and learners), and what copying one page
           on write costs on this machine: most of a learner process's faults are such copies
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


def interleaved(command: list[str], runs: int, baseline: list[str], baseline_runs: int = 1) -> tuple[float, float]:
    """The medians of ``runs`` timings of ``command`` and of the ``baseline`` command, taken in
    turn (``baseline_runs`` of the baseline before each run of the command): a shared machine's
    speed drifts over a run, and a ratio of figures taken minutes apart would carry that drift."""
    timed(command)  # warm the page cache
    timed(baseline)
    times, baseline_times = [], []
    for _ in range(runs):
        baseline_times.extend(timed(baseline) for _ in range(baseline_runs))
        times.append(timed(command))
    return statistics.median(times), statistics.median(baseline_times)


def make_class(folder: Path, count: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        shutil.copyfile(STUDENT, folder / f"student_{index:03d}.py")
    return folder


def batch_usage(submissions: Path, out: Path) -> tuple[int, float, float, int]:
    """Of a batch of ``submissions`` (--jobs 2): the peak RSS in KiB of the grader's own process
    (learner processes excluded), the CPU seconds of the grader, and of the sandbox (its host and
    every learner process, which the host reaps and the grader reaps the host), and the sandbox's
    minor page faults."""
    script = (
        "import resource\n"
        "from grader import api\n"
        f"api.run_batch({str(submissions)!r}, {str(out)!r}, jobs=2, seed=1, progress=False)\n"
        "me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(me.ru_maxrss, me.ru_utime + me.ru_stime, children.ru_utime + children.ru_stime, children.ru_minflt)\n"
    )
    # One BLAS thread in the grader's numpy unless the environment says otherwise, as the grade
    # command does before numpy loads (grader.launch): else an idle BLAS thread's spinning
    # counts as the grader's CPU.
    from grader.sandbox.control import SINGLE_THREADED

    environment = {**SINGLE_THREADED, **os.environ}
    output = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True,
                            env=environment).stdout
    rss, grader_cpu, sandbox_cpu, faults = output.split()
    return int(rss), float(grader_cpu), float(sandbox_cpu), int(faults)


#: A forked child writes to pages it shares with its parent: the kernel copies each on its first
#: write. This is what a learner process pays for every page of the host's memory it writes to,
#: a reference count included. Microseconds per page, the median of several children.
COPY_ON_WRITE = """
import mmap, os, statistics, time
pages = 2000
memory = mmap.mmap(-1, pages * 4096, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
memory.write(b"x" * (pages * 4096))
costs = []
for _ in range(9):
    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:
        start = time.perf_counter()
        for offset in range(0, pages * 4096, 4096):
            memory[offset] = 1  # copied
        middle = time.perf_counter()
        for offset in range(0, pages * 4096, 4096):
            memory[offset] = 2  # already copied: the loop's own cost
        end = time.perf_counter()
        os.write(writing, repr((middle - start) - (end - middle)).encode())
        os._exit(0)
    os.close(writing)
    costs.append(float(os.read(reading, 100)) / pages)
    os.close(reading)
    os.waitpid(pid, 0)
print(statistics.median(costs) * 1e6)
"""


def copy_on_write_us() -> float:
    output = subprocess.run([sys.executable, "-c", COPY_ON_WRITE], check=True, capture_output=True, text=True).stdout
    return float(output)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    runs = 5 if args.quick else 15
    class_size = 50 if args.quick else 200
    figures: dict = {"machine": {"cores": os.cpu_count(), "python": sys.version.split()[0]}}
    # The built-in checks only: a pack installed on this machine would change what is measured.
    os.environ["GRADE_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    os.environ.pop("GRADE_PLUGINS", None)
    # numpy's modules come precompiled; ours too, as after any run that may write bytecode
    # (an editable install under PYTHONDONTWRITEBYTECODE=1 would otherwise recompile them
    # on every start, which is not what a learner's machine does).
    subprocess.run([sys.executable, "-m", "compileall", "-q", *(str(ROOT / p) for p in ("grader", "exercises", "reference"))],
                   check=True)

    import_numpy = [sys.executable, "-c", "import numpy"]
    submit, baseline = interleaved([*GRADE, "submit", str(STUDENT), "--seed", "1"], runs, import_numpy)
    figures["numpy_import_s"] = round(baseline, 4)
    figures["submit_s"] = round(submit, 4)
    figures["submit_ratio"] = round(submit / baseline, 2)

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        submissions = make_class(scratch / "class", class_size)
        out = scratch / "out" / "results.csv"
        batch_command = [*GRADE, "batch", str(submissions), "--out", str(out), "--jobs", "2", "--seed", "1"]
        batch, batch_baseline = interleaved(batch_command, 3 if args.quick else 5, import_numpy, baseline_runs=3)
        rows = out.read_text(encoding="utf-8-sig").splitlines()[1:]
        assert len(rows) == class_size and all(",100,100,graded," in row for row in rows), "the batch must grade every copy 100"
        figures["batch_submissions"] = class_size
        figures["batch_numpy_import_s"] = round(batch_baseline, 4)
        figures["batch_s"] = round(batch, 3)
        figures["batch_per_submission_s"] = round(batch / class_size, 4)
        figures["batch_per_submission_ratio"] = round(batch / class_size / batch_baseline, 3)

        memory, cpu = {}, {}
        for size in (50, 100, 200) if not args.quick else (25, 50):
            folder = make_class(scratch / f"mem{size}", size)
            rss, grader_cpu, sandbox_cpu, faults = batch_usage(folder, scratch / f"mem{size}-out" / "results.csv")
            memory[size] = round(rss / 1024, 1)
            cpu = {"submissions": size, "grader": round(1000 * grader_cpu / size, 2),
                   "sandbox": round(1000 * sandbox_cpu / size, 2)}  # the largest batch's, start-up included
            figures["sandbox_faults_per_submission"] = round(faults / size)
        figures["grader_peak_rss_mb"] = memory
        figures["batch_cpu_per_submission_ms"] = cpu
    figures["copy_on_write_us_per_page"] = round(copy_on_write_us(), 2)

    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"grade submit, complete correct solution: {submit * 1000:.0f} ms = {figures['submit_ratio']:.2f}x "
          f"of python -c 'import numpy', {baseline * 1000:.0f} ms  (medians of {runs}, taken in turn; target <= 2.5x)")
    print(f"grade batch, {class_size} submissions, --jobs 2: {batch:.2f} s = {figures['batch_per_submission_s'] * 1000:.1f} ms "
          f"per submission = {figures['batch_per_submission_ratio']:.3f}x of python -c 'import numpy', "
          f"{batch_baseline * 1000:.0f} ms  (taken in turn; target <= 0.1x)")
    print("grader process peak RSS in grade batch: " + ", ".join(f"{n} submissions {mb} MB" for n, mb in memory.items())
          + "  (target < 400 MB, flat)")
    cpu = figures["batch_cpu_per_submission_ms"]
    print(f"CPU per submission in the batch of {cpu['submissions']} (start-up included): grader {cpu['grader']:.1f} ms, "
          f"sandbox host and learner processes {cpu['sandbox']:.1f} ms")
    faults, cow = figures["sandbox_faults_per_submission"], figures["copy_on_write_us_per_page"]
    print(f"page faults per submission in the sandbox: {faults}; copying a page on write costs {cow:.2f} us here "
          f"(at most {faults * cow / 1000:.1f} ms of the sandbox's CPU, if every fault were a copy)")


if __name__ == "__main__":
    main()
