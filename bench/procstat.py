"""CPU time of processes and process trees, read from /proc (Linux), for
the benchmarks' per-process CPU tables."""
import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
AVAILABLE = Path("/proc/stat").exists()


class Snapshot:
    """The processes running now: each one's name and children."""

    def __init__(self):
        self.parents, self.comms = {}, {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            self.comms[int(entry)] = stat[stat.index("(") + 1:stat.rindex(")")]
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            self.parents.setdefault(ppid, []).append(int(entry))

    def tree(self, pid):
        """`pid` and all its descendants."""
        found, todo = [], [pid]
        while todo:
            current = todo.pop()
            found.append(current)
            todo.extend(self.parents.get(current, ()))
        return found

    def named(self, test):
        """The pids whose process name passes `test`."""
        return [pid for pid, comm in self.comms.items() if test(comm)]

    def servers(self):
        """RabbitMQ's and PostgreSQL's processes (whole servers)."""
        return {"rabbitmq": self.named(lambda comm: comm == "beam.smp"),
                "postgres": self.named(lambda comm: comm.startswith("postgres"))}


def cpu_seconds(pid):
    """User + system CPU seconds of one process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def machine_seconds():
    """(busy, total) CPU seconds of the whole machine since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    total = sum(values[:8])
    return (total - values[3] - values[4]) / TICKS, total / TICKS


def used(before, after):
    """CPU seconds per group between two samples ({group: {pid: seconds}}).
    A process new since `before` started during the window: all its CPU
    time counts; one gone since is not counted negative."""
    return {group: sum(max(0.0, t - before.get(group, {}).get(pid, 0.0))
                       for pid, t in after[group].items())
            for group in after}
