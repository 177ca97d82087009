"""The inventory: devices, redundancy groups, credentials references and controller settings.

Every value that can reach a device config (names, interfaces, addresses, VRIDs, priorities)
is validated here, strictly, so that a template can never be handed a newline or a command
separator.
"""

from __future__ import annotations

import ipaddress
import os
import stat
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator, AliasChoices, BaseModel, ConfigDict, Field, Strict, StringConstraints, ValidationInfo,
    model_validator,
)

from ..errors import CredentialError, UnknownMember

# Numbers and switches are strict: YAML's `true` is not the VRID 1, and the string "no" is not False
# (pydantic's lax mode would accept both). Floats still accept integers (`hold_down: 30`).
StrictBool = Annotated[bool, Strict()]
# A secret file is a few bytes; anything bigger is a mistake (a key file given as a password?).
MAX_SECRET_BYTES = 64 * 1024

# A name of a device, group, credential or profile: no spaces, no punctuation that a CLI parses.
Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")]
# An interface name every platform could accept: Gi0/1, Ethernet1/1, ge-0/0/1.0, Vlan10, eth1, Port-Channel1.
InterfaceName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_./:-]{0,63}$")]
# Host names of management addresses (when not an IP literal).
HostName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")]
VRID = Annotated[int, Strict(), Field(ge=1, le=255)]
# 255 is the address owner's; 254 is reserved for the priority netha pins a new master at.
Priority = Annotated[int, Strict(), Field(ge=1, le=253)]
Seconds = Annotated[float, Strict(), Field(ge=0)]


def _relative_to_inventory(value: Path, info: ValidationInfo) -> Path:
    """Relative paths in an inventory are relative to the inventory file's folder."""
    base = (info.context or {}).get("base_dir")
    try:
        value = value.expanduser()
    except RuntimeError:  # ~nosuchuser/...
        raise ValueError(f"cannot expand {str(value)[:60]!r}: no such user's home") from None
    return value if value.is_absolute() or base is None else Path(base) / value


FilePath = Annotated[Path, AfterValidator(_relative_to_inventory)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretRef(_Strict):
    """Where a secret lives: an environment variable or a file readable by its owner only (0600)."""

    env: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] | None = None
    file: FilePath | None = None

    @model_validator(mode="after")
    def _one_source(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of 'env' or 'file'")
        return self

    def describe(self) -> str:
        return f"environment variable {self.env}" if self.env else f"file {self.file}"

    def resolve(self) -> str:
        """Return the secret. Raises CredentialError (never including the secret) when unavailable."""
        if self.env is not None:
            value = os.environ.get(self.env)
            if value is None:
                raise CredentialError(f"environment variable {self.env} is not set")
            return value
        assert self.file is not None
        try:
            st = self.file.stat()
        except FileNotFoundError:
            raise CredentialError(f"credential file {self.file} does not exist") from None
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "invalid path"
            raise CredentialError(f"credential file {self.file} cannot be read: {reason}") from None
        if stat.S_ISDIR(st.st_mode):
            raise CredentialError(f"credential file {self.file} is a directory, not a file")
        if not stat.S_ISREG(st.st_mode):
            raise CredentialError(f"credential file {self.file} is not a regular file")
        if stat.S_IMODE(st.st_mode) & 0o077:
            raise CredentialError(
                f"credential file {self.file} is readable by group or others "
                f"(mode {stat.S_IMODE(st.st_mode):04o}); chmod 600 it"
            )
        try:
            with self.file.open("rb") as fh:
                raw = fh.read(MAX_SECRET_BYTES + 1)
        except OSError as exc:
            raise CredentialError(f"credential file {self.file} cannot be read: {exc.strerror or type(exc).__name__}") from None
        if len(raw) > MAX_SECRET_BYTES:
            raise CredentialError(f"credential file {self.file} is bigger than {MAX_SECRET_BYTES} bytes; is it the right file?")
        try:
            return raw.decode("utf-8").strip()
        except UnicodeDecodeError as exc:
            # Never quote the bytes: they are (part of) the secret.
            raise CredentialError(f"credential file {self.file} is not UTF-8 text (offset {exc.start})") from None


class Credential(_Strict):
    """SSH login. ``username`` is not secret and may be literal; passwords only by reference."""

    username: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}$")] | SecretRef
    password: SecretRef | None = None
    enable_secret: SecretRef | None = None
    key_file: FilePath | None = None

    def resolve_username(self) -> str:
        return self.username if isinstance(self.username, str) else self.username.resolve()

    def secret_refs(self) -> list[tuple[str, SecretRef]]:
        refs = [("username", self.username)] if isinstance(self.username, SecretRef) else []
        refs += [(k, v) for k, v in (("password", self.password), ("enable_secret", self.enable_secret)) if v]
        return refs


