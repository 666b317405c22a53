"""deploy/lib/replay_data.py: the recorded data sets a replay plays back.

Shared by issue 17's harness (tests/e2e/replay) and the quickstart demo
(deploy/demo-replay): unit lists ('1-60,75'), the Azure PdM and C-MAPSS
data sets (their units, recorded steps and failures, and a copy restricted
to the training units), and one running `augur-agent replay` timed by its
'replay: started' line.  Python 3.11 standard library only.
"""

import csv
import os
import signal
import subprocess
import threading
import time

# Recorded time units (hours; a C-MAPSS cycle is taken as an hour, as
# augur-agent replay does): the model's prediction window.
WINDOW = {"pdm": 24, "cmapss": 30}


def data_root(repo):
    """$AUGUR_DATA_DIR, else ../shared/data next to the repository."""
    return os.environ.get("AUGUR_DATA_DIR") or os.path.join(repo, "..", "shared", "data")


def open_dataset(name, root):
    """The data set @name ("pdm" or "cmapss") under @root; FileNotFoundError
    when its files are not there."""
    return (PdM if name == "pdm" else Cmapss)(root)


def failures_after(ds, unit, pre):
    """The unit's recorded failures (step indexes) with at least @pre
    recorded steps before them: those a replay of @pre steps can lead up to."""
    return [i for i in ds.failure_steps(unit) if i >= pre]


# ---- unit lists -------------------------------------------------------------


def parse_units(text, what):
    """'1-60,75' -> sorted list of ints; ValueError with a message."""
    out = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            raise ValueError("%s: empty item in %r" % (what, text))
        if "-" in part:
            a, b = part.split("-", 1)
            if not (a.isdigit() and b.isdigit()) or int(a) > int(b):
                raise ValueError("%s: bad range %r" % (what, part))
            out.update(range(int(a), int(b) + 1))
        elif part.isdigit():
            out.add(int(part))
        else:
            raise ValueError("%s: %r is not a unit number or a range" % (what, part))
    return sorted(out)


def fmt_units(units):
    """[1,2,3,5] -> '1-3,5'."""
    out = []
    units = sorted(units)
    i = 0
    while i < len(units):
        j = i
        while j + 1 < len(units) and units[j + 1] == units[j] + 1:
            j += 1
        out.append(str(units[i]) if i == j else "%d-%d" % (units[i], units[j]))
        i = j + 1
    return ",".join(out)


# ---- the data sets ----------------------------------------------------------


class PdM:
    """Azure PdM: machines, their hourly rows and their failures."""

    name = "pdm"
    files = ("PdM_telemetry.csv", "PdM_errors.csv", "PdM_maint.csv",
             "PdM_failures.csv", "PdM_machines.csv")

    def __init__(self, root):
        self.dir = os.path.join(root, "azure-pdm")
        self.path = self.dir
        if not all(os.path.exists(os.path.join(self.dir, f)) for f in self.files):
            raise FileNotFoundError(self.dir)
        self.times = {}  # machine -> sorted distinct datetimes (strings)
        with open(os.path.join(self.dir, "PdM_telemetry.csv")) as f:
            r = csv.reader(f)
            next(r)
            for row in r:
                self.times.setdefault(int(row[1]), set()).add(row[0])
        self.times = {m: sorted(v) for m, v in self.times.items()}
        self.failures = {}  # machine -> sorted distinct failure datetimes
        with open(os.path.join(self.dir, "PdM_failures.csv")) as f:
            r = csv.reader(f)
            next(r)
            for row in r:
                self.failures.setdefault(int(row[1]), set()).add(row[0])
        self.failures = {m: sorted(v) for m, v in self.failures.items()}
        self.units = sorted(self.times)

    def steps(self, u):
        return len(self.times[u])

    def failure_steps(self, u):
        """Indexes (recorded steps) of the unit's failures."""
        idx = {t: i for i, t in enumerate(self.times[u])}
        return [idx[t] for t in self.failures.get(u, []) if t in idx]

    def step_label(self, u, i):
        return self.times[u][i]

    def write_subset(self, units, out):
        """A copy of the data set restricted to @units (the training set)."""
        os.makedirs(out, exist_ok=True)
        keep = set(str(u) for u in units)
        for name in self.files:
            with open(os.path.join(self.dir, name)) as f, open(os.path.join(out, name), "w") as g:
                r = csv.reader(f)
                w = csv.writer(g, lineterminator="\n")
                head = next(r)
                w.writerow(head)
                col = head.index("machineID")
                for row in r:
                    if row[col] in keep:
                        w.writerow(row)
        return out


class Cmapss:
    """C-MAPSS FD001 training split: engines run to failure."""

    name = "cmapss"

    def __init__(self, root):
        self.path = os.path.join(root, "cmapss", "train_FD001.txt")
        if not os.path.exists(self.path):
            raise FileNotFoundError(self.path)
        self.cycles = {}
        with open(self.path) as f:
            for line in f:
                p = line.split()
                if p:
                    self.cycles[int(p[0])] = max(self.cycles.get(int(p[0]), 0), int(p[1]))
        self.units = sorted(self.cycles)

    def steps(self, u):
        return self.cycles[u]

    def failure_steps(self, u):
        return [self.cycles[u] - 1]  # the last cycle recorded: end of run

    def step_label(self, u, i):
        return "cycle %d" % (i + 1)

    def write_subset(self, units, out):
        os.makedirs(out, exist_ok=True)
        keep = set(str(u) for u in units)
        dst = os.path.join(out, "train_FD001.txt")
        with open(self.path) as f, open(dst, "w") as g:
            for line in f:
                p = line.split()
                if p and p[0] in keep:
                    g.write(line)
        return dst

# ---- a replay --------------------------------------------------------------


class Replayer:
    """One augur-agent replay, its 'started' line timed by a reader thread."""

    def __init__(self, cmd, env, logf):
        self.log = open(logf, "w")
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True, start_new_session=True)
        self.started = None
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stderr:
            if self.started is None and "replay: started" in line:
                self.started = time.time()
            self.log.write(line)
            self.log.flush()

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            self.proc.wait()
