"""Every command's exit codes, in one place: shown at the end of each command's ``--help`` and in the
table of docs/cli.md (both generated from here).

The rule for every command except the two Nagios plugins: 0 done, 1 failed (a device, a takeover,
a confirmation refused), 2 the command line or the inventory is wrong (click's own usage errors
are 2 as well). ``status`` and ``check`` are Nagios plugins: 0 OK, 1 WARNING, 2 CRITICAL and 3
UNKNOWN, which is also what any error of theirs exits with (an inventory typo must not page as a
CRITICAL gateway). Interrupted by Ctrl-C: 130, everywhere.
"""

from __future__ import annotations

OK = (0, "done")
FAILED = (1, "failed (one line per problem on stderr)")
USAGE = (2, "usage error: command line, invalid inventory, a name or filter matching nothing")
NAGIOS = (
    (0, "OK: every selected group ok"),
    (1, "WARNING: a group degraded or failed over"),
    (2, "CRITICAL: a group down or split-brain"),
    (3, "UNKNOWN: a group cannot be seen, or any error (command line, inventory, filter)"),
)

# Command path (as typed after `netha`) -> its exit codes, in order.
EXIT_CODES: dict[str, tuple[tuple[int, str], ...]] = {
    "validate": ((0, "the inventory is valid"), (2, "the inventory has problems (one line each, file:line)")),
    "status": NAGIOS,
    "check": NAGIOS,
    "probes": (OK, FAILED, USAGE),
    "failover": ((0, "verified (or the dry run's plan printed)"),
                 (1, "failed and rolled back, refused (plan error, lock held) or not confirmed"), USAGE),
    "failback": ((0, "verified (or the dry run's plan printed)"),
                 (1, "failed and rolled back, refused (plan error, lock held) or not confirmed"), USAGE),
    "run": ((0, "stopped by SIGTERM or SIGINT"), (1, "refused to start (lock held) or failed"), USAGE),
    "ack": (OK, FAILED, USAGE),
    "maintenance": (OK, FAILED, USAGE),
    "backup": ((0, "every selected device backed up"), (1, "at least one device failed (the others are saved)"), USAGE),
    "restore": ((0, "restored and verified, already equal, or dry run"),
                (1, "failed (the config before it is kept as a snapshot) or not confirmed"), USAGE),
    "snapshots": (OK, FAILED, USAGE),
    "history": (OK, FAILED, USAGE),
    "lab up": ((0, "the lab is up, every VRRP group has a master"), (1, "failed (what was built is torn down)"), USAGE),
    "lab down": (OK, FAILED, USAGE),
    "lab list": (OK, FAILED, USAGE),
    "lab status": ((0, "the lab is up"), (1, "the lab is down"), USAGE),
    "lab exec": ((0, "the command's own exit code"), USAGE),
    "lab generate": (OK, FAILED, USAGE),
    "parse": ((0, "read, nothing skipped"), (1, "read, but lines or groups were skipped (listed on stderr)"),
              (2, "the file, the platform or the kind is wrong, or the file is not the command's output")),
    "leader": ((0, "a controller leads"), (1, "nobody leads, or the coordination backend cannot be asked"), USAGE),
    "leader step-down": ((0, "another controller leads"),
                         (1, "nobody to hand over to, or nobody took over in time"), USAGE),
    "inventory from-netbox": ((0, "the inventory was written (groups netha cannot manage are listed and left out)"),
                              (1, "NetBox could not be read (unreachable, refused the token, answered an error)"),
                              (2, "bad input: command line, overlay, a device whose platform or address netha cannot map")),
    "inventory diff-netbox": ((0, "the inventory and NetBox agree"), (1, "drift: one line per difference"),
                              (2, "no comparison: bad input (command line, inventory, overlay) or NetBox could not be read")),
}

DEFAULT = (OK, FAILED, USAGE)


def exit_codes(path: str) -> tuple[tuple[int, str], ...]:
    """The exit codes of ``netha <path>``; a command not listed here follows the common rule."""
    return EXIT_CODES.get(path, DEFAULT)


def epilog(path: str) -> str:
    """The ``--help`` epilog: the command's exit codes on one line."""
    return "Exit codes: " + "; ".join(f"{code} {text}" for code, text in exit_codes(path)) + "."