class SnmpProfile(_Strict):
    """SNMP v2c (community) or v3 (USM user, authPriv or authNoPriv)."""

    version: Literal["2c", "3"] = "2c"
    community: SecretRef | None = None
    user: SecretRef | Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.@-]{1,32}$")] | None = None
    auth_protocol: Literal["md5", "sha", "sha224", "sha256", "sha384", "sha512"] = "sha"
    auth_key: SecretRef | None = None
    priv_protocol: Literal["des", "aes", "aes192", "aes256"] | None = "aes"
    priv_key: SecretRef | None = None
    port: Annotated[int, Strict(), Field(ge=1, le=65535)] = 161
    timeout: Annotated[float, Strict(), Field(gt=0, le=30)] = 1.0
    retries: Annotated[int, Strict(), Field(ge=0, le=5)] = 1

    @model_validator(mode="after")
    def _complete(self) -> SnmpProfile:
        if self.version == "2c" and self.community is None:
            raise ValueError("SNMP v2c needs 'community'")
        if self.version == "3" and (self.user is None or self.auth_key is None):
            raise ValueError("SNMP v3 needs 'user' and 'auth_key'")
        if self.version == "3" and self.priv_protocol and self.priv_key is None:
            raise ValueError("SNMP v3 with 'priv_protocol' needs 'priv_key' (or set priv_protocol: null)")
        return self

    def secret_refs(self) -> list[tuple[str, SecretRef]]:
        refs = [(k, getattr(self, k)) for k in ("community", "auth_key", "priv_key")]
        if isinstance(self.user, SecretRef):
            refs.append(("user", self.user))
        return [(k, v) for k, v in refs if v is not None]


class SshSettings(_Strict):
    port: Annotated[int, Strict(), Field(ge=1, le=65535)] = 22
    known_hosts: FilePath | None = None
    # Host keys are checked unless the inventory explicitly says otherwise.
    strict_host_key_checking: StrictBool = True
    timeout: Annotated[float, Strict(), Field(gt=0, le=120)] = 10.0
    command_timeout: Annotated[float, Strict(), Field(gt=0, le=300)] = 10.0


class GnmiSettings(_Strict):
    """A device's gNMI event stream (docs/events.md, "gNMI"): ON_CHANGE subscriptions whose
    notifications wake reads of the device. Off unless the device has a ``gnmi:`` block; every key is
    optional, the platform's driver knows the usual port and transport."""

    port: Annotated[int, Strict(), Field(ge=1, le=65535)] | None = None  # default: the platform's
    # verify: TLS, the server's certificate checked against `ca` (default: the system's roots);
    # skip-verify: TLS, any certificate the server shows (a device's self-signed one; encrypted, not
    # authenticated); insecure: plain text (the password crosses the network in clear).
    tls: Literal["verify", "skip-verify", "insecure"] | None = None  # default: the platform's
    ca: FilePath | None = None
    # The name the server's certificate must carry when it is not the device's `host` (verify only).
    server_name: HostName | None = None
    # The login (username and password by reference); default: the device's `credentials`.
    credentials: Name | None = None
    # Seconds: ask the device to repeat its values this often (gNMI heartbeat_interval) and count the
    # stream dead after 2.5 of them in silence; 0: no heartbeat (gRPC keepalive and the stream's end only).
    heartbeat: Annotated[float, Strict(), Field(ge=0, le=3600)] = 0.0
    # Subscribe to the platform's OpenConfig VRRP state too (where its driver has it); false on
    # software that refuses those paths (the whole subscription would fail).
    vrrp: StrictBool = True
    timeout: Annotated[float, Strict(), Field(gt=0, le=120)] = 10.0  # connecting, and the first sync

    @model_validator(mode="after")
    def _tls_options(self) -> GnmiSettings:
        if self.tls in ("skip-verify", "insecure") and (self.ca is not None or self.server_name is not None):
            given = ", ".join(k for k in ("ca", "server_name") if getattr(self, k) is not None)
            raise ValueError(f"{given}: only with `tls: verify` (tls is {self.tls})")
        if self.heartbeat and self.heartbeat < 1:
            raise ValueError(f"heartbeat {self.heartbeat:g}: at least 1 second (or 0: none)")
        return self


