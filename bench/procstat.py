"""CPU time and memory of one mail server instance, read from /proc.

An instance is its master process (pid from queue_directory/pid/master.pid) and every live
descendant. Both Postfix and Postern masters reap their own children, so the time of a process
that has exited is in its parent's cutime/cstime. Hence

    tree_cpu_seconds(master) = sum over live processes of the tree of
                               utime + stime + cutime + cstime

is the CPU time the instance has used since it started. A run's CPU cost is the difference of
two readings. Limits: a child that exits and is reaped between reading its parent and reading
it is missed or counted twice (its share is small next to a run's total); processes that
escape the tree (double fork to init) are not counted — neither server does that.

tree_memory_bytes(master) sums resident memory over the live tree two ways: RSS counts shared
pages (the binary, libraries, shared mappings) once per process, as `ps` does, so a server
with many processes pays for each copy; PSS (from smaps_rollup) divides each shared page among
the processes that map it, so the sum is the memory the instance really occupies.
Sampler samples both every 0.2 s in a thread and keeps each peak.
"""
import os
import threading

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _read_stat(pid):
    """Returns (ppid, cpu_ticks_including_children) or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # The command name is in parentheses and may contain spaces: split after the last ')'.
    fields = data[data.rfind(b")") + 2:].split()
    ppid = int(fields[1])
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return ppid, utime + stime + cutime + cstime


def _children(pid):
    """Returns the children of PID from /proc/PID/task/*/children, or None if unsupported."""
    kids = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                kids.extend(int(x) for x in f.read().split())
        except FileNotFoundError:
            return None
        except OSError:
            pass
    return kids


def _children_by_scan():
    children = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _read_stat(name)
            if st is not None:
                children.setdefault(st[0], []).append(int(name))
    return children


def tree_pids(root):
    """Returns the pids of ROOT and all its live descendants."""
    if not os.path.exists(f"/proc/{root}"):
        return []
    found, todo, table = [], [root], None
    while todo:
        pid = todo.pop()
        found.append(pid)
        kids = _children(pid) if table is None else None
        if kids is None:  # kernel without CONFIG_PROC_CHILDREN: one full scan of /proc
            if table is None:
                table = _children_by_scan()
            kids = table.get(pid, [])
        todo.extend(kids)
    return found


def tree_cpu_seconds(root):
    total = 0
    for pid in tree_pids(root):
        st = _read_stat(pid)
        if st is not None:
            total += st[1]
    return total / TICKS


def _pss_bytes(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


def tree_memory_bytes(root):
    """Returns (summed RSS, summed PSS) of the live tree under ROOT, in bytes."""
    rss = pss = 0
    for pid in tree_pids(root):
        try:
            with open(f"/proc/{pid}/statm", "rb") as f:
                rss += int(f.read().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
        pss += _pss_bytes(pid)
    return rss, pss


class Sampler:
    """Samples the summed RSS and PSS of a process tree every INTERVAL seconds; keeps peaks."""

    def __init__(self, interval=0.2):
        self.interval = interval
        self.root = None
        self.peak = 0
        self.peak_pss = 0
        self.samples = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def watch(self, root):
        """Starts a new measurement of the tree under ROOT (None pauses sampling)."""
        with self._lock:
            self.root = root
            self.peak = 0
            self.peak_pss = 0
            self.samples = 0
        if root is not None:
            self._sample()

    def _sample(self):
        with self._lock:
            root = self.root
        if root is None:
            return
        rss, pss = tree_memory_bytes(root)
        with self._lock:
            if self.root == root:
                self.peak = max(self.peak, rss)
                self.peak_pss = max(self.peak_pss, pss)
                self.samples += 1

    def _loop(self):
        while not self._stop.wait(self.interval):
            self._sample()

    def finish(self):
        """Takes a last sample, stops watching and returns the peaks (RSS, PSS) in bytes."""
        self._sample()
        with self._lock:
            peaks = (self.peak, self.peak_pss)
            self.root = None
        return peaks

    def close(self):
        self._stop.set()
        self._thread.join()
