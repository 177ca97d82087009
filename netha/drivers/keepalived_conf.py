"""keepalived.conf as text: find ``vrrp_instance`` blocks and apply netha's changes to them.

netha's keepalived templates render changes in keepalived's own keywords, one instance selector
followed by indented directives (``_apply`` lists them)::

    vrrp_instance eth1 11          <- the instance on interface eth1 with virtual_router_id 11
     priority 254
     no shutdown
     virtual_ipaddress 198.18.4.1/24
     no preempt

The edit keeps the file as the operator wrote it: only the lines a directive is about change.
``shutdown`` is keepalived's missing "vrrp N shutdown": the block is commented out line by line
with a marker, so keepalived removes the instance on reload (a master sends a priority-0
advertisement as it goes), and ``no shutdown`` uncomments it again.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from ..errors import NethaError

SHUTDOWN_MARK = "#netha-shutdown# "
_HEADER = re.compile(r"^\s*vrrp_instance\s+(\S+)\s*\{?\s*$")
_SELECTOR = re.compile(r"^vrrp_instance\s+(\S+)\s+([0-9]{1,3})$", re.ASCII)
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


def find(text: str, interface: str, vrid: int) -> Instance:
    matches = [x for x in instances(text) if x.interface == interface and x.vrid == vrid]
    if not matches:
        raise ConfEditError(f"no vrrp_instance with interface {interface} and virtual_router_id {vrid}")
    if len(matches) > 1:
        raise ConfEditError(f"{len(matches)} vrrp_instance blocks with interface {interface} and virtual_router_id {vrid}")
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


def _apply(lines: list[str], inst: Instance, directive: str) -> list[str]:
    """Apply one directive to the block of ``inst`` in ``lines``; returns the new lines."""
    words = directive.split()
    neg = words[0] == "no"
    if neg:
        words = words[1:]
    if not words:
        raise ConfEditError(f"empty directive {directive!r}")
    key, args = words[0], words[1:]
    block = lines[inst.start : inst.end + 1]
    ind = _indent(lines, inst)
    # Where the block's body starts: after the line with the opening brace.
    body_at = 1 if "{" in _code(_plain(block[0])[0]) else 2
    mark = SHUTDOWN_MARK if inst.shutdown else ""

    def depth1(keyword: str) -> list[int]:
        out, depth = [], 0
        for k, ln in enumerate(block):
            body = _code(_plain(ln)[0])
            w = body.split()
            if depth == 1 and w and w[0] == keyword:
                out.append(k)
            depth += body.count("{") - body.count("}")
        return out

    if key == "shutdown" and not args:
        if neg:
            block = [_plain(ln)[0] for ln in block]
        else:
            block = [ln if ln.startswith(SHUTDOWN_MARK) else SHUTDOWN_MARK + ln for ln in block]
    elif key == "priority" and not neg and len(args) == 1 and (prio := _small_int(args[0], 1, 254)) is not None:
        at = depth1("priority")
        if at:
            for k in at:
                body = _plain(block[k])[0]
                block[k] = mark + re.sub(r"(priority\s+)\S+", rf"\g<1>{prio}", body, count=1)
        else:
            block.insert(body_at, f"{mark}{ind}priority {prio}")
    elif key == "preempt" and not args:
        at = depth1("nopreempt")
        if neg and not at:
            block.insert(body_at, f"{mark}{ind}nopreempt")
        elif not neg:
            block = [ln for k, ln in enumerate(block) if k not in at]
    elif key == "virtual_ipaddress" and len(args) == 1:
        try:
            ipaddress.ip_interface(args[0])  # validated by the renderer already; refuse anything else
        except ValueError:
            raise ConfEditError(f"not an address: {directive.strip()!r}") from None
        block = _edit_vips(block, args[0], neg, ind, mark)
    else:
        raise ConfEditError(f"unknown keepalived change {directive.strip()!r}")
    return lines[: inst.start] + block + lines[inst.end + 1 :]


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


def apply_changes(text: str, change_lines: list[str]) -> str:
    """Apply rendered change lines (selectors and directives) to a keepalived.conf text."""
    lines = text.splitlines()
    selected: tuple[str, int] | None = None
    for raw in change_lines:
        if not raw.strip() or raw.lstrip().startswith(("#", "!")):
            continue
        if not raw[0].isspace():
            m = _SELECTOR.match(raw.strip())
            if raw.startswith("interface "):
                raise ConfEditError(f"cannot apply {raw.strip()!r}: a static gateway address is not keepalived config "
                                    "(give the group a VRRP instance on keepalived)")
            if not m:
                raise ConfEditError(f"unknown keepalived change {raw.strip()!r} (expected 'vrrp_instance IFACE VRID')")
            selected = (m.group(1), int(m.group(2)))
            find("\n".join(lines), *selected)  # fail early on a missing instance
            continue
        if selected is None:
            raise ConfEditError(f"directive {raw.strip()!r} before any 'vrrp_instance IFACE VRID' line")
        inst = find("\n".join(lines), *selected)
        lines = _apply(lines, inst, raw.strip())
    return "\n".join(lines) + ("\n" if text.endswith("\n") or not text else "")