class Device(_Strict):
    host: ipaddress.IPv4Address | ipaddress.IPv6Address | HostName
    platform: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,40}$")]
    credentials: Name
    # A Linux shell login on a Linux-based platform whose CLI login is not a shell (FRR's vtysh):
    # long-running probers run there. Platforms whose login is a shell (keepalived) need none.
    shell: Name | None = None
    snmp: Name | None = None
    ssh: SshSettings | None = None
    # gNMI ON_CHANGE subscriptions as the device's event stream (vendor platforms); off when absent.
    gnmi: GnmiSettings | None = None
    description: str | None = None


class Member(_Strict):
    device: Name
    priority: Priority
    interface: InterfaceName | None = None
    # The member's own address on the group's interface, with prefix length: defines the subnet. In an
    # IPv6 group a global (or unique local) address; its link-local address is the interface's own.
    address: ipaddress.IPv4Interface | ipaddress.IPv6Interface | None = None


# Where a member's probes leave from: its own address, or the interface whose address and path they take.
# Left to right: "fe80::1" is an address, not an interface name (it matches the name pattern too).
ProbeSource = Annotated[ipaddress.IPv4Address | ipaddress.IPv6Address | InterfaceName, Field(union_mode="left_to_right")]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
LINK_LOCAL = ipaddress.IPv6Network("fe80::/10")


def vrrp_link_local(vrid: int) -> ipaddress.IPv6Address:
    """The link-local address derived (modified EUI-64, RFC 4291) from an IPv6 VRRP group's virtual MAC
    00:00:5e:00:02:<VRID> (RFC 5798 section 7.3): what FRR and Junos use when none is configured."""
    return ipaddress.IPv6Address(f"fe80::200:5eff:fe00:2{vrid:02x}")


class Reach(_Strict):
    """A forwarding-path probe: each member probes ``target`` through its own path.

    The probes leave from the member's own side (``source``, or ``sources`` per member: an
    address of the member's upstream interface, or that interface), so a member's result never
    depends on which member is VRRP master, and the replies come back to the member itself.
    ``interval`` bounds the probe rate (at most 50 probes per second per target and member).
    """

    target: IPAddress
    probe: Literal["icmp", "tcp"] = "icmp"
    port: Annotated[int, Strict(), Field(ge=1, le=65535)] | None = None
    source: ProbeSource | None = None
    sources: dict[Name, ProbeSource] = {}
    interval: Annotated[float, Strict(), Field(ge=0.02, le=60)] = 0.05
    timeout: Annotated[float, Strict(), Field(gt=0, le=10)] = 0.5
    window: Annotated[int, Strict(), Field(ge=1, le=1000)] = 10
    # Down when more than this share of the window's probes is lost.
    max_loss: Annotated[float, Strict(), Field(ge=0, lt=1)] = 0.3
    # Down when the window's median round trip is above this (seconds).
    max_rtt: Annotated[float, Strict(), Field(gt=0, le=10)] | None = None
    # The probe's number on vendor devices (IP SLA entry and track object, RPM test); default 400 + position.
    id: Annotated[int, Strict(), Field(ge=1, le=500)] | None = None

    @model_validator(mode="after")
    def _port_for_tcp(self) -> Reach:
        if self.probe == "tcp" and self.port is None:
            raise ValueError("a 'tcp' probe needs 'port'")
        if self.probe == "icmp" and self.port is not None:
            raise ValueError("'port' is for 'tcp' probes only")
        if self.target.is_link_local or self.target.is_multicast:
            raise ValueError(f"target {self.target}: a reach target is a unicast address beyond the gateway "
                             "(not link-local, not multicast)")
        for who, src in [("source", self.source)] + [(f"sources.{d}", v) for d, v in self.sources.items()]:
            if isinstance(src, (ipaddress.IPv4Address, ipaddress.IPv6Address)) and src.version != self.target.version:
                raise ValueError(f"{who} {src} is IPv{src.version}, target {self.target} is IPv{self.target.version}")
        return self

    @property
    def family(self) -> int:
        return self.target.version

    @property
    def key(self) -> str:
        if self.probe == "tcp":
            host = f"[{self.target}]" if self.target.version == 6 else str(self.target)
            return f"reach tcp {host}:{self.port}"
        return f"reach icmp {self.target}"

    def source_for(self, device: str) -> str | None:
        src = self.sources.get(device, self.source)
        return None if src is None else str(src)


