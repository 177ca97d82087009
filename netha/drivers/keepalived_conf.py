"""keepalived.conf as text: find ``vrrp_instance`` blocks and edit them structurally.

A change is one operation with its values (:mod:`.changes`), applied by :func:`apply_change` to the
instance on ``values.interface`` with ``virtual_router_id values.vrid``:

=================  ==========================================================================
``set_priority``   the block's ``priority`` line set (added when the block has none)
``resign``         the block commented out (keepalived's missing "vrrp N shutdown")
``restore``        the block uncommented, then its ``priority`` set
``add_address``    the address added to the block's ``virtual_ipaddress`` (once)
``remove_address`` the address removed from it
``preempt``        ``nopreempt`` removed (``enabled``) or added
=================  ==========================================================================

The edit keeps the file as the operator wrote it: only the lines a change is about change.
A resign comments the block out line by line with a marker, so keepalived removes the instance on
reload (a master sends a priority-0 advertisement as it goes); a restore uncomments it again.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import NethaError
from .changes import ChangeValues, Operation, check_operation

SHUTDOWN_MARK = "#netha-shutdown# "
_HEADER = re.compile(r"^\s*vrrp_instance\s+(\S+)\s*\{?\s*$")
_NUMBER = re.compile(r"[0-9]{1,3}", re.ASCII)  # keepalived's VRIDs and priorities: ASCII, 0..255


class ConfEditError(NethaError):
    """A change that cannot be applied to this keepalived.conf (the message says why).

    Not a :class:`~netha.errors.DeviceError`: the editor works on text and knows no device; the
    driver reports it as :class:`~netha.errors.CommandRejected` naming the device and the file.
    """


def _small_int(word: str, lo: int, hi: int) -> int | None:
    """``word`` as an integer in ``lo..hi`` (ASCII digits only; "²".isdigit() is true), else None."""
    if not _NUMBER.fullmatch(word):
        return None
    n = int(word)
    return n if lo <= n <= hi else None


def _code(line: str) -> str:
    """The part of a config line before a comment (keepalived comments start with # or !)."""
    return re.split(r"[#!]", line, maxsplit=1)[0]


@dataclass
class Instance:
    """One ``vrrp_instance`` block: lines ``start``..``end`` (inclusive) of the file."""

    name: str
    start: int
    end: int
    shutdown: bool
    interface: str | None = None
    vrid: int | None = None
    priority: int | None = None
    nopreempt: bool = False
    addresses: tuple[str, ...] = ()

    @property
    def family(self) -> int:
        """4 or 6: the family of the instance's virtual addresses (keepalived takes an instance's family
        from them; an IPv4 and an IPv6 instance may share a VRID on one interface)."""
        return address_family(self.addresses[0]) if self.addresses else 4


def address_family(text: str) -> int:
    """4 or 6: the family of a keepalived address entry ("2001:db8::1/64", "198.18.1.1/24 dev eth1")."""
    word = text.split()[0] if text.split() else text
    return 6 if ":" in word.split("/")[0] else 4


def _plain(line: str) -> tuple[str, bool]:
    if line.startswith(SHUTDOWN_MARK):
        return line[len(SHUTDOWN_MARK):], True
    return line, False


def instances(text: str) -> list[Instance]:
    """Every vrrp_instance block of ``text``, shut down (commented by netha) ones included."""
    lines = text.splitlines()
    found: list[Instance] = []
    i = 0
    while i < len(lines):
        plain, marked = _plain(lines[i])
        m = _HEADER.match(_code(plain))
        if not m:
            i += 1
            continue
        depth = _code(plain).count("{") - _code(plain).count("}")
        inst = Instance(m.group(1), i, i, marked)
        j = i
        vip_depth = None
        vips: list[str] = []
        if depth == 0:  # "vrrp_instance NAME" with the brace on the next line
            j += 1
            if j < len(lines):
                depth += _code(_plain(lines[j])[0]).count("{")
        while depth > 0 and j + 1 < len(lines):
            j += 1
            body = _code(_plain(lines[j])[0])
            words = body.split()
            if depth == 1 and words:
                key = words[0]
                if key == "interface" and len(words) > 1:
                    inst.interface = words[1]
                elif key == "virtual_router_id" and len(words) > 1:
                    inst.vrid = _small_int(words[1], 1, 255)  # keepalived refuses anything else
                elif key == "priority" and len(words) > 1:
                    inst.priority = _small_int(words[1], 0, 255)
                elif key == "nopreempt":
                    inst.nopreempt = True
                elif key == "virtual_ipaddress":
                    vip_depth = depth + 1
                    inner = body.split("{", 1)[1].split("}", 1)[0] if "{" in body else ""
                    vips += inner.split()
            elif vip_depth is not None and depth == vip_depth and words and words[0] != "}":
                vips.append(words[0])
            depth += body.count("{") - body.count("}")
            if vip_depth is not None and depth < vip_depth:
                vip_depth = None
        inst.end = j
        inst.addresses = tuple(vips)
        found.append(inst)
        i = j + 1
    return found


def find(text: str, interface: str, vrid: int, family: int | None = None) -> Instance:
    """The one instance on ``interface`` with ``virtual_router_id vrid`` (of ``family``, when given: an
    IPv4 and an IPv6 instance may share both)."""
    matches = [x for x in instances(text) if x.interface == interface and x.vrid == vrid
               and (family is None or x.family == family)]
    fam = f" (IPv{family})" if family is not None else ""
    if not matches:
        raise ConfEditError(f"no vrrp_instance with interface {interface} and virtual_router_id {vrid}{fam}")
    if len(matches) > 1:
        raise ConfEditError(f"{len(matches)} vrrp_instance blocks with interface {interface} and virtual_router_id {vrid}{fam}")
    return matches[0]


def _indent(lines: list[str], inst: Instance) -> str:
    for ln in lines[inst.start + 1 : inst.end]:
        body = _plain(ln)[0]
        if body.strip() and body.strip() != "{":
            return body[: len(body) - len(body.lstrip())] or "    "
    return "    "


def _same_address(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_interface(a).ip == ipaddress.ip_interface(b).ip
    except ValueError:
        return a == b


def _depth1(block: list[str], keyword: str) -> list[int]:
    """Indexes in ``block`` of the lines at the block's top level that start with ``keyword``."""
    out, depth = [], 0
    for k, ln in enumerate(block):
        body = _code(_plain(ln)[0])
        w = body.split()
        if depth == 1 and w and w[0] == keyword:
            out.append(k)
        depth += body.count("{") - body.count("}")
    return out


def _edit(text: str, interface: str, vrid: int, edit: Callable[[list[str], str, str, int], list[str]],
          family: int | None = None) -> str:
    """``text`` with the block of the instance (interface, vrid) replaced by ``edit(block, indent,
    mark, body_at)``: ``mark`` is the shutdown marker when the block is commented out, ``body_at``
    where the block's body starts (after the line with the opening brace)."""
    lines = text.splitlines()
    inst = find(text, interface, vrid, family)
    block = lines[inst.start : inst.end + 1]
    body_at = 1 if "{" in _code(_plain(block[0])[0]) else 2
    block = edit(block, _indent(lines, inst), SHUTDOWN_MARK if inst.shutdown else "", body_at)
    new = lines[: inst.start] + block + lines[inst.end + 1 :]
    return "\n".join(new) + ("\n" if text.endswith("\n") or not text else "")


def set_priority(text: str, interface: str, vrid: int, priority: int, family: int | None = None) -> str:
    """The instance's ``priority`` set to ``priority`` (1..254; the line added if it has none)."""
    if type(priority) is not int or not 1 <= priority <= 254:
        raise ConfEditError(f"invalid priority {priority!r} (1-254)")

    def edit(block: list[str], ind: str, mark: str, body_at: int) -> list[str]:
        at = _depth1(block, "priority")
        if not at:
            return block[:body_at] + [f"{mark}{ind}priority {priority}"] + block[body_at:]
        for k in at:
            block[k] = mark + re.sub(r"(priority\s+)\S+", rf"\g<1>{priority}", _plain(block[k])[0], count=1)
        return block
    return _edit(text, interface, vrid, edit, family)


def set_shutdown(text: str, interface: str, vrid: int, shutdown: bool, family: int | None = None) -> str:
    """The instance's block commented out with :data:`SHUTDOWN_MARK` (``shutdown``) or uncommented."""
    def edit(block: list[str], ind: str, mark: str, body_at: int) -> list[str]:
        if shutdown:
            return [ln if ln.startswith(SHUTDOWN_MARK) else SHUTDOWN_MARK + ln for ln in block]
        return [_plain(ln)[0] for ln in block]
    return _edit(text, interface, vrid, edit, family)


def set_preempt(text: str, interface: str, vrid: int, enabled: bool, family: int | None = None) -> str:
    """The instance preempts (no ``nopreempt`` line) or not (``nopreempt`` added)."""
    def edit(block: list[str], ind: str, mark: str, body_at: int) -> list[str]:
        at = _depth1(block, "nopreempt")
        if enabled:
            return [ln for k, ln in enumerate(block) if k not in at]
        return block if at else block[:body_at] + [f"{mark}{ind}nopreempt"] + block[body_at:]
    return _edit(text, interface, vrid, edit, family)


def set_address(text: str, interface: str, vrid: int, address: ipaddress.IPv4Interface | ipaddress.IPv6Interface,
                present: bool, family: int | None = None) -> str:
    """``address`` in the instance's ``virtual_ipaddress`` once (``present``) or not at all. An IPv6
    instance's link-local virtual address stays first (keepalived's strict mode wants it there)."""
    if not isinstance(address, (ipaddress.IPv4Interface, ipaddress.IPv6Interface)):
        raise ConfEditError(f"not an address: {address!r}")
    if family is not None and address.version != family:
        raise ConfEditError(f"{address} is not IPv{family} (the instance's family)")

    def edit(block: list[str], ind: str, mark: str, body_at: int) -> list[str]:
        return _edit_vips(block, address.with_prefixlen, not present, ind, mark)
    return _edit(text, interface, vrid, edit, family)


def _edit_vips(block: list[str], address: str, remove: bool, ind: str, mark: str) -> list[str]:
    depth = 0
    head = None
    for k, ln in enumerate(block):
        body = _code(_plain(ln)[0])
        w = body.split()
        if depth == 1 and w and w[0] == "virtual_ipaddress":
            head = k
            break
        depth += body.count("{") - body.count("}")
    if head is not None and "}" in _code(_plain(block[head])[0]):
        # One-line form "virtual_ipaddress { A B }": open it up first.
        body = _plain(block[head])[0]
        inner = _code(body).split("{", 1)[1].split("}", 1)[0].split()
        block = block[:head] + [f"{mark}{ind}virtual_ipaddress {{"] + [f"{mark}{ind}    {a}" for a in inner] + \
            [f"{mark}{ind}}}"] + block[head + 1 :]
    if head is None:
        if remove:
            return block
        return block[:-1] + [f"{mark}{ind}virtual_ipaddress {{", f"{mark}{ind}    {address}", f"{mark}{ind}}}"] + block[-1:]
    # Entries: from head+1 to the closing brace of the sub-block.
    end = head + 1
    while end < len(block) and "}" not in _code(_plain(block[end])[0]):
        end += 1
    entries = range(head + 1, end)
    present = [k for k in entries if (w := _code(_plain(block[k])[0]).split()) and _same_address(w[0], address)]
    if remove:
        return [ln for k, ln in enumerate(block) if k not in present]
    if present:
        return block
    return block[:end] + [f"{mark}{ind}    {address}"] + block[end:]


def apply_change(text: str, operation: Operation, values: ChangeValues) -> str:
    """``text`` (a keepalived.conf) with one netha change applied to the instance it is about."""
    op = check_operation(operation)
    if values.mode == "static":
        raise ConfEditError("a static gateway address is not keepalived config "
                            "(give the group a VRRP instance on keepalived)")
    if values.protocol != "vrrp":
        raise ConfEditError(f"keepalived has no {values.protocol.upper()}")
    if values.vrid is None:
        raise ConfEditError(f"{op}: no virtual_router_id given")
    # The instance of the group's family: keepalived's IPv4 and IPv6 instances are apart (one may
    # resign while the other, of the same VRID on the same interface, stays).
    iface, vrid, fam = values.interface, values.vrid, values.family
    if op in ("set_priority", "restore"):
        if values.priority is None:
            raise ConfEditError(f"{op}: no priority given")
        running = set_shutdown(text, iface, vrid, False, fam) if op == "restore" else text
        return set_priority(running, iface, vrid, values.priority, fam)
    if op in ("add_address", "remove_address"):
        if values.address is None:
            raise ConfEditError(f"{op}: no address given")
        return set_address(text, iface, vrid, values.address, op == "add_address", fam)
    if op == "resign":
        return set_shutdown(text, iface, vrid, True, fam)
    return set_preempt(text, iface, vrid, values.enabled, fam)


def describe_change(operation: Operation, values: ChangeValues) -> list[str]:
    """One change as an operator reads it in a plan: what :func:`apply_change` does, line by line."""
    op = check_operation(operation)
    fam = ", IPv6" if values.family == 6 else ""
    where = f"vrrp_instance (interface {values.interface}, virtual_router_id {values.vrid}{fam})"
    if op == "set_priority":
        return [f"{where}: priority {values.priority}"]
    if op == "resign":
        return [f"{where}: shut down (block commented out with '{SHUTDOWN_MARK.strip()}', keepalived reloaded)"]
    if op == "restore":
        return [f"{where}: running again (block uncommented)", f"{where}: priority {values.priority}"]
    address = values.address.with_prefixlen if values.address is not None else None
    if op == "add_address":
        return [f"{where}: virtual_ipaddress add {address}"]
    if op == "remove_address":
        return [f"{where}: virtual_ipaddress remove {address}"]
    return [f"{where}: {'preempt (nopreempt removed)' if values.enabled else 'nopreempt'}"]
