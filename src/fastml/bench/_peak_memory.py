"""The resident-size readings of the peak-memory scripts in bench/ (each runs its fit in a fresh
process): the kernel's record of the peak reset once the data are built, then read after the
fit. Linux only (/proc)."""


def status_mib(field):
    """A size field of /proc/self/status (VmRSS, VmHWM) in MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB


def reset_peak():
    """Resets VmHWM to the current resident size; returns that size (MiB)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return status_mib("VmRSS")