class Track(_Strict):
    """A tracked object: an interface that must be up, a route that must be present, or a
    forwarding path that must carry traffic (``reach``)."""

    interface: InterfaceName | None = None
    route: IPNetwork | None = None
    reach: Reach | None = None
    device: Name | None = None  # only on this member; default: every member
    description: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Track:
        if sum(x is not None for x in (self.interface, self.route, self.reach)) != 1:
            raise ValueError("a tracked object is exactly one of 'interface', 'route' or 'reach'")
        return self

    @property
    def key(self) -> str:
        if self.reach is not None:
            return self.reach.key
        return f"interface {self.interface}" if self.interface else f"route {self.route}"


class Policy(_Strict):
    """How the controller may act on a group. Unset fields fall back to the inventory defaults."""

    automatic: StrictBool | None = None  # act without an operator
    failback: Literal["preempt", "hold_down", "manual"] | None = None
    hold_down: Seconds | None = None
    min_interval: Seconds | None = None
    block_period: Seconds | None = None
    dry_run: StrictBool | None = None


class ResolvedPolicy(_Strict):
    automatic: StrictBool = True
    failback: Literal["preempt", "hold_down", "manual"] = "hold_down"
    hold_down: Seconds = 30.0
    min_interval: Seconds = 60.0
    block_period: Seconds = 300.0
    dry_run: StrictBool = False

    def merged(self, override: Policy | None) -> ResolvedPolicy:
        if override is None:
            return self
        changes = {k: v for k, v in override.model_dump().items() if v is not None}
        return self.model_copy(update=changes)


