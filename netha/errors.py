"""One exception hierarchy for the whole package, rooted in :class:`NethaError`."""

from __future__ import annotations


class NethaError(Exception):
    """Base of every error netha raises on purpose. Its str() is one line for an operator."""


class InventoryError(NethaError):
    """The inventory file is unreadable or invalid. Carries one line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class CredentialError(NethaError):
    """A credential reference could not be resolved (missing variable, unsafe file mode)."""


class UnknownMember(NethaError, KeyError):
    """A device is not a member of the group it was looked up in.

    Also a ``KeyError``, so that callers written against the old ``Group.member`` keep working.
    """

    def __init__(self, device: str, members: list[str] | None = None):
        self.device = device
        self.members = list(members or [])
        known = f" (members: {', '.join(self.members)})" if self.members else ""
        super().__init__(f"{device!r} is not a member of this group{known}")

    def __str__(self) -> str:  # KeyError's own __str__ would quote the whole message
        return str(self.args[0])


class LabError(NethaError):
    """The lab could not be built, inspected or torn down."""


class TopologyError(LabError):
    """The lab topology file uses something the netns builder does not support."""


class DeviceError(NethaError):
    """A device could not be reached, or answered something unusable."""

    def __init__(self, device: str, message: str):
        self.device = device
        super().__init__(f"{device}: {message}")


class ConnectionFailed(DeviceError):
    """The session to a device could not be opened or was lost."""


class CommandRejected(DeviceError):
    """The device refused a command (syntax error, unknown command)."""


class ParseError(DeviceError):
    """The device's output could not be parsed."""


class TemplateError(NethaError):
    """A config template is missing or was given values that fail validation."""


class PlanError(NethaError):
    """A failover plan cannot be built (unreachable target, unhealthy backup, ...)."""


class LockHeld(NethaError):
    """Another controller holds the inventory's lock."""


class NotSupported(DeviceError):
    """The platform cannot do what was asked (no native prober, no streaming prober ...)."""


class ProberError(DeviceError):
    """A forwarding-path prober cannot run or died: the prober's failure, never the path's."""