class Group(_Strict):
    mode: Literal["vrrp", "static"] = "vrrp"
    # The first-hop redundancy protocol of a 'vrrp'-mode group (VRRP, or the vendor's HSRP / Arista VARP).
    protocol: Literal["vrrp", "hsrp", "varp"] = "vrrp"
    vrid: VRID | None = None
    version: Literal[2, 3] = 3
    interface: InterfaceName
    # One address family per group (RFC 5798): a dual-stack LAN is two groups. An IPv6 VRRP group's
    # link-local virtual address (fe80::/10, at most one) may be listed; without one, the address derived
    # from the virtual MAC is used (`link_local`). Global ones carry their prefix length.
    virtual_addresses: Annotated[list[IPInterface], Field(min_length=1)]
    subnet: IPNetwork | None = None
    advert_interval: Annotated[float, Strict(), Field(ge=0.01, le=40.95)] = 1.0
    preempt: StrictBool = True
    members: Annotated[list[Member], Field(min_length=2)]
    track: list[Track] = []
    policy: Policy | None = None
    description: str | None = None

    @model_validator(mode="after")
    def _vrid_for_vrrp(self) -> Group:
        if self.mode == "vrrp" and self.vrid is None:
            raise ValueError("a VRRP group needs 'vrid' (1-255)")
        return self

    @model_validator(mode="after")
    def _one_family(self) -> Group:
        family = self.virtual_addresses[0].version
        for what, value in ([("virtual address", v) for v in self.virtual_addresses]
                            + [(f"member {m.device} address", m.address) for m in self.members if m.address]
                            + ([("subnet", self.subnet)] if self.subnet is not None else [])):
            if value.version != family:
                raise ValueError(f"{what} {value} is IPv{value.version} in an IPv{family} group: a group is one "
                                 "address family (RFC 5798); make a dual-stack LAN two groups")
        if family == 4:
            return self
        local = [v for v in self.virtual_addresses if v.ip in LINK_LOCAL]
        if len(local) > 1:
            raise ValueError(f"an IPv6 group has one link-local virtual address, not {len(local)}")
        if self.mode == "vrrp" and self.protocol == "vrrp" and self.version != 3:
            raise ValueError("IPv6 needs VRRP version 3 (RFC 5798); set `version: 3`")
        if self.mode == "vrrp" and self.protocol == "varp":
            raise ValueError("Arista VARP groups here are IPv4 (use an IPv6 VRRP group)")
        for m in self.members:
            if m.address is not None and m.address.ip in LINK_LOCAL:
                raise ValueError(f"member {m.device} address {m.address}: give the member's global address "
                                 "(its link-local one is the interface's own)")
        return self

    @property
    def family(self) -> int:
        """4 or 6: the group's address family."""
        return self.virtual_addresses[0].version

    @property
    def link_local(self) -> ipaddress.IPv6Address | None:
        """An IPv6 group's link-local virtual address: the one listed, else the one derived from the
        virtual MAC (VRRP), None for IPv4 groups (and IPv6 static/HSRP groups listing none)."""
        if self.family == 4:
            return None
        for v in self.virtual_addresses:
            if v.ip in LINK_LOCAL:
                return v.ip  # type: ignore[return-value]
        if self.mode == "vrrp" and self.protocol == "vrrp" and self.vrid is not None:
            return vrrp_link_local(self.vrid)
        return None

    @property
    def global_addresses(self) -> list[IPInterface]:
        """The virtual addresses hosts use beyond the link: every one but an IPv6 link-local."""
        return [v for v in self.virtual_addresses if not (v.version == 6 and v.ip in LINK_LOCAL)]

    def member(self, device: str) -> Member:
        for m in self.members:
            if m.device == device:
                return m
        raise UnknownMember(device, [m.device for m in self.members])

    def interface_of(self, device: str) -> str:
        return self.member(device).interface or self.interface

    @property
    def primary(self) -> str:
        """The member that should be master when all is well: highest configured priority."""
        return max(self.members, key=lambda m: m.priority).device

    def tracks_for(self, device: str) -> list[Track]:
        return [t for t in self.track if t.device in (None, device)]


class StormBrake(_Strict):
    max_actions: Annotated[int, Strict(), Field(ge=1)] = 3
    period: Annotated[float, Strict(), Field(gt=0)] = 600.0


class Listener(_Strict):
    """Where the controller sniffs VRRP advertisements (one interface per LAN segment it sees)."""

    interface: InterfaceName
    # Groups on this segment: the controller announces their gateway moves here (gratuitous ARP) and
    # watches their members' addresses with ARP (a leg listing none watches the groups no leg lists).
    groups: list[Name] = []


class EtcdTls(_Strict):
    """TLS towards etcd: the CA that signed its certificates, and this controller's client certificate."""

    ca: FilePath | None = None
    cert: FilePath | None = None
    key: FilePath | None = None  # the client key: a file readable by its owner only, as credential files

    @model_validator(mode="after")
    def _pair(self) -> EtcdTls:
        if (self.cert is None) != (self.key is None):
            raise ValueError("give both `cert` and `key` (a client certificate and its key), or neither")
        return self


EtcdEndpoint = Annotated[str, StringConstraints(pattern=r"^https?://[A-Za-z0-9.:\[\]-]{1,253}:[0-9]{1,5}/?$")]


class Coordination(_Strict):
    """Who may act: ``file`` (default) is an flock in the state directory, one controller per host;
    ``etcd`` is a leader lease in an etcd v3 cluster: every controller observes, the leader acts
    (docs/ha.md)."""

    backend: Literal["file", "etcd"] = "file"
    endpoints: list[EtcdEndpoint] = []
    # Every key netha writes lives under this prefix: one prefix per inventory (two inventories that
    # share one would share one leader). Required with etcd: a default could join unrelated fleets.
    prefix: Annotated[str, StringConstraints(pattern=r"^/[A-Za-z0-9_.-][A-Za-z0-9_./-]{0,200}$")] | None = None
    ttl: Annotated[int, Strict(), Field(ge=2, le=3600)] = 10  # the leader lease, seconds
    loop_wait: Annotated[float, Strict(), Field(gt=0, le=600)] = 1.0  # the lease loop: renew every loop_wait
    retry_timeout: Annotated[float, Strict(), Field(gt=0, le=600)] = 3.0  # one renewal's attempts, all endpoints
    username: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}$")] | SecretRef | None = None
    password: SecretRef | None = None
    tls: EtcdTls | None = None
    # fleet: one leader for every group; group: one lease per set of groups sharing devices, so that
    # several controllers share a fleet (docs/ha.md, "Scale-out").
    scope: Literal["fleet", "group"] = "fleet"
    # scope group: each controller ID's own groups (an ID not listed, or a group nobody lists: any
    # controller's). A controller takes its own groups at once and hands them back to their owner.
    groups: dict[Name, list[Name]] = {}
    # scope group: every controller observes every group and takes over any group whose owners are all
    # gone (true), or observes and contends for its own groups only (false: a fleet too big for one
    # controller to poll; list each group under two controllers for a failover of the controller).
    standby: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> Coordination:
        if self.backend == "file":
            given = [k for k in ("endpoints", "prefix", "username", "password", "tls", "groups") if getattr(self, k)]
            if given or self.scope != "fleet":
                raise ValueError(f"{', '.join(given or ['scope'])}: only with `backend: etcd`")
            return self
        if (self.groups or not self.standby) and self.scope != "group":
            raise ValueError("`groups` and `standby` (which controller acts on which groups) only with `scope: group`")
        if not self.endpoints:
            raise ValueError("backend etcd needs `endpoints` (e.g. [http://198.18.0.31:2379])")
        if self.prefix is None:
            raise ValueError("backend etcd needs a `prefix` of its own per inventory (e.g. /netha/campus)")
        if (self.username is None) != (self.password is None):
            raise ValueError("give both `username` and `password` for etcd, or neither")
        # Patroni's rule: a leader renews every loop_wait and tries for up to retry_timeout; it stops
        # acting retry_timeout before its lease can end. Only with loop_wait + 2 x retry_timeout <= ttl
        # does a healthy leader never stop acting, and a cut-off one always stop before its lease ends.
        if self.loop_wait + 2 * self.retry_timeout > self.ttl:
            raise ValueError(
                f"loop_wait ({self.loop_wait:g}) + 2 x retry_timeout ({self.retry_timeout:g}) = "
                f"{self.loop_wait + 2 * self.retry_timeout:g} s exceeds ttl ({self.ttl} s): a leader could "
                "lose its lease before it stops acting (Patroni's rule: loop_wait + 2 x retry_timeout <= ttl)")
        return self

    @staticmethod
    def components(group_devices: dict[str, set[str]]) -> list[tuple[str, ...]]:
        """The groups joined by shared devices (a lease covers one such set: two controllers never
        push to one device), each sorted, in order of their first group."""
        parent = {g: g for g in group_devices}

        def root(g: str) -> str:
            while parent[g] != g:
                parent[g] = parent[parent[g]]
                g = parent[g]
            return g

        owner: dict[str, str] = {}
        for g in sorted(group_devices):
            for d in group_devices[g]:
                if d in owner:
                    parent[root(g)] = root(owner[d])
                else:
                    owner[d] = g
        sets: dict[str, list[str]] = {}
        for g in sorted(group_devices):
            sets.setdefault(root(g), []).append(g)
        return sorted(tuple(v) for v in sets.values())

    def scope_problems(self, group_devices: dict[str, set[str]]) -> list[tuple[tuple[str | int, ...], str]]:
        """`groups` naming unknown groups, or part of a set of groups that share devices."""
        out: list[tuple[tuple[str | int, ...], str]] = []
        comps = self.components(group_devices)
        for cid, names in self.groups.items():
            for i, g in enumerate(names):
                if g not in group_devices:
                    out.append((("groups", cid, i), f"controller {cid}: unknown group {g!r}"))
            for comp in comps:
                have = [g for g in comp if g in names]
                if have and len(have) < len(comp):
                    missing = [g for g in comp if g not in names]
                    out.append((("groups", cid), (
                        f"controller {cid}: {', '.join(have)} {'shares' if len(have) == 1 else 'share'} devices with {', '.join(missing)}: one lease "
                        f"covers them all (two controllers must never push to one device); list all or none")))
        return out

    def secret_refs(self) -> list[tuple[str, SecretRef]]:
        refs = [("username", self.username)] if isinstance(self.username, SecretRef) else []
        return refs + ([("password", self.password)] if self.password is not None else [])


class Notifications(_Strict):
    """SNMP notifications (traps, informs) the controller receives: a linkDown/linkUp or VRRPv3
    notification from a device wakes an immediate read of it (docs/events.md). Off unless given."""

    listen: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.IPv4Address("0.0.0.0")
    port: Annotated[int, Strict(), Field(ge=1, le=65535)] = 162
    # The SNMP profiles (`snmp:`) whose v2c community or v3 user is accepted; empty: every profile a device uses.
    profiles: list[Name] = []


class Controller(_Strict):
    poll_interval: Annotated[float, Strict(), Field(ge=0.01, le=3600)] = 1.0
    failure_threshold: Annotated[int, Strict(), Field(ge=1, le=100)] = 3
    recovery_threshold: Annotated[int, Strict(), Field(ge=1, le=100)] = 3
    state_dir: FilePath = Path("/var/lib/netha")
    netns: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")] | None = None
    listeners: list[Listener] = []
    # A folder of templates, <platform>/<operation>.j2, each overriding the shipped one of the same name.
    # `template_dir` is its deprecated old name, still accepted.
    templates: FilePath | None = Field(default=None, validation_alias=AliasChoices("templates", "template_dir"))
    ssh: SshSettings = SshSettings()
    storm_brake: StormBrake = StormBrake()
    webhook: Annotated[str, StringConstraints(pattern=r"^https?://[^\s]+$")] | None = None
    coordination: Coordination = Coordination()
    # Device event streams (ip monitor on Linux platforms); NETHA_EVENTS=0/1 overrides.
    events: StrictBool = True
    notifications: Notifications | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_template_option(cls, data: object) -> object:
        if isinstance(data, dict) and "templates" in data and "template_dir" in data:
            raise ValueError("give `templates` only (`template_dir` is its deprecated old name)")
        return data


class Defaults(_Strict):
    policy: ResolvedPolicy = ResolvedPolicy()


class Inventory(_Strict):
    controller: Controller = Controller()
    defaults: Defaults = Defaults()
    credentials: dict[Name, Credential] = {}
    snmp: dict[Name, SnmpProfile] = {}
    # Devices kept in another tool's inventory, e.g. {nornir: {hosts: hosts.yaml, ...}} (docs/nornir.md): the
    # loader checks this block and merges its devices into `devices` (netha/inventory/nornir.py).
    devices_from: dict[str, object] | None = None
    devices: Annotated[dict[Name, Device], Field(min_length=1)]
    groups: dict[Name, Group] = {}

    source: Path | None = Field(default=None, exclude=True)

    def policy_for(self, group: str) -> ResolvedPolicy:
        return self.defaults.policy.merged(self.groups[group].policy)

    def ssh_for(self, device: str) -> SshSettings:
        return self.devices[device].ssh or self.controller.ssh

    def groups_of(self, device: str) -> list[str]:
        return [name for name, g in self.groups.items() if any(m.device == device for m in g.members)]
